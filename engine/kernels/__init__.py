"""Numba kernels over the encoded log: numpy arrays in, numpy arrays out.

Every kernel is compiled with one shared decorator, ``kernel`` (serial) or
``parallel_kernel`` (``prange`` over cases, chunks or edges), both with
``cache=True`` so a second process pays no compile time, and ``nogil=True``.
Kernels import only numpy and numba. Sums are integers (counts, nanoseconds),
so results do not depend on the number of threads.

OpenMP worker threads sleep between parallel regions (``OMP_WAIT_POLICY=
PASSIVE`` unless set otherwise): analyses interleave kernels with Python and
Arrow work, and on a shared machine spinning workers made the test suite
several times slower.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from numba import njit  # noqa: E402

kernel = njit(cache=True, nogil=True)
parallel_kernel = njit(cache=True, nogil=True, parallel=True)

# Work is split into this many contiguous chunks of cases for per-chunk
# buffers; it is fixed so the partition never depends on the thread count.
N_CHUNKS = 16
