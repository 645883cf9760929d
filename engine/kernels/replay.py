"""Token-based replay of variants on a compiled Petri net, with pm4py's semantics.

The net arrives compiled into plain arrays (see ``engine.model.petri_net.
compile_net``); this module never sees a pm4py object. The replay follows
``pm4py/algo/conformance/tokenreplay/variants/token_replay.py`` (default
parameters) step by step, so consumed, produced, missing and remaining tokens
and the fitness of every trace equal pm4py's:

- a visible transition whose label matches the event is chosen among the
  enabled ones (pm4py: the first in the iteration order of Python's ``set`` of
  enabled transitions; ``CHOICE_PM4PY`` emulates that order from the
  transitions' hashes, ``CHOICE_NAME`` takes the first by name, which is
  reproducible from run to run); if none is enabled, the last transition of
  that label in name order;
- a transition that is not enabled is first given the chance to be enabled by
  shortest paths of invisible transitions (pm4py's ``apply_hidden_trans``,
  recursion depth 2), then missing tokens are added;
- at the end, invisible transitions are fired towards the final marking
  (5 rounds over paths to the final marking's places, then 5 rounds over paths
  to the single sink place), and remaining / missing tokens are counted
  against the final marking, whose tokens count as consumed.

On top of pm4py's counts the kernel locates deviations without changing them.
When a transition cannot be enabled, a bounded search looks for the fewest
visible model moves (at most ``MAX_SKIPS``, with invisible moves between them)
that would have enabled it. None found: the event was inserted. Found, and none
of those steps runs later in the trace: they were skipped. Found, but one of
them runs later: if this step itself runs again later, this occurrence was
inserted; otherwise the steps ran out of order. Tokens these deviations leave
behind are set aside; whatever else remains at the end is explained by the same
search, from the remaining marking to the final one (skipped steps at the end).

The net arrives as ``engine.model.petri_net.NetArrays``, a named tuple of
arrays (P places in name order, T transitions, L labels) read here by field
name; its class documents the dtype and shape of every field.
"""

import numpy as np
from engine.kernels import kernel

CHOICE_NAME = 0
CHOICE_PM4PY = 1

EVENT_OK = 0
EVENT_MISSING = 1      # fired with missing tokens and no skipped steps explain it: inserted
EVENT_UNKNOWN = 2      # activity not in the model
EVENT_SKIPPED = 3      # fired with missing tokens that skipped steps (ev_skips) explain
EVENT_OUT_OF_ORDER = 4  # fired before the steps in ev_skips, which run later in the trace

MAX_SKIPS = 3
_MAX_DEPTH = 12
_SEARCH_BUDGET = 1500      # firings per search
_VARIANT_BUDGET = 30000    # firings per variant for all searches: bounds location on large nets
_LINEAR_PROBES = 9
_PERTURB_SHIFT = 5


@kernel
def _enabled(net, t, m):
    pre_ptr, pre_place, pre_w = net.pre_ptr, net.pre_place, net.pre_w
    for k in range(pre_ptr[t], pre_ptr[t + 1]):
        if m[pre_place[k]] < pre_w[k]:
            return False
    return True


@kernel
def _fire(net, t, m, stamp, ctr):
    """Fire t on marking m (int64[P]); places that become marked get the next insertion stamp."""
    for k in range(net.pre_ptr[t], net.pre_ptr[t + 1]):
        m[net.pre_place[k]] -= net.pre_w[k]
    for k in range(net.post_ptr[t], net.post_ptr[t + 1]):
        p = net.post_place[k]
        if m[p] == 0:
            stamp[p] = ctr[0]
            ctr[0] += 1
        m[p] += net.post_w[k]


@kernel
def _account(net, t, acc, fired):
    """consumed (acc[0]) and produced (acc[1]) tokens of one firing of t; fired[t] += 1."""
    pre_ptr, pre_w, post_ptr, post_w = net.pre_ptr, net.pre_w, net.post_ptr, net.post_w
    for k in range(pre_ptr[t], pre_ptr[t + 1]):
        acc[0] += pre_w[k]
    for k in range(post_ptr[t], post_ptr[t + 1]):
        acc[1] += post_w[k]
    fired[t] += 1


@kernel
def _path_len(net, g):
    return net.path_ptr[g + 1] - net.path_ptr[g]


