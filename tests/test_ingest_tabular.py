"""Tabular ingest: CSV, TSV, gzip, JSON Lines and Parquet through mapping files, checked against pm4py."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings, strategies as st

from engine.errors import InputError
from engine.ingest import ReadOptions
from engine.ingest.job import ingest_to_log
from engine.ingest.mapping import load_mapping
from engine.ingest.duplicates import find_duplicates
from engine.ingest.timestamps import NO_OFFSET, NONEXISTENT, UNPARSEABLE, parse_timestamps, problem_reason
from engine.log.store import read_log

DATA = Path(__file__).parent / "data" / "tabular"
ROOT = Path(__file__).resolve().parents[1]
PM4PY_MAP = """
[columns]
case_id = "case:concept:name"
activity = "concept:name"
timestamp = "time:timestamp"
resource = "org:resource"
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def ingest(tmp_path, inputs, mapping_text=None, name="map.toml", **kw):
    mapping = load_mapping(write(tmp_path / name, mapping_text)) if mapping_text is not None else None
    out = tmp_path / "log.parquet"
    summary = ingest_to_log([str(p) for p in inputs], out, options=ReadOptions(mapping=mapping, pseudonym_key=b"k"),
                            **kw)
    assert summary.records_read == summary.records_accepted + summary.records_rejected
    return summary, read_log(out)


def by_case(table: pa.Table) -> dict[str, list[tuple[str, int]]]:
    d = table.to_pydict()
    ts = table.column("timestamp").cast(pa.int64()).to_pylist()
    out: dict[str, list] = {}
    for c, a, t in zip(d["case_id"], d["activity"], ts):
        out.setdefault(str(c), []).append((str(a), t))
    return out


def pm4py_by_case(df: pd.DataFrame) -> dict[str, list[tuple[str, int]]]:
    import pm4py
    df = pm4py.format_dataframe(df, case_id="case:concept:name", activity_key="concept:name",
                                timestamp_key="time:timestamp")
    ts = df["time:timestamp"].dt.tz_convert("UTC").astype("datetime64[ns, UTC]").astype("int64")
    out: dict[str, list] = {}
    for c, a, t in zip(df["case:concept:name"], df["concept:name"], ts):
        out.setdefault(str(c), []).append((str(a), int(t)))
    return out


@pytest.mark.parametrize("name", ["running-example.csv", "roadtraffic100traces.csv"])
def test_csv_matches_pm4py_format_dataframe(tmp_path, name):
    summary, log = ingest(tmp_path, [DATA / name], PM4PY_MAP)
    expect = pm4py_by_case(pd.read_csv(DATA / name))
    assert summary.records_rejected == 0
    assert summary.cases == len(expect)
    assert summary.events == sum(len(v) for v in expect.values())
    assert by_case(log) == expect


def test_mixed_utc_offsets_are_honoured(tmp_path):
    # the road-traffic log switches between +01:00 and +02:00 (daylight saving)
    _, log = ingest(tmp_path, [DATA / "roadtraffic100traces.csv"], PM4PY_MAP)
    first = by_case(log)["N77802"]
    assert first[0] == ("Create Fine", int(pd.Timestamp("2005-03-22T23:00:00Z").value))
    assert first[1] == ("Send Fine", int(pd.Timestamp("2005-07-21T22:00:00Z").value))


def test_unnamed_header_column_is_kept_under_a_generated_name(tmp_path):
    _, log = ingest(tmp_path, [DATA / "running-example.csv"], PM4PY_MAP)
    assert "column_1" in log.column_names and "case:creator" in log.column_names
    assert "org:resource" not in log.column_names  # mapped to resource
    assert set(map(str, log.column("resource").to_pylist())) >= {"Pete", "Mike"}


def test_parquet_matches_pm4py_with_naive_times_read_as_utc(tmp_path):
    # pm4py takes timestamps without zone as UTC; cxmine needs to be told so
    summary, log = ingest(tmp_path, [DATA / "receipt.parquet"], 'timezone = "UTC"\n' + PM4PY_MAP)
    expect = pm4py_by_case(pd.read_parquet(DATA / "receipt.parquet"))
    assert summary.records_read == 8577 and summary.records_rejected == 0
    assert by_case(log) == expect
    # typed attributes keep their Parquet types
    assert pa.types.is_timestamp(log.schema.field("case:startdate").type)


