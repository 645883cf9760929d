"""Deviations located during token replay: skipped, inserted and out-of-order steps.

When an event's transition cannot be enabled, a bounded search looks for the fewest visible
model moves (at most ``MAX_SKIPS``, with invisible moves between them) that would have enabled
it. None found: the event was inserted. Found, and none of those steps runs later in the trace:
they were skipped. Found, but one of them runs later: if this step itself runs again later,
this occurrence was inserted; otherwise the steps ran out of order. Between the readings, a
plain replay of the rest of the trace decides (``_shadow_cost``).

Location costs what the trace costs, not a search per event: each search is pruned by a lower
bound of the visible moves still needed (``place_distances``, computed once per net), and
remembered for the other variants of the chunk (``new_search_cache``): variants of one log reach
the same few markings again and again. A remembered search is charged the firings it took, so
results are the same as searching each time and do not depend on how variants are chunked.

The functions of the location path (``bare``) run without numba's reference counting: each call
passing the net's arrays and the memo updated two atomic counters per array, and those updates
were most of location's time. They create no array: every buffer is a row of a workspace
(``new_workspace``, one per chunk of variants, rows ``_WS_*``). ``_nrt=False`` is a flag of numba's
own, not a documented option: after a numba upgrade, tests/test_deviations.py and tests/test_replay.py
must pass again before it is trusted (they compare every located deviation and token count).
"""

import numpy as np
from numba import njit

from engine.kernels import kernel
from engine.kernels.firing import choose, fire, is_enabled, step

bare = njit(cache=True, nogil=True, _nrt=False)

EVENT_OK = 0
EVENT_MISSING = 1      # fired with missing tokens and no skipped steps explain it: inserted
EVENT_UNKNOWN = 2      # activity not in the model
EVENT_SKIPPED = 3      # fired with missing tokens that skipped steps (ev_skips) explain
EVENT_OUT_OF_ORDER = 4  # fired before the steps in ev_skips, which run later in the trace

MAX_SKIPS = 3
_FAR = 1 << 30
_MAX_DEPTH = 12
_SEARCH_BUDGET = 1500      # firings per search
VARIANT_BUDGET = 30000    # firings per variant for all searches: bounds location on large nets
_CACHE_SLOTS = 16384       # searches remembered per chunk of variants

# rows of the workspace: a search's markings by depth, then its other buffers and those of the
# plain replays, the decisions and the end of a trace (searches and plain replays never nest)
_WS_MARKS = 0
_WS_NEXT = _MAX_DEPTH + 1
_WS_TAKEN = _WS_NEXT + 1
_WS_VIS = _WS_NEXT + 2
_WS_STAMP = _WS_NEXT + 3       # insertion stamps and counter of searches and plain replays (not read)
_WS_CTR = _WS_NEXT + 4
_WS_SHADOW = _WS_NEXT + 5      # the plain replay's marking
_WS_SHADOW_BUF = _WS_NEXT + 6
_WS_SHADOW_NEXT = _WS_NEXT + 7
_WS_END = _WS_NEXT + 8         # locate_end's marking, skips and reached marking
_WS_END_BUF = _WS_NEXT + 9
_WS_END_SKIP = _WS_NEXT + 10
_WS_DUE_BUF = _WS_NEXT + 11    # next_due's
_WS_DUE_OUT = _WS_NEXT + 12
_WS_ROWS = _WS_NEXT + 13


@kernel
def place_distances(net):
    """Fewest visible transitions that move a token from place a to place b (int64[P, P]; _FAR if
    none), over the graph of places joined by transitions, synchronisation ignored: a lower bound
    of the visible moves any firing sequence needs to put a token in b from a token in a."""
    n_p = len(net.im)
    dist = np.full((n_p, n_p), _FAR, dtype=np.int64)
    for p in range(n_p):
        dist[p, p] = 0
    for t in range(len(net.label)):
        w = 1 if net.label[t] >= 0 else 0
        for a in range(net.pre_ptr[t], net.pre_ptr[t + 1]):
            for b in range(net.post_ptr[t], net.post_ptr[t + 1]):
                p, q = net.pre_place[a], net.post_place[b]
                if w < dist[p, q]:
                    dist[p, q] = w
    for k in range(n_p):
        for p in range(n_p):
            if dist[p, k] < _FAR:
                for q in range(n_p):
                    if dist[p, k] + dist[k, q] < dist[p, q]:
                        dist[p, q] = dist[p, k] + dist[k, q]
    return dist


