"""Genesys Cloud adapter: analytics conversation details (query and job results).

Input: the JSON of ``POST /api/v2/analytics/conversations/details/query`` or of
an analytics details job's results (``{"conversations": [...], "cursor": ...}``
pages), as one document, as JSON Lines (one conversation, or one page, per
line), or a JSON array of conversations; gzip too. A record is one
conversation.

Shape: conversation -> participants (``purpose``: customer, external, ivr,
workflow, botflow, acd, agent, user, voicemail, ...) -> sessions
(``mediaType``, ``ani``, ``dnis``, ``addressFrom``, ...) -> segments
(``segmentType``, ``segmentStart``, ``segmentEnd``, ``queueId``,
``wrapUpCode``, ``disconnectType``). Both the current field set and the older
one are read: ``participantName`` / ``purpose`` / ``userId`` on the
participant, and segment times as ISO strings or epoch milliseconds.

Each segment becomes one event with its owner:

================================  =================  =====================
purpose / segmentType             activity           owner
================================  =================  =====================
ivr, workflow / any               ``IVR menu``       ``Self-service``
botflow (or chat ivr) / any       ``Bot intent``     ``Self-service``
acd / interact, delay             ``Queue``          the queue (the acd
                                                     participant's name, or
                                                     its queueId)
agent, user / alert               ``Alert``          agent's team
agent, user / interact            ``Agent answer``   agent's team
agent, user / hold                ``Hold``           agent's team
agent, user / wrapup              ``Wrap-up``        agent's team
agent, user / dialing, contacting ``Outbound call``  agent's team
external / interact               ``External party`` ``External``
================================  =================  =====================

Customer segments only mirror the others and give no event. The agent's team
comes from the participant attribute ``team`` when present, else the queue
the agent answered for. An agent segment that ends with ``disconnectType``
``transfer`` adds a ``Transfer`` event at its end (a handoff to another
participant; an ivr or acd segment ending in ``transfer`` is ordinary routing,
not a transfer); a conversation that was queued and never reached an
agent ends with ``Abandon``.

Attributes of the customer participant are kept as ``attr.<name>``; those
named ``team``, ``site``, ``shift`` or ``queue`` fill those columns where an
event has none. A conversation whose participant attributes carry a ``cxmine_steps`` trail
(see ``engine.ingest.amazon_connect``) gets its events from the trail instead;
the team, site, shift and queue attributes of the participant carrying a
trail apply to its events.

Privacy: the customer key is the customer (or external) participant's ``ani``
(``tel:`` stripped) or ``addressFrom``, pseudonymised; every ``ani``, ``dnis``
and address field and every participant attribute is scrubbed.

Refused, with the reason: a record without ``conversationId``, a
conversation without segments or with a segment time that cannot be read, a
segment ending before it starts, and a repeated ``conversationId`` (the copy
with the latest ``conversationEnd`` is kept; when that copy is itself
refused, the conversation is refused). Conversations are turned into events
100,000 at a time, which bounds memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.ingest import ReadOptions, ReadResult, register_reader
from engine.ingest.json_records import list_items, struct_table
from engine.ingest.pseudonym import pseudonymise
from engine.ingest.vendor_events import (
    NAT, PII_KEYS, SELF_SERVICE, STEP_ATTRIBUTE, TS, EventParts, VendorExport, as_bool_mask, as_int64, col_or_null,
    empty_to_null, fill_from_attributes, latest_copies, open_export, parse_step_trail, parse_times, scrub_column)

PURPOSES = ("customer", "external", "ivr", "workflow", "botflow", "bot", "acd", "agent", "user")
SEGMENT_TYPES = ("interact", "alert", "hold", "wrapup", "dialing", "contacting", "delay", "ivr")
SELF_PURPOSES = ("ivr", "workflow")
BOT_PURPOSES = ("botflow", "bot")
AGENT_PURPOSES = ("agent", "user")
AGENT_SEGMENTS = {"alert": "Alert", "interact": "Agent answer", "hold": "Hold", "wrapup": "Wrap-up",
                  "dialing": "Outbound call", "contacting": "Outbound call"}
SEGMENT_RANK = {"Transfer": 2, "Abandon": 7}
CHUNK = 100_000   # conversations read per chunk, which bounds memory


def _field(struct: pa.Array, name: str, type_: pa.DataType = pa.string()) -> pa.Array:
    t = struct.type
    for i in range(t.num_fields):
        if t.field(i).name == name:
            v = pc.struct_field(struct, [i])
            if type_ == pa.string() and not pa.types.is_string(v.type) and not pa.types.is_struct(v.type):
                if pa.types.is_timestamp(v.type):
                    v = pc.assume_timezone(v, "UTC") if v.type.tz is None else v
                    return pc.strftime(v.cast(TS), format="%Y-%m-%dT%H:%M:%S.%fZ")
                v = pc.cast(v, pa.string())
            return v
    return pa.nulls(len(struct), type_)


def read_conversations(path: Path, options: ReadOptions) -> ReadResult:
    """Conversation details of one export into canonical events (see the module docstring)."""
    export = open_export(path, options, "Genesys Cloud conversation details", "genesys",
                         unwrap=("conversations",), keep_lists=("participants",))
    table = export.table
    n = table.num_rows
    if n == 0:
        return export.result()
    conv_id = empty_to_null(col_or_null(table, "conversationId"))
    if not ("participants" in table.column_names and pa.types.is_list(table.column("participants").type)):
        reason = pc.if_else(pc.is_null(conv_id), pa.scalar("not a conversation detail record: no conversationId"),
                            pa.scalar("conversation without participants"))
        export.refuse(reason.to_pylist())
        return export.result()
    # duplicates over the whole file; then conversations are independent and are read in chunks
    conv_end, _ = parse_times(table, "conversationEnd")
    dup = _duplicates(conv_id, as_int64(conv_end))
    tables, n_ok = [], 0
    for lo in range(0, n, CHUNK):
        part, k = _conversation_chunk(table.slice(lo, CHUNK), lo, dup[lo:lo + CHUNK], export)
        n_ok += k
        if part is not None and part.num_rows:
            tables.append(part)
    export.meta["conversations"] = n_ok
    return export.result(pa.concat_tables(tables, promote_options="permissive") if tables else None)


def _duplicates(conv_id: pa.Array, conv_end: np.ndarray) -> np.ndarray:
    """True for every copy of a conversationId but the one with the latest conversationEnd (ties: the later)."""
    return latest_copies(conv_id, conv_end, as_bool_mask(pc.is_valid(conv_id)))


@dataclass
class _Conversations:
    """One chunk of conversations flattened: participants (p_*), sessions (s_*) and segments (g_*), columnar."""

    n: int
    p_conv: np.ndarray          # conversation of each participant
    p_code: np.ndarray          # purpose code of each participant (PURPOSES, -1 other)
    p_name: pa.Array
    p_user: pa.Array
    p_attrs: pa.Array           # struct of participant attributes (or an empty struct)
    p_attr: dict[str, pa.Array]  # team, site, shift, queue and the step trail of each participant
    s_part: np.ndarray          # participant of each session
    media: pa.Array
    ani: pa.Array
    addr_from: pa.Array
    segs: pa.Array
    g_sess: np.ndarray          # session of each segment
    g_part: np.ndarray
    g_conv: np.ndarray
    start: np.ndarray           # int64 ns, NAT unknown
    end: np.ndarray
    bad_time: np.ndarray        # a segment time present but unreadable, or no start

    @classmethod
    def of(cls, table: pa.Table) -> "_Conversations":
        parts_col = table.column("participants").combine_chunks()
        parts, p_conv = list_items(pc.fill_null(parts_col, pa.scalar([], parts_col.type)))
        p_attrs = _field(parts, "attributes", pa.struct([]))
        attrs = {}
        for name in ("team", "site", STEP_ATTRIBUTE, "shift", "queue"):
            attrs[name] = empty_to_null(_field(p_attrs, name)) if pa.types.is_struct(p_attrs.type) else \
                pa.nulls(len(parts))
        sess_col = _field(parts, "sessions", pa.list_(pa.struct([])))
        if not pa.types.is_list(sess_col.type):
            sess_col = pa.nulls(len(parts), pa.list_(pa.struct([("segments", pa.list_(pa.struct([])))])))
        sessions, s_part = list_items(pc.fill_null(sess_col, pa.scalar([], sess_col.type)))
        seg_col = _field(sessions, "segments", pa.list_(pa.struct([])))
        if not pa.types.is_list(seg_col.type):
            seg_col = pa.nulls(len(sessions), pa.list_(pa.struct([("segmentType", pa.string())])))
        segs, g_sess = list_items(pc.fill_null(seg_col, pa.scalar([], seg_col.type)))
        seg_table = struct_table(segs)
        start, bad_s = parse_times(seg_table, "segmentStart")
        end, bad_e = parse_times(seg_table, "segmentEnd")
        i_start = as_int64(start)
        return cls(n=table.num_rows, p_conv=p_conv, p_code=_codes(pc.utf8_lower(_field(parts, "purpose")), PURPOSES),
                   p_name=empty_to_null(_field(parts, "participantName")),
                   p_user=empty_to_null(_field(parts, "userId")), p_attrs=p_attrs, p_attr=attrs, s_part=s_part,
                   media=pc.utf8_lower(_field(sessions, "mediaType")), ani=empty_to_null(_field(sessions, "ani")),
                   addr_from=empty_to_null(_field(sessions, "addressFrom")), segs=segs, g_sess=g_sess,
                   g_part=s_part[g_sess], g_conv=p_conv[s_part[g_sess]], start=i_start, end=as_int64(end),
                   bad_time=as_bool_mask(bad_s) | as_bool_mask(bad_e) | (i_start == NAT))

    def customer_rows(self) -> np.ndarray:
        """Participants that are the customer (or an external party)."""
        return np.isin(self.p_code, [PURPOSES.index("customer"), PURPOSES.index("external")])


def _conversation_chunk(table: pa.Table, lo: int, dup: np.ndarray,
                        export: VendorExport) -> tuple[pa.Table | None, int]:
    """Events of conversations table[...] (rows lo.. of the file) and how many were accepted; the others are
    refused in ``export``."""
    conv_id = empty_to_null(col_or_null(table, "conversationId"))
    c = _Conversations.of(table)
    reason, trails = _conversation_reasons(c, conv_id, dup)
    ok = export.refuse(reason.to_pylist(), first=lo)
    if not ok.any():
        return None, 0
    has_trail = np.zeros(c.n, bool)
    has_trail[c.p_conv[as_bool_mask(pc.is_valid(c.p_attr[STEP_ATTRIBUTE]))]] = True
    parts, conv_queue = _segment_events(c, ok[c.g_conv] & ~has_trail[c.g_conv])
    trail_rows, trail_cols = trails
    if len(trail_rows):
        carrier = pa.array(trail_rows)
        a = c.p_attr
        parts.add(c.p_conv[trail_rows], 0,
                  queue=pc.coalesce(a["queue"].take(carrier), conv_queue.take(pa.array(c.p_conv[trail_rows]))),
                  team=a["team"].take(carrier), site=a["site"].take(carrier), shift=a["shift"].take(carrier),
                  **trail_cols)
    rows, events = parts.build()
    return fill_from_attributes(_conversation_columns(table, c, conv_id, events, rows, export.key)), int(ok.sum())


def _conversation_reasons(c: _Conversations, conv_id: pa.Array, dup: np.ndarray):
    """(why each conversation is refused, (participant of each step-trail event, trail event columns))."""
    n = c.n
    none = pa.nulls(n, pa.string())
    reason = pc.if_else(pc.is_null(conv_id), pa.scalar("not a conversation detail record: no conversationId"), none)
    backwards = (c.end != NAT) & (c.start != NAT) & (c.end < c.start)
    for sel, text in ((np.bincount(c.g_conv, minlength=n) == 0,
                       "conversation without segments (no participant session has a segment)"),
                      (np.bincount(c.g_conv, weights=c.bad_time, minlength=n) > 0,
                       "a segment has no readable segmentStart / segmentEnd (ISO 8601 with zone or epoch ms expected)"),
                      (np.bincount(c.g_conv, weights=backwards, minlength=n) > 0,
                       "impossible times: a segment ends before it starts"),
                      (dup, "duplicate conversationId (kept the copy with the latest conversationEnd)")):
        reason = pc.coalesce(reason, pc.if_else(pa.array(sel), pa.scalar(text), none))
    trail = c.p_attr[STEP_ATTRIBUTE]
    ok = as_bool_mask(pc.is_null(reason))
    rows = np.flatnonzero(as_bool_mask(pc.is_valid(trail)) & ok[c.p_conv])
    trail_rows, trail_cols, bad = parse_step_trail(trail.take(pa.array(rows)), rows)
    if len(bad):
        m = np.zeros(n, bool)
        m[c.p_conv[bad]] = True
        reason = pc.coalesce(reason, pc.if_else(pa.array(m), pa.scalar(
            f"participant attribute {STEP_ATTRIBUTE} is not a step trail"), none))
    return reason, (trail_rows, trail_cols)


def _segment_events(c: _Conversations, native: np.ndarray) -> tuple[EventParts, pa.Array]:
    """Events of the segments (``native``: of accepted conversations without a step trail); each conversation's
    last named queue."""
    n, g_conv = c.n, c.g_conv
    parts = EventParts()
    seg_type_s = pc.utf8_lower(_field(c.segs, "segmentType"))
    disc_s = pc.utf8_lower(_field(c.segs, "disconnectType"))
    seg_type = _codes(seg_type_s, SEGMENT_TYPES)
    queue_id = empty_to_null(_field(c.segs, "queueId"))
    g_pc = c.p_code[c.g_part]
    g_chat = (_codes(c.media, ("chat", "message")) >= 0)[c.g_sess]
    parts_of = pa.array(c.g_part)
    acd_queue = pc.coalesce(c.p_name.take(parts_of), queue_id)
    is_acd_part = g_pc == PURPOSES.index("acd")
    # the queue an agent answered for: the segment's queueId, else the conversation's last acd queue
    acd_named = np.flatnonzero(is_acd_part & as_bool_mask(pc.is_valid(acd_queue)))
    conv_queue = _take_or_null(acd_queue, _last_per_group(acd_named, g_conv, n))
    seg_queue_name = pc.coalesce(_name_queue(queue_id, acd_queue, acd_named), conv_queue.take(pa.array(g_conv)))
    g_team = pc.coalesce(c.p_attr["team"].take(parts_of), seg_queue_name)
    g_site = c.p_attr["site"].take(parts_of)
    g_agent = pc.coalesce(c.p_name.take(parts_of), c.p_user.take(parts_of))
    wrap = empty_to_null(_field(c.segs, "wrapUpCode"))

    def add(sel, rank, activity, owner, resource, queue, team, site, at=None, **extra):
        rows = np.flatnonzero(sel)
        if not len(rows):
            return
        r = pa.array(rows)

        def pick(v):
            return v if isinstance(v, str) or v is None else v.take(r)
        parts.add(g_conv[rows], rank, activity=activity, timestamp=_ts((c.start if at is None else at)[rows]),
                  end_timestamp=_ts(c.end[rows]) if at is None else pa.nulls(len(rows), TS), owner=pick(owner),
                  resource=pick(resource), queue=pick(queue), team=pick(team), site=pick(site),
                  segment_type=seg_type_s.take(r), disconnect_type=pick(extra.pop("disconnect_type", disc_s)),
                  **{k: pick(v) for k, v in extra.items()})

    def purpose_in(names):
        return np.isin(g_pc, [PURPOSES.index(x) for x in names])

    def seg_is(*names):
        return np.isin(seg_type, [SEGMENT_TYPES.index(x) for x in names])

    is_bot = purpose_in(BOT_PURPOSES) | (purpose_in(SELF_PURPOSES) & g_chat)
    add(native & purpose_in(SELF_PURPOSES) & ~is_bot, 1, "IVR menu", SELF_SERVICE, None, None, None, None)
    add(native & is_bot, 1, "Bot intent", SELF_SERVICE, None, None, None, None)
    is_acd = is_acd_part & seg_is("interact", "delay", "ivr")
    add(native & is_acd, 3, "Queue", acd_queue, None, acd_queue, None, None)
    is_agent = purpose_in(AGENT_PURPOSES)
    for st, label in AGENT_SEGMENTS.items():
        add(native & is_agent & seg_is(st), 4, label, g_team, g_agent, seg_queue_name, g_team, g_site,
            **({"wrap_up_code": wrap} if st == "wrapup" else {}))
    add(native & purpose_in(("external",)) & seg_is("interact"), 4, "External party", "External", None, None,
        None, None)
    add(native & is_agent & (_codes(disc_s, ("transfer",)) == 0), SEGMENT_RANK["Transfer"], "Transfer", g_team,
        g_agent, seg_queue_name, g_team, g_site, at=c.end, disconnect_type="transfer")
    # abandon: queued, no agent interact in the conversation
    agent_talk = np.zeros(n, bool)
    agent_talk[g_conv[is_agent & seg_is("interact")]] = True
    queued_last = np.full(n, -1, np.int64)
    acd_rows = np.flatnonzero(native & is_acd)
    order = acd_rows[np.argsort(c.end[acd_rows], kind="stable")]
    queued_last[g_conv[order]] = order
    ab = np.flatnonzero((queued_last >= 0) & ~agent_talk)
    if len(ab):
        rows = queued_last[ab]
        at = np.where(c.end[rows] != NAT, c.end[rows], c.start[rows])
        r = pa.array(rows)
        parts.add(ab, SEGMENT_RANK["Abandon"], activity="Abandon", timestamp=pa.array(at).cast(TS),
                  end_timestamp=pa.nulls(len(ab), TS), owner=acd_queue.take(r), resource=None,
                  queue=acd_queue.take(r), team=None, site=None)
    return parts, conv_queue


def _conversation_columns(table: pa.Table, c: _Conversations, conv_id: pa.Array, events: pa.Table,
                          rows: np.ndarray, key: bytes) -> pa.Table:
    """Events plus their conversation's columns: channel, customer, record fields and customer attributes."""
    n = c.n
    idx = pa.array(rows)
    sess_conv = c.p_conv[c.s_part]
    conv_media = _take_or_null(c.media, _first_per_group(np.flatnonzero(as_bool_mask(pc.is_valid(c.media))),
                                                         sess_conv, n))
    cust_addr = pc.coalesce(pc.replace_substring_regex(c.ani, r"^(tel|sip|mailto):", ""), c.addr_from)
    cust_rows = np.flatnonzero(c.customer_rows()[c.s_part] & as_bool_mask(pc.is_valid(cust_addr)))
    customer_id = pseudonymise(_take_or_null(cust_addr, _first_per_group(cust_rows, sess_conv, n)), key)
    leg = {"channel": conv_media, "customer_id": customer_id}
    for name in table.column_names:
        if name in ("participants", "conversationId", "__empty"):
            continue
        col = table.column(name).combine_chunks()
        if pa.types.is_timestamp(col.type) and col.type.tz is None:
            col = pc.assume_timezone(col, "UTC")
        if pa.types.is_string(col.type):
            col = scrub_column(col, key, whole=bool(PII_KEYS.search(name)))
        leg[name] = col
    out = {"case_id": conv_id.take(idx)}
    for name in events.column_names:
        out[name] = events.column(name)
    for name, col in leg.items():
        if name not in out:
            out[name] = col.take(idx)
    # participant attributes of the customer (intent, outcome, ...) as attributes, scrubbed
    p_attrs = c.p_attrs
    if pa.types.is_struct(p_attrs.type) and p_attrs.type.num_fields:
        cust_part = np.full(n, -1, np.int64)
        cp = np.flatnonzero(c.customer_rows())
        cust_part[c.p_conv[cp[::-1]]] = cp[::-1]
        for i in range(p_attrs.type.num_fields):
            nm = p_attrs.type.field(i).name
            if nm in (STEP_ATTRIBUTE, "team", "site"):
                continue
            v = pc.struct_field(p_attrs, [i])
            if not (pa.types.is_string(v.type) or pa.types.is_integer(v.type) or pa.types.is_floating(v.type)
                    or pa.types.is_boolean(v.type)):
                continue
            per_conv = pc.if_else(pa.array(cust_part >= 0), v.take(pa.array(np.maximum(cust_part, 0))),
                                  pa.nulls(n, v.type)) if len(v) else pa.nulls(n, v.type)
            if pa.types.is_string(per_conv.type):
                per_conv = scrub_column(per_conv, key, whole=bool(PII_KEYS.search(nm)))
            out["attr." + nm] = per_conv.take(idx)
    return pa.table(out)


