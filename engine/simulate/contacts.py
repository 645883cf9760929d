"""Simulated contacts: paths through the SOPs, people, times, deviations and drift, all as arrays."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.errors import UsageError
from engine.simulate.arrivals import draw_identifiers, draw_arrivals, find_first_contacts, keep_returns, link_repeats
from engine.simulate.deviations import (CAUSES, KINDS, UNKNOWN_ACTIVITIES, Injected, find_first,
                                        find_handoffs, inject_team_deviations, insert_events, pick_positions,
                                        skip_events)
from engine.simulate.drift import Drift
from engine.simulate.paths import SopPaths, accept_traces, build_paths, tabulate_language
from engine.simulate.timing import AGENT_ROLES, CHANNEL_GAP_S, draw_times, build_medians
from engine.simulate.workforce import build_workforce, pick_agents, route_contacts
from engine.vocabulary import ROLES, role_of

TS = pa.timestamp("ns", tz="UTC")
MAX_LEGS = 6
PING_PONG = 0.35
SAME_INTENT_ON_REPEAT = 0.85
CONTEXT_LOSS_PER_DEVIATION_RATE = 2.0
PING_PONG_PER_DEVIATION_RATE = 3.0
QUEUE_LOAD_EXPONENT = 1.5
HOUR_NS = 3600 * 10**9
EXTRA_QUEUES = ("Tier 2", "Retention")
POOL_SIZE = 12
CHANNEL_MIX = (("voice", 0.5), ("email", 0.3), ("chat", 0.2))
OUTCOMES = ("resolved", "escalated", "contained", "abandoned", "unresolved")


@dataclass(frozen=True)
class Simulation:
    """Everything a simulation produced; see the package docstring for the tables' columns."""

    events: pa.Table
    contacts: pa.Table
    transfers: pa.Table
    deviations: pa.Table
    drifts: tuple[dict, ...]
    parameters: dict
    sop_variants: dict[str, int] = field(default_factory=dict)


def _dict_column(indices: np.ndarray, dictionary: Sequence[str] | pa.Array) -> pa.DictionaryArray:
    idx = np.asarray(indices, dtype=np.int32)
    mask = idx < 0
    arr = pa.array(np.where(mask, 0, idx), pa.int32(), mask=mask if mask.any() else None)
    d = dictionary if isinstance(dictionary, pa.Array) else pa.array(list(dictionary), pa.string())
    return pa.DictionaryArray.from_arrays(arr, d)


def _queue_name(sop_name: str) -> str:
    return sop_name.replace("_", " ").replace("-", " ").strip().capitalize()


