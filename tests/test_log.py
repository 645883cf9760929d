"""Canonical log: stable order, Parquet round trip, encoding."""

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

from engine.errors import InputError
from engine.log import encode_log, read_log, write_log
from engine.log.schema import TS_TYPE


def _table(cases, acts, ts, **extra):
    cols = {"case_id": cases, "activity": acts, "timestamp": pa.array(ts, pa.int64()).cast(TS_TYPE)}
    cols.update(extra)
    return pa.table(cols)


def test_order_is_case_by_first_event_then_time_then_input_order(tmp_path):
    t = _table(["b", "a", "b", "a", "c", "a"], ["X", "Y", "Z", "X", "Y", "W"], [5, 1, 3, 2, 0, 2])
    write_log(t, tmp_path / "l.parquet")
    r = read_log(tmp_path / "l.parquet").to_pydict()
    assert [str(c) for c in r["case_id"]] == ["c", "a", "a", "a", "b", "b"]
    # a's two events at t=2 keep their input order (X before W)
    assert [str(a) for a in r["activity"]] == ["Y", "Y", "X", "W", "Z", "X"]
    assert r["case_index"] == [0, 1, 1, 1, 2, 2]


def test_cases_with_equal_start_keep_input_order_not_id_order(tmp_path):
    # "10" sorts before "2" as a string; with equal first events the input order decides
    t = _table(["2", "10", "2", "10", "1"], ["A", "B", "C", "D", "E"], [5, 5, 6, 7, 9])
    write_log(t, tmp_path / "l.parquet")
    r = read_log(tmp_path / "l.parquet").to_pydict()
    assert [str(c) for c in r["case_id"]] == ["2", "2", "10", "10", "1"]
    assert r["case_index"] == [0, 0, 1, 1, 2]


def test_missing_required_column_names_available_columns(tmp_path):
    t = pa.table({"case_id": ["a"], "ts": [1]})
    with pytest.raises(InputError) as e:
        write_log(t, tmp_path / "l.parquet")
    assert "activity" in str(e.value) and "available: case_id, ts" in str(e.value)


def test_read_log_refuses_foreign_parquet(tmp_path):
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"x": [1]}), tmp_path / "f.parquet")
    with pytest.raises(InputError, match="not a cxmine event log"):
        read_log(tmp_path / "f.parquet")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 4), st.integers(0, 50)), max_size=60))
def test_encoding_matches_naive_grouping(tmp_path_factory, rows):
    cases = [f"c{c}" for c, _, _ in rows]
    acts = [f"a{a}" for _, a, _ in rows]
    ts = [t for _, _, t in rows]
    path = tmp_path_factory.mktemp("enc") / "l.parquet"
    write_log(_table(cases, acts, ts), path)
    enc = encode_log(path, with_case_ids=True)
    # naive twin: group by case, stable sort by time, cases by (first time, first appearance in the input)
    by_case = {}
    for i, (c, a, t) in enumerate(zip(cases, acts, ts)):
        by_case.setdefault(c, []).append((t, i, a))
    order = sorted(by_case, key=lambda c: (min(t for t, _, _ in by_case[c]), by_case[c][0][1]))
    expect = [[a for _, _, a in sorted(by_case[c])] for c in order]
    got = [[enc.activities[k] for k in enc.activity_codes[s:e]]
           for s, e in zip(enc.case_offsets[:-1], enc.case_offsets[1:])]
    assert got == expect
    assert enc.case_ids.to_pylist() == order
    assert enc.n_events == len(rows)
    assert np.all(np.diff(enc.case_offsets) > 0) or not rows


_ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name, kind, command", [
    ("eventlogs/small/contacts.csv", "looks like a CSV file", "cxmine ingest {p} --mapping MAPPING.toml -o log.parquet"),
    ("eventlogs/sample/contacts.csv.gz", "looks like a CSV file (gzip-compressed)", "cxmine ingest {p} --mapping"),
    ("eventlogs/small/contacts.xes", "looks like an XES event log", "cxmine ingest {p} -o log.parquet"),
    ("eventlogs/small/contacts.jsonocel", "looks like an OCEL JSON log", "cxmine ingest {p} -o log.parquet"),
    ("eventlogs/small/contacts.xmlocel", "looks like an OCEL 2.0 XML log", "cxmine ingest {p} -o log.parquet"),
    ("eventlogs/small/contacts.sqlite", "looks like an SQLite database", "cxmine ingest {p} -o log.parquet"),
    ("eventlogs/small/connect_records.jsonl", "looks like a JSON Lines file", "cxmine ingest {p} --mapping"),
    ("models/lost_card.bpmn", "looks like a BPMN model", "An SOP model is not an event log"),
])
def test_a_file_of_another_kind_is_named_with_the_command_that_makes_a_log(name, kind, command, tmp_path):
    from click.testing import CliRunner

    from engine.cli import main
    from engine.log.store import open_log
    path = _ROOT / name
    with pytest.raises(InputError, match="Not a Parquet event log") as err:
        open_log(path)
    assert kind in str(err.value) and command.format(p=path) in str(err.value)
    assert "magic bytes" not in str(err.value)
    for cmd in (["variants"], ["kpi"], ["export", "--to", "xes", "-o", str(tmp_path / "never.xes")]):
        res = CliRunner().invoke(main, [*cmd, str(path)] if cmd[0] != "export" else
                                 ["export", str(path), *cmd[1:]])
        assert res.exit_code == 1 and kind in res.output and "Traceback" not in res.output


def test_a_damaged_log_and_other_files_say_what_they_are(tmp_path):
    from engine.log.store import open_log
    good = tmp_path / "l.parquet"
    write_log(_table(["a"], ["X"], [1]), good)
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(good.read_bytes()[:200])
    (tmp_path / "empty.parquet").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("just some words\n")
    for path, kind in ((cut, "a damaged or truncated Parquet file"), (tmp_path / "empty.parquet", "an empty file"),
                       (tmp_path / "notes.txt", "a text file")):
        with pytest.raises(InputError, match=f"looks like {kind}"):
            open_log(path)
    with pytest.raises(InputError, match="found a folder"):
        open_log(tmp_path)
    with pytest.raises(InputError, match="looks like a text file"):
        read_log(tmp_path / "notes.txt")
