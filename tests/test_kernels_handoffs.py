"""Handoff kernels against short pure-Python twins, on random logs (hypothesis) and by hand."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from engine.kernels.handoffs import ROLE_OTHER, scan_handoffs, time_contacts
from engine.kernels.kpis import ROLE_HOLD, ROLE_QUEUE, ROLE_TALK, ROLE_TRANSFER, ROLE_VERIFY, ROLE_WRAPUP
from engine.log.encode import NO_TIME

# activity code -> role code
ROLES = np.array([ROLE_TALK, ROLE_VERIFY, ROLE_TRANSFER, ROLE_OTHER, ROLE_QUEUE, ROLE_HOLD, ROLE_WRAPUP, 0],
                 dtype=np.int8)


def twin_stop(ts, end, j, e):
    if len(end) and end[j] != NO_TIME and end[j] >= ts[j]:
        return end[j]
    return ts[j + 1] if j + 1 < e else ts[j]


def twin_scan(offsets, codes, ts, end, owners, routes):
    """Readable twin of scan_handoffs: a list of (case, kind, from, to, delay, loss_event, ping, event)."""
    out = []
    for i in range(len(offsets) - 1):
        s, e = offsets[i], offsets[i + 1]
        first = {}
        for j in range(s, e):
            first.setdefault(codes[j], j)
        rows = []
        owned = [j for j in range(s, e) if owners[j] >= 0]
        for a, b in zip(owned, owned[1:]):
            if owners[a] != owners[b]:
                ping = owners[b] in [owners[m] for m in range(s, a)]
                rows.append((i, 0, owners[a], owners[b], max(ts[b] - twin_stop(ts, end, a, e), 0), ping, b))
        for j in range(s, e):
            if ROLES[codes[j]] != ROLE_TRANSFER:
                continue
            cur = next((routes[m] for m in range(j, s - 1, -1) if routes[m] >= 0), -1)
            dest_at = next((m for m in range(j + 1, e) if routes[m] >= 0), -1)
            if cur < 0 or dest_at < 0 or routes[dest_at] == cur:
                continue
            ping = routes[dest_at] in [routes[m] for m in range(s, j)]
            rows.append((i, 1, cur, routes[dest_at], max(ts[dest_at] - ts[j], 0), ping, dest_at))
        for k, (case, kind, frm, to, delay, ping, at) in enumerate(rows):
            nxt = [r for r in rows[k + 1:] if r[1] == kind]
            stop = nxt[0][6] if nxt else e
            loss = -1
            for m in range(at, stop):
                r = ROLES[codes[m]]
                if (r == ROLE_VERIFY and first[codes[m]] < m) or (r == ROLE_OTHER and first[codes[m]] < at):
                    loss = m
                    break
            out.append((case, kind, frm, to, delay, loss, ping, at))
    return out


def twin_times(offsets, codes, ts, end, owners, n_owners):
    per = np.zeros((len(offsets) - 1, n_owners + 2))
    handle = np.zeros(len(offsets) - 1)
    for i in range(len(offsets) - 1):
        s, e = offsets[i], offsets[i + 1]
        reached = ts[s] if e > s else 0
        for j in range(s, e):
            t1 = twin_stop(ts, end, j, e)
            stop = max(t1, reached)
            col = n_owners + 1 if ROLES[codes[j]] == ROLE_QUEUE else (owners[j] if owners[j] >= 0 else n_owners)
            per[i, col] += (stop - reached) * 1e-9
            reached = stop
            if ROLES[codes[j]] in (ROLE_TALK, ROLE_HOLD, ROLE_WRAPUP) and t1 > ts[j]:
                handle[i] += (t1 - ts[j]) * 1e-9
    return per, handle


@st.composite
def logs(draw):
    n = draw(st.integers(0, 8))
    lengths = [draw(st.integers(1, 9)) for _ in range(n)]
    m = sum(lengths)
    codes = np.array(draw(st.lists(st.integers(0, len(ROLES) - 1), min_size=m, max_size=m)), dtype=np.int32)
    gaps = np.array(draw(st.lists(st.integers(0, 5), min_size=m, max_size=m)), dtype=np.int64) * 10**9
    ts = np.cumsum(gaps)
    ends = draw(st.lists(st.one_of(st.none(), st.integers(0, 7)), min_size=m, max_size=m))
    end = np.array([NO_TIME if x is None else t + x * 10**9 for t, x in zip(ts, ends)], dtype=np.int64)
    owners = np.array(draw(st.lists(st.integers(-1, 2), min_size=m, max_size=m)), dtype=np.int32)
    routes = np.array(draw(st.lists(st.integers(-1, 2), min_size=m, max_size=m)), dtype=np.int32)
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    return offsets, codes, ts, end, owners, routes


@settings(max_examples=200, deadline=None)
@given(logs())
def test_scan_handoffs_matches_twin(log):
    offsets, codes, ts, end, owners, routes = log
    got = scan_handoffs(offsets, codes, ts, end, owners, routes, ROLES, NO_TIME)
    rows = list(zip(*(a.tolist() for a in got)))
    expected = [(c, k, f, t, d, lo, p, ev) for c, k, f, t, d, lo, p, ev in twin_scan(offsets, codes, ts, end, owners,
                                                                                      routes)]
    assert rows == [tuple(int(x) if not isinstance(x, bool) else x for x in r) for r in expected]


@settings(max_examples=200, deadline=None)
@given(logs())
def test_time_contacts_matches_twin_and_sums_to_duration(log):
    offsets, codes, ts, end, owners, routes = log
    per, handle = time_contacts(offsets, codes, ts, end, owners, 3, ROLES, NO_TIME)
    want_per, want_handle = twin_times(offsets, codes, ts, end, owners, 3)
    np.testing.assert_allclose(per, want_per, atol=1e-9)
    np.testing.assert_allclose(handle, want_handle, atol=1e-9)
    for i in range(len(offsets) - 1):
        s, e = offsets[i], offsets[i + 1]
        last = max(max(twin_stop(ts, end, j, e), ts[j]) for j in range(s, e))
        assert abs(per[i].sum() - (last - ts[s]) * 1e-9) < 1e-6


def test_bot_handoff_with_context_loss_by_hand():
    # bot (owner 0): talk, verify; agent (owner 1): talk, verify again, other; transfer to route 1 and back to 0
    codes = np.array([0, 1, 0, 1, 3, 2, 0, 2, 0], dtype=np.int32)
    ts = np.arange(9, dtype=np.int64) * 60 * 10**9
    end = np.full(9, NO_TIME, dtype=np.int64)
    owners = np.array([0, 0, 1, 1, 1, 1, 1, 1, 1], dtype=np.int32)
    routes = np.array([0, 0, 0, 0, 0, 0, 1, 1, 0], dtype=np.int32)
    got = scan_handoffs(np.array([0, 9], dtype=np.int64), codes, ts, end, owners, routes, ROLES, NO_TIME)
    case, kind, frm, to, delay, loss, ping, event = (a.tolist() for a in got)
    assert kind == [0, 1, 1]
    assert (frm, to) == ([0, 0, 1], [1, 1, 0])
    assert loss == [3, -1, -1]       # the second verify, right after the bot handed over
    assert ping == [False, False, True]
    assert event == [2, 6, 8]
    assert delay == [0, 60 * 10**9, 60 * 10**9]


@settings(max_examples=100, deadline=None)
@given(logs(), st.integers(0, 8))
def test_handoff_records_of_two_parts_add_up_to_the_whole(log, cut):
    from engine.analyses.handoffs import Handoffs
    offsets, codes, ts, end, owners, routes = log
    n = len(offsets) - 1
    cut = min(cut, n)

    def scan(lo, hi):
        a, b = offsets[lo], offsets[hi]
        got = scan_handoffs(offsets[lo:hi + 1] - a, codes[a:b], ts[a:b], end[a:b], owners[a:b], routes[a:b], ROLES,
                            NO_TIME)
        case, kind, frm, to, delay, loss, ping, event = got
        return Handoffs(case, kind, frm, to, delay, loss, ping, event, (("o0", "o1", "o2"), ("r0", "r1", "r2")),
                        hi - lo, int(b - a))
    whole, parts = scan(0, n), scan(0, cut) + scan(cut, n)
    for name in ("case", "kind", "frm", "to", "delay_ns", "loss_event", "ping_pong", "event"):
        np.testing.assert_array_equal(getattr(parts, name), getattr(whole, name))
    assert (parts.n_cases, parts.n_events) == (whole.n_cases, whole.n_events)


def test_more_handoffs_than_events_fit():
    """Every event both changes owner and (as a transfer) route: 6 handoffs in 4 events, none lost."""
    from engine.kernels.kpis import ROLE_TRANSFER
    roles = np.array([ROLE_TRANSFER], dtype=np.int8)
    offsets = np.array([0, 4], dtype=np.int64)
    ts = np.arange(4, dtype=np.int64) * 10**9
    flip = np.array([0, 1, 0, 1], dtype=np.int32)
    case, kind, frm, to, *_ = scan_handoffs(offsets, np.zeros(4, np.int32), ts, np.empty(0, np.int64), flip, flip,
                                            roles, NO_TIME)
    assert kind.tolist() == [0, 0, 0, 1, 1, 1]
    assert frm.tolist() == [0, 1, 0, 0, 1, 0] and to.tolist() == [1, 0, 1, 1, 0, 1]