def test_parquet_with_naive_times_and_no_timezone_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"carry no UTC offset.*timezone = \"Europe/Berlin\""):
        ingest(tmp_path, [DATA / "running-example.parquet"], PM4PY_MAP)


def test_semicolon_delimiter_is_sniffed(tmp_path):
    summary, log = ingest(tmp_path, [DATA / "running_example_broken.csv"], PM4PY_MAP)
    assert summary.records_read == 34 and summary.records_rejected == 0
    assert summary.cases == 6 and "costs" in log.column_names


def _sample_rows(n=30):
    rng = np.random.default_rng(1)
    rows = []
    for i in range(n):
        t = dt.datetime(2026, 3, 1, 8, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=int(rng.integers(0, 5000)))
        rows.append({"contact": f"c{i % 7}", "step": ["IVR menu", "Queue", "Agent answer"][i % 3],
                     "at": t.isoformat(), "agent": f"a{i % 4}", "caller": f"+44 7700 900{i % 5:03d}",
                     "Queue": {"Name": ["Billing", "Cards"][i % 2]}})
    return rows


LONG_MAP = """
[columns]
case_id = "contact"
activity = "step"
timestamp = "at"
resource = "agent"
customer_id = "caller"
"""


def test_csv_tsv_gzip_jsonl_and_parquet_give_the_same_log(tmp_path):
    rows = _sample_rows()
    flat = [{**{k: v for k, v in r.items() if k != "Queue"}, "Queue.Name": r["Queue"]["Name"]} for r in rows]
    df = pd.DataFrame(flat)
    df.to_csv(tmp_path / "a.csv", index=False)
    df.to_csv(tmp_path / "a.tsv", index=False, sep="\t")
    with gzip.open(tmp_path / "a.csv.gz", "wt") as fh:
        df.to_csv(fh, index=False)
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "a.parquet")
    logs = {}
    for name in ("a.csv", "a.tsv", "a.csv.gz", "a.jsonl", "a.parquet"):
        sub = tmp_path / name.replace(".", "_")
        sub.mkdir()
        summary, log = ingest(sub, [tmp_path / name], LONG_MAP)
        assert summary.records_read == 30 and summary.records_rejected == 0, name
        logs[name] = log.to_pylist()
    base = logs.pop("a.csv")
    for name, log in logs.items():
        assert log == base, name
    assert base[0]["Queue.Name"] in ("Billing", "Cards")
    assert all(r["customer_id"].startswith("cus_") for r in base)


def test_without_mapping_canonical_columns_are_accepted(tmp_path):
    p = write(tmp_path / "c.csv", "case_id,activity,timestamp,end_timestamp,team,note\n"
                                  "1,Queue,2026-03-01T10:00:00Z,2026-03-01T10:02:00Z,A,x\n"
                                  "1,Agent answer,2026-03-01T10:02:00Z,,A,\n")
    summary, log = ingest(tmp_path, [p])
    assert summary.events == 2 and summary.cases == 1 and summary.activities == 2
    assert log.column("end_timestamp").null_count == 1
    assert str(log.column("team")[0]) == "A" and log.column("note").to_pylist() == ["x", None]


def test_constants_and_keep_unmapped_false(tmp_path):
    p = write(tmp_path / "c.csv", "id,ev,ts,extra\n1,Queue,2026-03-01T10:00:00Z,z\n")
    _, log = ingest(tmp_path, [p], '[columns]\ncase_id = "id"\nactivity = "ev"\ntimestamp = "ts"\n'
                                   '[constants]\nchannel = "chat"\nkeep_unmapped = false\n')
    assert "extra" not in log.column_names and str(log.column("channel")[0]) == "chat"


