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

On top of pm4py's counts the kernel locates deviations without changing them
(``engine.kernels.deviations``): skipped, inserted and out-of-order steps at the
events where the replay needs missing tokens, skipped steps at the end from the
tokens no located deviation explains, and, when more steps were still due than
a skip explains, the step due next of a contact that ended early. An unfit trace
always gets at least one.

The net arrives as ``engine.model.petri_net.NetArrays``, a named tuple of
arrays (P places in name order, T transitions, L labels) read here by field
name; its class documents the dtype and shape of every field.
"""

import numpy as np
from engine.kernels import kernel
from engine.kernels.deviations import (EVENT_MISSING, EVENT_OK, EVENT_OUT_OF_ORDER, EVENT_SKIPPED,  # noqa: F401
                                       EVENT_UNKNOWN, MAX_SKIPS, VARIANT_BUDGET, blame_previous, classify_event,
                                       explain_rest, explain_tokens, locate_end, new_search_cache, new_workspace)
from engine.kernels.firing import (CHOICE_NAME, CHOICE_PM4PY, account, add_missing, choose, step,  # noqa: F401
                                   is_enabled, final_reached, fire)


@step
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
            if t3 != t and is_enabled(net, t3, m) and not visited[t3]:
                fire(net, t3, m, stamp, ctr)
                account(net, t3, acc, fired)
                visited[t3] = True
                something = True
            j[g] += 1
            if is_enabled(net, t, m):
                break
        if is_enabled(net, t, m) or not something:
            break
        z += 1


@step
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
    if is_enabled(net, t, m):
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
            if t4 != t and not visited[t4] and is_enabled(net, t4, m):
                fire(net, t4, m, stamp, ctr)
                account(net, t4, acc, fired)
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
                if not is_enabled(net, t4, m):
                    _apply_hidden_inner(net, t4, m, stamp, ctr, visited, acc, fired, groups_buf[1], miss_buf[1])
                if is_enabled(net, t4, m):
                    fire(net, t4, m, stamp, ctr)
                    account(net, t4, acc, fired)
                    visited[t4] = True


@step
def _fire_path(net, g, m, stamp, ctr, acc, fired, stop):
    """Fire the enabled transitions of invisible path g in order; with stop, up to the first one
    that is not enabled."""
    for k in range(net.path_ptr[g], net.path_ptr[g + 1]):
        t = net.path_trans[k]
        if is_enabled(net, t, m):
            fire(net, t, m, stamp, ctr)
            account(net, t, acc, fired)
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
        if final_reached(fm, m):
            break
        n_groups = _collect_paths(net, m, fm_places, n_fm, groups)
        for gi in range(n_groups):
            _fire_path(net, groups[gi], m, stamp, ctr, acc, fired, False)
            if final_reached(fm, m):
                break
    if final_reached(fm, m) or n_fm != 1:
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
def _replay_one(net, cache, ws, codes, choice, locate, fired, rem_place, ev_status, ev_trans, ev_missing, ev_skips,
                end_skips, visited, groups_buf, miss_buf):
    """Replay one variant (label codes, -1 = activity not in the model). Returns
    (missing, consumed, remaining, produced, is_fit, n_unknown, the step due next if the contact
    ended early or -1)."""
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
    work = np.full(1, VARIANT_BUDGET, dtype=np.int64)
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
        t = choose(net, m, lab, choice)
        if not is_enabled(net, t, m):
            visited[:] = False
            _apply_hidden(net, t, m, stamp, ctr, visited, acc, fired, groups_buf, miss_buf)
        ev_trans[i] = t
        if not is_enabled(net, t, m):
            status, n_skip = EVENT_MISSING, -1
            if locate:
                status, n_skip = classify_event(net, cache, codes, i, t, m, choice, work, skip_buf, m_skip, ws)
                if status == EVENT_MISSING and prev >= 0 and ev_status[prev] == EVENT_OK:
                    if blame_previous(net, cache, codes, i, t, m, m_prev, prev, choice, work, ev_status, ev_trans,
                                      explained, ws):
                        status = EVENT_OK
            ev_status[i] = status
            if status == EVENT_SKIPPED or status == EVENT_OUT_OF_ORDER:
                for k in range(n_skip):
                    ev_skips[i, k] = skip_buf[k]
            explain_tokens(net, status, t, skip_buf, n_skip, explained)
            added = add_missing(net, t, m, stamp, ctr)
            missing += added
            ev_missing[i] = added
        account(net, t, acc, fired)
        fire(net, t, m, stamp, ctr)
        prev = i

    _fire_to_final(net, m, stamp, ctr, acc, fired, groups_buf[0])

    ended = locate_end(net, cache, m, explained, work, end_skips, ws) if locate else -1

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
    if locate and (missing > 0 or remaining > 0):
        ended = explain_rest(net, cache, m, ev_status, ev_missing, end_skips, ended, work, ws)
    return missing, consumed, remaining, acc[1], is_fit, n_unknown, ended


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
    end_skips int32[V, MAX_SKIPS]; ended int32[V] the step due next when the contact ended early,
    else -1) with E = len(codes); -1 pads the skip arrays.
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
    ended = np.full(n_v, -1, dtype=np.int32)
    max_pre = 1
    pre_ptr = net.pre_ptr
    for t in range(n_t):
        max_pre = max(max_pre, pre_ptr[t + 1] - pre_ptr[t])
    cap = n_p * max(max_pre, n_p) + 1
    cache = new_search_cache(net)
    ws = new_workspace(net)
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
        mi, co, re, pr, fit, unk, end_t = _replay_one(net, cache, ws, codes[s:e], choice, locate, fired_row,
                                                      rem_row, status, trans, miss, skips, end_row, visited,
                                                      groups_buf, miss_buf)
        ended[v] = end_t
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
    return counts, is_fit, fired, rem_place, ev_status, ev_trans, ev_missing, ev_skips, end_skips, ended


@kernel
def drop_unknown(offsets, codes):
    """The variants without their activities that are not in the model: (int64[V+1] offsets,
    int32 codes), codes >= 0. The replay never looks at those events (pm4py ignores them; they
    are counted apart), so variants equal without them replay alike and are replayed once.

    offsets: int64[V+1] CSR into codes; codes: int32 label ids, -1 for activities not in the model.
    """
    n_v = len(offsets) - 1
    known = np.zeros(n_v + 1, dtype=np.int64)
    for v in range(n_v):
        n = 0
        for j in range(offsets[v], offsets[v + 1]):
            if codes[j] >= 0:
                n += 1
        known[v + 1] = known[v] + n
    out = np.empty(known[n_v], dtype=np.int32)
    k = 0
    for j in range(len(codes)):
        if codes[j] >= 0:
            out[k] = codes[j]
            k += 1
    return known, out


@kernel
def event_sources(offsets, codes, group, group_offsets):
    """For every event of the variants, its event in the replayed sequence of the variant's group
    (int64[E]; group_offsets[G], one past the last, for activities not in the model), and the
    number of those per variant (int64[V]).

    offsets, codes: the variants (as for drop_unknown); group: int32[V] the distinct sequence
    without unknown activities of each variant; group_offsets: int64[G+1] CSR of those sequences.
    """
    n_v = len(offsets) - 1
    src = np.empty(len(codes), dtype=np.int64)
    n_unknown = np.zeros(n_v, dtype=np.int64)
    for v in range(n_v):
        k = group_offsets[group[v]]
        for j in range(offsets[v], offsets[v + 1]):
            if codes[j] >= 0:
                src[j] = k
                k += 1
            else:
                src[j] = group_offsets[len(group_offsets) - 1]
                n_unknown[v] += 1
    return src, n_unknown
