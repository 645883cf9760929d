"""The simulator's interactions as vendor exports: Amazon Connect contact records and Genesys Cloud conversations.

Both writers take the simulator's event table (``Simulation.events``:
contact_id, activity, start, end, agent, owner, team, site, shift, channel,
queue, customer, intent, outcome, leg) and write JSON Lines, column by column
(no Python loop per contact), atomically, gzip when the name ends in ``.gz``.
Times are written in whole seconds, as both platforms and the generic CSV
export write them.

Amazon Connect (``write_connect_records``): one contact record per *leg*
(``leg`` changes at each transfer). Leg 0 has the simulator's contact id as
``ContactId``; leg k is ``<contact_id>-L<k>`` with ``InitiationMethod``
``TRANSFER``, ``PreviousContactId`` the leg before and ``InitialContactId``
the first leg; ``NextContactId`` links forward. A repeat contact names the
contact it repeats as ``PreviousContactId`` with ``InitiationMethod``
``INBOUND`` (a new contact of the same journey). Native fields: Channel,
Initiation/ConnectedToSystem/Disconnect times (first and last event of the
leg), Queue (name, enqueue and dequeue from the leg's first ``Queue`` event),
Agent (username, connected-to-agent from the first ``Agent answer`` or
``Specialist answer``, after-contact work from ``Wrap-up``, holds, hierarchy
groups site / team), CustomerEndpoint (the raw phone number or e-mail
address: the reader pseudonymises it), and contact attributes intent,
outcome, team, site, shift, queue and the leg's step trail ``cxmine_steps``
(every event of the leg, see ``engine.ingest.amazon_connect``).

Genesys Cloud (``write_genesys_conversations``): one conversation per contact,
with a customer participant (``ani`` ``tel:`` number, or ``addressFrom`` for
e-mail addresses) whose attributes carry intent, outcome, team, site, shift,
queue and the step trail of the first leg; an ivr participant for IVR steps, a botflow
participant for portal and bot steps, an acd participant per queue wait and
an agent participant per leg and agent, each with segments (``ivr``,
``interact``, ``hold``, ``wrapup``; consecutive steps in the same state are
one segment, as Genesys records them) and ``disconnectType`` ``transfer`` on
an agent's segment that ends in a transfer. Team, site, shift and queue are
attributes of every participant; the first participant of each later leg
carries that leg's step trail.

Channels are written as the simulator names them (``VOICE``, ``CHAT``,
``EMAIL``, ``WEB`` for Connect; the same in lower case as Genesys
``mediaType``), so the three exports ingest to the same channel labels.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.atomic import atomic_path
from engine.errors import InputError
from engine.log.timestamps import format_timestamps

STEP_ATTRIBUTE = "cxmine_steps"
NS = 1_000_000_000
AGENT_START = ("Agent answer", "Specialist answer")
IVR_STEPS = ("IVR menu", "IVR authentication")
BOT_AGENTS_PREFIX = ("bot", "Portal", "IVR")


def _str(col) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    return col if pa.types.is_string(col.type) else pc.cast(col, pa.string())


def _json_str(col: pa.Array) -> pa.Array:
    """JSON string literal per value, ``null`` for nulls."""
    col = _str(col)
    esc = pc.replace_substring(col, "\\", "\\\\")
    esc = pc.replace_substring(esc, '"', '\\"')
    esc = pc.replace_substring_regex(esc, "[\\x00-\\x1f]", " ")
    quoted = pc.binary_join_element_wise('"', esc, '"', "")
    return pc.fill_null(quoted, "null")


def _iso(ns: np.ndarray, millis: bool = False) -> pa.Array:
    nat = np.iinfo(np.int64).min
    whole = pa.array(ns, mask=ns == nat).cast(pa.timestamp("ns", tz="UTC")).cast(pa.timestamp("s", tz="UTC"))
    text = format_timestamps(whole, fraction="milli" if millis else "none", utc="Z")
    return pc.fill_null(pc.binary_join_element_wise('"', text, '"', ""), "null")


def _trail_field(col) -> pa.Array:
    v = pc.fill_null(_str(col), "")
    v = pc.replace_substring(v, "%", "%25")
    v = pc.replace_substring(v, "|", "%7C")
    return pc.replace_substring(v, ";", "%3B")


def _seconds(col) -> np.ndarray:
    """int64 ns truncated to whole seconds; int64 min for nulls."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    v = pc.fill_null(col.cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64()), np.iinfo(np.int64).min)
    a = v.to_numpy(zero_copy_only=False).copy()
    ok = a != np.iinfo(np.int64).min
    a[ok] = (a[ok] // NS) * NS
    return a


def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _prepare(events: pa.Table) -> dict:
    n = events.num_rows
    ev = {name: _str(events.column(name)) for name in
          ("contact_id", "activity", "agent", "owner", "team", "site", "shift", "channel", "queue", "customer",
           "intent", "outcome") if name in events.column_names}
    for name in ("intent", "outcome", "team", "site", "shift", "queue", "agent", "owner"):
        ev.setdefault(name, pa.nulls(n, pa.string()))
    ev["start"] = _seconds(events.column("start"))
    ev["end"] = _seconds(events.column("end")) if "end" in events.column_names else \
        np.full(n, np.iinfo(np.int64).min, np.int64)
    ev["leg"] = events.column("leg").to_numpy().astype(np.int64) if "leg" in events.column_names else \
        np.zeros(n, np.int64)
    nat = np.iinfo(np.int64).min
    start_ms = ev["start"] // 1_000_000
    end_ms = np.where(ev["end"] == nat, 0, ev["end"] // 1_000_000)
    end_txt = pc.if_else(pa.array(ev["end"] == nat), "", pc.cast(pa.array(end_ms), pa.string()))
    ev["trail"] = pc.binary_join_element_wise(_trail_field(ev["activity"]), pc.cast(pa.array(start_ms), pa.string()),
                                              end_txt, _trail_field(ev["owner"]), _trail_field(ev["agent"]), "|")
    return ev


def _group_starts(keys: list[np.ndarray]) -> np.ndarray:
    """Row indices where a run of equal keys starts (rows must be grouped already)."""
    n = len(keys[0])
    change = np.zeros(n, bool)
    if n:
        change[0] = True
        for k in keys:
            change[1:] |= k[1:] != k[:-1]
    return np.flatnonzero(change)


def _segment_join(values: pa.Array, starts: np.ndarray, sep: str) -> pa.Array:
    """Join values of each run (runs start at ``starts``) with ``sep``."""
    offsets = np.concatenate((starts, [len(values)])).astype(np.int32)
    lists = pa.ListArray.from_arrays(pa.array(offsets), values)
    return pc.binary_join(lists, sep)


def _first_in_group(mask: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Row index of the first row with ``mask`` in each group, -1 when none."""
    out = np.full(n_groups, -1, np.int64)
    rows = np.flatnonzero(mask)[::-1]
    out[group[rows]] = rows
    return out


def _pick(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    nat = np.iinfo(np.int64).min
    return np.where(idx >= 0, values[np.maximum(idx, 0)], nat)


def _pick_str(values: pa.Array, idx: np.ndarray) -> pa.Array:
    taken = values.take(pa.array(np.maximum(idx, 0)))
    return pc.if_else(pa.array(idx >= 0), taken, pa.nulls(len(idx), pa.string()))


def _open_out(tmp: Path, gz: bool):
    if gz:
        return gzip.GzipFile(filename="", mode="wb", fileobj=open(tmp, "wb"), mtime=0, compresslevel=5)
    return open(tmp, "wb")


def _write_lines(lines: pa.Array, fh) -> None:
    step = 20_000
    for i in range(0, len(lines), step):
        chunk = lines.slice(i, step)
        text = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(chunk)], pa.int32()), chunk), "\n")
        fh.write(text[0].as_py().encode("utf-8"))
        fh.write(b"\n")


def _contact_chunks(events: pa.Table, per_chunk: int):
    """Slices of the event table holding ``per_chunk`` whole contacts each (events are grouped by contact)."""
    cid = events.column("contact_id").combine_chunks()
    codes = (cid.indices if pa.types.is_dictionary(cid.type) else pc.dictionary_encode(cid).indices)
    codes = codes.to_numpy(zero_copy_only=False)
    starts = _group_starts([codes])
    for i in range(0, len(starts), per_chunk):
        lo = starts[i]
        hi = starts[i + per_chunk] if i + per_chunk < len(starts) else len(codes)
        yield events.slice(lo, hi - lo)


def _write_chunks(path: str | os.PathLike, events: pa.Table, build, per_chunk: int) -> int:
    path = Path(path)
    gz = str(path).endswith(".gz")
    total = 0
    with atomic_path(path) as tmp:
        fh = _open_out(tmp, gz)
        try:
            for chunk in _contact_chunks(events, per_chunk):
                lines, k = build(chunk)
                _write_lines(lines, fh)
                total += k
        finally:
            inner = getattr(fh, "fileobj", None)
            fh.close()
            if inner is not None:
                inner.close()
    return total


def write_connect_records(events: pa.Table, path: str | os.PathLike, *, contacts: pa.Table | None = None,
                          per_chunk: int = 50_000) -> int:
    """Write the events as Amazon Connect contact records (JSON Lines); return the number of records."""
    return _write_chunks(path, events, lambda ch: _connect_lines(ch, contacts), per_chunk)


def write_genesys_conversations(events: pa.Table, path: str | os.PathLike, *, per_chunk: int = 50_000) -> int:
    """Write the events as Genesys Cloud conversation details (JSON Lines); return the number of conversations."""
    return _write_chunks(path, events, _genesys_lines, per_chunk)


def _connect_lines(events: pa.Table, contacts: pa.Table | None) -> tuple[pa.Array, int]:
    ev = _prepare(events)
    n = events.num_rows
    cid = ev["contact_id"]
    cid_codes = pc.dictionary_encode(cid).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    leg = ev["leg"]
    starts = _group_starts([cid_codes, leg])
    g = np.zeros(n, np.int64)
    g[starts] = 1
    group = np.cumsum(g) - 1
    k = len(starts)
    nat = np.iinfo(np.int64).min
    first = starts
    leg_of = leg[first]
    contact = cid.take(pa.array(first))
    leg_id = pc.if_else(pa.array(leg_of == 0), contact,
                        _join(contact, "-L", pc.cast(pa.array(leg_of), pa.string())))
    prev_leg = np.where(leg_of > 0, np.arange(k) - 1, -1)
    next_leg = np.full(k, -1, np.int64)
    has_next = np.zeros(k, bool)
    has_next[:-1] = (cid_codes[first[1:]] == cid_codes[first[:-1]])
    next_leg[has_next] = np.flatnonzero(has_next) + 1
    previous = _pick_str(leg_id, prev_leg)
    initial = pc.if_else(pa.array(leg_of > 0), contact, pa.nulls(k, pa.string()))
    # repeat contacts: the earlier contact as PreviousContactId of the first leg
    if contacts is not None and "repeat_of" in contacts.column_names:
        rep = _str(contacts.column("repeat_of"))
        pos = pc.fill_null(pc.index_in(contact, value_set=_str(contacts.column("contact_id"))), -1)
        pos_np = pos.to_numpy(zero_copy_only=False).astype(np.int64)
        rep_of = _pick_str(rep, pos_np)
        previous = pc.if_else(pa.array(leg_of == 0), rep_of, previous)
    nxt = _pick_str(leg_id, next_leg)
    t0 = ev["start"][first]
    t_end = np.maximum(ev["end"], ev["start"])
    t1 = np.maximum.reduceat(t_end, first) if n else np.zeros(0, np.int64)
    act = ev["activity"].to_numpy(zero_copy_only=False)
    q_row = _first_in_group(act == "Queue", group, k)
    a_row = _first_in_group(np.isin(act, AGENT_START), group, k)
    w_row = _first_in_group(act == "Wrap-up", group, k)
    holds = np.bincount(group, weights=(act == "Hold"), minlength=k).astype(np.int64)
    hold_s = np.bincount(group, weights=np.where((act == "Hold") & (ev["end"] != nat),
                                                 (ev["end"] - ev["start"]) / NS, 0.0), minlength=k).astype(np.int64)
    trail = _segment_join(ev["trail"], starts, ";")
    channel = pc.utf8_upper(ev["channel"]).take(pa.array(first))
    customer = ev["customer"].take(pa.array(first))
    is_mail = pc.fill_null(pc.match_substring(customer, "@"), False)
    enq, deq = _pick(ev["start"], q_row), _pick(ev["end"], q_row)
    c_agent = _pick(ev["start"], a_row)
    acw_s, acw_e = _pick(ev["start"], w_row), _pick(ev["end"], w_row)
    agent_name = _pick_str(ev["agent"], a_row)
    method = pc.if_else(pa.array(leg_of > 0), "TRANSFER", "INBOUND")
    method = pc.if_else(pc.and_(pa.array(leg_of == 0), pc.equal(channel, "EMAIL")), "EMAIL", method)

    def take(name):
        return ev[name].take(pa.array(first))

    queue_obj = pc.if_else(pa.array(q_row >= 0),
                           _join('{"Name":', _json_str(_pick_str(ev["queue"], q_row)), ',"EnqueueTimestamp":',
                                 _iso(enq), ',"DequeueTimestamp":', _iso(deq), ',"Duration":',
                                 pc.cast(pa.array(np.where(q_row >= 0, (deq - enq) // NS, 0)), pa.string()), "}"),
                           "null")
    agent_obj = pc.if_else(
        pa.array(a_row >= 0),
        _join('{"Username":', _json_str(agent_name), ',"ConnectedToAgentTimestamp":', _iso(c_agent),
              ',"AfterContactWorkStartTimestamp":', _iso(acw_s), ',"AfterContactWorkEndTimestamp":', _iso(acw_e),
              ',"NumberOfHolds":', pc.cast(pa.array(holds), pa.string()),
              ',"CustomerHoldDuration":', pc.cast(pa.array(hold_s), pa.string()),
              ',"HierarchyGroups":{"Level1":{"GroupName":', _json_str(take("site")), '},"Level2":{"GroupName":',
              _json_str(take("team")), '}}}'),
        "null")
    endpoint = _join('{"Address":', _json_str(customer), ',"Type":',
                     pc.if_else(is_mail, '"EMAIL_ADDRESS"', '"TELEPHONE_NUMBER"'), "}")
    attrs = _join('{"intent":', _json_str(take("intent")), ',"outcome":', _json_str(take("outcome")),
                  ',"team":', _json_str(take("team")), ',"site":', _json_str(take("site")),
                  ',"shift":', _json_str(take("shift")), ',"queue":', _json_str(take("queue")),
                  f',"{STEP_ATTRIBUTE}":', _json_str(trail), "}")
    lines = _join('{"AWSAccountId":"000000000000","AWSContactTraceRecordFormatVersion":"2017-03-10",',
                  '"ContactId":', _json_str(leg_id), ',"InitialContactId":', _json_str(initial),
                  ',"PreviousContactId":', _json_str(previous), ',"NextContactId":', _json_str(nxt),
                  ',"Channel":', _json_str(channel), ',"InitiationMethod":', _json_str(method),
                  ',"InitiationTimestamp":', _iso(t0), ',"ConnectedToSystemTimestamp":', _iso(t0),
                  ',"DisconnectTimestamp":', _iso(t1), ',"LastUpdateTimestamp":', _iso(t1),
                  ',"DisconnectReason":', pc.if_else(pa.array(next_leg >= 0), '"AGENT_DISCONNECT"',
                                                     '"CUSTOMER_DISCONNECT"'),
                  ',"Queue":', queue_obj, ',"Agent":', agent_obj, ',"CustomerEndpoint":', endpoint,
                  ',"SystemEndpoint":{"Address":"+18005550100","Type":"TELEPHONE_NUMBER"}',
                  ',"Attributes":', attrs, "}")
    return lines, k


def _genesys_lines(events: pa.Table) -> tuple[pa.Array, int]:
    ev = _prepare(events)
    n = events.num_rows
    cid = ev["contact_id"]
    cid_codes = pc.dictionary_encode(cid).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    c_starts = _group_starts([cid_codes])
    k = len(c_starts)
    act = ev["activity"].to_numpy(zero_copy_only=False)
    agent = ev["agent"].to_numpy(zero_copy_only=False)
    leg = ev["leg"]
    # participant of each event: 0 ivr, 1 botflow, 2 acd, 3 agent (per leg and agent)
    agent_s = np.where(agent == None, "", agent).astype(str)  # noqa: E711
    is_ivr = np.isin(act, IVR_STEPS) | (agent_s == "IVR")
    is_bot = ~is_ivr & (np.char.startswith(agent_s, "bot") | (agent_s == "Portal"))
    is_acd = ~is_ivr & ~is_bot & ((act == "Queue") | (act == "Callback scheduled"))
    kind = np.where(is_ivr, 0, np.where(is_bot, 1, np.where(is_acd, 2, 3)))
    # events of the same participant: (contact, kind, leg, agent) runs after a stable sort
    agent_code = pc.dictionary_encode(pa.array(agent_s)).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    q_code = pc.dictionary_encode(pc.fill_null(ev["queue"], "")).indices.to_numpy(zero_copy_only=False)
    part_key2 = np.where(kind == 3, agent_code, np.where(kind == 2, q_code, 0))
    part_leg = leg
    order = np.lexsort((np.arange(n), part_key2, part_leg, kind, cid_codes))
    p_starts = _group_starts([cid_codes[order], kind[order], part_leg[order], part_key2[order]])
    seg_type = np.where(kind <= 1, "interact", np.where(act == "Hold", "hold",
                                                         np.where(act == "Wrap-up", "wrapup", "interact")))
    seg_type = np.where(kind == 0, "ivr", seg_type)
    # consecutive steps of one participant in the same state are one segment (as Genesys records them):
    # an agent's interact segment spans the procedure steps and ends at a hold, wrap-up or transfer
    o_type = seg_type[order]
    o_act = act[order]
    brk = np.zeros(n, bool)
    brk[p_starts] = True
    if n > 1:
        brk[1:] |= (o_type[1:] != o_type[:-1]) | (o_act[:-1] == "Transfer")
    s_starts = np.flatnonzero(brk)
    s_last = np.concatenate((s_starts[1:], [n])) - 1
    o_start = ev["start"][order]
    o_end = np.maximum(ev["end"][order], o_start)
    seg_end = np.maximum.reduceat(o_end, s_starts) if n else o_end
    first_rows = order[s_starts]
    last_act = o_act[s_last]
    seg = _join('{"segmentStart":', _iso(o_start[s_starts], True), ',"segmentEnd":', _iso(seg_end, True),
                ',"segmentType":', _json_str(pa.array(o_type[s_starts].astype(object), pa.string())),
                pc.if_else(pa.array(kind[first_rows] == 2), _join(',"queueId":', _json_str(ev["queue"].take(
                    pa.array(first_rows)))), ""),
                pc.if_else(pa.array(last_act == "Wrap-up"), ',"wrapUpCode":"Resolved"', ""),
                pc.if_else(pa.array(last_act == "Transfer"), ',"disconnectType":"transfer"', ""), "}")
    # participant runs in segment numbering
    seg_of_part = np.searchsorted(s_starts, p_starts)
    segments = _segment_join(seg, seg_of_part, ",")
    pr = order[p_starts]                              # first event of each participant
    pkind = kind[pr]
    media = ev["channel"].take(pa.array(pr))
    purpose = pa.array(np.array(["ivr", "botflow", "acd", "agent"])[pkind].astype(object), pa.string())
    pname = pc.if_else(pa.array(pkind == 2), ev["queue"].take(pa.array(pr)),
                       pc.if_else(pa.array(pkind == 3), ev["agent"].take(pa.array(pr)),
                                  pc.if_else(pa.array(pkind == 0), "IVR", "Bot")))
    # the step trail of a leg after a transfer rides on the first participant of that leg
    p_leg = leg[pr]
    p_conv = cid_codes[pr]
    by_leg = np.lexsort((np.arange(len(pr)), p_leg, p_conv))
    lead = np.zeros(len(pr), bool)
    lead_rows = by_leg[_group_starts([p_conv[by_leg], p_leg[by_leg]])]
    lead[lead_rows] = True
    carrier = lead & (p_leg > 0)
    leg_starts = _group_starts([cid_codes, leg])
    leg_trail = _segment_join(ev["trail"], leg_starts, ";")
    leg_key = pc.binary_join_element_wise(cid.take(pa.array(leg_starts)),
                                          pc.cast(pa.array(leg[leg_starts]), pa.string()), "#")
    p_key = pc.binary_join_element_wise(cid.take(pa.array(pr)), pc.cast(pa.array(p_leg), pa.string()), "#")
    pos = pc.fill_null(pc.index_in(p_key, value_set=leg_key), -1).to_numpy(zero_copy_only=False).astype(np.int64)
    p_trail = pc.if_else(pa.array(carrier), _join(f',"{STEP_ATTRIBUTE}":', _json_str(_pick_str(leg_trail, pos))), "")
    p_attrs = _join(',"attributes":{"team":', _json_str(ev["team"].take(pa.array(pr))), ',"site":',
                    _json_str(ev["site"].take(pa.array(pr))), ',"shift":', _json_str(ev["shift"].take(pa.array(pr))),
                    ',"queue":', _json_str(ev["queue"].take(pa.array(pr))), p_trail, "}")
    participant = _join('{"participantId":', _json_str(_join(ev["contact_id"].take(pa.array(pr)), "-p",
                                                             pc.cast(pa.array(np.arange(len(pr))), pa.string()))),
                        ',"participantName":', _json_str(pname), ',"purpose":', _json_str(purpose),
                        pc.if_else(pa.array(pkind == 3), _join(',"userId":', _json_str(pname)), ""),
                        p_attrs, ',"sessions":[{"mediaType":', _json_str(media), ',"segments":[', segments, "]}]}")
    conv_of_part = cid_codes[pr]
    pc_starts = _group_starts([conv_of_part])
    others = _segment_join(participant, pc_starts, ",")
    # customer participant with the trail and contact attributes
    first = c_starts
    t_end = np.maximum(ev["end"], ev["start"])
    t1 = np.maximum.reduceat(t_end, first) if n else np.zeros(0, np.int64)
    t0 = ev["start"][first]
    leg0 = leg_trail.take(pa.array(np.flatnonzero(leg[leg_starts] == 0)))
    trail = leg0 if len(leg0) == k else _segment_join(ev["trail"], c_starts, ";")
    customer = ev["customer"].take(pa.array(first))
    is_mail = pc.fill_null(pc.match_substring(customer, "@"), False)
    address = pc.if_else(is_mail, _join(',"addressFrom":', _json_str(customer)),
                         _join(',"ani":', _json_str(_join("tel:", customer))))
    cust = _join('{"participantId":', _json_str(_join(ev["contact_id"].take(pa.array(first)), "-c")),
                 ',"participantName":"Customer","purpose":"customer","attributes":{"intent":',
                 _json_str(ev["intent"].take(pa.array(first))), ',"outcome":',
                 _json_str(ev["outcome"].take(pa.array(first))), ',"shift":',
                 _json_str(ev["shift"].take(pa.array(first))), ',"team":',
                 _json_str(ev["team"].take(pa.array(first))), ',"site":', _json_str(ev["site"].take(pa.array(first))),
                 ',"queue":', _json_str(ev["queue"].take(pa.array(first))), f',"{STEP_ATTRIBUTE}":', _json_str(trail),
                 '},"sessions":[{"mediaType":', _json_str(ev["channel"].take(pa.array(first))), address,
                 ',"direction":"inbound","segments":[{"segmentStart":', _iso(t0, True), ',"segmentEnd":',
                 _iso(t1, True), ',"segmentType":"interact","disconnectType":"peer"}]}]}')
    # participants of each conversation (conversations without other participants get none)
    others_conv = conv_of_part[pc_starts]
    other_pos = np.full(k, -1, np.int64)
    code_to_group = np.full(cid_codes.max() + 1 if n else 0, -1, np.int64)
    code_to_group[cid_codes[first]] = np.arange(k)
    other_pos[code_to_group[others_conv]] = np.arange(len(others_conv))
    others_c = pc.if_else(pa.array(other_pos >= 0), _join(",", _pick_str(others, other_pos)), "")
    lines = _join('{"conversationId":', _json_str(cid.take(pa.array(first))),
                  ',"conversationStart":', _iso(t0, True), ',"conversationEnd":', _iso(t1, True),
                  ',"originatingDirection":"inbound","participants":[', cust, others_c, "]}")
    return lines, k


VENDOR_FORMATS = {"connect": "connect_records.jsonl", "genesys": "genesys_conversations.jsonl"}


def parse_formats(formats: str) -> list[str]:
    """The export names in ``formats`` (``csv,connect,genesys``); an unknown name is refused."""
    names = [f.strip().lower() for f in formats.split(",") if f.strip()]
    unknown = [f for f in names if f not in VENDOR_FORMATS and f != "csv"]
    if unknown:
        raise InputError(f"Unknown export format '{unknown[0]}'", field="formats",
                         hint=f"Valid formats: csv, {', '.join(VENDOR_FORMATS)}")
    return names


def write_vendor_exports(sim, out_dir: str | os.PathLike, formats: str, *, compress: bool = False) -> dict[str, str]:
    """Write the vendor exports named in ``formats`` (``csv,connect,genesys``) into ``out_dir``.

    ``csv`` is the simulator's own export (always written by ``write_simulation``).
    Returns {format: file name}.
    """
    names = parse_formats(formats)
    out: dict[str, str] = {}
    for fmt in names:
        if fmt == "csv":
            continue
        name = VENDOR_FORMATS[fmt] + (".gz" if compress else "")
        if fmt == "connect":
            write_connect_records(sim.events, Path(out_dir) / name, contacts=sim.contacts)
        else:
            write_genesys_conversations(sim.events, Path(out_dir) / name)
        out[fmt] = name
    return out
