"""Encoding Arrow columns into numpy arrays: chunks whose dictionaries differ, nulls, slices,
high-cardinality columns, and no pandas import on the way."""

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

import engine.log.encode as encode
from engine.log import encode_log, write_log
from engine.log.encode import NO_TIME, index_array, valid_of, values_of
from engine.log.schema import TS_TYPE


def _naive_codes(values: list) -> tuple[list[int], tuple[str, ...]]:
    """Codes into the sorted distinct values, -1 for None."""
    labels = tuple(sorted({v for v in values if v is not None}))
    pos = {s: i for i, s in enumerate(labels)}
    return [-1 if v is None else pos[v] for v in values], labels


def _chunk(values: list, as_dictionary: bool, reverse: bool) -> pa.Array:
    arr = pa.array(values, pa.string())
    if not as_dictionary:
        return arr
    # a dictionary in an order of its own (not sorted, not first appearance) with an unused entry
    words = sorted({v for v in values if v is not None} | {"unused"}, reverse=reverse)
    pos = {w: i for i, w in enumerate(words)}
    return pa.DictionaryArray.from_arrays(pa.array([None if v is None else pos[v] for v in values], pa.int32()),
                                          pa.array(words, pa.string()))


chunks = st.lists(st.tuples(st.lists(st.one_of(st.none(), st.sampled_from("abcdefg")), max_size=12),
                            st.booleans()), max_size=5)


@settings(max_examples=80, deadline=None)
@given(chunks, st.booleans(), st.sampled_from([1, 3, 1 << 16]))
def test_codes_of_chunks_with_different_dictionaries_match_naive(parts, as_dictionary, max_labels):
    values = [v for vs, _ in parts for v in vs]
    kind = pa.dictionary(pa.int32(), pa.string()) if as_dictionary else pa.string()
    col = pa.chunked_array([_chunk(vs, as_dictionary, r) for vs, r in parts], kind)
    old = encode.MAX_SORTED_LABELS
    encode.MAX_SORTED_LABELS = max_labels  # few: chunks keep first-seen ids, ranked at the end
    try:
        sink = encode._Codes(len(values))
        sink.feed(col, 0, None)
        codes, labels = sink.finish()
    finally:
        encode.MAX_SORTED_LABELS = old
    # a dictionary's entries are labels, used or not (as the log's dictionaries are stored)
    want_codes, want_labels = _naive_codes(values + (["unused"] if as_dictionary and parts else []))
    want_codes = want_codes[:len(values)]
    assert labels == want_labels
    assert codes.tolist() == want_codes


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-10**15, 10**15)), max_size=30), st.integers(0, 5))
def test_times_of_a_sliced_column_with_nulls(values, skip):
    arr = pa.array(values, pa.int64()).cast(TS_TYPE).slice(min(skip, len(values)))
    sink = encode._Times(len(arr))
    sink.feed(pa.chunked_array([arr], TS_TYPE), 0, None)
    want = [NO_TIME if v is None else v for v in values[min(skip, len(values)):]]
    assert sink.finish().tolist() == want


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-2**31, 2**31 - 1)), max_size=40), st.integers(0, 9))
def test_values_and_validity_of_a_slice(values, skip):
    arr = pa.array(values, pa.int32()).slice(min(skip, len(values)))
    kept = values[min(skip, len(values)):]
    valid = valid_of(arr)
    assert (valid is None) == (None not in kept)
    mask = np.ones(len(kept), dtype=bool) if valid is None else valid
    assert mask.tolist() == [v is not None for v in kept]
    assert values_of(arr, np.int32)[mask].tolist() == [v for v in kept if v is not None]


def test_values_of_refuses_a_dtype_of_another_width():
    with pytest.raises(TypeError):
        values_of(pa.array([1, 2], pa.int64()), np.int32)


def test_index_array_takes_like_a_list():
    arr = pa.array(["x", "y", "z"])
    assert arr.take(index_array(np.array([2, 0, 2], dtype=np.int32))).to_pylist() == ["z", "x", "z"]
    assert arr.take(index_array(np.zeros(0, dtype=np.int64))).to_pylist() == []


