"""Directly-follows kernels: edge, start, end and activity counts per group of cases.

A group is any partition of cases (overall: every case in group 0; by team:
the case's team code). Cases whose group is -1 are left out.
"""

import numpy as np
from numba import prange

from engine.kernels import kernel, parallel_kernel


@parallel_kernel
def count_dfg(case_offsets, activity_codes, case_group, n_groups, n_activities, n_chunks):
    """Directly-follows counts per group.

    case_offsets: int64[n_cases+1]; activity_codes: int32[n_events] in [0, n_activities);
    case_group: int32[n_cases] in [-1, n_groups), or an empty array for one group
    holding every case; n_chunks: number of contiguous case chunks with their own
    buffers (fixed by the caller, not by the thread count).
    Returns int64 arrays edges[G, A, A], starts[G, A], ends[G, A], activities[G, A].
    """
    n = len(case_offsets) - 1
    A = n_activities
    AA = A * A
    one_group = len(case_group) == 0
    edges_b = np.zeros((n_chunks, n_groups * AA), dtype=np.int64)
    starts_b = np.zeros((n_chunks, n_groups * A), dtype=np.int64)
    ends_b = np.zeros((n_chunks, n_groups * A), dtype=np.int64)
    step = (n + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        lo = c * step
        hi = min(n, lo + step)
        edges = edges_b[c]
        starts = starts_b[c]
        ends = ends_b[c]
        for i in range(lo, hi):
            g = 0 if one_group else case_group[i]
            s = case_offsets[i]
            e = case_offsets[i + 1]
            if g < 0 or e == s:
                continue
            base = g * A
            ebase = g * AA
            prev = activity_codes[s]
            starts[base + prev] += 1
            ends[base + activity_codes[e - 1]] += 1
            for j in range(s + 1, e):
                cur = activity_codes[j]
                edges[ebase + prev * A + cur] += 1
                prev = cur
    edges = edges_b.sum(axis=0).reshape((n_groups, A, A))
    starts = starts_b.sum(axis=0).reshape((n_groups, A))
    # every event is a case's first event or the target of exactly one edge
    acts = starts + edges.sum(axis=1)
    return edges, starts, ends_b.sum(axis=0).reshape((n_groups, A)), acts


@parallel_kernel
def edge_durations(case_offsets, activity_codes, from_times, to_times, case_group, n_activities, n_keys,
                   n_chunks):
    """Durations of every directly-follows pair, grouped by key.

    key = group * A * A + a * A + b for the pair a -> b of a case in ``group``;
    duration = to_times[j + 1] - from_times[j] (int64 ns).
    case_offsets: int64[n_cases+1]; activity_codes: int32[n_events];
    from_times, to_times: int64[n_events]; case_group: int32[n_cases] in [-1, G);
    n_keys = G * A * A. Returns (int64[n_keys+1] key_offsets, int64[n_pairs] durations),
    the durations of key k being durations[key_offsets[k]:key_offsets[k+1]], ascending.
    Placement is by chunk, so the output never depends on the thread count.
    """
    n = len(case_offsets) - 1
    A = n_activities
    AA = A * A
    step = (n + n_chunks - 1) // n_chunks
    counts = np.zeros((n_chunks, n_keys), dtype=np.int64)
    for c in prange(n_chunks):
        lo = c * step
        hi = min(n, lo + step)
        for i in range(lo, hi):
            g = case_group[i]
            if g < 0:
                continue
            base = g * AA
            for j in range(case_offsets[i] + 1, case_offsets[i + 1]):
                counts[c, base + activity_codes[j - 1] * A + activity_codes[j]] += 1
    key_offsets = np.zeros(n_keys + 1, dtype=np.int64)
    cursor = np.empty((n_chunks, n_keys), dtype=np.int64)
    for k in range(n_keys):
        at = key_offsets[k]
        for c in range(n_chunks):
            cursor[c, k] = at
            at += counts[c, k]
        key_offsets[k + 1] = at
    durations = np.empty(key_offsets[n_keys], dtype=np.int64)
    for c in prange(n_chunks):
        lo = c * step
        hi = min(n, lo + step)
        for i in range(lo, hi):
            g = case_group[i]
            if g < 0:
                continue
            base = g * AA
            for j in range(case_offsets[i] + 1, case_offsets[i + 1]):
                k = base + activity_codes[j - 1] * A + activity_codes[j]
                durations[cursor[c, k]] = to_times[j] - from_times[j - 1]
                cursor[c, k] += 1
    return key_offsets, durations


@kernel
def _select(a, lo, hi, k):
    """Value of rank k in a[lo:hi] (k an absolute index), rearranging a[lo:hi] in place so that
    everything before k is <= a[k] and everything after is >= a[k] (quickselect)."""
    while hi - lo > 1:
        x, y, z = a[lo], a[(lo + hi) // 2], a[hi - 1]
        pivot = max(min(x, y), min(max(x, y), z))
        i = lo
        j = hi - 1
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                t = a[i]
                a[i] = a[j]
                a[j] = t
                i += 1
                j -= 1
        if k <= j:
            hi = j + 1
        elif k >= i:
            lo = i
        else:
            return a[k]
    return a[k]


@parallel_kernel
def summarise_durations(key_offsets, durations):
    """Per key: count, exact sum as (whole seconds, remaining ns), min, max, median, p90.

    key_offsets: int64[K+1]; durations: int64 ns, any order within each key;
    reordered in place within each key (selection, no copies).
    Median and p90 follow numpy (np.median: mean of the two middle values for
    an even count; np.percentile: linear interpolation between closest ranks).
    Empty keys get count 0 and NaN statistics.
    """
    K = len(key_offsets) - 1
    ints = np.zeros((K, 5), dtype=np.int64)  # count, sum_s, sum_ns, min, max
    quant = np.full((K, 2), np.nan)
    for k in prange(K):
        s = key_offsets[k]
        e = key_offsets[k + 1]
        m = e - s
        ints[k, 0] = m
        if m == 0:
            continue
        sec = np.int64(0)
        rem = np.int64(0)
        lo = durations[s]
        hi = durations[s]
        for j in range(s, e):
            d = durations[j]
            q = d // 1_000_000_000
            sec += q
            rem += d - q * 1_000_000_000
            if d < lo:
                lo = d
            if d > hi:
                hi = d
        ints[k, 1] = sec
        ints[k, 2] = rem
        ints[k, 3] = lo
        ints[k, 4] = hi
        upper = _select(durations, s, e, s + m // 2)
        if m % 2 == 1:
            quant[k, 0] = float(upper)
        else:
            lower = durations[s]
            for j in range(s, s + m // 2):
                if durations[j] > lower:
                    lower = durations[j]
            quant[k, 0] = (float(lower) + float(upper)) / 2.0
        pos = 0.9 * (m - 1)
        r = int(np.floor(pos))
        frac = pos - r
        a = float(_select(durations, s, e, s + r))
        b = a
        if r + 1 < m:
            nxt = durations[s + r + 1]
            for j in range(s + r + 1, e):
                if durations[j] < nxt:
                    nxt = durations[j]
            b = float(nxt)
        quant[k, 1] = a + (b - a) * frac
    return ints, quant


@parallel_kernel
def profile_cases(case_offsets, timestamps, end_timestamps, no_time):
    """Events per case and case duration (last start or end minus first start), int64 ns.

    end_timestamps: int64[n_events] with ``no_time`` where unknown, or an empty array.
    """
    n = len(case_offsets) - 1
    events = np.empty(n, dtype=np.int64)
    durations = np.empty(n, dtype=np.int64)
    has_end = len(end_timestamps) > 0
    for i in prange(n):
        s = case_offsets[i]
        e = case_offsets[i + 1]
        events[i] = e - s
        if e == s:
            durations[i] = 0
            continue
        last = timestamps[s]
        for j in range(s, e):
            t = timestamps[j]
            if t > last:
                last = t
            if has_end:
                t = end_timestamps[j]
                if t != no_time and t > last:
                    last = t
        durations[i] = last - timestamps[s]
    return events, durations


@parallel_kernel
def first_code_per_case(case_offsets, codes):
    """First non-negative code of each case (-1 when every event's code is -1). int32[n_cases]."""
    n = len(case_offsets) - 1
    out = np.full(n, -1, dtype=np.int32)
    for i in prange(n):
        for j in range(case_offsets[i], case_offsets[i + 1]):
            if codes[j] >= 0:
                out[i] = codes[j]
                break
    return out
