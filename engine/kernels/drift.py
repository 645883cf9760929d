"""Drift kernels: per-window edge and activity statistics in one pass over the cases.

A window is a contiguous run of cases in the log's case order (cases are
ordered by first event, so calendar windows by case start are contiguous too):
``window_offsets`` int64[W+1] gives the first case of each window. Edges are
directly-follows pairs with a start and an end marker: with A activities, the
marker has code A, so edge ``a -> b`` has key ``a * (A + 1) + b``, a start edge
``A * (A + 1) + a`` and an end edge ``a * (A + 1) + A``. ``edge_index`` maps
each key to a compact feature id (-1: not counted), so the outputs hold only
the edges the caller asks for. Variants are counted per window when the
caller gives each case's variant id (``engine.analyses.variants.assign_variants``).

Every window is one iteration of the parallel loop and writes only its own
rows, so results never depend on the number of threads; the sums are integer
counts, so the windows of two partitions add up.
"""

import numpy as np
from numba import prange

from engine.kernels import N_CHUNKS, parallel_kernel


@parallel_kernel
def _count_windows(case_offsets, activity_codes, window_offsets, edge_index, n_features, n_activities,
                   case_variant, n_variants):
    """Counts per window.

    case_offsets: int64[n_cases+1], ascending; activity_codes: int32[n_events] in [0, n_activities);
    window_offsets: int64[W+1], ascending, window_offsets[-1] <= n_cases;
    edge_index: int32[(A+1)*(A+1)] in [-1, n_features);
    case_variant: int32[n_cases] in [-1, n_variants) (-1: not counted), or empty for no variant counts.
    Returns int64 arrays edge_cases[W, F] (cases with the edge at least once),
    edge_counts[W, F] (occurrences), activity_cases[W, A], activity_counts[W, A],
    variant_cases[W, V].
    """
    W = len(window_offsets) - 1
    A = n_activities
    M = A + 1
    edge_cases = np.zeros((W, n_features), dtype=np.int64)
    edge_counts = np.zeros((W, n_features), dtype=np.int64)
    act_cases = np.zeros((W, A), dtype=np.int64)
    act_counts = np.zeros((W, A), dtype=np.int64)
    var_cases = np.zeros((W, n_variants), dtype=np.int64)
    with_variants = len(case_variant) > 0
    step = (W + N_CHUNKS - 1) // N_CHUNKS
    for c in prange(N_CHUNKS):
        # stamps: the last case (+1) that counted a feature, so each case counts it once
        edge_seen = np.zeros(n_features, dtype=np.int64)
        act_seen = np.zeros(A, dtype=np.int64)
        for w in range(c * step, min(W, (c + 1) * step)):
            for i in range(window_offsets[w], window_offsets[w + 1]):
                stamp = i + 1
                if with_variants and case_variant[i] >= 0:
                    var_cases[w, case_variant[i]] += 1
                s = case_offsets[i]
                e = case_offsets[i + 1]
                if e == s:
                    continue
                prev = A
                for j in range(s, e + 1):
                    cur = activity_codes[j] if j < e else A
                    if j < e:
                        act_counts[w, cur] += 1
                        if act_seen[cur] != stamp:
                            act_seen[cur] = stamp
                            act_cases[w, cur] += 1
                    f = edge_index[prev * M + cur]
                    if f >= 0:
                        edge_counts[w, f] += 1
                        if edge_seen[f] != stamp:
                            edge_seen[f] = stamp
                            edge_cases[w, f] += 1
                    prev = cur
    return edge_cases, edge_counts, act_cases, act_counts, var_cases


@parallel_kernel
def _cases_with_edges(case_offsets, activity_codes, edge_index, n_features, n_activities):
    """bool[n_cases, F]: whether each case has each edge (edge_index as in _count_windows)."""
    n = len(case_offsets) - 1
    M = n_activities + 1
    out = np.zeros((n, n_features), dtype=np.bool_)
    for i in prange(n):
        s = case_offsets[i]
        e = case_offsets[i + 1]
        if e == s:
            continue
        prev = n_activities
        for j in range(s, e + 1):
            cur = activity_codes[j] if j < e else n_activities
            f = edge_index[prev * M + cur]
            if f >= 0:
                out[i, f] = True
            prev = cur
    return out


