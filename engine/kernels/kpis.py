"""Process-health KPI kernels: per-contact measures accumulated per segment slot.

Role codes follow the order of ``engine.vocabulary.ROLES``; the analysis layer
checks that order against the constants below. Every measure is an int64
count or a sum of whole microseconds, so slot totals add up exactly across
partitions of cases and do not depend on the thread count.
"""

import numpy as np
from numba import prange

from engine.kernels import kernel, parallel_kernel

ROLE_QUEUE = 3
ROLE_TALK = 4
ROLE_HOLD = 5
ROLE_VERIFY = 6
ROLE_TRANSFER = 7
ROLE_ESCALATE = 8
ROLE_RESOLVE = 9
ROLE_WRAPUP = 10

MEASURES = (
    "contacts", "events", "handled", "talk_us", "hold_us", "acw_us",
    "with_customer", "repeated", "resolved", "resolved_with_customer", "resolved_not_repeated",
    "transfers", "with_transfer", "handoffs", "ping_pongs", "with_ping_pong",
    "escalated", "journey_starts", "compliance_scope", "compliant",
    "reidentification_scope", "reidentified", "holds", "with_hold",
    "channel_switches_within", "with_channel_switch_within", "with_previous_contact",
    "channel_switched_from_previous", "queued", "queue_us", "duration_us",
)
N_MEASURES = len(MEASURES)

LINK_REPEATED = 0
LINK_HAS_PREVIOUS = 1
LINK_CHANNEL_SWITCH = 2


@kernel
def link_contacts(customer, start, channel, window_ns):
    """Repeat-contact links between the contacts of each customer.

    customer: int32[n_cases], -1 where unknown; start: int64[n_cases] first event time;
    channel: int32[n_cases] first channel code, -1 where unknown; window_ns: int64.
    Returns int8[n_cases, 3]: [i, 0] = 1 when the customer's next contact starts
    within window_ns after contact i started; [i, 1] = 1 when the customer's
    previous contact started within window_ns before i; [i, 2] = 1 when moreover
    both channels are known and differ. Ties in start are broken by case order.
    """
    n = len(customer)
    links = np.zeros((n, 3), dtype=np.int8)
    n_cust = 0
    for i in range(n):
        if customer[i] + 1 > n_cust:
            n_cust = customer[i] + 1
    counts = np.zeros(n_cust + 1, dtype=np.int64)
    for i in range(n):
        if customer[i] >= 0:
            counts[customer[i] + 1] += 1
    for c in range(n_cust):
        counts[c + 1] += counts[c]
    order = np.empty(counts[n_cust], dtype=np.int64)
    cursor = counts[:-1].copy()
    for i in range(n):
        c = customer[i]
        if c >= 0:
            order[cursor[c]] = i
            cursor[c] += 1
    for c in range(n_cust):
        s = counts[c]
        e = counts[c + 1]
        if e - s < 2:
            continue
        group = order[s:e]
        monotone = True
        for k in range(1, e - s):
            if start[group[k]] < start[group[k - 1]]:
                monotone = False
                break
        if not monotone:
            group = group[np.argsort(start[group], kind="mergesort")]
        for k in range(1, e - s):
            a = group[k - 1]
            b = group[k]
            if start[b] - start[a] <= window_ns:
                links[a, LINK_REPEATED] = 1
                links[b, LINK_HAS_PREVIOUS] = 1
                if channel[a] >= 0 and channel[b] >= 0 and channel[a] != channel[b]:
                    links[b, LINK_CHANNEL_SWITCH] = 1
    return links


@kernel
def _stop(timestamps, end_timestamps, has_end, no_time, j, e):
    if has_end and end_timestamps[j] != no_time:
        return end_timestamps[j]
    if j + 1 < e:
        return timestamps[j + 1]
    return timestamps[j]


@kernel
def _returns_to_visited(routes, s, e, j):
    """Whether the transfer at event j sends the contact back to a route (queue) it left before.

    Destination: the route of the next event after j that has one; it must
    differ from the route in force at the transfer and appear before it.
    """
    dest = -1
    for k in range(j + 1, e):
        if routes[k] >= 0:
            dest = routes[k]
            break
    if dest < 0:
        return False
    current = -1
    for k in range(j, s - 1, -1):
        if routes[k] >= 0:
            current = routes[k]
            break
    if dest == current:
        return False
    for k in range(s, j):
        if routes[k] == dest:
            return True
    return False