@kernel
def _collect_paths(net, m, targets, n_targets, out):
    """Shortest invisible paths from every marked place to every target place (both in name order),
    stably sorted by length; returns how many were written to out."""
    spath = net.spath
    n = 0
    for p1 in range(len(m)):
        if m[p1] > 0:
            for j in range(n_targets):
                g = spath[p1, targets[j]]
                if g >= 0:
                    out[n] = g
                    n += 1
    for i in range(1, n):
        g = out[i]
        lg = _path_len(net, g)
        k = i - 1
        while k >= 0 and _path_len(net, out[k]) > lg:
            out[k + 1] = out[k]
            k -= 1
        out[k + 1] = g
    return n


@kernel
def _enable_hidden(net, t, m, stamp, ctr, groups, n_groups, visited, acc, fired):
    """pm4py's enable_hidden_transitions (non-exhaustive): walk the groups round-robin."""
    path_ptr, path_trans = net.path_ptr, net.path_trans
    j = np.zeros(n_groups, dtype=np.int64)
    z = 0
    while z < 10000000:
        g = z % n_groups
        something = False
        length = path_ptr[groups[g] + 1] - path_ptr[groups[g]]
        while j[g] < length:
            t3 = path_trans[path_ptr[groups[g]] + j[g]]
            if t3 != t and _enabled(net, t3, m) and not visited[t3]:
                _fire(net, t3, m, stamp, ctr)
                _account(net, t3, acc, fired)
                visited[t3] = True
                something = True
            j[g] += 1
            if _enabled(net, t, m):
                break
        if _enabled(net, t, m) or not something:
            break
        z += 1


@kernel
def _missing_places(net, t, m, out):
    pre_ptr, pre_place, pre_w = net.pre_ptr, net.pre_place, net.pre_w
    n = 0
    for k in range(pre_ptr[t], pre_ptr[t + 1]):
        if m[pre_place[k]] < pre_w[k]:
            out[n] = pre_place[k]
            n += 1
    out[:n].sort()
    return n


@kernel
def _hidden_step(net, t, m, stamp, ctr, visited, acc, fired, groups, miss):
    """First part of pm4py's apply_hidden_trans for t: fire the invisible paths towards t's
    missing places round-robin. Returns the number of groups if t is still not enabled, else 0."""
    if visited[t]:
        return 0
    visited[t] = True
    n_miss = _missing_places(net, t, m, miss)
    n_groups = _collect_paths(net, m, miss, n_miss, groups)
    if n_groups == 0:
        return 0
    _enable_hidden(net, t, m, stamp, ctr, groups, n_groups, visited, acc, fired)
    if _enabled(net, t, m):
        return 0
    return _collect_paths(net, m, miss, n_miss, groups)


@kernel
def _apply_hidden_inner(net, t, m, stamp, ctr, visited, acc, fired, groups, miss):
    """apply_hidden_trans at recursion depth 1: its own recursive calls (depth 2) return at once."""
    n_groups = _hidden_step(net, t, m, stamp, ctr, visited, acc, fired, groups, miss)
    path_ptr, path_trans = net.path_ptr, net.path_trans
    for zi in range(n_groups):
        g = groups[zi]
        for k in range(path_ptr[g], path_ptr[g + 1]):
            t4 = path_trans[k]
            if t4 != t and not visited[t4] and _enabled(net, t4, m):
                _fire(net, t4, m, stamp, ctr)
                _account(net, t4, acc, fired)
                visited[t4] = True


@kernel
def _apply_hidden(net, t, m, stamp, ctr, visited, acc, fired, groups_buf, miss_buf):
    """pm4py's apply_hidden_trans (depth 0), one visited set per event. pm4py's final recursive
    call on t itself finds t visited and does nothing, so it is left out."""
    groups = groups_buf[0]
    n_groups = _hidden_step(net, t, m, stamp, ctr, visited, acc, fired, groups, miss_buf[0])
    path_ptr, path_trans = net.path_ptr, net.path_trans
    for zi in range(n_groups):
        g = groups[zi]
        for k in range(path_ptr[g], path_ptr[g + 1]):
            t4 = path_trans[k]
            if t4 != t and not visited[t4]:
                if not _enabled(net, t4, m):
                    _apply_hidden_inner(net, t4, m, stamp, ctr, visited, acc, fired, groups_buf[1], miss_buf[1])
                if _enabled(net, t4, m):
                    _fire(net, t4, m, stamp, ctr)
                    _account(net, t4, acc, fired)
                    visited[t4] = True


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
        if not _enabled(net, t, m):
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