@step
def _moves_needed(net, dist, m, t_goal, goal):
    """A lower bound of the visible moves from m to the search's goal (see place_distances)."""
    need = 0
    if t_goal >= 0:
        for a in range(net.pre_ptr[t_goal], net.pre_ptr[t_goal + 1]):
            q = net.pre_place[a]
            if m[q] < net.pre_w[a]:
                need = max(need, _nearest_token(dist, m, q))
    else:
        for q in range(len(m)):
            if m[q] < goal[q]:
                need = max(need, _nearest_token(dist, m, q))
    return need


@step
def _nearest_token(dist, m, q):
    best = _FAR
    for p in range(len(m)):
        if m[p] > 0 and dist[p, q] < best:
            best = dist[p, q]
    return best


@kernel
def new_workspace(net):
    """The buffers of the location path (int64[_WS_ROWS, W]; see the _WS_* rows)."""
    width = max(len(net.im), _MAX_DEPTH + 1, MAX_SKIPS, 1)
    return np.zeros((_WS_ROWS, width), dtype=np.int64)


@step
def _same(a, b):
    for p in range(len(a)):
        if a[p] != b[p]:
            return False
    return True


@bare
def _search_skips(net, dist, m0, t_goal, goal, out, max_visible, m_out, work, ws):
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
    marks = ws[_WS_MARKS:_WS_MARKS + _MAX_DEPTH + 1, :n_p]
    nxt = ws[_WS_NEXT]
    taken = ws[_WS_TAKEN]
    vis = ws[_WS_VIS]
    stamp = ws[_WS_STAMP, :n_p]
    ctr = ws[_WS_CTR, :1]
    for d in range(_MAX_DEPTH + 1):
        nxt[d] = 0
        taken[d] = -1
    budget = _SEARCH_BUDGET
    for k_max in range(max_visible + 1):
        for p in range(n_p):
            marks[0, p] = m0[p]
        nxt[0] = 0
        for d in range(_MAX_DEPTH + 1):
            vis[d] = 0
        d = 0
        while d >= 0:
            m = marks[d]
            done = False
            if t_goal >= 0:
                done = is_enabled(net, t_goal, m)
            else:
                done = True
                for p in range(n_p):
                    if m[p] != goal[p]:
                        done = False
                        break
            if done and vis[d] == k_max:
                for p in range(n_p):
                    m_out[p] = m[p]
                n = 0
                for e in range(d):
                    if label[taken[e]] >= 0:
                        out[n] = taken[e]
                        n += 1
                return n
            advanced = False
            if not done and d < _MAX_DEPTH and budget > 0 and work[0] > 0 and nxt[d] == 0 \
                    and _moves_needed(net, dist, m, t_goal, goal) > k_max - vis[d]:
                nxt[d] = n_t       # the goal is out of reach within k_max visible moves: prune
            if not done and d < _MAX_DEPTH and budget > 0 and work[0] > 0:
                while nxt[d] < n_t:
                    t = nxt[d]
                    nxt[d] += 1
                    if t == t_goal or not is_enabled(net, t, m):
                        continue
                    cost = 1 if label[t] >= 0 else 0
                    if vis[d] + cost > k_max:
                        continue
                    budget -= 1
                    work[0] -= 1
                    for p in range(n_p):
                        marks[d + 1, p] = m[p]
                    fire(net, t, marks[d + 1], stamp, ctr)
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
def new_search_cache(net):
    """An empty memo of searches (see search_cached): a tuple of arrays with room for _CACHE_SLOTS."""
    c = _CACHE_SLOTS
    n_places = len(net.im)
    return (np.full(2 * c, -1, dtype=np.int64), np.zeros(c, dtype=np.int64), np.zeros((c, n_places), dtype=np.int64),
            np.zeros((c, n_places), dtype=np.int64), np.zeros((c, 4), dtype=np.int64),
            np.zeros((c, MAX_SKIPS), dtype=np.int64), np.zeros((c, n_places), dtype=np.int64), np.zeros(1, dtype=np.int64),
            place_distances(net))


