"""Handoff kernels: every change of owner or route inside a contact, and each contact's time per owner.

Role codes follow ``engine.vocabulary.ROLES`` (the analysis checks them
against ``engine.kernels.kpis``). Times are int64 nanoseconds; the per-owner
times are float64 seconds, one row per contact, so slices of cases give the
same rows as the whole log.
"""

import numpy as np
from numba import prange

from engine.kernels import N_CHUNKS, kernel, parallel_kernel
from engine.kernels.kpis import ROLE_HOLD, ROLE_QUEUE, ROLE_TALK, ROLE_TRANSFER, ROLE_VERIFY, ROLE_WRAPUP

ROLE_OTHER = 13
KIND_OWNER = 0
KIND_ROUTE = 1


@kernel
def _stop(timestamps, end_timestamps, no_time, j, e):
    if len(end_timestamps) and end_timestamps[j] != no_time and end_timestamps[j] >= timestamps[j]:
        return end_timestamps[j]
    if j + 1 < e:
        return timestamps[j + 1]
    return timestamps[j]


@kernel
def _lost_context(codes, roles, first_seen, j, stop):
    """Whether, from event j (the first after a handoff) up to ``stop``, the customer identifies again
    (a verify step that already ran in the contact) or a procedure step (role other) done before j is
    repeated: the event where it happens, or -1. first_seen: each activity's first event in the contact."""
    for m in range(j, stop):
        r = roles[codes[m]]
        if r == ROLE_VERIFY and first_seen[codes[m]] < m:
            return m
        if r == ROLE_OTHER and 0 <= first_seen[codes[m]] < j:
            return m
    return -1


@kernel
def _visited(vals, s, stop, v):
    """Whether code v occurs in vals[s:stop]."""
    for m in range(s, stop):
        if vals[m] == v:
            return True
    return False


@kernel
def _route_handoff(vals, s, e, j):
    """(from route, first event of the next route) of the transfer at event j, or (-1, -1) when the
    transfer does not change the route."""
    current = -1
    for m in range(j, s - 1, -1):
        if vals[m] >= 0:
            current = vals[m]
            break
    for m in range(j + 1, e):
        if vals[m] >= 0:
            if current < 0 or vals[m] == current:
                return -1, -1
            return current, m
    return -1, -1


