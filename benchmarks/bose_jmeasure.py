"""Bose et al.'s J-measure drift detection, re-implemented for the benchmark (the published peer).

R. P. J. C. Bose, W. M. P. van der Aalst, I. Zliobaite, M. Pechenizkiy,
"Dealing With Concept Drifts in Process Mining", IEEE TNNLS 25(1), 2014, as
evaluated by Adams et al. (PVLDB 16(8), 2023) with the code of
cpitsch/cdrift-evaluation (``cdrift/approaches/bose/bose.py``):

- for every ordered pair of activities (a, b), every trace gets the J-measure
  of "b eventually follows a within l events" (Smyth and Goodman), l = the
  mean trace length (integer division), with that code's conventions for
  empty cases;
- for every pair, a two-sample Kolmogorov-Smirnov test between the two
  adjacent windows of ``window`` traces before and after each trace (p = 1
  where the windows do not fit); the p-values are averaged over all |A|^2
  pairs;
- change points by "visual inspection": ``scipy.signal.find_peaks`` on the
  negated mean p-values, trimmed by ``window`` at both ends, width 80,
  prominence 0.1.

The same computation, made fast: the J-measures come from a numba kernel, and
the KS statistic of each window pair from running histograms of the values'
ranks. The p-value of a KS statistic D = k / window is scipy's own
``ks_2samp`` result for two samples of ``window`` values at that distance
(exact method, as scipy chooses for these sizes), looked up once per k.
Pairs whose J-measure is 0 in every trace have D = 0 and p = 1, as scipy
gives for identical samples.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def j_measures(case_offsets, activity_codes, n_activities, span):
    """float64[n_traces, A*A]: J-measure of (a, b) in each trace, pair index a * A + b."""
    n = len(case_offsets) - 1
    A = n_activities
    out = np.zeros((n, A * A))
    s_count = np.zeros(A, np.int64)
    f_count = np.zeros((A, A), np.int64)
    occ = np.zeros(A, np.int64)
    seen = np.zeros(A, np.int64)
    for t in range(n):
        lo = case_offsets[t]
        hi = case_offsets[t + 1]
        length = hi - lo
        if length == 0:
            continue
        s_count[:] = 0
        f_count[:, :] = 0
        occ[:] = 0
        for j in range(lo, hi):
            occ[activity_codes[j]] += 1
        for j in range(lo, hi):
            a = activity_codes[j]
            s_count[a] += 1
            stamp = j + 1
            for k in range(j + 1, min(hi, j + span)):
                b = activity_codes[k]
                if seen[b] != stamp:
                    seen[b] = stamp
                    f_count[a, b] += 1
        for a in range(A):
            if occ[a] == 0:
                continue
            p_a = occ[a] / length
            for b in range(A):
                p_ab = f_count[a, b] / s_count[a] if s_count[a] != 0 and f_count[a, b] != 0 else 0.0
                p_b = occ[b] / length
                first = 0.0 if p_ab == 0 or p_b == 0 else p_ab * np.log2(p_ab / p_b)
                second = 0.0 if (1 - p_ab) == 0 or (1 - p_b) == 0 else (1 - p_ab) * np.log2((1 - p_ab) / (1 - p_b))
                out[t, a * A + b] = p_a * (first + second)
        seen[:] = 0
    return out


@njit(cache=True)
def _ks_distances(ranks, n_values, window):
    """int64[n]: k = window * D of the KS test between [i-w, i) and [i, i+w), for i in [w, n-w)."""
    n = len(ranks)
    out = np.zeros(n, np.int64)
    if n < 2 * window + 1:
        return out
    h1 = np.zeros(n_values, np.int64)
    h2 = np.zeros(n_values, np.int64)
    for i in range(window):
        h1[ranks[i]] += 1
        h2[ranks[i + window]] += 1
    for i in range(n - 2 * window):
        if i > 0:
            h1[ranks[i - 1]] -= 1
            h1[ranks[i + window - 1]] += 1
            h2[ranks[i + window - 1]] -= 1
            h2[ranks[i + 2 * window - 1]] += 1
        best = 0
        cum = 0
        for v in range(n_values):
            cum += h1[v] - h2[v]
            if abs(cum) > best:
                best = abs(cum)
        out[i + window] = best
    return out


def ks_p_values(window: int) -> np.ndarray:
    """p[k]: scipy's two-sample KS p-value for two samples of ``window`` values at distance D = k / window."""
    import warnings

    from scipy.stats import ks_2samp
    x = np.arange(window, dtype=np.float64)
    with warnings.catch_warnings():
        # where the exact method fails scipy falls back to the asymptotic one, as it does in the original
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.array([ks_2samp(x, x + k).pvalue for k in range(window + 1)])


def mean_p_values(case_offsets: np.ndarray, activity_codes: np.ndarray, n_activities: int, window: int) -> np.ndarray:
    """The mean over all activity pairs of the sliding-window KS p-values."""
    n = len(case_offsets) - 1
    span = int(len(activity_codes) // max(1, n))
    j = j_measures(case_offsets, activity_codes, n_activities, span)
    table = ks_p_values(window)
    total = np.ones(n) * (n_activities * n_activities)
    for pair in np.flatnonzero(np.any(j != 0, axis=0)):
        _, ranks = np.unique(j[:, pair], return_inverse=True)
        k = _ks_distances(ranks.astype(np.int64), int(ranks.max()) + 1, window)
        p = np.ones(n)
        inner = slice(window, max(window, n - window))
        p[inner] = table[k[inner]]
        total += p - 1.0
    return total / (n_activities * n_activities)


def detect_change_points(case_offsets: np.ndarray, activity_codes: np.ndarray, n_activities: int,
                         window: int = 200) -> list[int]:
    """Change points (trace indices) of Bose et al.'s J-measure method with KS tests and visual inspection."""
    from scipy.signal import find_peaks
    p = mean_p_values(case_offsets, activity_codes, n_activities, window)
    trimmed = p[window:len(p) - window]
    peaks = find_peaks(-trimmed, width=80, prominence=0.1)[0]
    return [int(x) + window for x in peaks]
