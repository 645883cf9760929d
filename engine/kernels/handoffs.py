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
def scan_handoffs(case_offsets, codes, timestamps, end_timestamps, owners, routes, roles, no_time):
    """Every handoff of every case, in case and event order.

    case_offsets: int64[n_cases+1]; codes: int32[n_events]; timestamps: int64[n_events] ns;
    end_timestamps: int64[n_events] (no_time where unknown) or empty; owners, routes: int32[n_events]
    codes (-1 unknown) or empty; roles: int8[n_activities] role per activity code.

    An owner handoff (kind 0) is an event whose owner differs from the owner of the last earlier
    event that has one; its delay runs from the end of that event to the start of this one. A
    route handoff (kind 1) is a transfer step after which the next event with a route has
    another route than the one in force at the transfer; its delay runs from the transfer's
    start to that event. Ping-pong: the receiving owner (route) was visited earlier in the
    contact. Context loss: see ``_lost_context``, over the events up to the next handoff of
    the same kind.

    Returns (case int64, kind int8, from int32, to int32, delay_ns int64, context_loss_at int64 (the
    event that repeats, -1 for none), ping_pong bool, event int64), one entry per handoff.
    """
    n = len(case_offsets) - 1
    n_ev = len(codes)
    out_case = np.empty(n_ev, dtype=np.int64)
    out_kind = np.empty(n_ev, dtype=np.int8)
    out_from = np.empty(n_ev, dtype=np.int32)
    out_to = np.empty(n_ev, dtype=np.int32)
    out_delay = np.empty(n_ev, dtype=np.int64)
    out_loss = np.empty(n_ev, dtype=np.int64)
    out_ping = np.empty(n_ev, dtype=np.bool_)
    out_event = np.empty(n_ev, dtype=np.int64)
    n_act = len(roles)
    first_seen = np.full(n_act, -1, dtype=np.int64)
    k = 0
    has_owner = len(owners) > 0
    has_route = len(routes) > 0
    for i in range(n):
        s = case_offsets[i]
        e = case_offsets[i + 1]
        for j in range(s, e):
            c = codes[j]
            if first_seen[c] < s:
                first_seen[c] = j
        for kind in range(2):
            if (kind == KIND_OWNER and not has_owner) or (kind == KIND_ROUTE and not has_route):
                continue
            vals = owners if kind == KIND_OWNER else routes
            last = -1
            last_at = -1
            start_k = k
            for j in range(s, e):
                v = vals[j]
                if kind == KIND_OWNER:
                    if v < 0:
                        continue
                    if last >= 0 and v != last:
                        delay = timestamps[j] - _stop(timestamps, end_timestamps, no_time, last_at, e)
                        out_case[k] = i
                        out_kind[k] = kind
                        out_from[k] = last
                        out_to[k] = v
                        out_delay[k] = delay if delay > 0 else 0
                        out_event[k] = j
                        ping = False
                        for m in range(s, last_at):
                            if vals[m] == v:
                                ping = True
                                break
                        out_ping[k] = ping
                        k += 1
                    last = v
                    last_at = j
                elif roles[codes[j]] == ROLE_TRANSFER:
                    current = -1
                    for m in range(j, s - 1, -1):
                        if vals[m] >= 0:
                            current = vals[m]
                            break
                    dest_at = -1
                    for m in range(j + 1, e):
                        if vals[m] >= 0:
                            dest_at = m
                            break
                    if current < 0 or dest_at < 0 or vals[dest_at] == current:
                        continue
                    dest = vals[dest_at]
                    delay = timestamps[dest_at] - timestamps[j]
                    out_case[k] = i
                    out_kind[k] = kind
                    out_from[k] = current
                    out_to[k] = dest
                    out_delay[k] = delay if delay > 0 else 0
                    out_event[k] = dest_at
                    ping = False
                    for m in range(s, j):
                        if vals[m] == dest:
                            ping = True
                            break
                    out_ping[k] = ping
                    k += 1
            # context loss: from each handoff's first event up to the next handoff of this kind
            for h in range(start_k, k):
                stop = out_event[h + 1] if h + 1 < k else e
                out_loss[h] = _lost_context(codes, roles, first_seen, out_event[h], stop)
    return (out_case[:k].copy(), out_kind[:k].copy(), out_from[:k].copy(), out_to[:k].copy(),
            out_delay[:k].copy(), out_loss[:k].copy(), out_ping[:k].copy(), out_event[:k].copy())


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
