"""Amazon Connect adapters: contact records (CTR) and EventBridge contact events.

Two readers:

``amazon-connect``
    Contact records as the contact-record data stream (Kinesis / Firehose)
    exports them: one JSON record per line, JSON arrays, or records written back
    to back without separators (Firehose to S3); gzip too. Each record is one
    *leg* of a contact. Legs linked by ``PreviousContactId`` / ``NextContactId``
    / ``InitialContactId`` whose ``InitiationMethod`` is ``TRANSFER``,
    ``QUEUE_TRANSFER`` or ``MONITOR`` belong to the contact that started the
    chain and become one case; the boundary between two legs is a ``Transfer``,
    ``Consult`` or ``Conference`` event (see ``classify_handoffs``). Callback,
    outbound, API and disconnect-flow legs are new contacts; their link to the
    earlier contact is kept in ``previous_contact_id`` / ``initial_contact_id``
    so that ``--case journey`` chains them.

``amazon-connect-events``
    EventBridge "Amazon Connect Contact Event" messages (with or without the
    envelope): INITIATED, CONNECTED_TO_SYSTEM, QUEUED, CONNECTED_TO_AGENT,
    DISCONNECTED, ... The messages of one contact are merged: each milestone
    (initiation, connected to system, enqueue, connected to agent,
    disconnect) comes from whichever message carries it (a DISCONNECTED
    message carries them all), and the contact gets ``Contact initiated`` (or
    ``Transfer`` for a transfer leg), ``Outbound call``, ``Queue`` (enqueue to
    agent or disconnect), ``Agent answer`` (to disconnect), ``Abandon`` or
    ``Disconnect``; an end time earlier than its start is left unknown. Other
    event types stay one event per message.

Events of one leg (times from the record's own fields):

=================  ===========================================================
``IVR menu``       voice: ConnectedToSystem (or Initiation) -> Enqueue (or
                   agent / disconnect) for inbound, API and disconnect-flow legs
``Bot intent``     the same span for chat legs
``Outbound call``  outbound / callback legs: Initiation -> ConnectedToSystem
``Queue``          Queue.EnqueueTimestamp -> Queue.DequeueTimestamp
``Agent answer``   Agent.ConnectedToAgentTimestamp -> ACW start (or disconnect)
``Wrap-up``        Agent.AfterContactWorkStart -> AfterContactWorkEnd
``Transfer``       at a transfer leg's InitiationTimestamp, or an external
                   transfer (TransferredToEndpoint) at TransferCompleted
``Abandon``        queued, never connected to an agent, disconnected
``Disconnect``     the last leg's DisconnectTimestamp
=================  ===========================================================

Holds: a contact record carries only ``NumberOfHolds`` and
``CustomerHoldDuration``, not when the holds happened, so they are kept as
attributes (``number_of_holds``, ``customer_hold_seconds``) of the ``Agent
answer`` event rather than invented as timed events.

Step trail: a record whose contact attributes carry ``cxmine_steps`` (written
by agent desktops or flows that log each procedure step, and by
``engine.simulate.vendor``) gets its events from that trail instead:
``activity|start_ms|end_ms|owner|resource`` entries separated by ``;`` (epoch
milliseconds; ``%``, ``|`` and ``;`` inside a field percent-encoded). A contact
record has no field for procedure steps such as ``Verify identity``; the trail
is how they reach the log.

Contact attributes named ``team``, ``site``, ``shift`` or ``queue`` fill those
columns for events whose record gives none (flows often set them).

Owners: flow steps -> ``Self-service``; Queue -> the queue's name; agent steps
-> the agent's team, which is the deepest agent hierarchy group (Level5 ..
Level1; the routing profile when there is none); the shallowest group, when
there are two or more levels, is the ``site``.

Privacy: ``CustomerEndpoint.Address`` (or ``CustomerId``) becomes the
pseudonymised ``customer_id``; system and transfer endpoints are pseudonymised
too; contact attributes are scrubbed with ``scrub_identifiers``. Refused records
are written to the rejects file scrubbed the same way.

Accounting: a record is one JSON object. Refused, with the reason: a record
that is not a contact record (agent event stream, Lambda contact-flow event,
Streams agent snapshot, SNS message, Cases event, ...), a record without
ContactId or InitiationTimestamp, a timestamp that cannot be read, a
disconnect before the initiation, and the second and later copies of a
ContactId (the copy with the latest ``LastUpdateTimestamp`` is kept, as the
contact-record documentation advises).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.ingest import ReadOptions, ReadResult, register_reader
from engine.ingest.json_records import sniff_vendor  # noqa: F401  (engine.ingest.detect_format imports it from here)
from engine.ingest.pseudonym import pseudonymise
from engine.ingest.vendor_events import (
    NAT, PII_KEYS, SELF_SERVICE, STEP_ATTRIBUTE, TS, EventParts, as_bool_mask, as_int64, col_or_null, empty_events,
    empty_to_null, fill_from_attributes, join_leg_columns, latest_copies, open_export, parse_step_trail, parse_times,
    scrub_column)

MERGED_METHODS = ("TRANSFER", "QUEUE_TRANSFER", "MONITOR")
CHUNK = 100_000   # contact records turned into events per chunk (whole cases), which bounds memory
CHANNELS = {"VOICE": "voice", "CHAT": "chat", "TASK": "task", "EMAIL": "email"}


def resolve_chains(contact_ids: pa.Array, previous: pa.Array, next_ids: pa.Array, initial: pa.Array,
                   methods: pa.Array) -> pa.Array:
    """Case id of each leg: legs started by TRANSFER / QUEUE_TRANSFER / MONITOR join the leg before them.

    Follows PreviousContactId (and, where a leg lacks it, the NextContactId of
    the leg before) to the first leg of the chain within the file; when that
    leg is not in the file, the case is named by the missing leg's id.
    """
    n = len(contact_ids)
    ids = contact_ids
    prev = previous
    # NextContactId of A = B gives B's previous = A where B does not say
    nxt_valid = as_bool_mask(pc.is_valid(next_ids))
    if nxt_valid.any():
        owners_of_next = np.flatnonzero(nxt_valid)
        pos = _positions(next_ids.filter(pa.array(nxt_valid)), ids)
        fill_idx = np.full(n, -1, np.int64)
        hit = pos >= 0
        fill_idx[pos[hit]] = owners_of_next[hit]
        from_next = pc.take(ids, pa.array(np.maximum(fill_idx, 0)))
        from_next = pc.if_else(pa.array(fill_idx >= 0), from_next, pa.nulls(n, pa.string()))
        prev = pc.coalesce(prev, from_next)
    merged = as_bool_mask(pc.is_in(pc.utf8_upper(pc.fill_null(methods, "")), value_set=pa.array(MERGED_METHODS)))
    merged &= as_bool_mask(pc.is_valid(prev))
    parent = _positions(prev, ids)
    self_idx = np.arange(n, dtype=np.int64)
    p = np.where(merged & (parent >= 0), parent, self_idx)
    for _ in range(64):
        q = p[p]
        if np.array_equal(q, p):
            break
        p = q
    else:
        p = np.where(p[p] == p, p, self_idx)   # cycles: each leg stays its own case
    root = p
    # a merged root whose previous leg is missing from the file: name the case after the missing leg
    root_merged = merged[root] & (parent[root] < 0)
    case = pc.take(ids, pa.array(root))
    missing_name = pc.take(pc.coalesce(initial, prev), pa.array(root))
    return pc.if_else(pa.array(root_merged), missing_name, case)


def _positions(values: pa.Array, value_set: pa.Array) -> np.ndarray:
    """Index of each value in value_set (-1 where absent or null)."""
    pos = pc.fill_null(pc.index_in(values, value_set=value_set), -1)
    return pos.to_numpy(zero_copy_only=False).astype(np.int64)


def classify_handoffs(first_acw: np.ndarray, second_acw: np.ndarray, first_hold_s: np.ndarray,
                      second_talk_s: np.ndarray) -> np.ndarray:
    """Kind of each consultative handoff between two linked legs: 0 transfer, 1 consult, 2 conference.

    Following the contact-record documentation on conferences and transfers:
    the initiating agent entering after-contact work before the consulted agent
    is a transfer; otherwise the consulted agent left first, and it is a
    consult when the customer was on hold for (at least) the consulted agent's
    interaction, a conference when the customer could talk to both. Unknown
    times (nulls as int64 min) count as a transfer.
    """
    nat = np.iinfo(np.int64).min
    known = (first_acw != nat) & (second_acw != nat)
    transfer = ~known | (first_acw <= second_acw)
    consult = ~transfer & (first_hold_s >= np.maximum(second_talk_s, 0))
    return np.where(transfer, 0, np.where(consult, 1, 2)).astype(np.int8)


def _num(table: pa.Table, name: str) -> np.ndarray:
    """A numeric field of each record (numbers written as text too); 0 where absent or not a number."""
    col = col_or_null(table, name, type_=pa.float64())
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        col = pc.cast(pc.if_else(pc.match_substring_regex(pc.cast(col, pa.string()), r"^-?\d+(\.\d+)?$"),
                                 pc.cast(col, pa.string()), pa.nulls(len(col), pa.string())), pa.float64())
    return pc.fill_null(pc.cast(col, pa.float64()), 0.0).to_numpy(zero_copy_only=False)


CONSUMED_CTR = {
    "ContactId", "InitialContactId", "PreviousContactId", "NextContactId", "Channel", "InitiationMethod",
    "InitiationTimestamp", "ConnectedToSystemTimestamp", "DisconnectTimestamp", "DisconnectReason",
    "Queue.Name", "Queue.EnqueueTimestamp", "Queue.DequeueTimestamp", "Agent.Username",
    "Agent.ConnectedToAgentTimestamp", "Agent.AfterContactWorkStartTimestamp", "Agent.AfterContactWorkEndTimestamp",
    "Agent.NumberOfHolds", "Agent.CustomerHoldDuration", "CustomerEndpoint.Address", "CustomerEndpoint.Type",
    "CustomerId", "TransferCompletedTimestamp", "TransferredToEndpoint.Address", f"Attributes.{STEP_ATTRIBUTE}",
}


def _not_a_contact_reason(table: pa.Table) -> pa.Array:
    """Per row, why a record without ContactId is not a contact record."""
    n = table.num_rows
    reason = pa.nulls(n, pa.string())
    checks = [
        (("CurrentAgentSnapshot.", "PreviousAgentSnapshot.", "AgentARN"),
         "not a contact record: an agent event stream record"),
        (("Details.ContactData.",), "not a contact record: a Lambda contact-flow event (Details.ContactData); "
                                    "export contact records from the contact-record data stream instead"),
        (("snapshotTimestamp", "contacts"), "not a contact record: an Amazon Connect Streams agent snapshot"),
        (("TopicArn", "MessageId"), "not a contact record: an SNS message"),
        (("Contacts",), "not a contact record: contact states from the agent event stream"),
    ]
    for prefixes, text in reversed(checks):
        cols = [c for c in table.column_names if any(c.startswith(p) or f".{p}" in c for p in prefixes)]
        if not cols:
            continue
        hit = pc.is_valid(table.column(cols[0]).combine_chunks())
        for c in cols[1:]:
            hit = pc.or_(hit, pc.is_valid(table.column(c).combine_chunks()))
        reason = pc.if_else(hit, pa.scalar(text), reason)
    if "eventType" in table.column_names:
        reason = pc.if_else(pc.is_valid(table.column("eventType").combine_chunks()), pa.scalar(
            "not a contact record: an Amazon Connect contact event; read contact events in the "
            "amazon-connect-events format"), reason)
    if "detail-type" in table.column_names:
        dtype = col_or_null(table, "detail-type")
        text = pc.binary_join_element_wise(pa.scalar("not a contact record: an EventBridge event ("), dtype,
                                           pa.scalar("); contact events are read in the "
                                                     "amazon-connect-events format"), "")
        reason = pc.if_else(pc.is_valid(dtype), text, reason)
    return reason


CTR_TIMES = ("InitiationTimestamp", "DisconnectTimestamp", "ConnectedToSystemTimestamp", "Queue.EnqueueTimestamp",
             "Queue.DequeueTimestamp", "Agent.ConnectedToAgentTimestamp", "Agent.AfterContactWorkStartTimestamp",
             "Agent.AfterContactWorkEndTimestamp", "TransferCompletedTimestamp")
_INIT, _DISC, _SYS, _ENQ, _DEQ, _AGENT, _ACWS, _ACWE, _XFER = CTR_TIMES


def read_contact_records(path: Path, options: ReadOptions) -> ReadResult:
    """Contact records (CTR) of one export into canonical events (see the module docstring)."""
    export = open_export(path, options, "Amazon Connect contact records", "amazon-connect")
    table, key = export.table, export.key
    if table.num_rows == 0:
        return export.result()
    contact = empty_to_null(col_or_null(table, "ContactId"))
    parsed = {name: parse_times(table, name) for name in CTR_TIMES}
    times = {name: as_int64(ts) for name, (ts, _) in parsed.items()}
    reason = _record_reasons(table, contact, parsed, times)
    updated = as_int64(parse_times(table, "LastUpdateTimestamp")[0])
    reason = pc.coalesce(reason, _duplicate_reason(contact, reason, updated))
    trail, reason = _step_trails(table, reason)
    ok = export.refuse(reason.to_pylist())
    trail.has[~ok] = False
    if not ok.any():
        return export.result()
    # legs -> cases: the chains are resolved over the whole file, then whole cases are turned into
    # events a chunk at a time, which bounds memory
    parts = [_chunk_events(table, keep, contact, times, trail, key) for keep in _case_chunks(table, contact, ok)]
    parts = [t for t in parts if t.num_rows]
    out = pa.concat_tables(parts, promote_options="permissive") if parts else empty_events()
    export.meta["contact_records"] = int(ok.sum())
    return export.result(out)


def _record_reasons(table: pa.Table, contact: pa.Array, parsed: dict, times: dict[str, np.ndarray]) -> pa.Array:
    """Per record, why it is refused (null: accepted so far): not a contact record, missing or bad times."""
    n = table.num_rows
    none = pa.nulls(n, pa.string())
    reason = pc.if_else(pc.or_(pc.is_null(contact), pc.is_valid(col_or_null(table, "eventType"))),
                        _not_a_contact_reason(table), none)
    reason = pc.coalesce(reason, pc.if_else(pc.is_null(contact), pa.scalar("missing required field ContactId"), none))
    for name, (_, bad) in parsed.items():
        reason = pc.coalesce(reason, pc.if_else(bad, pa.scalar(
            f"{name} is not an ISO 8601 time with zone (expected e.g. 2024-05-01T10:00:00Z)"), none))
    reason = pc.coalesce(reason, pc.if_else(pc.is_null(parsed[_INIT][0]), pa.scalar(
        "missing required field InitiationTimestamp"), none))
    t = times
    impossible = (t[_DISC] != NAT) & (t[_INIT] != NAT) & (t[_DISC] < t[_INIT])
    reason = pc.coalesce(reason, pc.if_else(pa.array(impossible), pa.scalar(
        "impossible times: DisconnectTimestamp before InitiationTimestamp"), none))
    backwards = ((t[_DEQ] != NAT) & (t[_ENQ] != NAT) & (t[_DEQ] < t[_ENQ])) | \
                ((t[_ACWE] != NAT) & (t[_ACWS] != NAT) & (t[_ACWE] < t[_ACWS]))
    return pc.coalesce(reason, pc.if_else(pa.array(backwards), pa.scalar(
        "impossible times: a dequeue or after-contact-work end before its start"), none))


def _duplicate_reason(contact: pa.Array, reason: pa.Array, updated: np.ndarray) -> pa.Array:
    """Copies of a ContactId but the one with the latest LastUpdateTimestamp (ties: the later copy)."""
    dup = latest_copies(contact, updated, as_bool_mask(pc.is_null(reason)))
    return pc.if_else(pa.array(dup), pa.scalar("duplicate ContactId (kept the copy with the latest "
                                               "LastUpdateTimestamp)"), pa.nulls(len(contact), pa.string()))


@dataclass
class _Trails:
    """Step trails of the file's records: which records have one, and the events they give."""

    has: np.ndarray                  # bool per record
    event_rows: np.ndarray           # record of each trail event
    columns: dict[str, pa.Array]     # event columns (activity, timestamp, ...)