def test_first_value_per_case_with_nulls_and_a_case_split_between_batches():
    sink = encode._FirstPerCase()
    case_index = np.array([0, 0, 1, 1, 1, 2, 3, 3], dtype=np.int32)
    sink.feed(pa.chunked_array([pa.array([None, "b", None, None])]), 0, case_index)
    sink.feed(pa.chunked_array([pa.array(["z", "c", None, "d"])]), 4, case_index)
    codes, labels = sink.finish(4)
    assert [labels[c] if c >= 0 else None for c in codes.tolist()] == ["b", "z", "c", "d"]


def _log(tmp_path, n_cases: int):
    rng = np.random.default_rng(3)
    cases, acts, teams, ts = [], [], [], []
    for c in range(n_cases):
        for k in range(int(rng.integers(1, 5))):
            cases.append(f"c{c:05d}")
            acts.append(f"a{int(rng.integers(0, 6))}")
            teams.append(None if rng.random() < 0.2 else f"t{int(rng.integers(0, 4))}")
            ts.append(c * 100 + k)
    table = pa.table({"case_id": cases, "activity": acts, "team": pa.array(teams, pa.string()),
                      "timestamp": pa.array(ts, pa.int64()).cast(TS_TYPE),
                      "end_timestamp": pa.array([None if t % 3 == 0 else t + 1 for t in ts], pa.int64()).cast(TS_TYPE)})
    path = tmp_path / "l.parquet"
    write_log(table, path)
    return path, cases, acts, teams, ts


def test_encoded_stored_log_matches_its_rows(tmp_path, monkeypatch):
    import engine.log.store as store
    monkeypatch.setattr(store, "ROW_GROUP", 37)  # cases split between row groups with dictionaries of their own
    path, cases, acts, teams, ts = _log(tmp_path, 300)
    assert store.open_log(path).num_row_groups > 10
    full = encode_log(path, attributes=("team",), with_case_ids=True)
    starts = encode_log(path, attributes=("team",), with_case_ids=True, case_starts_only=True)
    for enc in (full, starts):
        assert enc.case_ids.to_pylist() == list(dict.fromkeys(cases))
        assert [enc.activities[c] for c in enc.activity_codes.tolist()] == acts
        codes, labels = enc.attributes["team"]
        assert [labels[c] if c >= 0 else None for c in codes.tolist()] == teams
    assert full.timestamps.tolist() == ts
    assert full.end_timestamps.tolist() == [NO_TIME if t % 3 == 0 else t + 1 for t in ts]
    assert full.case_starts is None
    assert starts.end_timestamps is None and not starts.timestamps.any()
    assert starts.case_starts.tolist() == full.timestamps[full.case_offsets[:-1]].tolist()


def test_weeks_and_selection_of_a_log_of_case_starts(tmp_path):
    from engine.log.select import case_weeks, encode_where
    path, *_ = _log(tmp_path, 200)
    full = encode_where(path, {"team": {"t1"}}, with_case_ids=True)
    starts = encode_where(path, {"team": {"t1"}}, with_case_ids=True, case_starts_only=True)
    assert starts.case_ids.equals(full.case_ids) and starts.n_events == full.n_events
    assert starts.case_starts.tolist() == full.timestamps[full.case_offsets[:-1]].tolist()
    assert [a.tolist() if hasattr(a, "tolist") else a for a in case_weeks(starts)] == \
        [a.tolist() if hasattr(a, "tolist") else a for a in case_weeks(full)]


def test_encoding_a_stored_log_does_not_import_pandas(tmp_path):
    path, *_ = _log(tmp_path, 50)
    code = ("import sys; from engine.log.select import encode_where; "
            f"e = encode_where({str(path)!r}, None, with_case_ids=True, attributes=('team',), case_starts_only=True); "
            "e.case_ids.to_pylist(); print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