@kernel
def _choose(net, m, lab, choice):
    lab_ptr, lab_trans, default_trans, trans_rank = net.lab_ptr, net.lab_trans, net.default_trans, net.trans_rank
    best = -1
    n_en = 0
    for k in range(lab_ptr[lab], lab_ptr[lab + 1]):
        t = lab_trans[k]
        if _enabled(net, t, m):
            n_en += 1
            if best < 0 or trans_rank[t] < trans_rank[best]:
                best = t
    if n_en == 0:
        return default_trans[lab]
    if n_en == 1 or choice == CHOICE_NAME:
        return best
    return _pyset_first(net, m, lab)


@kernel
def _final_reached(fm, m):
    for p in range(len(fm)):
        if fm[p] > 0 and m[p] <= 0:
            return False
    return True


@kernel
def _search_skips(net, m0, t_goal, goal, out, max_visible, m_out, work):
    """Fewest visible transitions (at most MAX_SKIPS, with invisible ones between them) that lead
    from m0 to a marking where t_goal is enabled (t_goal >= 0) or that equals goal (t_goal < 0).

    Iterative deepening on the number of visible moves, depth-first within it, transitions in
    index order, at most _SEARCH_BUDGET firings per search and work[0] firings left for the
    whole variant (decremented). Returns the number of visible moves
    written to out, 0 if only invisible ones were needed, -1 if nothing was found; m_out gets
    the marking reached.
    """
    label = net.label
    n_t = len(label)
    n_p = len(m0)
    marks = np.empty((_MAX_DEPTH + 1, n_p), dtype=np.int64)
    nxt = np.zeros(_MAX_DEPTH + 1, dtype=np.int64)
    taken = np.full(_MAX_DEPTH + 1, -1, dtype=np.int64)
    stamp = np.zeros(n_p, dtype=np.int64)
    ctr = np.zeros(1, dtype=np.int64)
    budget = _SEARCH_BUDGET
    for k_max in range(max_visible + 1):
        marks[0] = m0
        nxt[0] = 0
        vis = np.zeros(_MAX_DEPTH + 1, dtype=np.int64)
        d = 0
        while d >= 0:
            m = marks[d]
            done = False
            if t_goal >= 0:
                done = _enabled(net, t_goal, m)
            else:
                done = True
                for p in range(n_p):
                    if m[p] != goal[p]:
                        done = False
                        break
            if done and vis[d] == k_max:
                m_out[:] = m
                n = 0
                for e in range(d):
                    if label[taken[e]] >= 0:
                        out[n] = taken[e]
                        n += 1
                return n
            advanced = False
            if not done and d < _MAX_DEPTH and budget > 0 and work[0] > 0:
                while nxt[d] < n_t:
                    t = nxt[d]
                    nxt[d] += 1
                    if t == t_goal or not _enabled(net, t, m):
                        continue
                    cost = 1 if label[t] >= 0 else 0
                    if vis[d] + cost > k_max:
                        continue
                    budget -= 1
                    work[0] -= 1
                    marks[d + 1] = m
                    _fire(net, t, marks[d + 1], stamp, ctr)
                    taken[d] = t
                    vis[d + 1] = vis[d] + cost
                    nxt[d + 1] = 0
                    d += 1
                    advanced = True
                    break
            if not advanced:
                d -= 1
    return -1


@kernel
def _shadow_cost(net, m0, codes, start, choice, work):
    """Deviations a plain replay of codes[start:] from marking m0 runs into: events that invisible
    moves cannot enable (moves on the log only, not replayed), plus the visible moves still
    needed at the end (MAX_SKIPS + 1 if more)."""
    fm = net.fm
    n_p = len(m0)
    m = m0.copy()
    stamp = np.zeros(n_p, dtype=np.int64)
    ctr = np.zeros(1, dtype=np.int64)
    buf = np.empty(MAX_SKIPS, dtype=np.int64)
    m_next = np.empty(n_p, dtype=np.int64)
    cost = 0
    for j in range(start, len(codes)):
        lab = codes[j]
        if lab < 0:
            continue
        t = _choose(net, m, lab, choice)
        if not _enabled(net, t, m):
            if _search_skips(net, m, t, m, buf, 0, m_next, work) != 0:
                cost += 1  # a move on the log only: the event is not replayed
                continue
            m[:] = m_next
        _fire(net, t, m, stamp, ctr)
    if not np.array_equal(m, fm):
        n = _search_skips(net, m, -1, fm, buf, MAX_SKIPS, m_next, work)
        cost += n if n >= 0 else MAX_SKIPS + 1
    return cost