def _step_trails(table: pa.Table, reason: pa.Array) -> tuple[_Trails, pa.Array]:
    """The trails of records accepted so far; a trail that cannot be read refuses its record."""
    n = table.num_rows
    trail = empty_to_null(col_or_null(table, f"Attributes.{STEP_ATTRIBUTE}"))
    has = as_bool_mask(pc.is_null(reason)) & as_bool_mask(pc.is_valid(trail))
    rows = np.flatnonzero(has)
    event_rows, columns, bad = parse_step_trail(trail.take(pa.array(rows)), rows)
    if len(bad):
        m = np.zeros(n, bool)
        m[bad] = True
        reason = pc.coalesce(reason, pc.if_else(pa.array(m), pa.scalar(
            f"Attributes.{STEP_ATTRIBUTE} is not a step trail (activity|start_ms|end_ms|owner|resource;...)"),
            pa.nulls(n, pa.string())))
        has[bad] = False
    return _Trails(has, event_rows, columns), reason


def _case_chunks(table: pa.Table, contact: pa.Array, ok: np.ndarray):
    """Sorted record rows of about CHUNK accepted records each, a case never split between two."""
    keep_all = np.flatnonzero(ok)
    kp = pa.array(keep_all)
    case_all = resolve_chains(contact.take(kp), empty_to_null(col_or_null(table, "PreviousContactId")).take(kp),
                              empty_to_null(col_or_null(table, "NextContactId")).take(kp),
                              empty_to_null(col_or_null(table, "InitialContactId")).take(kp),
                              pc.utf8_upper(col_or_null(table, "InitiationMethod")).take(kp))
    case_codes = pc.dictionary_encode(case_all).indices.to_numpy(zero_copy_only=False)
    by_case = np.argsort(case_codes, kind="stable")
    sorted_codes = case_codes[by_case]
    lo = 0
    while lo < len(by_case):
        hi = min(lo + CHUNK, len(by_case))
        while hi < len(by_case) and sorted_codes[hi] == sorted_codes[hi - 1]:
            hi += 1
        yield np.sort(keep_all[by_case[lo:hi]])
        lo = hi