@kernel
def _measure_case(i, case_offsets, codes, timestamps, end_timestamps, roles, critical_bits, scope_steps,
                  owners, routes, channels, no_time, out):
    s = case_offsets[i]
    e = case_offsets[i + 1]
    has_end = len(end_timestamps) > 0
    has_owner = len(owners) > 0
    has_route = len(routes) > 0
    has_channel = len(channels) > 0
    talk = np.int64(0)
    hold = np.int64(0)
    acw = np.int64(0)
    queue = np.int64(0)
    handled = False
    resolved = False
    escalated = False
    transfers = 0
    holds = 0
    queued = False
    seen = np.uint64(0)
    in_scope = False
    verified = False
    handoff_since_verify = False
    reident_scope = False
    reidentified = False
    handoffs = 0
    ping_pongs = 0
    last_owner = -1
    last_channel = -1
    channel_switches = 0
    talk_start = np.int64(0)
    talk_stop = np.int64(-1)
    first = timestamps[s] if e > s else np.int64(0)
    last = first
    for j in range(s, e):
        r = roles[codes[j]]
        t0 = timestamps[j]
        t1 = _stop(timestamps, end_timestamps, has_end, no_time, j, e)
        length = t1 - t0 if t1 > t0 else np.int64(0)
        if t1 > last:
            last = t1
        if t0 > last:
            last = t0
        seen |= critical_bits[codes[j]]
        if scope_steps[codes[j]] != 0:
            in_scope = True
        handoff = False
        if r == ROLE_TALK:
            handled = True
            talk += length
            talk_start = t0
            talk_stop = t0 + length
        elif r == ROLE_HOLD:
            hold += length
            holds += 1
            lo = t0 if t0 > talk_start else talk_start
            hi = t0 + length if t0 + length < talk_stop else talk_stop
            if hi > lo:
                talk -= hi - lo
        elif r == ROLE_WRAPUP:
            acw += length
        elif r == ROLE_QUEUE:
            queue += length
            queued = True
        elif r == ROLE_TRANSFER:
            transfers += 1
            handoff = True
            if has_route and _returns_to_visited(routes, s, e, j):
                ping_pongs += 1
        elif r == ROLE_ESCALATE:
            escalated = True
        elif r == ROLE_RESOLVE:
            resolved = True
        if has_owner:
            o = owners[j]
            if o >= 0:
                if last_owner >= 0 and o != last_owner:
                    handoffs += 1
                    handoff = True
                last_owner = o
        if has_channel:
            ch = channels[j]
            if ch >= 0:
                if last_channel >= 0 and ch != last_channel:
                    channel_switches += 1
                last_channel = ch
        if handoff and verified:
            handoff_since_verify = True
            reident_scope = True
        if r == ROLE_VERIFY:
            if verified and handoff_since_verify:
                reidentified = True
            verified = True
            handoff_since_verify = False
    out[0] += 1
    out[1] += e - s
    if handled:
        out[2] += 1
        out[3] += talk // 1000
        out[4] += hold // 1000
        out[5] += acw // 1000
    return (handled, resolved, escalated, transfers, holds, queued, queue, seen, reident_scope, reidentified,
            handoffs, ping_pongs, channel_switches, last - first, in_scope)


@parallel_kernel
def measure_contacts(case_offsets, activity_codes, timestamps, end_timestamps, roles, critical_bits, critical_mask,
                     scope_steps, use_scope, owners, routes, channels, customer, links, slots, n_slots, n_chunks,
                     no_time):
    """Per-slot sums of the per-contact measures listed in MEASURES.

    case_offsets: int64[n_cases+1]; activity_codes: int32[n_events];
    timestamps: int64[n_events] ns; end_timestamps: int64[n_events] (no_time where
    unknown) or empty; roles: int8[n_activities] role code per activity;
    critical_bits: uint64[n_activities] bit of the critical step an activity is
    (0 if none); critical_mask: uint64, all critical bits (0: no compliance);
    scope_steps: int8[n_activities], 1 for the steps that put a contact in the
    compliance scope; use_scope: bool, False = every handled contact is in scope;
    owners, routes, channels: int32[n_events] codes (-1 empty) or empty arrays
    (owners: step owner, for handoffs; routes: queue or team, for ping-pong);
    customer: int32[n_cases] (-1 unknown); links: int8[n_cases, 3] from link_contacts;
    slots: int32[n_cases, S] slot of each case in each segmentation (-1: none).
    Returns int64[n_slots, N_MEASURES].
    """
    n = len(case_offsets) - 1
    S = slots.shape[1]
    acc = np.zeros((n_chunks, n_slots, N_MEASURES), dtype=np.int64)
    step = (n + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        lo = c * step
        hi = min(n, lo + step)
        row = np.zeros(N_MEASURES, dtype=np.int64)
        for i in range(lo, hi):
            row[:] = 0
            (handled, resolved, escalated, transfers, holds, queued, queue, seen, reident_scope, reidentified,
             handoffs, ping_pongs, channel_switches, duration, in_scope) = _measure_case(
                i, case_offsets, activity_codes, timestamps, end_timestamps, roles, critical_bits, scope_steps,
                owners, routes, channels, no_time, row)
            repeated = links[i, LINK_REPEATED] == 1
            has_customer = customer[i] >= 0
            if has_customer:
                row[6] = 1
                row[7] = 1 if repeated else 0
            if resolved:
                row[8] = 1
                if has_customer:
                    row[9] = 1
                    row[10] = 0 if repeated else 1
            row[11] = transfers
            row[12] = 1 if transfers > 0 else 0
            row[13] = handoffs
            row[14] = ping_pongs
            row[15] = 1 if ping_pongs > 0 else 0
            row[16] = 1 if escalated else 0
            row[17] = 0 if (has_customer and links[i, LINK_HAS_PREVIOUS] == 1) else 1
            if critical_mask != 0 and handled and (in_scope or not use_scope):
                row[18] = 1
                row[19] = 1 if (seen & critical_mask) == critical_mask else 0
            row[20] = 1 if reident_scope else 0
            row[21] = 1 if reidentified else 0
            row[22] = holds
            row[23] = 1 if holds > 0 else 0
            row[24] = channel_switches
            row[25] = 1 if channel_switches > 0 else 0
            if has_customer:
                row[26] = links[i, LINK_HAS_PREVIOUS]
                row[27] = links[i, LINK_CHANNEL_SWITCH]
            if queued:
                row[28] = 1
                row[29] = queue // 1000
            row[30] = duration // 1000
            for k in range(S):
                sl = slots[i, k]
                if sl >= 0:
                    for m in range(N_MEASURES):
                        acc[c, sl, m] += row[m]
    return acc.sum(axis=0)
