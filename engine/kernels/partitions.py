"""Partition kernel: a stable 64-bit hash of strings, to place each case in a partition.

The hash is FNV-1a over the UTF-8 bytes, so the same key lands in the same
partition on every machine, Python version and run (unlike ``hash()``).
"""

import numpy as np

from engine.kernels import kernel

_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)


@kernel
def hash_strings(offsets, data):
    """64-bit FNV-1a hash of each string of an Arrow string array's buffers.

    offsets: int64[n+1], ascending (the array's value offsets, already shifted to start at its
    first value); data: uint8[...], the UTF-8 bytes. Returns uint64[n].
    """
    n = len(offsets) - 1
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        h = _FNV_OFFSET
        for j in range(offsets[i], offsets[i + 1]):
            h = (h ^ np.uint64(data[j])) * _FNV_PRIME
        out[i] = h
    return out