def _check_log_arrays(case_offsets: np.ndarray, activity_codes: np.ndarray, n_activities: int) -> None:
    if case_offsets.dtype != np.int64 or case_offsets.ndim != 1 or len(case_offsets) == 0:
        raise ValueError("case_offsets must be a non-empty int64 vector")
    if activity_codes.dtype != np.int32:
        raise ValueError("activity_codes must be int32")
    if case_offsets[0] != 0 or case_offsets[-1] != len(activity_codes) or np.any(np.diff(case_offsets) < 0):
        raise ValueError("case_offsets must ascend from 0 to the number of events")
    if len(activity_codes) and (activity_codes.min() < 0 or activity_codes.max() >= n_activities):
        raise ValueError(f"activity codes must lie in [0, {n_activities})")


def _edge_index(edge_keys: np.ndarray, n_activities: int) -> np.ndarray:
    M = n_activities + 1
    edge_keys = np.asarray(edge_keys, dtype=np.int64)
    if len(edge_keys) and (edge_keys.min() < 0 or edge_keys.max() >= M * M):
        raise ValueError(f"edge keys must lie in [0, {M * M})")
    if len(np.unique(edge_keys)) != len(edge_keys):
        raise ValueError("edge keys must be distinct")
    edge_index = np.full(M * M, -1, dtype=np.int32)
    edge_index[edge_keys] = np.arange(len(edge_keys), dtype=np.int32)
    return edge_index


def edge_keys_present(case_offsets: np.ndarray, activity_codes: np.ndarray, n_activities: int) -> np.ndarray:
    """Keys (int64, ascending) of the edges that occur, start and end edges included."""
    every = np.arange((n_activities + 1) ** 2, dtype=np.int64)
    n_cases = len(case_offsets) - 1
    _, counts, *_ = count_windows(case_offsets, activity_codes, np.array([0, n_cases], dtype=np.int64), every,
                                  n_activities)
    return np.flatnonzero(counts[0]).astype(np.int64)


def count_windows(case_offsets: np.ndarray, activity_codes: np.ndarray, window_offsets: np.ndarray,
                  edge_keys: np.ndarray, n_activities: int, case_variant: np.ndarray | None = None,
                  n_variants: int = 0) -> tuple[np.ndarray, ...]:
    """Per-window counts of the edges ``edge_keys``, of every activity and of the variants.

    Returns (edge_cases[W, F], edge_counts[W, F], activity_cases[W, A],
    activity_counts[W, A], variant_cases[W, V]), int64, features in the order
    of ``edge_keys``. ``case_variant`` (int32 per case, -1 for a variant not
    counted, ids below ``n_variants``) is optional: without it V = 0.
    """
    _check_log_arrays(case_offsets, activity_codes, n_activities)
    n_cases = len(case_offsets) - 1
    window_offsets = np.asarray(window_offsets, dtype=np.int64)
    if len(window_offsets) == 0 or window_offsets[0] < 0 or window_offsets[-1] > n_cases \
            or np.any(np.diff(window_offsets) < 0):
        raise ValueError("window_offsets must ascend within [0, n_cases]")
    if case_variant is None:
        case_variant, n_variants = np.zeros(0, dtype=np.int32), 0
    case_variant = np.asarray(case_variant)
    if case_variant.dtype != np.int32 or (len(case_variant) and len(case_variant) != n_cases):
        raise ValueError("case_variant must be int32, one entry per case")
    if len(case_variant) and (case_variant.min() < -1 or case_variant.max() >= n_variants):
        raise ValueError(f"variant ids must lie in [-1, {n_variants})")
    return _count_windows(case_offsets, activity_codes, window_offsets, _edge_index(edge_keys, n_activities),
                          len(edge_keys), n_activities, case_variant, n_variants)


def cases_with_edges(case_offsets: np.ndarray, activity_codes: np.ndarray, edge_keys: np.ndarray,
                     n_activities: int) -> np.ndarray:
    """bool[n_cases, F]: which cases contain each of the edges ``edge_keys`` at least once."""
    _check_log_arrays(case_offsets, activity_codes, n_activities)
    return _cases_with_edges(case_offsets, activity_codes, _edge_index(edge_keys, n_activities), len(edge_keys),
                             n_activities)