@kernel
def _occurs_after(codes, i, lab):
    for j in range(i + 1, len(codes)):
        if codes[j] == lab:
            return True
    return False


@kernel
def _classify(net, codes, i, t, m, choice, work, skip_buf, m_skip):
    """Why transition t (event i) is not enabled in m: (status, number of steps in skip_buf).

    Two readings: the steps the search finds were skipped (or run later), or this event was
    inserted; the one a plain replay of the rest of the trace agrees with better wins, ties go
    to the skipped steps."""
    n_skip = _search_skips(net, m, t, m, skip_buf, MAX_SKIPS, m_skip, work)
    if n_skip < 0:
        return EVENT_MISSING, n_skip
    if n_skip == 0:
        return EVENT_OK, n_skip
    cost_insert = 1 + _shadow_cost(net, m.copy(), codes, i + 1, choice, work)
    shadow_stamp = np.zeros(len(m), dtype=np.int64)
    shadow_ctr = np.zeros(1, dtype=np.int64)
    _fire(net, t, m_skip, shadow_stamp, shadow_ctr)
    cost_skip = n_skip + _shadow_cost(net, m_skip, codes, i + 1, choice, work)
    if cost_insert < cost_skip:
        return EVENT_MISSING, n_skip
    later_skip = False
    for k in range(n_skip):
        later_skip = later_skip or _occurs_after(codes, i, net.label[skip_buf[k]])
    if later_skip:
        # the step that would have enabled this one runs later: if this step runs again later
        # too, this occurrence was inserted, else the order was broken
        return (EVENT_MISSING if _occurs_after(codes, i, codes[i]) else EVENT_OUT_OF_ORDER), n_skip
    return EVENT_SKIPPED, n_skip


@kernel
def _blame_previous(net, codes, i, t, m, m_prev, prev, choice, work, ev_status, ev_trans, explained):
    """Event i looks inserted: maybe the previous event was the one inserted and this one is in
    place. If so, mark the previous one and return True."""
    cost_this = 1 + _shadow_cost(net, m, codes, i + 1, choice, work)
    cost_prev = 1 + _shadow_cost(net, m_prev, codes, i, choice, work)
    if cost_prev >= cost_this:
        return False
    ev_status[prev] = EVENT_MISSING
    t_prev = ev_trans[prev]
    for a in range(net.post_ptr[t_prev], net.post_ptr[t_prev + 1]):
        explained[net.post_place[a]] += net.post_w[a]
    for a in range(net.pre_ptr[t], net.pre_ptr[t + 1]):
        p = net.pre_place[a]
        if m[p] < net.pre_w[a]:
            explained[p] -= net.pre_w[a] - m[p]
    return True


@kernel
def _explain(net, status, t, skip_buf, n_skip, explained):
    """Set aside the tokens a located deviation leaves behind, so the end is not blamed for them."""
    if status == EVENT_SKIPPED:
        for k in range(n_skip):
            s = skip_buf[k]
            for a in range(net.pre_ptr[s], net.pre_ptr[s + 1]):
                explained[net.pre_place[a]] += net.pre_w[a]
    elif status == EVENT_OUT_OF_ORDER:
        for k in range(n_skip):
            s = skip_buf[k]
            for a in range(net.post_ptr[s], net.post_ptr[s + 1]):
                explained[net.post_place[a]] += net.post_w[a]
    elif status == EVENT_MISSING:
        for a in range(net.post_ptr[t], net.post_ptr[t + 1]):
            explained[net.post_place[a]] += net.post_w[a]


@kernel
def _add_missing(net, t, m, stamp, ctr):
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


@kernel
def _fire_path(net, g, m, stamp, ctr, acc, fired, stop):
    """Fire the enabled transitions of invisible path g in order; with stop, up to the first one
    that is not enabled."""
    for k in range(net.path_ptr[g], net.path_ptr[g + 1]):
        t = net.path_trans[k]
        if _enabled(net, t, m):
            _fire(net, t, m, stamp, ctr)
            _account(net, t, acc, fired)
        elif stop:
            break