def _ts(values: np.ndarray) -> pa.Array:
    return pa.array(values, mask=values == NAT).cast(TS)


@dataclass
class _Legs:
    """The contact records (legs) of one chunk of whole cases, and what their events are built from."""

    kt: pa.Table
    t: dict[str, np.ndarray]         # CTR time field -> int64 ns of each leg (NAT: unknown)
    native: np.ndarray               # legs whose events come from their own fields (no step trail)
    contact: pa.Array
    previous: pa.Array
    method: pa.Array
    merged: np.ndarray               # legs that continue the leg before them (transfer, queue transfer, monitor)
    prev_idx: np.ndarray             # position of that leg in the chunk, -1 when not in it
    queue: pa.Array
    agent: pa.Array
    team: pa.Array
    site: pa.Array

    @classmethod
    def of(cls, table: pa.Table, keep: np.ndarray, contact: pa.Array, times: dict[str, np.ndarray],
           trails: _Trails) -> "_Legs":
        kt = table.take(pa.array(keep))
        contact_k = contact.take(pa.array(keep))
        previous = empty_to_null(col_or_null(kt, "PreviousContactId"))
        method = pc.utf8_upper(col_or_null(kt, "InitiationMethod"))
        merged = as_bool_mask(pc.is_in(pc.fill_null(method, ""), value_set=pa.array(MERGED_METHODS))) & \
            as_bool_mask(pc.is_valid(previous))
        levels = [empty_to_null(col_or_null(kt, f"Agent.HierarchyGroups.Level{i}.GroupName")) for i in range(1, 6)]
        team = pc.coalesce(*reversed(levels), empty_to_null(col_or_null(kt, "Agent.RoutingProfile.Name")))
        n_levels = sum(pc.is_valid(lv).cast(pa.int8()).to_numpy(zero_copy_only=False).astype(int) for lv in levels)
        site = pc.if_else(pa.array(n_levels >= 2), levels[0], pa.nulls(len(keep), pa.string()))
        return cls(kt=kt, t={name: v[keep] for name, v in times.items()}, native=~trails.has[keep],
                   contact=contact_k, previous=previous, method=method, merged=merged,
                   prev_idx=_positions(previous, contact_k), queue=empty_to_null(col_or_null(kt, "Queue.Name")),
                   agent=empty_to_null(col_or_null(kt, "Agent.Username")), team=team, site=site)

    def staff(self, rows: np.ndarray, owner: pa.Array | None = None) -> dict[str, pa.Array]:
        """Owner (the agent's team unless given), resource, queue, team and site of the legs ``rows``."""
        r = pa.array(rows)
        return {"owner": (self.team if owner is None else owner).take(r), "resource": self.agent.take(r),
                "queue": self.queue.take(r), "team": self.team.take(r), "site": self.site.take(r)}