def _subset_csr(offsets: np.ndarray, codes: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lens = np.diff(offsets)[idx]
    sub = np.concatenate(([0], np.cumsum(lens))).astype(np.int64)
    gather = np.repeat(offsets[idx] - sub[:-1], lens) + np.arange(sub[-1])
    return sub, codes[gather]


def _per_contact_cumsum(flags: np.ndarray, offsets: np.ndarray, contact: np.ndarray) -> np.ndarray:
    cum = np.cumsum(flags.astype(np.int64))
    start = np.concatenate(([0], cum))[offsets[:-1]]
    return cum - start[contact]


def simulate_contacts(sops: Sequence, contacts: int, *, seed: int = 0, start: str = "2026-01-05",
                      days: int = 28, deviation_rate: float = 0.05, drifts: Sequence[Drift] = (),
                      intent_weights: Sequence[float] | None = None, timezone: str = "Europe/Lisbon"
                      ) -> Simulation:
    """Simulate ``contacts`` contacts over ``days`` days from ``start`` across the given SOPs.

    sops: objects with the ``engine.model.Sop`` fields (name, net, initial_marking, final_marking,
    owner_of, label_map). Same arguments and seed give the same result, bit for bit.
    """
    if contacts < 1:
        raise UsageError(f"--contacts must be at least 1, got {contacts}")
    if days < 1:
        raise UsageError(f"--days must be at least 1, got {days}")
    if not 0.0 <= deviation_rate <= 1.0:
        raise UsageError(f"--deviation-rate must be between 0 and 1, got {deviation_rate}")
    if not sops:
        raise UsageError("No SOP given", hint="Pass at least one --sop models/<name>.bpmn")
    if seed < 0:
        raise UsageError(f"--seed must be >= 0, got {seed}")
    try:
        datetime.fromisoformat(start)
    except ValueError as exc:
        raise UsageError(f"--start '{start}' is not an ISO date", hint="Write it as 2026-01-05") from exc
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(f"Unknown time zone '{timezone}'", hint="Use an IANA name such as Europe/Lisbon") from exc
    rng = np.random.default_rng(seed)
    sop_names = [Path(sop.path).stem if getattr(sop, "path", None) else sop.name for sop in sops]
    if len(set(sop_names)) != len(sop_names):
        raise UsageError("The same SOP was given twice", hint="Pass each --sop once")
    n = int(contacts)
    n_sops = len(sops)
    weights = np.ones(n_sops) if intent_weights is None else np.asarray(intent_weights, dtype=np.float64)
    if len(weights) != n_sops or np.any(weights < 0) or weights.sum() <= 0:
        raise UsageError("Intent weights must be one non-negative number per SOP, not all zero")

    # --- SOP paths and the activity vocabulary -------------------------------------------------
    # the simulated center logs the SOPs' own task names (a sidecar's label_map serves foreign logs)
    paths: list[SopPaths] = []
    for sop in sops:
        overrides = {task: role_of(task) for task in sop.owner_of}
        paths.append(build_paths(sop.net, sop.initial_marking, sop.final_marking, name=sop.name,
                                 role_overrides=overrides))
    sop_labels = [sorted({t for v in paths[s].variants for t in v} |
                         {t for t in sops[s].owner_of}) for s in range(n_sops)]
    verify_label = []
    for s in range(n_sops):
        verify = sorted(lbl for lbl in sop_labels[s] if role_of(lbl) == "verify" and lbl != "IVR authentication")
        verify_label.append(verify[0] if verify else "Verify identity")
    talk_label = []
    for s in range(n_sops):
        talk = [t for t in sop_labels[s] if role_of(t) == "talk"]
        talk_label.append("Agent answer" if "Agent answer" in talk or not talk else talk[0])
    all_steps = set().union(*map(set, sop_labels))
    for d in drifts:
        for step in (d.step if d.change in ("skip", "handle_time") else None, d.after):
            if step is not None and step not in all_steps:
                raise UsageError(f"Drift {d.id}: '{step}' is not a step of any SOP given",
                                 hint=f"Steps: {', '.join(sorted(all_steps))}")
    drift_labels = {d.step for d in drifts if d.change in ("skip", "insert") and d.step} | \
                   {d.after for d in drifts if d.after}
    vocab = sorted(all_steps | set(verify_label) | set(talk_label) | set(UNKNOWN_ACTIVITIES) | drift_labels)
    code = {lbl: i for i, lbl in enumerate(vocab)}
    n_codes = len(vocab)
    roles = [role_of(lbl) for lbl in vocab]
    role_arr = np.array(roles)

    var_codes, var_len, var_first, var_channel = [], [], [], []
    sop_var_base, sop_probs = [], []
    for s, p in enumerate(paths):
        sop_var_base.append(len(var_len))
        sop_probs.append(p.probabilities)
        for v in p.variants:
            c = [code[t] for t in v]
            var_first.append(sum(var_len))
            var_codes.extend(c)
            var_len.append(len(c))
            r = {roles[x] for x in c}
            var_channel.append("voice" if "ivr" in r else "chat" if "bot" in r else "web" if "portal" in r else "")
    var_codes_a = np.array(var_codes, dtype=np.int32)
    var_len_a = np.array(var_len, dtype=np.int64)
    var_first_a = np.array(var_first, dtype=np.int64)
    # language automata over the log's codes
    tables = []
    for s, p in enumerate(paths):
        task_codes = {t: code[t] for (_, t) in p.moves}
        table, accept = tabulate_language(p, task_codes, n_codes)
        tables.append((table, accept, p.start))

    # --- arrivals, customers, intents, paths -----------------------------------------------------
    arrivals = draw_arrivals(rng, n, start, days, timezone)
    parent, root = link_repeats(rng, arrivals)

    draws = rng.choice(n_sops, size=n, p=weights / weights.sum())
    keep_intent = rng.random(n) < SAME_INTENT_ON_REPEAT
    sop_of = np.where((parent >= 0) & keep_intent, draws[root], draws).astype(np.int32)
    variant = np.empty(n, dtype=np.int64)
    for s in range(n_sops):
        mask = sop_of == s
        variant[mask] = sop_var_base[s] + rng.choice(len(sop_probs[s]), size=int(mask.sum()), p=sop_probs[s])

    channel_names = ("voice", "chat", "web", "email", "sms")
    ch_idx = {c: i for i, c in enumerate(channel_names)}
    var_ch = np.array([ch_idx.get(c, -1) for c in var_channel], dtype=np.int32)
    channel = var_ch[variant]
    free = channel < 0
    mix = rng.choice(len(CHANNEL_MIX), size=n, p=[w for _, w in CHANNEL_MIX])
    channel = np.where(free, np.array([ch_idx[c] for c, _ in CHANNEL_MIX])[mix], channel).astype(np.int32)

    # --- people ------------------------------------------------------------------------------------
    agents_per_team = int(np.clip(n // (days * 40), 8, 400))
    wf = build_workforce(rng, agents_per_team)
    site, team, agent, shift = route_contacts(rng, wf, arrivals)

    # --- events ----------------------------------------------------------------------------------
    lengths = var_len_a[variant]
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    pos = np.arange(offsets[-1]) - np.repeat(offsets[:-1], lengths)
    codes = var_codes_a[np.repeat(var_first_a[variant], lengths) + pos]
    del pos

    injected = Injected()
    probability = np.clip(deviation_rate * wf.team_propensity[team] * wf.agent_propensity[agent] *
                          wf.shift_propensity[shift], 0.0, 0.9)
    sop_pools = [np.array([code[lbl] for lbl in sop_labels[s]], dtype=np.int32) for s in range(n_sops)]
    unknown_codes = np.array([code[lbl] for lbl in UNKNOWN_ACTIVITIES], dtype=np.int32)
    offsets, codes = inject_team_deviations(rng, offsets, codes, probability, sop_of, sop_pools, unknown_codes,
                                            injected)

    # --- drift -----------------------------------------------------------------------------------
    scope_values = {"team": (wf.teams, team), "site": (wf.sites, site), "shift": (wf.shifts, shift),
                    "sop": (tuple(sop_names), sop_of), "channel": (channel_names, channel)}
    context_p = np.full(n, min(0.9, CONTEXT_LOSS_PER_DEVIATION_RATE * deviation_rate))
    context_drift = np.full(n, -1, dtype=np.int16)
    bot_versions = ["bot-v1"]
    bot_version = np.zeros(n, dtype=np.int32)
    handle_factors: list[tuple[np.ndarray, int | None, float]] = []
    drift_counts = []
    for di, d in enumerate(drifts):
        in_scope = arrivals >= d.start_ns
        for key, value in sorted(d.scope.items()):
            names, values = scope_values[key]
            if value not in names:
                raise UsageError(f"Drift {d.id}: unknown {key} '{value}'", hint=f"Valid: {', '.join(names)}")
            in_scope &= values == names.index(value)
        hit = in_scope & (rng.random(n) < d.p)
        affected = 0
        if d.change == "skip":
            cand = np.flatnonzero(hit & (np.diff(offsets) >= 2))
            ev = find_first(offsets, codes, cand, code[d.step])
            ok = ev >= 0
            injected.add(cand[ok], 0, codes[ev[ok]], cause=2, drift=di)
            offsets, codes = skip_events(offsets, codes, ev[ok])
            affected = int(ok.sum())
        elif d.change == "insert":
            cand = np.flatnonzero(hit)
            ev = find_first(offsets, codes, cand, code[d.after])
            ok = ev >= 0
            new = np.full(int(ok.sum()), code[d.step], dtype=np.int32)
            injected.add(cand[ok], 1, new, cause=2, drift=di)
            offsets, codes = insert_events(offsets, codes, ev[ok] + 1, cand[ok], new)
            affected = int(ok.sum())
        elif d.change == "context_loss":
            label = d.bot_version if d.bot_version.startswith("bot-") else f"bot-{d.bot_version}"
            if label not in bot_versions:
                bot_versions.append(label)
            bot_version[in_scope] = bot_versions.index(label)
            context_p[in_scope] = d.value
            context_drift[in_scope] = di
            affected = int(in_scope.sum())
        else:
            handle_factors.append((in_scope, None if d.step is None else code[d.step], d.value))
            affected = int(in_scope.sum())
        drift_counts.append(affected)

    # --- bot handoffs that lose context: the customer identifies again ---------------------------
    is_bot = role_arr == "bot"
    is_talk = role_arr == "talk"
    handoff = find_handoffs(offsets, codes, is_bot, is_talk)
    lost = np.flatnonzero((handoff >= 0) & (rng.random(n) < context_p))
    verify_codes = np.array([code[v] for v in verify_label], dtype=np.int32)[sop_of[lost]]
    injected.add(lost, 1, verify_codes, cause=1, drift=context_drift[lost])
    offsets, codes = insert_events(offsets, codes, handoff[lost] + 1, lost, verify_codes)
    bot_handoff = handoff >= 0
    context_loss = np.zeros(n, dtype=bool)
    context_loss[lost] = True

    # --- ping-pong: the customer is transferred on, then back to the first queue -------------------
    is_transfer = role_arr == "transfer"
    contact_ev = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
    talk_seen = _per_contact_cumsum(is_talk[codes], offsets, contact_ev) > 0
    first_transfer = pick_positions(offsets, np.arange(n), is_transfer[codes] & talk_seen, np.zeros(n))
    ping_p = min(0.9, PING_PONG_PER_DEVIATION_RATE * deviation_rate)
    # only where the transfer is followed by a step (the other queue answers) before the transfer back
    followed = (first_transfer >= 0) & (first_transfer + 1 < offsets[1:])
    bounced = np.flatnonzero(followed & (rng.random(n) < ping_p))
    back = np.empty(2 * len(bounced), dtype=np.int32)
    back[0::2] = codes[first_transfer[bounced]]
    back[1::2] = np.array([code[t] for t in talk_label], dtype=np.int32)[sop_of[bounced]]
    at = np.repeat(first_transfer[bounced] + 2, 2)
    injected.add(bounced, 1, back[0::2], cause=3)
    injected.add(bounced, 1, back[1::2], cause=3)
    offsets, codes = insert_events(offsets, codes, at, np.repeat(bounced, 2), back)
    ping_ponged = np.zeros(n, dtype=bool)
    ping_ponged[bounced] = True

    # --- does each trace still fit its SOP? -------------------------------------------------------
    fits = np.zeros(n, dtype=bool)
    for s in range(n_sops):
        idx = np.flatnonzero(sop_of == s)
        sub_off, sub_codes = _subset_csr(offsets, codes, idx)
        table, accept, st = tables[s]
        fits[idx] = accept_traces(table, accept, st, sub_off, sub_codes)
    truth = injected.arrays()
    deviation_count = np.bincount(truth["contact"], minlength=n).astype(np.int32)

    # --- legs, transfers and ping-pong --------------------------------------------------------------
    lengths = np.diff(offsets)
    contact_ev = np.repeat(np.arange(n, dtype=np.int64), lengths)
    talk_cum = _per_contact_cumsum(is_talk[codes], offsets, contact_ev)
    is_leg_transfer = is_transfer[codes] & (talk_cum > 0)
    leg_cum = _per_contact_cumsum(is_leg_transfer, offsets, contact_ev)
    leg = np.minimum(leg_cum - is_leg_transfer, MAX_LEGS - 1).astype(np.int8)
    queues = tuple(_queue_name(s) for s in sop_names) + EXTRA_QUEUES
    q_leg = np.empty((n, MAX_LEGS), dtype=np.int32)
    t_leg = np.empty((n, MAX_LEGS), dtype=np.int32)
    a_leg = np.empty((n, MAX_LEGS), dtype=np.int32)
    pp_leg = np.zeros((n, MAX_LEGS), dtype=bool)
    q_leg[:, 0], t_leg[:, 0], a_leg[:, 0] = sop_of, team, agent
    n_teams = len(wf.teams)
    for lg in range(1, MAX_LEGS):
        shift_q = 1 + (rng.random(n) * (len(queues) - 1)).astype(np.int32)
        q_new = (q_leg[:, lg - 1] + shift_q) % len(queues)
        t_new = ((t_leg[:, lg - 1] + 1 + (rng.random(n) * (n_teams - 1)).astype(np.int32)) % n_teams).astype(np.int32)
        a_new = pick_agents(rng, wf, t_new)
        back = (rng.random(n) < PING_PONG) if lg >= 2 else np.zeros(n, dtype=bool)
        if lg == 2:
            back |= ping_ponged
        q_leg[:, lg] = np.where(back, q_leg[:, max(lg - 2, 0)], q_new)
        t_leg[:, lg] = np.where(back, t_leg[:, max(lg - 2, 0)], t_new)
        a_leg[:, lg] = np.where(back, a_leg[:, max(lg - 2, 0)], a_new)
        pp_leg[:, lg] = back

    # --- times -----------------------------------------------------------------------------------
    medians = build_medians(vocab, roles)
    agent_role = np.isin(role_arr, list(AGENT_ROLES))
    gap_s = np.array([CHANNEL_GAP_S[c] for c in channel_names])[channel]
    # queue waits grow with the load of the hour (arrivals in that hour against the average hour)
    hour = (arrivals - arrivals[0]) // HOUR_NS
    per_hour = np.bincount(hour)
    load = per_hour[hour] / per_hour[per_hour > 0].mean()
    factor = np.ones(len(codes))
    is_queue = role_arr == "queue"
    queued = is_queue[codes]
    factor[queued] = np.clip(load ** QUEUE_LOAD_EXPONENT, 0.3, 4.0)[contact_ev[queued]]
    if handle_factors:
        for in_scope, step_code, f in handle_factors:
            sel = in_scope[contact_ev]
            if step_code is not None:
                sel &= codes == step_code
            factor[sel] *= f
    start_ns, end_ns = draw_times(rng, offsets, codes, arrivals, medians, agent_role, wf.agent_speed[agent],
                                  gap_s, factor)

    # --- owners and resources -------------------------------------------------------------------
    owners = sorted({o for sop in sops for o in sop.owner_of.values() if o})
    owner_idx = {o: i for i, o in enumerate(owners)}
    owner_table = np.full((n_sops, n_codes), -1, dtype=np.int32)
    agent_owner = np.full(n_sops, -1, dtype=np.int32)
    bot_owner = np.full(n_sops, -2, dtype=np.int32)
    for s, sop in enumerate(sops):
        for task, o in sop.owner_of.items():
            lbl = task
            if lbl in code and o:
                owner_table[s, code[lbl]] = owner_idx[o]
        # live agents work in the lane that answers the contact
        if sop.owner_of.get(talk_label[s]):
            agent_owner[s] = owner_idx[sop.owner_of[talk_label[s]]]
        # the bot's lane: its steps (a handoff included) are done by the bot
        bot_lanes = sorted(o for t, o in sop.owner_of.items() if o and role_of(t) == "bot")
        if bot_lanes:
            bot_owner[s] = owner_idx[bot_lanes[0]]
    owner_ev = owner_table[sop_of[contact_ev], codes]
    # steps the SOP does not own (unknown activities): the owner of the step before
    known_at = np.where(owner_ev >= 0, np.arange(len(codes)), -1)
    known_at = np.maximum.accumulate(known_at)
    first_of_contact = offsets[:-1][contact_ev]
    owner_ev = np.where((owner_ev < 0) & (known_at >= first_of_contact), owner_ev[np.maximum(known_at, 0)], owner_ev)

    resources = list(wf.agents) + ["IVR", "Portal"] + bot_versions
    pool_base = len(resources)
    for o in owners:
        resources.extend(f"{o}-{k:02d}" for k in range(1, POOL_SIZE + 1))
    role_code = np.array([ROLES.index(r) for r in roles], dtype=np.int8)
    ev_role = role_code[codes]

    def is_role(*names: str) -> np.ndarray:
        return np.isin(ev_role, [ROLES.index(x) for x in names])

    leg_agent = a_leg[contact_ev, leg]
    pool_pick = (rng.random(n) * POOL_SIZE).astype(np.int32)
    # back-office steps: a member of the owning team's pool, one per contact and team
    own = np.maximum(owner_ev, 0)
    pool_res = pool_base + own * POOL_SIZE + (pool_pick[contact_ev] + own) % POOL_SIZE
    is_agent_work = (owner_ev < 0) | (owner_ev == agent_owner[sop_of[contact_ev]])
    resource = np.where(is_agent_work, leg_agent, pool_res)
    resource = np.where(is_role("ivr"), len(wf.agents), resource)
    resource = np.where(is_role("portal"), len(wf.agents) + 1, resource)
    by_bot = is_role("bot") | (owner_ev == bot_owner[sop_of[contact_ev]])
    resource = np.where(by_bot, len(wf.agents) + 2 + bot_version[contact_ev], resource)
    resource = np.where(is_role("queue", "abandon", "end"), -1, resource)

    # --- outcomes --------------------------------------------------------------------------------
    def has(role: str) -> np.ndarray:
        out = np.zeros(n, dtype=bool)
        out[contact_ev[is_role(role)]] = True
        return out

    resolved, escalated, abandoned = has("resolve"), has("escalate"), has("abandon")
    contained = has("bot") & ~has("talk")
    outcome = np.full(n, 4, dtype=np.int32)
    outcome[contained] = 2
    outcome[escalated] = 1
    outcome[resolved] = 0
    outcome[abandoned & ~resolved] = 3

    # --- customers: who comes back depends on how their last contact went -----------------------
    parent = keep_returns(rng, parent, outcome, context_loss | ((deviation_count > 0) & ~fits))
    _, customer = np.unique(find_first_contacts(parent), return_inverse=True)
    n_customers = int(customer.max()) + 1
    ids, alt = draw_identifiers(rng, n_customers)
    spelling = rng.random(n) < 0.3
    customer_code = customer + np.where(spelling, n_customers, 0)
    customers_dict = pa.concat_arrays([ids, alt])

    # --- tables ----------------------------------------------------------------------------------
    width = max(7, len(str(n)))
    contact_ids = pc.binary_join_element_wise(
        "C", pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), width, "0"), "")
    intents = pa.array(sop_names, pa.string())
    events = pa.table({
        "contact_id": _dict_column(contact_ev, contact_ids),
        "activity": _dict_column(codes, vocab),
        "start": pa.array(start_ns, TS),
        "end": pa.array(end_ns, TS),
        "agent": _dict_column(resource, resources),
        "owner": _dict_column(owner_ev, owners),
        "team": _dict_column(t_leg[contact_ev, leg], wf.teams),
        "site": _dict_column(site[contact_ev], wf.sites),
        "shift": _dict_column(shift[contact_ev], wf.shifts),
        "channel": _dict_column(channel[contact_ev], channel_names),
        "queue": _dict_column(q_leg[contact_ev, leg], queues),
        "customer": _dict_column(customer_code[contact_ev], customers_dict),
        "intent": _dict_column(sop_of[contact_ev], intents),
        "outcome": _dict_column(outcome[contact_ev], OUTCOMES),
        "leg": pa.array(leg, pa.int8()),
    })
    n_legs = np.bincount(contact_ev, weights=is_leg_transfer, minlength=n).astype(np.int32) + 1
    tr_ev = np.flatnonzero(is_leg_transfer)
    tr_c = contact_ev[tr_ev]
    from_leg = leg[tr_ev].astype(np.int64)
    to_leg = np.minimum(from_leg + 1, MAX_LEGS - 1)
    ping = pp_leg[tr_c, to_leg] & (to_leg > from_leg)
    transfers = pa.table({
        "contact_id": _dict_column(tr_c, contact_ids),
        "at": pa.array(start_ns[tr_ev], TS),
        "from_leg": pa.array(from_leg.astype(np.int8)),
        "to_leg": pa.array(to_leg.astype(np.int8)),
        "from_queue": _dict_column(q_leg[tr_c, from_leg], queues),
        "to_queue": _dict_column(q_leg[tr_c, to_leg], queues),
        "from_team": _dict_column(t_leg[tr_c, from_leg], wf.teams),
        "to_team": _dict_column(t_leg[tr_c, to_leg], wf.teams),
        "from_agent": _dict_column(a_leg[tr_c, from_leg], wf.agents),
        "to_agent": _dict_column(a_leg[tr_c, to_leg], wf.agents),
        "ping_pong": pa.array(ping),
    })
    ping_contacts = np.bincount(tr_c, weights=ping, minlength=n) > 0
    contacts_table = pa.table({
        "contact_id": contact_ids,
        "customer": _dict_column(customer_code, customers_dict),
        "arrival": pa.array(arrivals, TS),
        "sop": _dict_column(sop_of, intents),
        "variant": pa.array((variant - np.array(sop_var_base)[sop_of]).astype(np.int32)),
        "channel": _dict_column(channel, channel_names),
        "queue": _dict_column(sop_of, queues),
        "site": _dict_column(site, wf.sites),
        "shift": _dict_column(shift, wf.shifts),
        "team": _dict_column(team, wf.teams),
        "agent": _dict_column(agent, wf.agents),
        "repeat_of": _dict_column(np.where(parent >= 0, parent, -1), contact_ids),
        "legs": pa.array(n_legs),
        "ping_pong": pa.array(ping_contacts),
        "bot_version": _dict_column(bot_version, bot_versions),
        "bot_handoff": pa.array(bot_handoff),
        "context_loss": pa.array(context_loss),
        "outcome": _dict_column(outcome, OUTCOMES),
        "deviations": pa.array(deviation_count),
        "fits_sop": pa.array(fits),
    })
    drift_names = [d.id for d in drifts]
    deviations = pa.table({
        "contact_id": _dict_column(truth["contact"], contact_ids),
        "step": _dict_column(truth["step"], vocab),
        "kind": _dict_column(truth["kind"].astype(np.int32), KINDS),
        "other_step": _dict_column(truth["other"], vocab),
        "cause": _dict_column(truth["cause"].astype(np.int32), CAUSES),
        "drift_id": _dict_column(truth["drift"].astype(np.int32), drift_names or ["-"]),
        "allowed_by_sop": pa.array(fits[truth["contact"]]),
        "sop": _dict_column(sop_of[truth["contact"]], intents),
        "team": _dict_column(team[truth["contact"]], wf.teams),
        "site": _dict_column(site[truth["contact"]], wf.sites),
        "shift": _dict_column(shift[truth["contact"]], wf.shifts),
        "agent": _dict_column(agent[truth["contact"]], wf.agents),
    })
    drift_info = []
    for di, d in enumerate(drifts):
        info = d.describe()
        info["contacts_affected"] = drift_counts[di]
        info["deviations_injected"] = int((truth["drift"] == di).sum())
        drift_info.append(info)
    parameters = {"sops": sop_names, "contacts": n, "seed": seed, "start": start, "days": days,
                  "deviation_rate": deviation_rate, "timezone": timezone,
                  "intent_weights": [float(w) for w in weights], "agents_per_team": agents_per_team,
                  "drifts": [d.describe() for d in drifts]}
    return Simulation(events=events, contacts=contacts_table, transfers=transfers, deviations=deviations,
                      drifts=tuple(drift_info), parameters=parameters,
                      sop_variants={sop_names[s]: len(paths[s].variants) for s in range(n_sops)})