@step
def _search_key(m0, t_goal, goal, max_visible):
    h = np.uint64(1469598103934665603) ^ np.uint64(t_goal + 7) * np.uint64(1099511628211)
    h = (h ^ np.uint64(max_visible)) * np.uint64(1099511628211)
    for p in range(len(m0)):
        h = (h ^ np.uint64(m0[p] + 3)) * np.uint64(1099511628211)
        if t_goal < 0:
            h = (h ^ np.uint64(goal[p] + 5)) * np.uint64(1099511628211)
    return np.int64(h >> np.uint64(1))


@bare
def search_cached(net, cache, m0, t_goal, goal, out, max_visible, m_out, work, ws):
    """_search_skips, remembered across the variants of a chunk. A remembered search is reused only
    when the variant's work budget would have let it run in full, and is charged its firings, so
    the result is the same as searching again (and does not depend on how variants are chunked)."""
    table, e_hash, e_m, e_goal, e_meta, e_out, e_mout, count, _ = cache
    key = _search_key(m0, t_goal, goal, max_visible)
    mask = len(table) - 1
    i = key & mask
    while table[i] >= 0:
        e = table[i]
        if e_hash[e] == key and e_meta[e, 0] == t_goal and e_meta[e, 1] == max_visible:
            same = True
            for p in range(len(m0)):
                if e_m[e, p] != m0[p] or (t_goal < 0 and e_goal[e, p] != goal[p]):
                    same = False
                    break
            if same and work[0] > e_meta[e, 2]:
                work[0] -= e_meta[e, 2]
                n = e_meta[e, 3]
                for k in range(MAX_SKIPS):
                    out[k] = e_out[e, k]
                for p in range(len(m0)):
                    m_out[p] = e_mout[e, p]
                return n
        i = (i + 1) & mask
    before = work[0]
    n = _search_skips(net, cache[8], m0, t_goal, goal, out, max_visible, m_out, work, ws)
    if work[0] > 0 and count[0] < len(e_hash):
        e = count[0]
        count[0] += 1
        table[i] = e
        e_hash[e] = key
        for p in range(len(m0)):
            e_m[e, p] = m0[p]
            if t_goal < 0:
                e_goal[e, p] = goal[p]
        e_meta[e, 0] = t_goal
        e_meta[e, 1] = max_visible
        e_meta[e, 2] = before - work[0]
        for k in range(MAX_SKIPS):
            e_out[e, k] = out[k] if k < n else -1
        for p in range(len(m0)):
            e_mout[e, p] = m_out[p]
        e_meta[e, 3] = n
    return n


@bare
def _shadow_cost(net, cache, m0, codes, start, choice, work, ws):
    """Deviations a plain replay of codes[start:] from marking m0 runs into: events that invisible
    moves cannot enable (moves on the log only, not replayed), plus the visible moves still
    needed at the end (MAX_SKIPS + 1 if more)."""
    fm = net.fm
    n_p = len(m0)
    m = ws[_WS_SHADOW, :n_p]
    for p in range(n_p):
        m[p] = m0[p]
    stamp = ws[_WS_STAMP, :n_p]
    ctr = ws[_WS_CTR, :1]
    buf = ws[_WS_SHADOW_BUF, :MAX_SKIPS]
    m_next = ws[_WS_SHADOW_NEXT, :n_p]
    cost = 0
    for j in range(start, len(codes)):
        lab = codes[j]
        if lab < 0:
            continue
        t = choose(net, m, lab, choice)
        if not is_enabled(net, t, m):
            if search_cached(net, cache, m, t, m, buf, 0, m_next, work, ws) != 0:
                cost += 1  # a move on the log only: the event is not replayed
                continue
            for p in range(n_p):
                m[p] = m_next[p]
        fire(net, t, m, stamp, ctr)
    if not _same(m, fm):
        n = search_cached(net, cache, m, -1, fm, buf, MAX_SKIPS, m_next, work, ws)
        cost += n if n >= 0 else MAX_SKIPS + 1
    return cost


@step
def _occurs_after(codes, i, lab):
    for j in range(i + 1, len(codes)):
        if codes[j] == lab:
            return True
    return False