def _chunk_events(table: pa.Table, keep: np.ndarray, contact: pa.Array, times: dict[str, np.ndarray],
                  trails: _Trails, key: bytes) -> pa.Table:
    """Events of the records ``keep`` (whole cases), with the columns of their record."""
    legs = _Legs.of(table, keep, contact, times, trails)
    parts = EventParts()
    is_handoff = _handoff_events(legs, parts)
    has_flow, outbound = _flow_events(legs, parts)
    _agent_events(legs, parts, key)
    _end_events(legs, parts, bare=legs.native & ~has_flow & ~outbound & ~is_handoff)
    in_chunk = np.zeros(len(trails.has), bool)
    in_chunk[keep] = True
    sel = in_chunk[trails.event_rows]
    if sel.any():
        pos = np.searchsorted(keep, trails.event_rows[sel])
        r = pa.array(pos)
        chunk_cols = {name: col.filter(pa.array(sel)) for name, col in trails.columns.items()}
        parts.add(pos, 0, queue=legs.queue.take(r), team=legs.team.take(r), site=legs.site.take(r), **chunk_cols)
    rows, events = parts.build()
    case_id = resolve_chains(legs.contact, legs.previous, empty_to_null(col_or_null(legs.kt, "NextContactId")),
                             empty_to_null(col_or_null(legs.kt, "InitialContactId")), legs.method)
    channel = pc.utf8_lower(pc.utf8_upper(col_or_null(legs.kt, "Channel")))
    leg = _leg_columns(legs.kt, key, case_id, legs.contact, channel,
                       legs.previous, empty_to_null(col_or_null(legs.kt, "InitialContactId")), legs.method)
    return fill_from_attributes(join_leg_columns(events, rows, leg))