@kernel
def _fire_to_final(net, m, stamp, ctr, acc, fired, groups):
    """pm4py's end of a trace: fire invisible transitions towards the final marking (5 rounds over
    paths to its places, then 5 rounds over paths to the single sink place)."""
    fm, spath = net.fm, net.spath
    n_p = len(m)
    fm_places = np.empty(n_p, dtype=np.int64)
    n_fm = 0
    for p in range(n_p):
        if fm[p] > 0:
            fm_places[n_fm] = p
            n_fm += 1
    for _ in range(5):
        if _final_reached(fm, m):
            break
        n_groups = _collect_paths(net, m, fm_places, n_fm, groups)
        for gi in range(n_groups):
            _fire_path(net, groups[gi], m, stamp, ctr, acc, fired, False)
            if _final_reached(fm, m):
                break
    if _final_reached(fm, m) or n_fm != 1:
        return
    sink = fm_places[0]
    n_conn = 0
    conn_stamp = np.empty(n_p, dtype=np.int64)
    for p in range(n_p):
        if m[p] > 0 and spath[p, sink] >= 0:
            groups[n_conn] = spath[p, sink]
            conn_stamp[n_conn] = stamp[p]
            n_conn += 1
    # order: marking insertion order, then stable by path length
    for a in range(1, n_conn):
        g, s = groups[a], conn_stamp[a]
        b = a - 1
        while b >= 0 and conn_stamp[b] > s:
            groups[b + 1] = groups[b]
            conn_stamp[b + 1] = conn_stamp[b]
            b -= 1
        groups[b + 1] = g
        conn_stamp[b + 1] = s
    for a in range(1, n_conn):
        g = groups[a]
        b = a - 1
        while b >= 0 and _path_len(net, groups[b]) > _path_len(net, g):
            groups[b + 1] = groups[b]
            b -= 1
        groups[b + 1] = g
    for _ in range(5):
        for j in range(n_conn):
            _fire_path(net, groups[j], m, stamp, ctr, acc, fired, True)


@kernel
def _replay_one(net, codes, choice, locate, fired, rem_place, ev_status, ev_trans, ev_missing, ev_skips, end_skips,
                visited, groups_buf, miss_buf):
    """Replay one variant (label codes, -1 = activity not in the model). Returns
    (missing, consumed, remaining, produced, is_fit, n_unknown)."""
    im, fm = net.im, net.fm
    n_p = len(im)
    m = im.copy()
    stamp = net.im_stamp.copy()
    ctr = np.zeros(1, dtype=np.int64)
    ctr[0] = n_p
    acc = np.zeros(2, dtype=np.int64)
    acc[1] = im.sum()
    missing = 0
    n_unknown = 0
    explained = np.zeros(n_p, dtype=np.int64)
    skip_buf = np.empty(MAX_SKIPS, dtype=np.int64)
    m_skip = np.empty(n_p, dtype=np.int64)
    work = np.full(1, _VARIANT_BUDGET, dtype=np.int64)
    m_prev = m.copy()      # marking before the previous replayed event
    m_here = m.copy()      # marking before this event
    prev = -1
    for i in range(len(codes)):
        lab = codes[i]
        if lab < 0:
            ev_status[i] = EVENT_UNKNOWN
            ev_trans[i] = -1
            n_unknown += 1
            continue
        m_prev[:] = m_here
        m_here[:] = m
        t = _choose(net, m, lab, choice)
        if not _enabled(net, t, m):
            visited[:] = False
            _apply_hidden(net, t, m, stamp, ctr, visited, acc, fired, groups_buf, miss_buf)
        ev_trans[i] = t
        if not _enabled(net, t, m):
            status, n_skip = EVENT_MISSING, -1
            if locate:
                status, n_skip = _classify(net, codes, i, t, m, choice, work, skip_buf, m_skip)
                if status == EVENT_MISSING and prev >= 0 and ev_status[prev] == EVENT_OK:
                    if _blame_previous(net, codes, i, t, m, m_prev, prev, choice, work, ev_status, ev_trans,
                                       explained):
                        status = EVENT_OK
            ev_status[i] = status
            if status == EVENT_SKIPPED or status == EVENT_OUT_OF_ORDER:
                for k in range(n_skip):
                    ev_skips[i, k] = skip_buf[k]
            _explain(net, status, t, skip_buf, n_skip, explained)
            added = _add_missing(net, t, m, stamp, ctr)
            missing += added
            ev_missing[i] = added
        _account(net, t, acc, fired)
        _fire(net, t, m, stamp, ctr)
        prev = i

    _fire_to_final(net, m, stamp, ctr, acc, fired, groups_buf[0])

    # leftover tokens not explained by a deviation found above: skipped steps at the end
    rest = np.empty(n_p, dtype=np.int64)
    for p in range(n_p):
        rest[p] = max(m[p] - explained[p], fm[p] if m[p] >= fm[p] else m[p])
    if locate and not np.array_equal(rest, fm):
        n_skip = _search_skips(net, rest, -1, fm, skip_buf, MAX_SKIPS, m_skip, work)
        for k in range(max(n_skip, 0)):
            end_skips[k] = skip_buf[k]

    diff = 0
    for p in range(n_p):
        if fm[p] > m[p]:
            diff += fm[p] - m[p]
    remaining = 0
    for p in range(n_p):
        if m[p] > 0:
            r = m[p] - fm[p] if fm[p] > 0 else m[p]
            if r > 0:
                remaining += r
                rem_place[p] = r
    is_fit = missing == 0 and remaining == 0
    consumed = acc[0] + fm.sum()
    missing += diff
    return missing, consumed, remaining, acc[1], is_fit, n_unknown


