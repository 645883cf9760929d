"""--where selection of contacts: against a plain-Python twin."""

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

from engine.errors import InputError
from engine.log import encode_log, write_log
from engine.log.schema import TS_TYPE
from engine.log.select import encode_where, parse_where


def test_parse_where():
    assert parse_where(["intent=a,b", "team=B", "intent=c"]) == {"intent": {"a", "b", "c"}, "team": {"B"}}
    with pytest.raises(InputError, match="not ATTR=VALUE") as err:
        parse_where(["intent"])
    assert err.value.field == "intent" and "--where" not in str(err.value)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 8), st.sampled_from("XYZ"), st.sampled_from(["a", "b", None])),
                min_size=1, max_size=50))
def test_selection_matches_twin(tmp_path_factory, rows):
    cases = [f"c{c}" for c, _, _ in rows]
    path = tmp_path_factory.mktemp("sel") / "l.parquet"
    write_log(pa.table({"case_id": cases, "activity": [a for _, a, _ in rows],
                        "timestamp": pa.array(range(len(rows)), pa.int64()).cast(TS_TYPE),
                        "intent": [i for _, _, i in rows]}), path)
    full = encode_log(path, with_case_ids=True)
    traces = {full.case_ids[i].as_py(): [full.activities[k] for k in
                                         full.activity_codes[full.case_offsets[i]:full.case_offsets[i + 1]]]
              for i in range(full.n_cases)}
    first = {}
    for c, _, i in rows:
        if i is not None:
            first.setdefault(f"c{c}", i)
    expect = [c for c in full.case_ids.to_pylist() if first.get(c) == "a"]
    if not expect:
        with pytest.raises(InputError, match="No contact matches"):
            encode_where(path, {"intent": {"a"}}, with_case_ids=True)
        return
    sel = encode_where(path, {"intent": {"a"}}, with_case_ids=True)
    assert sel.case_ids.to_pylist() == expect
    got = [[sel.activities[k] for k in sel.activity_codes[s:e]]
           for s, e in zip(sel.case_offsets[:-1], sel.case_offsets[1:])]
    assert got == [traces[c] for c in expect]
    assert sel.n_events == len(sel.timestamps) == sel.case_offsets[-1]
    assert np.all(np.diff(sel.timestamps[sel.case_offsets[0]:sel.case_offsets[1]]) >= 0)


def test_unknown_column(tmp_path):
    path = tmp_path / "l.parquet"
    write_log(pa.table({"case_id": ["a"], "activity": ["X"], "timestamp": pa.array([1], pa.int64()).cast(TS_TYPE)}),
              path)
    with pytest.raises(InputError, match="Column 'intent' is not in the event log"):
        encode_where(path, {"intent": {"x"}})


def test_conform_where_keeps_one_intent(tmp_path):
    """cxmine conform --where intent=X replays exactly the contacts of that intent (ground truth of eventlogs/small)."""
    import csv
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from engine.cli import main

    small = Path(__file__).resolve().parents[1] / "eventlogs" / "small"
    log = tmp_path / "small.parquet"
    runner = CliRunner()
    res = runner.invoke(main, ["ingest", str(small / "contacts.csv"), "--mapping", str(small / "mapping.toml"),
                               "-o", str(log), "-q"], env={"CXMINE_PSEUDONYM_KEY": "k"})
    assert res.exit_code == 0, res.output
    with open(small / "ground_truth" / "contacts.csv", newline="") as fh:
        expected = sum(1 for r in csv.DictReader(fh) if r["sop"] == "lost_card")
    res = runner.invoke(main, ["conform", str(log), "--sop", str(small.parents[1] / "models" / "lost_card.bpmn"), "--where", "intent=lost_card",
                               "--json", "-q"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["contacts"] == expected > 0
    res = runner.invoke(main, ["conform", str(log), "--sop", str(small.parents[1] / "models" / "lost_card.bpmn"), "--where", "intent=nothing"])
    assert res.exit_code == 1 and "No contact matches the selection (intent in ['nothing'])" in res.output


def test_variants_where_counts_only_selected_contacts(tmp_path):
    import csv
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from engine.cli import main

    small = Path(__file__).resolve().parents[1] / "eventlogs" / "small"
    log = tmp_path / "small.parquet"
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", str(small / "contacts.csv"), "--mapping", str(small / "mapping.toml"),
                                "-o", str(log), "-q"], env={"CXMINE_PSEUDONYM_KEY": "k"}).exit_code == 0
    with open(small / "ground_truth" / "contacts.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    want = {"billing_dispute", "order_delivery"}
    expected = sum(1 for r in rows if r["sop"] in want)
    res = runner.invoke(main, ["variants", str(log), "--where", "intent=billing_dispute,order_delivery",
                               "--top", "1000", "--json", "-q"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["n_cases"] == expected == sum(v["count"] for v in data["variants"])


def test_library_errors_name_the_argument_not_a_flag(tmp_path):
    from engine.errors import AnalysisError
    from engine.log.select import select_cases
    path = tmp_path / "l.parquet"
    write_log(pa.table({"case_id": ["a", "b"], "activity": ["X", "Y"],
                        "timestamp": pa.array([1, 2], pa.int64()).cast(TS_TYPE), "intent": ["i", "j"]}), path)
    enc = encode_log(path)
    with pytest.raises(AnalysisError, match="'keep' must have one entry per case") as err:
        select_cases(enc, np.ones(3, dtype=bool))
    assert err.value.field == "keep"
    with pytest.raises(InputError, match=r"No contact matches the selection \(intent in \['z'\]\)") as err:
        encode_where(path, {"intent": {"z"}})
    assert err.value.field == "intent" and "--" not in str(err.value)


def test_parsed_selection_passes_through():
    assert parse_where({"intent": ["a"]}) == {"intent": {"a"}}
