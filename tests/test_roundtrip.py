"""End-to-end round trips on the committed sample: CSV -> log -> XES -> pm4py, and CSV -> log -> OCEL 2.0 -> pm4py.

The oracle is the CSV itself, read with pandas: every contact's events (order,
activity, start and end times to the microsecond, agent, team and the other
attributes) must come back from pm4py's reading of cxmine's export, and no raw
customer identifier may appear in it.
"""

import warnings
from pathlib import Path

import pandas as pd
import pm4py
import pytest
from click.testing import CliRunner

from engine.cli import main

SMALL = Path(__file__).resolve().parents[1] / "eventlogs" / "small"
ATTRS = {"team": "team", "shift": "shift", "owner": "owner", "channel": "channel", "site": "site",
         "queue": "queue", "intent": "intent", "outcome": "outcome", "agent": "org:resource"}


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    out = tmp_path_factory.mktemp("rt") / "log.parquet"
    res = CliRunner().invoke(main, ["ingest", str(SMALL / "contacts.csv"), "--mapping", str(SMALL / "mapping.toml"),
                                    "-o", str(out), "-q"], env={"CXMINE_PSEUDONYM_KEY": "round-trip"})
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def source():
    df = pd.read_csv(SMALL / "contacts.csv", dtype=str, keep_default_na=False)
    df["ts"] = pd.to_datetime(df["start"], utc=True, format="ISO8601")
    df["te"] = pd.to_datetime(df["end"], utc=True, format="ISO8601")
    df["row"] = range(len(df))
    return df.sort_values(["contact_id", "ts", "row"], kind="stable")


def _events(df, case, act, ts, end, attrs):
    df = df.sort_values([case, ts], kind="stable")
    out = {}
    for cid, g in df.groupby(case, sort=False):
        rows = []
        for r in g.to_dict("records"):
            rows.append((r[act], r[ts].value // 1000, r[end].value // 1000)
                        + tuple("" if pd.isna(r[a]) else r[a] for a in attrs))
        out[cid] = rows
    return out


def test_csv_to_log_to_xes_to_pm4py(log, source, tmp_path):
    xes = tmp_path / "log.xes"
    res = CliRunner().invoke(main, ["export", str(log), "--to", "xes", "-o", str(xes), "-q"])
    assert res.exit_code == 0, res.output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = pm4py.read_xes(str(xes))
    src_cols = list(ATTRS)
    xes_cols = [ATTRS[c] for c in src_cols]
    expect = _events(source.rename(columns={"contact_id": "case"}), "case", "activity", "ts", "te", src_cols)
    got = _events(back, "case:concept:name", "concept:name", "time:timestamp", "end_timestamp", xes_cols)
    assert got.keys() == expect.keys()
    assert got == expect
    raw = set(source["customer"])
    assert not raw & set(back["customer_id"].dropna())
    assert back["customer_id"].str.startswith("cus_").all()


@pytest.mark.parametrize("fmt", ["json", "xml", "sqlite"])
def test_csv_to_log_to_ocel_to_pm4py(log, source, tmp_path, fmt):
    out = tmp_path / f"log.{ {'json': 'jsonocel', 'xml': 'xmlocel', 'sqlite': 'sqlite'}[fmt] }"
    res = CliRunner().invoke(main, ["export", str(log), "--to", f"ocel-{fmt}", "-o", str(out), "-q"])
    assert res.exit_code == 0, res.output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ocel = pm4py.read_ocel2(str(out))
    flat = pm4py.ocel_flattening(ocel, "contact")
    flat["case:concept:name"] = flat["case:concept:name"].str.removeprefix("contact:")
    expect = {c: [(a, t) for a, t, _ in ev] for c, ev in
              _events(source.rename(columns={"contact_id": "case"}), "case", "activity", "ts", "te", []).items()}
    got = {}
    for cid, g in flat.sort_values(["case:concept:name", "time:timestamp"], kind="stable").groupby(
            "case:concept:name", sort=False):
        got[cid] = [(a, t.value // 1000) for a, t in zip(g["concept:name"], g["time:timestamp"])]
    assert got == expect
    customers = set(ocel.objects.loc[ocel.objects["ocel:type"] == "customer", "ocel:oid"])
    assert customers and not {c.removeprefix("customer:") for c in customers} & set(source["customer"])