def _handoff_events(legs: _Legs, parts: EventParts) -> np.ndarray:
    """Transfer into a merged leg, consult or conference (classified against the leg before); the legs it is on."""
    t, k = legs.t, len(legs.contact)
    is_handoff = legs.merged & legs.native
    hold_s = _num(legs.kt, "Agent.CustomerHoldDuration")
    talk_s = np.where((t[_AGENT] != NAT) & (t[_ACWS] != NAT), (t[_ACWS] - t[_AGENT]) / 1e9, 0.0)
    before = np.maximum(legs.prev_idx, 0)
    first_acw = np.where(legs.prev_idx >= 0, t[_ACWS][before], NAT)
    first_hold = np.where(legs.prev_idx >= 0, hold_s[before], 0.0)
    kind = classify_handoffs(first_acw, t[_ACWS], first_hold, talk_s)
    kind = np.where(legs.method.to_numpy(zero_copy_only=False) == "QUEUE_TRANSFER", 0, kind)
    has_before = pa.array(legs.prev_idx >= 0)
    prev_owner = pc.if_else(has_before, pc.take(pc.coalesce(legs.team, legs.queue), pa.array(before)),
                            pa.nulls(k, pa.string()))
    prev_agent = pc.if_else(has_before, pc.take(legs.agent, pa.array(before)), pa.nulls(k, pa.string()))
    for code, (label, transfer_type) in enumerate((("Transfer", "transfer"), ("Consult", "consult"),
                                                   ("Conference", "conference"))):
        rows = np.flatnonzero(is_handoff & (kind == code))
        if len(rows):
            r = pa.array(rows)
            parts.add(rows, 0, activity=label, timestamp=_ts(t[_INIT][rows]), end_timestamp=pa.nulls(len(rows), TS),
                      owner=prev_owner.take(r), resource=prev_agent.take(r), queue=legs.queue.take(r),
                      team=prev_owner.take(r), site=pa.nulls(len(rows), pa.string()), transfer_type=transfer_type,
                      transfer_to=pc.coalesce(legs.queue, legs.agent).take(r))
    return is_handoff


def _flow_events(legs: _Legs, parts: EventParts) -> tuple[np.ndarray, np.ndarray]:
    """Contact flow (IVR menu, Bot intent, Contact flow), outbound dialling and the queue; (flow, outbound) legs."""
    t, native = legs.t, legs.native
    m = legs.method.to_numpy(zero_copy_only=False)
    m = np.where(m == None, "INBOUND", m)  # noqa: E711
    flow_start = np.where(t[_SYS] != NAT, t[_SYS], t[_INIT])
    flow_end = np.where(t[_ENQ] != NAT, t[_ENQ], np.where(t[_AGENT] != NAT, t[_AGENT], t[_DISC]))
    flow_kind = np.isin(m, ["INBOUND", "API", "DISCONNECT", "EXTERNAL_OUTBOUND", "WEBRTC_API"]) | (m == "")
    has_flow = native & flow_kind & (flow_end != NAT) & (flow_end > flow_start)
    ch = pc.utf8_upper(col_or_null(legs.kt, "Channel")).to_numpy(zero_copy_only=False)
    for label, sel in (("IVR menu", ch == "VOICE"), ("Bot intent", ch == "CHAT"),
                       ("Contact flow", (ch != "VOICE") & (ch != "CHAT"))):
        rows = np.flatnonzero(has_flow & sel)
        if len(rows):
            parts.add(rows, 1, activity=label, timestamp=_ts(flow_start[rows]), end_timestamp=_ts(flow_end[rows]),
                      owner=SELF_SERVICE, resource=None, queue=None, team=None, site=None)
    outbound = native & np.isin(m, ["OUTBOUND", "CALLBACK"]) & (t[_SYS] != NAT)
    rows = np.flatnonzero(outbound)
    if len(rows):
        parts.add(rows, 1, activity="Outbound call", timestamp=_ts(t[_INIT][rows]), end_timestamp=_ts(t[_SYS][rows]),
                  **legs.staff(rows, owner=pc.coalesce(legs.team, legs.queue)))
    rows = np.flatnonzero(native & (t[_ENQ] != NAT))
    if len(rows):
        deq = np.where(t[_DEQ] != NAT, t[_DEQ], np.where(t[_AGENT] != NAT, t[_AGENT], t[_DISC]))[rows]
        q = legs.queue.take(pa.array(rows))
        parts.add(rows, 2, activity="Queue", timestamp=_ts(t[_ENQ][rows]), end_timestamp=_ts(deq), owner=q,
                  resource=None, queue=q, team=None, site=None)
    return has_flow, outbound


