"""Variant kernels: hash each case's activity sequence, then group cases by
exact sequence equality in an open-addressing table.

Variant ids are assigned in order of first occurrence (case order).
"""

import numpy as np
from numba import prange

from engine.kernels import kernel, parallel_kernel

_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)


@parallel_kernel
def hash_cases(case_offsets, activity_codes):
    """64-bit FNV-1a hash of each case's activity sequence, mixed with its length.

    case_offsets: int64[n_cases+1], ascending, case_offsets[0] == 0.
    activity_codes: int32[n_events], codes >= 0.
    Returns uint64[n_cases].
    """
    n = len(case_offsets) - 1
    out = np.empty(n, dtype=np.uint64)
    for i in prange(n):
        h = _FNV_OFFSET
        for j in range(case_offsets[i], case_offsets[i + 1]):
            h = (h ^ np.uint64(activity_codes[j] + 1)) * _FNV_PRIME
        h = (h ^ np.uint64(case_offsets[i + 1] - case_offsets[i])) * _FNV_PRIME
        out[i] = h
    return out


@kernel
def _same_sequence(case_offsets, activity_codes, a, b):
    sa, ea = case_offsets[a], case_offsets[a + 1]
    sb, eb = case_offsets[b], case_offsets[b + 1]
    if ea - sa != eb - sb:
        return False
    for k in range(ea - sa):
        if activity_codes[sa + k] != activity_codes[sb + k]:
            return False
    return True


@kernel
def assign_variants(case_offsets, activity_codes, hashes):
    """Variant id of every case (ids in order of first occurrence) and the first case of each variant.

    Cases with equal hashes are compared element by element, so hash
    collisions never merge different sequences.
    case_offsets: int64[n_cases+1]; activity_codes: int32[n_events]; hashes: uint64[n_cases].
    Returns (int32[n_cases] case_variant, int64[n_variants] first_case).
    """
    n = len(hashes)
    case_variant = np.empty(n, dtype=np.int32)
    cap = 1024
    slots = np.full(cap, -1, dtype=np.int64)
    first = np.empty(256, dtype=np.int64)
    vhash = np.empty(256, dtype=np.uint64)
    nv = 0
    for i in range(n):
        h = hashes[i]
        pos = np.int64(h & np.uint64(cap - 1))
        while True:
            v = slots[pos]
            if v == -1:
                if nv == len(first):
                    grown_first = np.empty(2 * nv, dtype=np.int64)
                    grown_first[:nv] = first
                    first = grown_first
                    grown_hash = np.empty(2 * nv, dtype=np.uint64)
                    grown_hash[:nv] = vhash
                    vhash = grown_hash
                first[nv] = i
                vhash[nv] = h
                slots[pos] = nv
                case_variant[i] = nv
                nv += 1
                if 2 * nv > cap:
                    cap *= 2
                    slots = np.full(cap, -1, dtype=np.int64)
                    for w in range(nv):
                        p = np.int64(vhash[w] & np.uint64(cap - 1))
                        while slots[p] != -1:
                            p = (p + 1) & (cap - 1)
                        slots[p] = w
                break
            if vhash[v] == h and _same_sequence(case_offsets, activity_codes, first[v], i):
                case_variant[i] = v
                break
            pos = (pos + 1) & (cap - 1)
    return case_variant, first[:nv].copy()


@kernel
def gather_sequences(case_offsets, activity_codes, cases):
    """CSR of the activity sequences of the given cases: (int64[k+1] offsets, int32 codes)."""
    k = len(cases)
    offsets = np.zeros(k + 1, dtype=np.int64)
    for i in range(k):
        c = cases[i]
        offsets[i + 1] = offsets[i] + case_offsets[c + 1] - case_offsets[c]
    codes = np.empty(offsets[k], dtype=np.int32)
    for i in range(k):
        c = cases[i]
        s = case_offsets[c]
        for j in range(offsets[i + 1] - offsets[i]):
            codes[offsets[i] + j] = activity_codes[s + j]
    return offsets, codes