@bare
def classify_event(net, cache, codes, i, t, m, choice, work, skip_buf, m_skip, ws):
    """Why transition t (event i) is not enabled in m: (status, number of steps in skip_buf).

    Two readings: the steps the search finds were skipped (or run later), or this event was
    inserted; the one a plain replay of the rest of the trace agrees with better wins, ties go
    to the skipped steps."""
    n_skip = search_cached(net, cache, m, t, m, skip_buf, MAX_SKIPS, m_skip, work, ws)
    if n_skip < 0:
        return EVENT_MISSING, n_skip
    if n_skip == 0:
        return EVENT_OK, n_skip
    cost_insert = 1 + _shadow_cost(net, cache, m, codes, i + 1, choice, work, ws)
    fire(net, t, m_skip, ws[_WS_STAMP], ws[_WS_CTR, :1])
    cost_skip = n_skip + _shadow_cost(net, cache, m_skip, codes, i + 1, choice, work, ws)
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


@bare
def blame_previous(net, cache, codes, i, t, m, m_prev, prev, choice, work, ev_status, ev_trans, explained, ws):
    """Event i looks inserted: maybe the previous event was the one inserted and this one is in
    place. If so, mark the previous one and return True."""
    cost_this = 1 + _shadow_cost(net, cache, m, codes, i + 1, choice, work, ws)
    cost_prev = 1 + _shadow_cost(net, cache, m_prev, codes, i, choice, work, ws)
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


@step
def explain_tokens(net, status, t, skip_buf, n_skip, explained):
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


@bare
def locate_end(net, cache, m, explained, work, end_row, ws):
    """Deviations at the end of a trace, from m, the marking after pm4py's final invisible moves.

    Tokens that no deviation located earlier explains were left by skipped steps (written to
    end_row) when at most MAX_SKIPS visible moves lead to the final marking. When more are
    needed, the contact ended early: returns the step due next (a transition; -1 otherwise)."""
    fm = net.fm
    n_p = len(m)
    rest = ws[_WS_END, :n_p]
    for p in range(n_p):
        rest[p] = max(m[p] - explained[p], fm[p] if m[p] >= fm[p] else m[p])
    if _same(rest, fm):
        return -1
    skip_buf = ws[_WS_END_BUF, :MAX_SKIPS]
    m_skip = ws[_WS_END_SKIP, :n_p]
    n_skip = search_cached(net, cache, rest, -1, fm, skip_buf, MAX_SKIPS, m_skip, work, ws)
    for k in range(max(n_skip, 0)):
        end_row[k] = skip_buf[k]
    if n_skip >= 0:
        return -1
    return next_due(net, cache, rest, work, ws)


@bare
def next_due(net, cache, m, work, ws):
    """The visible step due next in marking m: among the visible transitions that invisible moves
    alone can enable (else those with a marked input place), the one nearest the final marking,
    then the first by index; -1 if none."""
    label, fm, dist = net.label, net.fm, cache[8]
    n_p = len(m)
    buf = ws[_WS_DUE_BUF, :MAX_SKIPS]
    m_out = ws[_WS_DUE_OUT, :n_p]
    for loose in range(2):
        best, best_d = -1, _FAR + 1
        for t in range(len(label)):
            if label[t] < 0:
                continue
            if loose == 0:
                if search_cached(net, cache, m, t, m, buf, 0, m_out, work, ws) != 0:
                    continue
            else:
                marked = False
                for a in range(net.pre_ptr[t], net.pre_ptr[t + 1]):
                    marked = marked or m[net.pre_place[a]] > 0
                if not marked:
                    continue
            d = _FAR
            for b in range(net.post_ptr[t], net.post_ptr[t + 1]):
                far = 0
                for f in range(n_p):
                    if fm[f] > 0:
                        far = max(far, dist[net.post_place[b], f])
                d = min(d, far)
            if d < best_d:
                best, best_d = t, d
        if best >= 0:
            return best
    return -1


@bare
def explain_rest(net, cache, m, ev_status, ev_missing, end_row, ended, work, ws):
    """Make sure an unfit trace has a located deviation: if none was found, the events that fired
    with missing tokens were inserted; if there are none, the contact ended early (from m, the
    final marking of the replay). Returns the step due next (see locate_end)."""
    if ended >= 0 or end_row[0] >= 0:
        return ended
    for i in range(len(ev_status)):
        if ev_status[i] == EVENT_MISSING or ev_status[i] == EVENT_SKIPPED or ev_status[i] == EVENT_OUT_OF_ORDER:
            return ended
    found = False
    for i in range(len(ev_status)):
        if ev_status[i] == EVENT_OK and ev_missing[i] > 0:
            ev_status[i] = EVENT_MISSING
            found = True
    if found:
        return ended
    return next_due(net, cache, m, work, ws)