def _ts(values: np.ndarray) -> pa.Array:
    return pa.array(values, mask=values == NAT).cast(TS)


def _codes(arr: pa.Array, labels: tuple[str, ...]) -> np.ndarray:
    """int8 position of each value in ``labels`` (-1 for other values and nulls)."""
    enc = pc.dictionary_encode(arr)
    lookup = np.array([labels.index(v) if v in labels else -1 for v in enc.dictionary.to_pylist()] + [-1], np.int8)
    idx = pc.fill_null(enc.indices, len(lookup) - 1).to_numpy(zero_copy_only=False)
    return lookup[idx]


def _first_per_group(rows: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    """Per group (0..n-1), the first of ``rows`` (ascending) that belongs to it; -1 when none."""
    out = np.full(n, -1, np.int64)
    if len(rows):
        g, first = np.unique(group[rows], return_index=True)
        out[g] = rows[first]
    return out


def _last_per_group(rows: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, -1, np.int64)
    if len(rows):
        rev = rows[::-1]
        g, first = np.unique(group[rev], return_index=True)
        out[g] = rev[first]
    return out


def _take_or_null(values: pa.Array, idx: np.ndarray) -> pa.Array:
    taken = values.take(pa.array(np.maximum(idx, 0))) if len(values) else pa.nulls(len(idx), values.type)
    return pc.if_else(pa.array(idx >= 0), taken, pa.nulls(len(idx), values.type))


def _name_queue(queue_id: pa.Array, acd_queue: pa.Array, acd_rows: np.ndarray) -> pa.Array:
    """Queue name for a segment's queueId, through the acd participants that name their queue."""
    rows = acd_rows[as_bool_mask(pc.is_valid(queue_id.take(pa.array(acd_rows))))]
    if not len(rows):
        return queue_id
    enc = pc.dictionary_encode(queue_id.take(pa.array(rows)))
    codes = enc.indices.to_numpy(zero_copy_only=False)
    _, first = np.unique(codes, return_index=True)
    keys = enc.dictionary.take(pa.array(codes[first]))
    vals = acd_queue.take(pa.array(rows[first]))
    pos = pc.index_in(queue_id, value_set=keys)
    mapped = pc.take(vals, pc.fill_null(pos, 0))
    return pc.if_else(pc.is_valid(pos), mapped, queue_id)


register_reader("genesys")(read_conversations)