def _agent_events(legs: _Legs, parts: EventParts, key: bytes) -> None:
    """Agent answer (with its holds), Wrap-up and an external transfer."""
    t, native = legs.t, legs.native
    agent_end = np.where(t[_ACWS] != NAT, t[_ACWS], t[_DISC])
    rows = np.flatnonzero(native & (t[_AGENT] != NAT))
    if len(rows):
        holds = _num(legs.kt, "Agent.NumberOfHolds")[rows].astype(np.int64)
        parts.add(rows, 3, activity="Agent answer", timestamp=_ts(t[_AGENT][rows]),
                  end_timestamp=_ts(agent_end[rows]), **legs.staff(rows), number_of_holds=pa.array(holds),
                  customer_hold_seconds=pa.array(_num(legs.kt, "Agent.CustomerHoldDuration")[rows]))
    rows = np.flatnonzero(native & (t[_ACWS] != NAT))
    if len(rows):
        parts.add(rows, 4, activity="Wrap-up", timestamp=_ts(t[_ACWS][rows]), end_timestamp=_ts(t[_ACWE][rows]),
                  **legs.staff(rows))
    ext = empty_to_null(col_or_null(legs.kt, "TransferredToEndpoint.Address"))
    rows = np.flatnonzero(native & as_bool_mask(pc.is_valid(ext)))
    if len(rows):
        at = np.where(t[_XFER] != NAT, t[_XFER], np.where(t[_ACWS] != NAT, t[_ACWS], t[_DISC]))[rows]
        parts.add(rows, 4, activity="Transfer", timestamp=_ts(at), end_timestamp=pa.nulls(len(rows), TS),
                  **legs.staff(rows), transfer_type="external",
                  transfer_to=scrub_column(ext.take(pa.array(rows)), key, whole=True))


def _end_events(legs: _Legs, parts: EventParts, bare: np.ndarray) -> None:
    """Abandon or Disconnect on legs no merged leg follows; the initiation of a leg with nothing else to show."""
    t, native = legs.t, legs.native
    followed = np.zeros(len(legs.contact), bool)
    followed[legs.prev_idx[legs.merged & (legs.prev_idx >= 0)]] = True
    abandon = native & (t[_ENQ] != NAT) & (t[_AGENT] == NAT) & (t[_DISC] != NAT) & ~followed
    rows = np.flatnonzero(abandon)
    if len(rows):
        q = legs.queue.take(pa.array(rows))
        parts.add(rows, 5, activity="Abandon", timestamp=_ts(t[_DISC][rows]), end_timestamp=pa.nulls(len(rows), TS),
                  owner=q, resource=None, queue=q, team=None, site=None)
    for label, sel, at in (("Disconnect", ~abandon & ~followed & (t[_DISC] != NAT), t[_DISC]),
                           ("Contact initiated", bare & (t[_ENQ] == NAT) & (t[_AGENT] == NAT) & (t[_DISC] == NAT),
                            t[_INIT])):
        rows = np.flatnonzero(native & sel)
        if len(rows):
            parts.add(rows, 5 if label == "Disconnect" else 1, activity=label, timestamp=_ts(at[rows]),
                      end_timestamp=pa.nulls(len(rows), TS), owner=None, resource=None,
                      queue=legs.queue.take(pa.array(rows)), team=None, site=None)


def _leg_columns(kt: pa.Table, key: bytes, case_id, contact, channel, previous, initial, method) -> dict[str, pa.Array]:
    customer = pc.coalesce(empty_to_null(col_or_null(kt, "CustomerEndpoint.Address")),
                           empty_to_null(col_or_null(kt, "CustomerId")),
                           empty_to_null(col_or_null(kt, "Attributes.customer_id")))
    cols: dict[str, pa.Array] = {
        "case_id": case_id, "channel": channel, "customer_id": pseudonymise(customer, key),
        "contact_leg_id": contact, "previous_contact_id": previous, "initial_contact_id": initial,
        "initiation_method": method,
        "disconnect_reason": empty_to_null(col_or_null(kt, "DisconnectReason")),
    }
    for name in kt.column_names:
        if name in CONSUMED_CTR or name.startswith("Agent.HierarchyGroups.") or name == "__empty":
            continue
        col = kt.column(name).combine_chunks()
        if pa.types.is_timestamp(col.type):
            col = col.cast(pa.timestamp(col.type.unit, tz="UTC")) if col.type.tz is None else col
        if name.startswith("Attributes."):
            key_name = name.split(".", 1)[1]
            out = "attr." + key_name
            col = scrub_column(col, key, whole=bool(PII_KEYS.search(key_name)) and pa.types.is_string(col.type))
        elif "Endpoint" in name and name.endswith(".Address"):
            out, col = name, scrub_column(col, key, whole=True)
        else:
            out, col = name, scrub_column(col, key) if pa.types.is_string(col.type) else col
        cols[out] = col
    return cols


# ---------------------------------------------------------------------------
# EventBridge contact events

EVENT_LABELS = {
    "INITIATED": "Contact initiated", "CONNECTED_TO_SYSTEM": "Connected to system", "QUEUED": "Queue",
    "CONNECTED_TO_AGENT": "Agent answer", "DISCONNECTED": "Disconnect", "CONTACT_DATA_UPDATED": "Contact updated",
    "COMPLETED": "Completed",
}


