"""The firing rule of a Petri net given as ``engine.model.petri_net.NetArrays``, as pm4py applies it.

Markings are int64[P] arrays. ``choose`` picks the transition an event fires as pm4py's token
replay does (``CHOICE_NAME``: first enabled by name; ``CHOICE_PM4PY``: first in the iteration
order of Python's set of enabled transitions, emulated from the transitions' hashes).
"""

import numpy as np
from numba import njit

from engine.kernels import kernel

# Small steps of the replay are inlined into their callers (numba IR): a compiled call passing the
# net (19 arrays) updates 19 reference counts atomically on entry and again on exit, which cost
# more than the step itself.
step = njit(cache=True, nogil=True, inline="always")

CHOICE_NAME = 0
CHOICE_PM4PY = 1

_LINEAR_PROBES = 9
_PERTURB_SHIFT = 5


@step
def is_enabled(net, t, m):
    pre_ptr, pre_place, pre_w = net.pre_ptr, net.pre_place, net.pre_w
    for k in range(pre_ptr[t], pre_ptr[t + 1]):
        if m[pre_place[k]] < pre_w[k]:
            return False
    return True


@step
def fire(net, t, m, stamp, ctr):
    """Fire t on marking m (int64[P]); places that become marked get the next insertion stamp."""
    for k in range(net.pre_ptr[t], net.pre_ptr[t + 1]):
        m[net.pre_place[k]] -= net.pre_w[k]
    for k in range(net.post_ptr[t], net.post_ptr[t + 1]):
        p = net.post_place[k]
        if m[p] == 0:
            stamp[p] = ctr[0]
            ctr[0] += 1
        m[p] += net.post_w[k]


@step
def account(net, t, acc, fired):
    """consumed (acc[0]) and produced (acc[1]) tokens of one firing of t; fired[t] += 1."""
    pre_ptr, pre_w, post_ptr, post_w = net.pre_ptr, net.pre_w, net.post_ptr, net.post_w
    for k in range(pre_ptr[t], pre_ptr[t + 1]):
        acc[0] += pre_w[k]
    for k in range(post_ptr[t], post_ptr[t + 1]):
        acc[1] += post_w[k]
    fired[t] += 1


@kernel
def _pyset_first(net, m, lab):
    """First transition labelled lab in the iteration order of a CPython set of the enabled
    transitions built in the net's iteration order (CPython 3 set layout: linear probes, then
    perturbation; table grows x4 when 3/5 full)."""
    trans_iter, trans_hash = net.trans_iter, net.trans_hash
    n_t = len(trans_iter)
    size = 8
    table = np.full(8, -1, dtype=np.int64)
    fill = 0
    for ii in range(n_t):
        t = trans_iter[ii]
        if not is_enabled(net, t, m):
            continue
        table = _pyset_insert(table, size, t, trans_hash)
        fill += 1
        if fill * 5 >= (size - 1) * 3:
            minused = fill * 4 if fill <= 50000 else fill * 2
            new_size = 8
            while new_size <= minused:
                new_size <<= 1
            new_table = np.full(new_size, -1, dtype=np.int64)
            for s in range(size):
                if table[s] >= 0:
                    new_table = _pyset_insert(new_table, new_size, table[s], trans_hash)
            table = new_table
            size = new_size
    label = net.label
    for s in range(size):
        if table[s] >= 0 and label[table[s]] == lab:
            return table[s]
    return -1


@kernel
def _pyset_insert(table, size, t, trans_hash):
    mask = np.uint64(size - 1)
    h = np.uint64(trans_hash[t])
    perturb = h
    i = h & mask
    while True:
        if table[i] < 0:
            table[i] = t
            return table
        if i + np.uint64(_LINEAR_PROBES) <= mask:
            for jj in range(1, _LINEAR_PROBES + 1):
                if table[i + np.uint64(jj)] < 0:
                    table[i + np.uint64(jj)] = t
                    return table
        perturb >>= np.uint64(_PERTURB_SHIFT)
        i = (i * np.uint64(5) + np.uint64(1) + perturb) & mask


@step
def choose(net, m, lab, choice):
    lab_ptr, lab_trans, default_trans, trans_rank = net.lab_ptr, net.lab_trans, net.default_trans, net.trans_rank
    best = -1
    n_en = 0
    for k in range(lab_ptr[lab], lab_ptr[lab + 1]):
        t = lab_trans[k]
        if is_enabled(net, t, m):
            n_en += 1
            if best < 0 or trans_rank[t] < trans_rank[best]:
                best = t
    if n_en == 0:
        return default_trans[lab]
    if n_en == 1 or choice == CHOICE_NAME:
        return best
    return _pyset_first(net, m, lab)


@step
def final_reached(fm, m):
    for p in range(len(fm)):
        if fm[p] > 0 and m[p] <= 0:
            return False
    return True


@step
def add_missing(net, t, m, stamp, ctr):
    """Add the tokens t lacks in m (pm4py's missing tokens); returns how many."""
    added = 0
    for a in range(net.pre_ptr[t], net.pre_ptr[t + 1]):
        p = net.pre_place[a]
        if m[p] < net.pre_w[a]:
            added += net.pre_w[a] - m[p]
            if m[p] == 0:
                stamp[p] = ctr[0]
                ctr[0] += 1
            m[p] += net.pre_w[a]
    return added