def test_callcenter_example_end_to_end(tmp_path):
    src = ROOT / "eventlogs" / "callcenter"
    out = tmp_path / "cc.parquet"
    summary = ingest_to_log([src / "calls.csv"], out,
                            options=ReadOptions(mapping=load_mapping(src / "mapping.toml"), pseudonym_key=b"k"))
    raw = pd.read_csv(src / "calls.csv", dtype=str, keep_default_na=False)
    assert summary.records_read == len(raw) == summary.records_accepted
    assert summary.records_rejected == 0 and summary.rejects_file is None
    log = read_log(out)
    cases = by_case(log)
    assert set(cases) == set(raw["call_id"])
    allowed = {("IVR menu",), ("IVR menu", "Queue", "Agent answer"), ("IVR menu", "Queue", "Agent answer", "Transfer"),
               ("IVR menu", "Queue", "Abandon")}
    outcome = dict(zip(raw["call_id"], raw["outcome"]))
    expect_path = {"self-served": ("IVR menu",), "resolved": ("IVR menu", "Queue", "Agent answer"),
                   "transferred": ("IVR menu", "Queue", "Agent answer", "Transfer"),
                   "abandoned": ("IVR menu", "Queue", "Abandon")}
    for case, events in cases.items():
        path = tuple(a for a, _ in events)
        assert path in allowed
        assert path == expect_path[outcome[case]]
    # local London times (GMT in March) become UTC; the agent is the resource of Agent answer
    d = log.to_pylist()
    first = raw.iloc[0]
    ivr = next(r for r in d if r["case_id"] == first["call_id"] and r["activity"] == "IVR menu")
    assert ivr["timestamp"] == pd.Timestamp(first["ivr_entry"], tz="Europe/London").to_pydatetime()
    answered = raw[raw["agent"] != ""].iloc[0]
    ans = next(r for r in d if r["case_id"] == answered["call_id"] and r["activity"] == "Agent answer")
    assert ans["resource"] == answered["agent"] and ans["owner"] == "Support Ops" and ans["channel"] == "voice"
    assert all(r["customer_id"].startswith("cus_") for r in d)
    assert not any("7700" in str(v) for r in d for v in r.values())
    assert summary.events == len(d) == sum(len(p) for p in (expect_path[o] for o in raw["outcome"]))


# ---------------------------------------------------------------- mapping files

def test_mapping_yaml_equals_toml(tmp_path):
    toml = load_mapping(write(tmp_path / "m.toml", 'timezone = "Europe/Berlin"\n[columns]\ncase_id = "id"\n'
                                                  '[[events]]\nactivity = "Queue"\ntimestamp = "q"\n'
                                                  'where = { outcome = ["a", "b"] }\n'))
    yml = load_mapping(write(tmp_path / "m.yaml", "timezone: Europe/Berlin\ncolumns:\n  case_id: id\nevents:\n"
                                                 "  - activity: Queue\n    timestamp: q\n"
                                                 "    where: {outcome: [a, b]}\n"))
    for key in ("timezone", "columns", "events", "timestamp_format", "keep_unmapped"):
        a, b = toml[key], yml[key]
        if key == "events":
            a = [{k: v for k, v in e.items() if k != "line"} for e in a]
            b = [{k: v for k, v in e.items() if k != "line"} for e in b]
        assert a == b, key


@pytest.mark.parametrize("text,needle,line", [
    ('[columns]\ncase_id = "id"\n\n[colums]\nx = "y"\n', "Unknown key 'colums'.*line 4.*Did you mean 'columns'", 4),
    ('timezone = "Europe/Berln"\n', "Unknown time zone 'Europe/Berln'.*line 1", 1),
    ('[columns]\ncase_id = "id"\n[[events]]\ntimestamp = "t"\n', "needs exactly one of 'activity'.*line 3", 3),
    ('[columns]\ncase_id = 5\n', "'columns.case_id' must be a non-empty text.*line 2", 2),
    ('timestamp_format = "dd/mm/yyyy"\n', "neither ISO8601.*line 1", 1),
    ('[columns]\ncase_id = "id\n', "not valid TOML.*line 2", 2),
    ('[columns]\nactivity = "a"\n[[events]]\nactivity = "Q"\ntimestamp = "t"\n',
     r"\[columns\] maps 'activity'.*wide form.*line 2", 2),
])
def test_mapping_errors_name_the_key_and_line(tmp_path, text, needle, line):
    with pytest.raises(InputError, match=needle) as e:
        load_mapping(write(tmp_path / "m.toml", text))
    assert e.value.line == line and e.value.path == str(tmp_path / "m.toml")