EVENT_TIMES = {"INITIATED": ("initiationTimestamp",), "CONNECTED_TO_SYSTEM": ("connectedToSystemTimestamp",),
               "QUEUED": ("queueInfo.enqueueTimestamp",),
               "CONNECTED_TO_AGENT": ("agentInfo.connectedToAgentTimestamp", "AgentInfo.connectedToAgentTimestamp"),
               "DISCONNECTED": ("disconnectTimestamp",)}


def read_contact_events(path: Path, options: ReadOptions) -> ReadResult:
    """EventBridge contact events of one export into canonical events, one contact leg's messages merged."""
    export = open_export(path, options, "Amazon Connect contact events", "amazon-connect-events")
    table = export.table
    if table.num_rows == 0:
        return export.result()
    # unwrap the EventBridge envelope: fields under detail.* win
    names = {c: c[len("detail."):] for c in table.column_names if c.startswith("detail.")}
    if names:
        table = table.rename_columns([names.get(c, "envelope." + c if not c.startswith("detail.") else c)
                                      for c in table.column_names])
    contact = empty_to_null(col_or_null(table, "contactId"))
    etype = pc.utf8_upper(col_or_null(table, "eventType"))
    reason, when, at = _message_reasons(table, contact, etype)
    keep = np.flatnonzero(export.refuse(reason.to_pylist()))
    if not len(keep):
        return export.result()
    export.meta["contact_events"] = int(len(keep))
    events = _merged_leg_events(table.take(pa.array(keep)), contact.take(pa.array(keep)),
                                etype.to_numpy(zero_copy_only=False)[keep], {k: v[keep] for k, v in when.items()},
                                at[keep], export.key)
    return export.result(events)


def _message_reasons(table: pa.Table, contact: pa.Array, etype: pa.Array):
    """(why each message is refused, time of each milestone field, time of each message) of contact events."""
    n = table.num_rows
    none = pa.nulls(n, pa.string())
    dtype = col_or_null(table, "envelope.detail-type")
    reason = pc.if_else(pc.and_(pc.is_valid(dtype), pc.invert(pc.fill_null(pc.equal(
        dtype, "Amazon Connect Contact Event"), False))), pc.binary_join_element_wise(
        pa.scalar("not a contact event: "), dtype, ""), none)
    reason = pc.coalesce(reason, pc.if_else(pc.is_null(contact), pa.scalar(
        "not a contact event: no contactId (expected an Amazon Connect Contact Event)"), none))
    reason = pc.coalesce(reason, pc.if_else(pc.is_null(etype), pa.scalar("missing required field eventType"), none))
    when = {}
    for name, fields in EVENT_TIMES.items():
        ts, bad = parse_times(table, *fields)
        when[name] = as_int64(ts)
        reason = pc.coalesce(reason, pc.if_else(bad, pa.scalar(
            f"{fields[0]} is not an ISO 8601 time with zone"), none))
    et = etype.to_numpy(zero_copy_only=False)
    at = np.full(n, NAT, np.int64)
    for name, arr in when.items():
        at = np.where(et == name, arr, at)
    at = np.where(at == NAT, as_int64(parse_times(table, "envelope.time")[0]), at)
    reason = pc.coalesce(reason, pc.if_else(pa.array(at == NAT), pa.scalar(
        "the event carries no time for its eventType (and no envelope time)"), none))
    i_init, i_disc = when["INITIATED"], when["DISCONNECTED"]
    impossible = (i_disc != NAT) & (i_init != NAT) & (i_disc < i_init)
    reason = pc.coalesce(reason, pc.if_else(pa.array(impossible), pa.scalar(
        "impossible times: disconnectTimestamp before initiationTimestamp"), none))
    # duplicates: the same event of the same contact delivered twice (at least once delivery)
    idx = np.flatnonzero(as_bool_mask(pc.is_null(reason)))
    dup = np.zeros(n, bool)
    if len(idx):
        keyarr = pc.binary_join_element_wise(contact.take(pa.array(idx)), etype.take(pa.array(idx)),
                                             pc.cast(pa.array(at[idx]), pa.string()), "|")
        enc = pc.dictionary_encode(keyarr).indices.to_numpy(zero_copy_only=False)
        _, first = np.unique(enc, return_index=True)
        d = np.ones(len(idx), bool)
        d[first] = False
        dup[idx[d]] = True
    reason = pc.coalesce(reason, pc.if_else(pa.array(dup), pa.scalar(
        "duplicate contact event (same contactId, eventType and time)"), none))
    return reason, when, at


