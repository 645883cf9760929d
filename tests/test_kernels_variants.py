"""Variant kernels against pm4py (oracle) and the slow twin in tests/naive.py."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

import naive
from engine.analyses.variants import count_variants, count_variants_by
from engine.errors import AnalysisError
from engine.log import encode_log, write_log
from engine.log.encode import EncodedLog
from engine.log.schema import TS_TYPE

@pytest.mark.parametrize("path", naive.xes_logs(), ids=lambda p: p.name)
def test_variants_match_pm4py(path, tmp_path):
    import pm4py
    df, log = naive.load_xes(path, tmp_path)
    expect = pm4py.get_variants(df)
    got = count_variants(log)
    assert dict(got.top()) == {tuple(k): v for k, v in expect.items()}
    assert int(got.counts.sum()) == log.n_cases == df["case:concept:name"].nunique()


def cases_strategy(max_cases=25, max_len=8, alphabet=4):
    return st.lists(st.lists(st.integers(0, alphabet - 1).map(lambda a: f"a{a}"), min_size=1, max_size=max_len),
                    max_size=max_cases)


def encode_sequences(cases: list[list[str]]) -> EncodedLog:
    return naive.encode_cases([[{"activity": a, "timestamp": i} for i, a in enumerate(c)] for c in cases])


@settings(max_examples=150, deadline=None)
@given(cases_strategy())
def test_variants_match_twin_and_invariants(cases):
    log = encode_sequences(cases)
    got = count_variants(log)
    assert got.top() == naive.ordered_variants(cases)
    assert int(got.counts.sum()) == len(cases)
    # every case maps to the variant of its own sequence
    for i, c in enumerate(cases):
        assert got.sequences[got.case_variant[i]] == tuple(c)


@settings(max_examples=80, deadline=None)
@given(cases_strategy(), st.randoms(use_true_random=False))
def test_shuffling_case_order_changes_only_tie_order(cases, rnd):
    shuffled = list(cases)
    rnd.shuffle(shuffled)
    a, b = count_variants(encode_sequences(cases)), count_variants(encode_sequences(shuffled))
    assert dict(a.top()) == dict(b.top())
    assert list(a.counts) == list(b.counts)


@settings(max_examples=80, deadline=None)
@given(cases_strategy(), st.integers(0, 25))
def test_merge_of_partitions_equals_whole(cases, cut):
    cut = min(cut, len(cases))
    whole = count_variants(encode_sequences(cases))
    merged = count_variants(encode_sequences(cases[:cut])) + count_variants(encode_sequences(cases[cut:]))
    assert merged.top() == whole.top()
    assert merged.n_cases == whole.n_cases


def test_hash_collisions_never_merge_sequences():
    # many distinct long sequences over two letters: equality is checked element by element
    rnd = random.Random(7)
    cases = [[rnd.choice("ab") for _ in range(rnd.randint(1, 30))] for _ in range(3000)]
    got = count_variants(encode_sequences(cases))
    assert dict(got.top()) == naive.variants(cases)


def test_huge_case_and_one_event_cases():
    cases = [["x"] * 20000, ["y"], ["y"], ["x", "y"]]
    got = count_variants(encode_sequences(cases))
    assert got.top() == naive.ordered_variants(cases)
    assert got.coverage(1) == 0.5 and got.long_tail_share(1) == 0.5
    assert got.variants_for_coverage(0.75) == 2


def test_empty_log():
    got = count_variants(encode_sequences([]))
    assert got.n_cases == 0 and got.top() == [] and got.coverage(3) == 0.0


def test_by_segment_adds_up_to_whole():
    cases = [["a", "b"], ["a"], ["a", "b"], ["b"], ["a", "b"]]
    log = naive.encode_cases([[{"activity": a, "timestamp": i, "team": "T1" if k % 2 else "T2"}
                               for i, a in enumerate(c)] for k, c in enumerate(cases)])
    by = count_variants_by(log, "team")
    assert dict(by["T1"].top()) == {("a",): 1, ("b",): 1}
    assert dict(by["T2"].top()) == {("a", "b"): 3}
    total = by["T1"] + by["T2"]
    assert dict(total.top()) == dict(count_variants(log).top())
    with pytest.raises(AnalysisError, match="available"):
        count_variants_by(log, "nope")


def test_parquet_round_trip_with_segments(tmp_path):
    t = pa.table({"case_id": ["c1", "c1", "c2", "c3", "c3"], "activity": ["A", "B", "A", "A", "B"],
                  "timestamp": pa.array([0, 1, 2, 3, 4], pa.int64()).cast(TS_TYPE),
                  "site": ["S1", "S1", "S2", None, "S2"]})
    write_log(t, tmp_path / "l.parquet")
    log = encode_log(tmp_path / "l.parquet")
    by = count_variants_by(log, "site")
    assert by["S1"].top() == [(("A", "B"), 1)]
    assert by["S2"].top() == [(("A",), 1), (("A", "B"), 1)]  # tie: c2 comes first


def test_cli_variants_and_dfg(tmp_path):
    import json

    from click.testing import CliRunner

    from engine.cli import main
    t = pa.table({"case_id": ["c1", "c1", "c2", "c3", "c3"], "activity": ["A", "B", "A", "A", "B"],
                  "timestamp": pa.array([0, 1, 2, 3, 4], pa.int64()).cast(TS_TYPE),
                  "team": ["T1", "T1", "T2", "T2", "T2"]})
    write_log(t, tmp_path / "l.parquet")
    log = str(tmp_path / "l.parquet")
    runner = CliRunner()
    res = runner.invoke(main, ["variants", log, "--json", "-q", "--by", "team"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["n_cases"] == 3
    assert data["variants"] == [{"activities": ["A", "B"], "count": 2}, {"activities": ["A"], "count": 1}]
    assert data["by"] == ["team"] and data["segments"]["team"]["T2"]["variants"][0] == {"activities": ["A"], "count": 1}
    res = runner.invoke(main, ["variants", log, "--top", "1", "--csv", str(tmp_path / "csv"), "-q"])
    assert res.exit_code == 0 and "A > B" in res.stdout
    assert (tmp_path / "csv" / "variants.csv").read_text().splitlines()[1].startswith("1,2,")
    res = runner.invoke(main, ["dfg", log, "--json", "-q"])
    edges = json.loads(res.stdout)["edges"]
    assert edges == [{"source": "A", "target": "B", "count": 2, "mean_s": 1e-9, "median_s": 1e-9, "p90_s": 1e-9,
                      "min_s": 1e-9, "max_s": 1e-9, "total_s": 2e-9}]
    res = runner.invoke(main, ["variants", log, "--top", "0"])
    assert res.exit_code == 2


@settings(max_examples=60, deadline=None)
@given(cases_strategy(), st.lists(st.sampled_from([None, "T1", "T2", "T3"]), min_size=25, max_size=25))
def test_segment_variants_match_twin(cases, teams):
    log = naive.encode_cases([[{"activity": a, "timestamp": i, "team": teams[k]} for i, a in enumerate(c)]
                              for k, c in enumerate(cases)])
    by = count_variants_by(log, "team")
    for label in ("T1", "T2", "T3"):
        mine = [c for k, c in enumerate(cases) if teams[k] == label]
        assert (by[label].top() if label in by else []) == naive.ordered_variants(mine)