def test_mapping_yaml_error_has_line(tmp_path):
    with pytest.raises(InputError, match="line 3") as e:
        load_mapping(write(tmp_path / "m.yml", "columns:\n  case_id: id\n  bad: x: y\n  ok: z\n"))
    assert "not valid YAML" in str(e.value)


# ---------------------------------------------------------------- timestamps

OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2100, 1, 1)),
                          OFFSETS, st.booleans(), st.booleans()), min_size=1, max_size=40))
def test_iso_parsing_matches_python(values):
    texts, expect = [], []
    for d, tz, frac, space in values:
        d = d.replace(microsecond=d.microsecond if frac else 0)
        aware = d.replace(tzinfo=tz)
        s = aware.isoformat(sep=" " if space else "T")
        texts.append(s)
        delta = aware.astimezone(dt.timezone.utc).replace(tzinfo=None) - dt.datetime(1970, 1, 1)
        expect.append((delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000)
    p = parse_timestamps(pa.array(texts), "ISO8601", None)
    assert p.valid.all()
    assert p.values.tolist() == expect


def test_iso_parsing_reports_each_failure_kind():
    texts = ["2026-03-01T10:00:00Z", "2026-02-30T10:00:00Z", "yesterday", "2026-03-01 10:00:00", None, "",
             "2026-03-29 01:30:00", "2026-10-25 01:30:00"]
    p = parse_timestamps(pa.array(texts), "ISO8601", "Europe/London")
    assert p.valid.tolist() == [True, False, False, True, False, False, False, True]
    assert p.problem.tolist() == [0, 1, 1, 0, 0, 0, 3, 0]
    # 01:30 on 2026-10-25 happens twice in London: the earlier (BST) instant is taken
    assert p.values[7] == pd.Timestamp("2026-10-25T00:30:00Z").value
    q = parse_timestamps(pa.array(texts[:4]), "ISO8601", None)
    assert q.problem.tolist() == [0, 1, 1, 2]


def test_pattern_and_epoch_formats():
    p = parse_timestamps(pa.array(["01/03/2026 10:00:00", "31/02/2026 10:00:00", "01/03/2026 10:00:00.250",
                              "29/02/2024 10:00:00", "1/3/2026 10:00:00"]), "%d/%m/%Y %H:%M:%S", "UTC")
    assert p.valid.tolist() == [True, False, False, True, True]
    assert p.values[4] == p.values[0]
    zz = parse_timestamps(pa.array(["31/04/2026 10:00:00 +0100", "30/04/2026 23:30:00 -0100"]), "%d/%m/%Y %H:%M:%S %z",
                     None)
    assert zz.valid.tolist() == [False, True] and zz.values[1] == pd.Timestamp("2026-05-01T00:30:00Z").value
    f = parse_timestamps(pa.array(["01/03/2026 10:00:00.250"]), "%d/%m/%Y %H:%M:%S.%f", "UTC")
    assert f.values[0] == pd.Timestamp("2026-03-01T10:00:00.25Z").value
    z = parse_timestamps(pa.array(["01/03/2026 10:00:00 +0100"]), "%d/%m/%Y %H:%M:%S %z", None)
    assert z.valid[0] and z.values[0] == pd.Timestamp("2026-03-01T09:00:00Z").value
    e = parse_timestamps(pa.array(["1772359200000", "1772359200000.5", "abc", "99999999999999999"]), "epoch_ms", None)
    assert e.valid.tolist() == [True, True, False, False]
    assert e.values[0] == pd.Timestamp("2026-03-01T10:00:00Z").value and e.values[1] == e.values[0] + 500_000


# ---------------------------------------------------------------- duplicates

@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2), st.sampled_from(["x", "y", None]),
                          st.integers(0, 1), st.booleans()), max_size=60), st.integers(1, 4))
