"""Drift kernels against a slow, readable twin: per-window edge and activity counts, edges per case."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from engine.kernels.drift import cases_with_edges, count_windows, edge_keys_present


def naive_windows(cases: list[list[int]], bounds: list[int], keys: list[int], n_act: int,
                  variant: list[int] | None = None, n_var: int = 0):
    """Twin of count_windows: plain loops over Python lists."""
    m = n_act + 1
    w = len(bounds) - 1
    edge_cases = np.zeros((w, len(keys)), np.int64)
    edge_counts = np.zeros((w, len(keys)), np.int64)
    act_cases = np.zeros((w, n_act), np.int64)
    act_counts = np.zeros((w, n_act), np.int64)
    var_cases = np.zeros((w, n_var), np.int64)
    col = {k: i for i, k in enumerate(keys)}
    for wi in range(w):
        for ci in range(bounds[wi], bounds[wi + 1]):
            case = cases[ci]
            if variant is not None and variant[ci] >= 0:
                var_cases[wi, variant[ci]] += 1
            if not case:
                continue
            path = [n_act] + case + [n_act]
            edges = [a * m + b for a, b in zip(path, path[1:])]
            for e in edges:
                if e in col:
                    edge_counts[wi, col[e]] += 1
            for e in set(edges):
                if e in col:
                    edge_cases[wi, col[e]] += 1
            for a in case:
                act_counts[wi, a] += 1
            for a in set(case):
                act_cases[wi, a] += 1
    return edge_cases, edge_counts, act_cases, act_counts, var_cases


def arrays(cases):
    offsets = np.zeros(len(cases) + 1, np.int64)
    offsets[1:] = np.cumsum([len(c) for c in cases])
    codes = np.array([a for c in cases for a in c], dtype=np.int32)
    return offsets, codes


def test_hand_checked_log():
    # A=0, B=1; cases: A B A | B | (empty) | A
    cases = [[0, 1, 0], [1], [], [0]]
    offsets, codes = arrays(cases)
    keys = edge_keys_present(offsets, codes, 2)
    m = 3
    assert keys.tolist() == sorted([2 * m + 0, 2 * m + 1, 0 * m + 1, 1 * m + 0, 0 * m + 2, 1 * m + 2])
    ec, en, ac, an, vc = count_windows(offsets, codes, np.array([0, 1, 4]), keys, 2)
    assert vc.shape == (2, 0)
    col = {int(k): i for i, k in enumerate(keys)}
    assert en[0, col[0 * m + 1]] == 1 and en[0, col[1 * m + 0]] == 1 and en[0, col[2 * m + 0]] == 1
    assert ec[1, col[2 * m + 0]] == 1 and ec[1, col[2 * m + 1]] == 1  # the second window: B and A start a case
    assert an[0].tolist() == [2, 1] and ac[0].tolist() == [1, 1]
    assert ac[1].tolist() == [1, 1] and an[1].tolist() == [1, 1]
    # every non-empty case has exactly one start edge and one end edge
    starts = [col[k] for k in keys.tolist() if k // m == 2]
    assert ec[:, starts].sum() == 3 and en[:, starts].sum() == 3


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(st.integers(0, 4), max_size=7), max_size=40), st.data())
def test_kernel_equals_twin(cases, data):
    n_act = 5
    offsets, codes = arrays(cases)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(cases)), max_size=5)))
    bounds = [0] + cuts + [len(cases)]
    present = edge_keys_present(offsets, codes, n_act).tolist()
    keys = data.draw(st.lists(st.sampled_from(list(range(36))), unique=True, max_size=12)) if present else []
    # variant ids of the cases, -1 (not counted) for some
    variant = data.draw(st.lists(st.integers(-1, 3), min_size=len(cases), max_size=len(cases)))
    got = count_windows(offsets, codes, np.array(bounds), np.array(keys, np.int64), n_act,
                        np.array(variant, np.int32), 4)
    want = naive_windows(cases, bounds, keys, n_act, variant, 4)
    for g, w in zip(got, want):
        assert np.array_equal(g, w)
    # invariants: the windows of a partition add up to the whole; an edge's cases <= its occurrences
    whole = count_windows(offsets, codes, np.array([0, len(cases)]), np.array(keys, np.int64), n_act,
                          np.array(variant, np.int32), 4)
    for g, w in zip(got, whole):
        assert np.array_equal(g.sum(axis=0), w[0])
    assert np.all(got[0] <= got[1]) and np.all(got[2] <= got[3])
    # every present key is found by edge_keys_present, and no absent one
    m = n_act + 1
    naive_present = sorted({a * m + b for c in cases if c for a, b in zip([n_act] + c, c + [n_act])})
    assert present == naive_present


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 3), max_size=6), min_size=1, max_size=30), st.data())
def test_cases_with_edges_equals_twin(cases, data):
    offsets, codes = arrays(cases)
    keys = data.draw(st.lists(st.integers(0, 24), unique=True, min_size=1, max_size=5))
    got = cases_with_edges(offsets, codes, np.array(keys, np.int64), 4)
    for i, c in enumerate(cases):
        path = [4] + c + [4]
        edges = {a * 5 + b for a, b in zip(path, path[1:])} if c else set()
        assert got[i].tolist() == [k in edges for k in keys]


def test_refuses_bad_arrays():
    offsets, codes = arrays([[0, 1], [1]])
    with pytest.raises(ValueError, match="window_offsets must ascend"):
        count_windows(offsets, codes, np.array([0, 3]), np.array([1], np.int64), 2)
    with pytest.raises(ValueError, match="activity codes must lie"):
        count_windows(offsets, codes, np.array([0, 2]), np.array([1], np.int64), 1)
    with pytest.raises(ValueError, match="edge keys must lie"):
        count_windows(offsets, codes, np.array([0, 2]), np.array([9], np.int64), 2)
    with pytest.raises(ValueError, match="variant ids must lie"):
        count_windows(offsets, codes, np.array([0, 2]), np.array([1], np.int64), 2, np.array([0, 5], np.int32), 2)
    with pytest.raises(ValueError, match="distinct"):
        cases_with_edges(offsets, codes, np.array([1, 1], np.int64), 2)