@kernel
def replay_variants(net, offsets, codes, choice, locate):
    """Replay each variant once (serial; the caller runs chunks of variants on threads, as the
    kernel releases the GIL: a serial kernel compiles in half the time of a prange one).

    net: the compiled net's NetArrays (engine.model.petri_net). offsets: int64[V+1] CSR into codes;
    codes: int32 label ids of the net (-1 for activities not in the model). choice: CHOICE_*.
    locate: also locate deviations (ev_status beyond OK / MISSING / UNKNOWN, ev_skips, end_skips).
    Returns (counts int64[V, 5] = missing, consumed, remaining, produced, unknown events;
    is_fit bool[V]; fired int32[V, T] firings per transition; rem_place int32[V, P];
    ev_status int8[E]; ev_trans int32[E]; ev_missing int32[E]; ev_skips int32[E, MAX_SKIPS];
    end_skips int32[V, MAX_SKIPS]) with E = len(codes); -1 pads the skip arrays.
    """
    n_v = len(offsets) - 1
    n_t = len(net.label)
    n_p = len(net.im)
    n_e = len(codes)
    counts = np.zeros((n_v, 5), dtype=np.int64)
    is_fit = np.zeros(n_v, dtype=np.bool_)
    fired = np.zeros((n_v, n_t), dtype=np.int32)
    rem_place = np.zeros((n_v, n_p), dtype=np.int32)
    ev_status = np.zeros(n_e, dtype=np.int8)
    ev_trans = np.full(n_e, -1, dtype=np.int32)
    ev_missing = np.zeros(n_e, dtype=np.int32)
    ev_skips = np.full((n_e, MAX_SKIPS), -1, dtype=np.int32)
    end_skips = np.full((n_v, MAX_SKIPS), -1, dtype=np.int32)
    max_pre = 1
    pre_ptr = net.pre_ptr
    for t in range(n_t):
        max_pre = max(max_pre, pre_ptr[t + 1] - pre_ptr[t])
    cap = n_p * max(max_pre, n_p) + 1
    for v in range(n_v):
        s, e = offsets[v], offsets[v + 1]
        visited = np.zeros(n_t, dtype=np.bool_)
        groups_buf = np.empty((2, cap), dtype=np.int64)
        miss_buf = np.empty((2, max_pre), dtype=np.int64)
        fired_row = np.zeros(n_t, dtype=np.int64)
        rem_row = np.zeros(n_p, dtype=np.int64)
        status = np.zeros(e - s, dtype=np.int8)
        trans = np.full(e - s, -1, dtype=np.int32)
        miss = np.zeros(e - s, dtype=np.int32)
        skips = np.full((e - s, MAX_SKIPS), -1, dtype=np.int64)
        end_row = np.full(MAX_SKIPS, -1, dtype=np.int64)
        mi, co, re, pr, fit, unk = _replay_one(net, codes[s:e], choice, locate, fired_row, rem_row, status, trans, miss,
                                               skips, end_row, visited, groups_buf, miss_buf)
        counts[v, 0] = mi
        counts[v, 1] = co
        counts[v, 2] = re
        counts[v, 3] = pr
        counts[v, 4] = unk
        is_fit[v] = fit
        fired[v] = fired_row.astype(np.int32)
        rem_place[v] = rem_row.astype(np.int32)
        ev_status[s:e] = status
        ev_trans[s:e] = trans
        ev_missing[s:e] = miss
        ev_skips[s:e] = skips.astype(np.int32)
        end_skips[v] = end_row.astype(np.int32)
    return counts, is_fit, fired, rem_place, ev_status, ev_trans, ev_missing, ev_skips, end_skips