@kernel
def scan_handoffs(case_offsets, codes, timestamps, end_timestamps, owners, routes, roles, no_time):
    """Every handoff of every case, in case order, owner handoffs of a case before its route handoffs.

    case_offsets: int64[n_cases+1]; codes: int32[n_events]; timestamps: int64[n_events] ns;
    end_timestamps: int64[n_events] (no_time where unknown) or empty; owners, routes: int32[n_events]
    codes (-1 unknown) or empty; roles: int8[n_activities] role per activity code.

    An owner handoff (kind 0) is an event whose owner differs from the owner of the last earlier
    event that has one; its delay runs from the end of that event to the start of this one. A
    route handoff (kind 1) is a transfer step after which the next event with a route has
    another route than the one in force at the transfer; its delay runs from the transfer's
    start to that event. Ping-pong: the receiving owner (route) was visited earlier in the
    contact (before the last event of the one handing over; for routes, before the transfer).
    Context loss: see ``_lost_context``, over the events up to the next handoff of the same kind.

    Returns (case int64, kind int8, from int32, to int32, delay_ns int64, context_loss_at int64 (the
    event that repeats, -1 for none), ping_pong bool, event int64 (the first event after the
    handoff)), one entry per handoff.
    """
    n = len(case_offsets) - 1
    n_ev = len(codes)
    # each event starts at most one handoff of each kind: 2 * n_ev rows bound both kinds together
    rows = np.empty((2 * n_ev, 7), dtype=np.int64)  # case, kind, from, to, delay, ping-pong, event
    out_loss = np.empty(2 * n_ev, dtype=np.int64)
    first_seen = np.full(len(roles), -1, dtype=np.int64)
    k = 0
    for i in range(n):
        s = case_offsets[i]
        e = case_offsets[i + 1]
        for j in range(s, e):
            if first_seen[codes[j]] < s:
                first_seen[codes[j]] = j
        for kind in range(2):
            vals = owners if kind == KIND_OWNER else routes
            if len(vals) == 0:
                continue
            last = -1
            last_at = -1
            start_k = k
            for j in range(s, e):
                frm = -1
                at = -1
                delay = np.int64(0)
                ping = False
                if kind == KIND_OWNER:
                    if vals[j] < 0:
                        continue
                    if last >= 0 and vals[j] != last:
                        frm = last
                        at = j
                        delay = timestamps[j] - _stop(timestamps, end_timestamps, no_time, last_at, e)
                        ping = _visited(vals, s, last_at, vals[j])
                    last = vals[j]
                    last_at = j
                elif roles[codes[j]] == ROLE_TRANSFER:
                    frm, at = _route_handoff(vals, s, e, j)
                    if at >= 0:
                        delay = timestamps[at] - timestamps[j]
                        ping = _visited(vals, s, j, vals[at])
                if at < 0:
                    continue
                rows[k, 0] = i
                rows[k, 1] = kind
                rows[k, 2] = frm
                rows[k, 3] = vals[at]
                rows[k, 4] = delay if delay > 0 else 0
                rows[k, 5] = 1 if ping else 0
                rows[k, 6] = at
                k += 1
            # context loss: from each handoff's first event up to the next handoff of this kind
            for h in range(start_k, k):
                stop = rows[h + 1, 6] if h + 1 < k else e
                out_loss[h] = _lost_context(codes, roles, first_seen, rows[h, 6], stop)
    return (rows[:k, 0].copy(), rows[:k, 1].astype(np.int8), rows[:k, 2].astype(np.int32),
            rows[:k, 3].astype(np.int32), rows[:k, 4].copy(), out_loss[:k].copy(), rows[:k, 5] == 1,
            rows[:k, 6].copy())


@parallel_kernel
def time_contacts(case_offsets, codes, timestamps, end_timestamps, owners, n_owners, roles, no_time):
    """Each contact's elapsed time per owner and its handle time, in seconds.

    owners: int32[n_events] owner codes (-1 unknown), n_owners: int. Each event's time is its
    length (to its end, else to the next event) plus the wait before it (from the end of the
    event before): the wait is charged to the owner the contact was waiting for. Column
    n_owners holds the events without an owner, column n_owners+1 the queue steps (the customer
    waits for an agent: no owner's work). The row sums are the contact's duration (first start
    to last stop). Handle time: the lengths of talk, hold and wrap-up steps.
    Returns (float64[n_cases, n_owners+2], float64[n_cases]).
    """
    n = len(case_offsets) - 1
    out = np.zeros((n, n_owners + 2), dtype=np.float64)
    handle = np.zeros(n, dtype=np.float64)
    step = (n + N_CHUNKS - 1) // N_CHUNKS
    for c in prange(N_CHUNKS):
        for i in range(c * step, min(n, (c + 1) * step)):
            s = case_offsets[i]
            e = case_offsets[i + 1]
            reached = timestamps[s] if e > s else np.int64(0)
            for j in range(s, e):
                t1 = _stop(timestamps, end_timestamps, no_time, j, e)
                stop = t1 if t1 > reached else reached
                spent = stop - reached
                reached = stop
                o = owners[j]
                r = roles[codes[j]]
                col = n_owners + 1 if r == ROLE_QUEUE else (o if o >= 0 else n_owners)
                out[i, col] += spent * 1e-9
                if r == ROLE_TALK or r == ROLE_HOLD or r == ROLE_WRAPUP:
                    length = t1 - timestamps[j]
                    if length > 0:
                        handle[i] += length * 1e-9
    return out, handle
