"""DFG, performance DFG and case-profile kernels against pm4py and the slow twins."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import naive
from engine.analyses.cases import profile_cases
from engine.analyses.dfg import discover_dfg, discover_performance_dfg
from engine.errors import AnalysisError


@pytest.mark.parametrize("path", naive.xes_logs(), ids=lambda p: p.name)
def test_dfg_matches_pm4py(path, tmp_path):
    import pm4py
    df, log = naive.load_xes(path, tmp_path)
    key = naive.pm4py_time_key(df)
    edges, starts, ends = pm4py.discover_dfg(df, timestamp_key=key)
    got = discover_dfg(log)
    assert got.edges == dict(edges)
    assert got.start_activities == dict(starts) == pm4py.get_start_activities(df, timestamp_key=key)
    assert got.end_activities == dict(ends) == pm4py.get_end_activities(df, timestamp_key=key)
    assert sum(got.start_activities.values()) == log.n_cases
    assert got.activity_counts == df["concept:name"].value_counts().to_dict()


@pytest.mark.parametrize("path", naive.xes_logs(), ids=lambda p: p.name)
def test_performance_dfg_matches_pm4py(path, tmp_path):
    import pm4py
    df, log = naive.load_xes(path, tmp_path)
    key = naive.pm4py_time_key(df)
    # pm4py: seconds between the two events' timestamps; its aggregation keys are
    # mean, median (middle pair averaged), max, min, sum, stdev
    expect = pm4py.discover_performance_dfg(df, timestamp_key=key)[0]
    got = discover_performance_dfg(log)
    assert set(got.edges) == set(expect)
    for edge, e in expect.items():
        g = got.edges[edge]
        assert math.isclose(g.mean_s, e["mean"], rel_tol=1e-9, abs_tol=1e-6)
        assert math.isclose(g.median_s, e["median"], rel_tol=1e-9, abs_tol=1e-6)
        assert math.isclose(g.min_s, e["min"], abs_tol=1e-6) and math.isclose(g.max_s, e["max"], abs_tol=1e-6)
        assert math.isclose(g.total_ns / 1e9, e["sum"], rel_tol=1e-9, abs_tol=1e-6)


def timed_cases_strategy(max_cases=20, max_len=8):
    event = st.tuples(st.integers(0, 3).map(lambda a: f"a{a}"), st.integers(0, 10**12))
    return st.lists(st.lists(event, min_size=1, max_size=max_len), max_size=max_cases)


def to_log(cases):
    """Cases of (activity, gap) pairs; timestamps are cumulative gaps."""
    out = []
    for k, c in enumerate(cases):
        t = k * 10**9
        evs = []
        for a, gap in c:
            t += gap
            evs.append({"activity": a, "timestamp": t, "team": f"T{k % 3}"})
        out.append(evs)
    return out


@settings(max_examples=120, deadline=None)
@given(timed_cases_strategy())
def test_dfg_matches_twin(cases):
    events = to_log(cases)
    log = naive.encode_cases(events)
    seqs = [[e["activity"] for e in c] for c in events]
    edges, starts, ends, acts = naive.dfg(seqs)
    got = discover_dfg(log)
    assert (got.edges, got.start_activities, got.end_activities, got.activity_counts) == (edges, starts, ends, acts)
    perf = discover_performance_dfg(log)
    twin = naive.performance_dfg([[(e["activity"], e["timestamp"]) for e in c] for c in events])
    assert set(perf.edges) == set(twin)
    for k, t in twin.items():
        g = perf.edges[k]
        assert g.count == t["count"]
        assert naive.isclose(g.mean_s, t["mean"]) and naive.isclose(g.median_s, t["median"])
        assert naive.isclose(g.p90_s, t["p90"]) and g.min_s == t["min"] and g.max_s == t["max"]


@settings(max_examples=60, deadline=None)
@given(timed_cases_strategy(), st.integers(0, 20), st.randoms(use_true_random=False))
def test_partitions_merge_to_whole_and_order_does_not_matter(cases, cut, rnd):
    events = to_log(cases)
    cut = min(cut, len(events))
    whole = naive.encode_cases(events)
    left, right = naive.encode_cases(events[:cut]), naive.encode_cases(events[cut:])
    assert discover_dfg(left) + discover_dfg(right) == discover_dfg(whole)
    merged = discover_performance_dfg(left) + discover_performance_dfg(right)
    assert merged.edges == discover_performance_dfg(whole).edges
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert discover_dfg(naive.encode_cases(shuffled)) == discover_dfg(whole)
    assert discover_performance_dfg(naive.encode_cases(shuffled)).edges == discover_performance_dfg(whole).edges
    # per-segment graphs add up to the overall one
    by = discover_dfg(whole, by="team")
    total = sum(by.values(), start=discover_dfg(naive.encode_cases([])))
    assert total == discover_dfg(whole)
    pby = discover_performance_dfg(whole, by="team")
    if pby:
        ptotal = list(pby.values())
        acc = ptotal[0]
        for p in ptotal[1:]:
            acc = acc + p
        assert acc.edges == discover_performance_dfg(whole).edges


def test_end_to_start_measures_waiting_time():
    log = naive.encode_cases([[{"activity": "Queue", "timestamp": 0, "end": 30 * 10**9},
                               {"activity": "Agent answer", "timestamp": 50 * 10**9},
                               {"activity": "Wrap-up", "timestamp": 60 * 10**9}]])
    s2s = discover_performance_dfg(log).edges[("Queue", "Agent answer")]
    e2s = discover_performance_dfg(log, measure="end_to_start").edges[("Queue", "Agent answer")]
    assert (s2s.mean_s, e2s.mean_s) == (50.0, 20.0)
    with pytest.raises(AnalysisError, match="valid: start_to_start, end_to_start"):
        discover_performance_dfg(log, measure="median")


def test_exact_quantiles_on_many_durations():
    gaps = list(range(1, 1002))  # 1001 durations of 1..1001 s on one edge
    cases = [[{"activity": "a", "timestamp": 0}, {"activity": "b", "timestamp": g * 10**9}] for g in gaps]
    e = discover_performance_dfg(naive.encode_cases(cases)).edges[("a", "b")]
    assert e.count == 1001 and e.median_s == 501.0 and e.p90_s == 901.0 and e.mean_s == 501.0
    assert e.total_ns == sum(gaps) * 10**9


def test_case_profile_matches_twin_and_merges():
    events = to_log([[("a0", 5), ("a1", 7)], [("a2", 1)], [("a0", 0), ("a0", 3), ("a1", 4)]])
    events[1][0]["end"] = events[1][0]["timestamp"] + 9
    prof = profile_cases(naive.encode_cases(events))
    assert list(prof.events) == [2, 1, 3]
    assert list(prof.durations_ns) == [7, 9, 7]
    assert prof.event_stats()["median"] == 2.0
    parts = profile_cases(naive.encode_cases(events[:1])) + profile_cases(naive.encode_cases(events[1:]))
    assert np.array_equal(parts.durations_ns, prof.durations_ns)
    by = profile_cases(naive.encode_cases(events), by="team")
    assert sum(p.n_cases for p in by.values()) == 3


def test_results_do_not_depend_on_the_thread_count():
    import numba

    from engine.analyses.kpis import compute_kpis
    from engine.analyses.variants import count_variants
    rnd = np.random.default_rng(5)
    cases = [[{"activity": f"a{rnd.integers(0, 6)}", "timestamp": int(k * 10**9 + j * rnd.integers(1, 10**9)),
               "team": f"T{k % 4}", "owner": f"O{rnd.integers(0, 3)}", "customer": f"K{rnd.integers(0, 300)}"}
              for j in range(int(rnd.integers(1, 12)))] for k in range(3000)]
    log = naive.encode_cases(cases)
    before = numba.get_num_threads()
    runs = []
    try:
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            runs.append((count_variants(log).top(), discover_dfg(log, by="team"),
                         discover_performance_dfg(log).edges, compute_kpis(log, by=("team",)).as_dict()))
    finally:
        numba.set_num_threads(before)
    assert all(r == runs[0] for r in runs)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(-5, 5), min_size=0, max_size=40), min_size=1, max_size=6))
def test_in_place_selection_gives_numpys_median_and_p90(groups):
    from engine.kernels.dfg import summarise_durations
    offsets = np.zeros(len(groups) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(g) for g in groups])
    flat = np.array([x for g in groups for x in g], dtype=np.int64)
    ints, quant = summarise_durations(offsets, flat.copy())
    for k, g in enumerate(groups):
        assert ints[k, 0] == len(g)
        if g:
            assert (ints[k, 3], ints[k, 4]) == (min(g), max(g))
            assert ints[k, 1] * 10**9 + ints[k, 2] == sum(g)
            assert naive.isclose(quant[k, 0], float(np.median(g)))
            assert naive.isclose(quant[k, 1], float(np.percentile(g, 90)))