def _merged_leg_events(kt: pa.Table, contact: pa.Array, etk: np.ndarray, when: dict[str, np.ndarray],
                       atk: np.ndarray, key: bytes) -> pa.Table:
    """The accepted messages of each contact leg merged: each milestone from whichever message carries it."""
    leg_codes = pc.dictionary_encode(contact).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    n_legs = int(leg_codes.max()) + 1
    big = np.iinfo(np.int64).max

    def milestone(name: str) -> np.ndarray:
        v = np.where((etk == name) & (when[name] == NAT), atk, when[name])   # the message time stands in
        out = np.full(n_legs, big, np.int64)
        np.minimum.at(out, leg_codes, np.where(v == NAT, big, v))
        return np.where(out == big, NAT, out)

    def per_leg(values: pa.Array) -> pa.Array:
        """A leg's value: the first of its messages that has one."""
        rows = np.flatnonzero(as_bool_mask(pc.is_valid(values)))
        out = np.full(n_legs, -1, np.int64)
        if len(rows):
            legs, first = np.unique(leg_codes[rows], return_index=True)
            out[legs] = rows[first]
        taken = values.take(pa.array(np.maximum(out, 0)))
        return pc.if_else(pa.array(out >= 0), taken, pa.nulls(n_legs, values.type))

    m = {name: milestone(name) for name in EVENT_TIMES}
    leg = {"contact_leg_id": per_leg(contact),
           "previous_contact_id": per_leg(empty_to_null(col_or_null(kt, "previousContactId"))),
           "initial_contact_id": per_leg(empty_to_null(col_or_null(kt, "initialContactId"))),
           "initiation_method": per_leg(pc.utf8_upper(col_or_null(kt, "initiationMethod")))}
    method, initial = leg["initiation_method"], leg["initial_contact_id"]
    case_id = resolve_chains(leg["contact_leg_id"], leg["previous_contact_id"], pa.nulls(n_legs, pa.string()),
                             initial, method)
    # a later leg of a chain whose first leg sent no event here: name the case by initialContactId
    merged = as_bool_mask(pc.is_in(pc.fill_null(method, ""), value_set=pa.array(MERGED_METHODS)))
    queue = pc.coalesce(empty_to_null(col_or_null(kt, "queueInfo.queueArn")),
                        empty_to_null(col_or_null(kt, "queueInfo.QueueArn")))
    agent = pc.coalesce(empty_to_null(col_or_null(kt, "agentInfo.agentArn")),
                        empty_to_null(col_or_null(kt, "AgentInfo.AgentArn")))
    queue_name = per_leg(pc.replace_substring_regex(queue, r"^.*/queue/", ""))
    parts = _milestone_events(m, merged, method.to_numpy(zero_copy_only=False), queue_name,
                              per_leg(pc.replace_substring_regex(agent, r"^.*/agent/", "")))
    # other event types (CONTACT_DATA_UPDATED, COMPLETED, ...) stay one event per message
    other = np.flatnonzero(~np.isin(etk, list(EVENT_TIMES)))
    if len(other):
        labels = pa.array([EVENT_LABELS.get(e, e.title().replace("_", " ")) for e in etk[other]], pa.string())
        parts.add(leg_codes[other], 4, activity=labels, timestamp=_ts(atk[other]),
                  end_timestamp=pa.nulls(len(other), TS), owner=None, resource=None)
    ev_rows, events = parts.build()
    leg = {"case_id": pc.if_else(pa.array(merged), pc.coalesce(initial, case_id), case_id), "queue": queue_name,
           "channel": per_leg(pc.utf8_lower(col_or_null(kt, "channel"))), **leg}
    customer = per_leg(empty_to_null(col_or_null(kt, "customerEndpoint.address", "CustomerEndpoint.Address")))
    leg["customer_id"] = pseudonymise(customer, key)
    for name in ("disconnectReason", "connectedToSystemStatus", "relatedContactId", "instanceArn"):
        if name in kt.column_names:
            leg[name] = per_leg(scrub_column(kt.column(name), key))
    return join_leg_columns(events, ev_rows, leg)


def _milestone_events(m: dict[str, np.ndarray], merged: np.ndarray, method: np.ndarray, queue: pa.Array,
                      agent: pa.Array) -> EventParts:
    """Contact initiated (or Transfer), Outbound call, Queue, Agent answer, Abandon or Disconnect per leg."""

    def end_after(start: np.ndarray, *ends: np.ndarray) -> np.ndarray:
        """The first of ``ends`` known and not before ``start`` (unknown otherwise)."""
        out = np.full(len(start), NAT, np.int64)
        for e in reversed(ends):
            out = np.where((e != NAT) & (e >= start), e, out)
        return out

    init, system, enq, agent_at, disc = (m[name] for name in EVENT_TIMES)
    parts = EventParts()
    rows = np.flatnonzero(init != NAT)
    if len(rows):
        label = np.where(merged[rows], "Transfer", "Contact initiated").astype(object)
        parts.add(rows, 0, activity=pa.array(label, pa.string()), timestamp=_ts(init[rows]),
                  end_timestamp=pa.nulls(len(rows), TS), owner=None, resource=None)
    rows = np.flatnonzero(np.isin(method, ["OUTBOUND", "CALLBACK"]) & (system != NAT) & (init != NAT))
    if len(rows):
        parts.add(rows, 1, activity="Outbound call", timestamp=_ts(init[rows]),
                  end_timestamp=_ts(end_after(init[rows], system[rows])), owner=None, resource=None)
    rows = np.flatnonzero(enq != NAT)
    if len(rows):
        parts.add(rows, 2, activity="Queue", timestamp=_ts(enq[rows]),
                  end_timestamp=_ts(end_after(enq[rows], agent_at[rows], disc[rows])),
                  owner=queue.take(pa.array(rows)), resource=None)
    rows = np.flatnonzero(agent_at != NAT)
    if len(rows):
        parts.add(rows, 3, activity="Agent answer", timestamp=_ts(agent_at[rows]),
                  end_timestamp=_ts(end_after(agent_at[rows], disc[rows])), owner=None,
                  resource=agent.take(pa.array(rows)))
    abandon = (enq != NAT) & (agent_at == NAT) & (disc != NAT)
    for label, sel in (("Abandon", abandon), ("Disconnect", ~abandon & (disc != NAT))):
        rows = np.flatnonzero(sel)
        if len(rows):
            parts.add(rows, 5, activity=label, timestamp=_ts(disc[rows]), end_timestamp=pa.nulls(len(rows), TS),
                      owner=queue.take(pa.array(rows)) if label == "Abandon" else None, resource=None)
    return parts


register_reader("amazon-connect")(read_contact_records)
register_reader("amazon-connect-events")(read_contact_events)
