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