@kernel
def expand_to_cases(case_variant, case_offsets, dev_ptr, dev_pos):
    """Every case gets the deviations of its variant.

    case_variant: int32[C] variant of each case; case_offsets: int64[C+1] CSR of the log's events.
    dev_ptr: int64[V+1] CSR of the variants' deviations into dev_pos, each variant's rows in the
    order they are reported in; dev_pos: int64[D] event position within the variant.
    Returns (case int64[R], event int64[R] (global event index), row int64[R] into dev_pos), cases
    in increasing order, each case's rows in its variant's order.
    """
    n_cases = len(case_variant)
    n_rows = 0
    for c in range(n_cases):
        v = case_variant[c]
        n_rows += dev_ptr[v + 1] - dev_ptr[v]
    case = np.empty(n_rows, dtype=np.int64)
    event = np.empty(n_rows, dtype=np.int64)
    row = np.empty(n_rows, dtype=np.int64)
    r = 0
    for c in range(n_cases):
        v = case_variant[c]
        for j in range(dev_ptr[v], dev_ptr[v + 1]):
            case[r] = c
            event[r] = case_offsets[c] + dev_pos[j]
            row[r] = j
            r += 1
    return case, event, row


@kernel
def tally_by_value(case_variant, case_offsets, dev_ptr, dev_pos, dev_key, n_keys, values, per_event, n_values,
                   examples):
    """Contacts per (value, key) and the first ``examples`` of them, without expanding deviations to cases.

    case_variant, case_offsets, dev_ptr, dev_pos: as for expand_to_cases, each variant listing a key
    at most once; dev_key: int64[D] in [0, n_keys) (step x kind). values: int32 codes in [-1,
    n_values) per event (per_event) or per case; -1 = no value. A cell is (value + 1) * n_keys + key.
    Returns (contacts int64[(n_values + 1) * n_keys], ex_ptr int64[cells + 1], ex_case int64[...]):
    the example cases of cell g are ex_case[ex_ptr[g]:ex_ptr[g + 1]], in increasing order.
    """
    n_cells = (n_values + 1) * n_keys
    contacts = np.zeros(n_cells, dtype=np.int64)
    n_cases = len(case_variant)
    for c in range(n_cases):
        v = case_variant[c]
        for j in range(dev_ptr[v], dev_ptr[v + 1]):
            val = values[case_offsets[c] + dev_pos[j]] if per_event else values[c]
            contacts[(val + 1) * n_keys + dev_key[j]] += 1
    ex_ptr = np.zeros(n_cells + 1, dtype=np.int64)
    for g in range(n_cells):
        ex_ptr[g + 1] = ex_ptr[g] + min(contacts[g], examples)
    ex_case = np.empty(ex_ptr[n_cells], dtype=np.int64)
    filled = np.zeros(n_cells, dtype=np.int64)
    if examples == 0:
        return contacts, ex_ptr, ex_case
    for c in range(n_cases):
        v = case_variant[c]
        for j in range(dev_ptr[v], dev_ptr[v + 1]):
            val = values[case_offsets[c] + dev_pos[j]] if per_event else values[c]
            g = (val + 1) * n_keys + dev_key[j]
            if filled[g] < ex_ptr[g + 1] - ex_ptr[g]:
                ex_case[ex_ptr[g] + filled[g]] = c
                filled[g] += 1
    return contacts, ex_ptr, ex_case


@kernel
def sum_by_segment(segment, case_variant, per_variant, n_segments):
    """Per segment, the sum over its cases of their variant's row of per_variant.

    segment: int32[C] segment code of each case in [-1, n_segments), -1 = no value; case_variant:
    int32[C]; per_variant: int64[V, K]. Returns int64[n_segments + 1, K], row 0 for no value.
    """
    out = np.zeros((n_segments + 1, per_variant.shape[1]), dtype=np.int64)
    for c in range(len(segment)):
        row = out[segment[c] + 1]
        src = per_variant[case_variant[c]]
        for k in range(per_variant.shape[1]):
            row[k] += src[k]
    return out