def test_find_duplicates_matches_naive_twin(rows, lead):
    cols = [pa.array([f"c{r[0]}" for r in rows], pa.string()),
            pa.array([r[1] for r in rows], pa.int64()).cast(pa.timestamp("ns", "UTC")),
            pa.array([r[2] for r in rows], pa.string()),
            pa.array([r[3] for r in rows], pa.int64())]
    cand = np.array([r[4] for r in rows], dtype=bool)
    got = find_duplicates(cols, cand, lead=lead).tolist()
    seen: dict[tuple, int] = {}
    expect = []
    for i, r in enumerate(rows):
        key = r[:4]
        if not r[4]:
            expect.append(-1)
        elif key in seen:
            expect.append(seen[key])
        else:
            seen[key] = i
            expect.append(-1)
    assert got == expect


def test_long_header_and_many_columns(tmp_path):
    names = [f"attribute_with_a_rather_long_name_{i:02d}" for i in range(40)]
    p = write(tmp_path / "w.csv", "case_id,activity,timestamp," + ",".join(names) + "\n" +
              "c1,Queue,2026-03-01T10:00:00Z," + ",".join(str(i) for i in range(40)) + "\n")
    summary, log = ingest(tmp_path, [p])
    assert summary.records_rejected == 0 and log.column(names[-1]).to_pylist() == ["39"]


def test_pseudonymise_by_source_or_output_name(tmp_path):
    p = write(tmp_path / "c.csv", "id,ev,ts,agent_mail,caller,note\n"
                                  "1,Queue,2026-03-01T10:00:00Z,ann@example.com,+44 7700 900001,hello\n")
    mapping = '[columns]\ncase_id = "id"\nactivity = "ev"\ntimestamp = "ts"\nresource = "agent_mail"\n'
    summary, log = ingest(tmp_path, [p], 'pseudonymise = ["agent_mail", "note", "nothing"]\n' + mapping)
    row = log.to_pylist()[0]
    # listed by source name (agent_mail -> resource) and by output name (note)
    assert row["resource"].startswith("cus_") and row["note"].startswith("cus_")
    assert row["caller"] == "+44 7700 900001"  # neither mapped to customer_id nor listed
    assert any("'nothing' listed under pseudonymise" in w for w in summary.warnings)
    assert pq_meta(tmp_path / "log.parquet")["mapping"] == str(tmp_path / "map.toml")


def pq_meta(path):
    from engine.log.store import log_metadata
    return log_metadata(path)


@pytest.mark.slow
def test_million_event_csv_with_bad_rows(tmp_path):
    import sys
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_ingest import generate
    csv_path, _ = generate(1_000_000, tmp_path / "data")
    with open(csv_path, "a") as fh:
        fh.write("C1,Queue,not a time,,agent1,voice,Billing,+44 7700 900001\nC2,Queue\n")
    summary, log = ingest(tmp_path, [csv_path])
    assert (summary.records_read, summary.records_rejected, summary.events) == (1_000_002, 2, 1_000_000)
    assert log.num_rows == 1_000_000


def test_timestamp_parser_takes_plain_strings_and_names_each_problem():
    texts = ["2026-03-01T10:00:00+01:00", None, "yesterday", "2026-03-29 01:30:00", "2026-03-01 10:00:00"]
    p = parse_timestamps(texts, "ISO8601", "Europe/London")
    assert p.valid.tolist() == [True, False, False, False, True]
    assert p.problem.tolist() == [0, 0, UNPARSEABLE, NONEXISTENT, 0]
    arr = p.to_arrow()
    assert arr.null_count == 3 and arr[0].value == pd.Timestamp("2026-03-01T09:00:00Z").value
    assert parse_timestamps(np.array(texts, dtype=object), "ISO8601", None).problem[4] == NO_OFFSET
    assert problem_reason(UNPARSEABLE, "yesterday", "start", "ISO8601", None) == (
        "unparseable timestamp 'yesterday' in column 'start' (expected ISO 8601, e.g. 2026-03-01T09:30:00+01:00)")
    assert "does not exist in Europe/London" in problem_reason(NONEXISTENT, "x", "start", "ISO8601", "Europe/London")
    epoch = parse_timestamps(np.array([1772359200, 0]), "epoch_s")
    assert epoch.values[0] == pd.Timestamp("2026-03-01T10:00:00Z").value
