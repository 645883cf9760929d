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

from engine.errors import InputError
from engine.simulate.arrivals import draw_identifiers, draw_arrivals, find_first_contacts, keep_returns, link_repeats
from engine.simulate.deviations import (CAUSES, KINDS, UNKNOWN_ACTIVITIES, Injected, find_first,
                                        find_handoffs, inject_team_deviations, insert_events, pick_positions,
                                        skip_events)
from engine.simulate.drift import Drift
from engine.simulate.paths import SopPaths, accept_traces, build_paths, tabulate_language
from engine.simulate.frictions import Frictions, back_office_owners, delay_back_office
from engine.simulate.variety import EXTRA_LABELS, VARIETIES, add_variety
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


CHANNEL_NAMES = ("voice", "chat", "web", "email", "sms")


def check_arguments(sops: Sequence, contacts: int, days: int, deviation_rate: float, seed: int, start: str,
                    timezone: str, intent_weights: Sequence[float] | None) -> tuple[list[str], np.ndarray]:
    """(SOP names, intent weights) once the arguments of ``simulate_contacts`` are checked."""
    if contacts < 1:
        raise InputError(f"contacts must be at least 1, got {contacts}", field="contacts")
    if days < 1:
        raise InputError(f"days must be at least 1, got {days}", field="days")
    if not 0.0 <= deviation_rate <= 1.0:
        raise InputError(f"deviation_rate must be between 0 and 1, got {deviation_rate}", field="deviation_rate")
    if not sops:
        raise InputError("No SOP given", field="sops", hint="Give at least one SOP model (models/<name>.bpmn)")
    if seed < 0:
        raise InputError(f"seed must be >= 0, got {seed}", field="seed")
    try:
        datetime.fromisoformat(start)
    except ValueError as exc:
        raise InputError(f"start '{start}' is not an ISO date", field="start", hint="Write it as 2026-01-05") from exc
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(f"Unknown time zone '{timezone}'", field="timezone",
                         hint="Use an IANA name such as Europe/Lisbon") from exc
    sop_names = [Path(sop.path).stem if getattr(sop, "path", None) else sop.name for sop in sops]
    if len(set(sop_names)) != len(sop_names):
        raise InputError("The same SOP was given twice", field="sops", hint="Give each SOP once")
    weights = np.ones(len(sops)) if intent_weights is None else np.asarray(intent_weights, dtype=np.float64)
    if len(weights) != len(sops) or np.any(weights < 0) or weights.sum() <= 0:
        raise InputError("Intent weights must be one non-negative number per SOP, not all zero",
                         field="intent_weights")
    return sop_names, weights


@dataclass
class _Vocabulary:
    """The SOPs' paths and the activity codes of the simulated log."""

    paths: list[SopPaths]
    sop_labels: list[list[str]]
    verify_label: list[str]           # per SOP, the step that verifies identity
    talk_label: list[str]             # per SOP, the step where an agent talks to the customer
    vocab: list[str]                  # code -> activity
    code: dict[str, int]
    roles: list[str]                  # code -> role
    var_codes: np.ndarray             # int32, variants' activity codes back to back
    var_len: np.ndarray               # int64 per variant
    var_first: np.ndarray             # int64 per variant
    var_channel: list[str]            # per variant, the channel its self-service step implies ("" none)
    sop_var_base: list[int]           # first variant of each SOP
    sop_probs: list[np.ndarray]
    tables: list[tuple]               # per SOP, (language table, accepting states, start state)

    @property
    def role_arr(self) -> np.ndarray:
        return np.array(self.roles)


def build_vocabulary(sops: Sequence, drifts: Sequence[Drift], extra: Sequence[str] = ()) -> _Vocabulary:
    """Paths through every SOP and the activity vocabulary (the SOPs' own task names, drift steps,
    unknown activities and the ``extra`` labels); a drift naming a step no SOP has is refused."""
    paths: list[SopPaths] = []
    for sop in sops:
        overrides = {task: role_of(task) for task in sop.owner_of}
        paths.append(build_paths(sop.net, sop.initial_marking, sop.final_marking, name=sop.name,
                                 role_overrides=overrides))
    n_sops = len(sops)
    sop_labels = [sorted({t for v in paths[s].variants for t in v} | {t for t in sops[s].owner_of})
                  for s in range(n_sops)]
    verify_label, talk_label = [], []
    for s in range(n_sops):
        verify = sorted(lbl for lbl in sop_labels[s] if role_of(lbl) == "verify" and lbl != "IVR authentication")
        verify_label.append(verify[0] if verify else "Verify identity")
        talk = [t for t in sop_labels[s] if role_of(t) == "talk"]
        talk_label.append("Agent answer" if "Agent answer" in talk or not talk else talk[0])
    all_steps = set().union(*map(set, sop_labels))
    for d in drifts:
        for step in (d.step if d.change in ("skip", "handle_time") else None, d.after):
            if step is not None and step not in all_steps:
                raise InputError(f"Drift {d.id}: '{step}' is not a step of any SOP given", field="drifts",
                                 hint=f"Steps: {', '.join(sorted(all_steps))}")
    drift_labels = {d.step for d in drifts if d.change in ("skip", "insert") and d.step} | \
                   {d.after for d in drifts if d.after}
    vocab = sorted(all_steps | set(verify_label) | set(talk_label) | set(UNKNOWN_ACTIVITIES) | drift_labels
                   | set(extra))
    code = {lbl: i for i, lbl in enumerate(vocab)}
    roles = [role_of(lbl) for lbl in vocab]
    var_codes, var_len, var_first, var_channel = [], [], [], []
    sop_var_base, sop_probs = [], []
    for p in paths:
        sop_var_base.append(len(var_len))
        sop_probs.append(p.probabilities)
        for v in p.variants:
            c = [code[t] for t in v]
            var_first.append(sum(var_len))
            var_codes.extend(c)
            var_len.append(len(c))
            r = {roles[x] for x in c}
            var_channel.append("voice" if "ivr" in r else "chat" if "bot" in r else "web" if "portal" in r else "")
    # language automata over the log's codes
    tables = []
    for p in paths:
        table, accept = tabulate_language(p, {t: code[t] for (_, t) in p.moves}, len(vocab))
        tables.append((table, accept, p.start))
    return _Vocabulary(paths=paths, sop_labels=sop_labels, verify_label=verify_label, talk_label=talk_label,
                       vocab=vocab, code=code, roles=roles, var_codes=np.array(var_codes, dtype=np.int32),
                       var_len=np.array(var_len, dtype=np.int64), var_first=np.array(var_first, dtype=np.int64),
                       var_channel=var_channel, sop_var_base=sop_var_base, sop_probs=sop_probs, tables=tables)


def simulate_contacts(sops: Sequence, contacts: int, *, seed: int = 0, start: str = "2026-01-05",
                      days: int = 28, deviation_rate: float = 0.05, drifts: Sequence[Drift] = (),
                      intent_weights: Sequence[float] | None = None, timezone: str = "Europe/Lisbon",
                      variety: str = "standard", frictions: Frictions | None = None) -> Simulation:
    """Simulate ``contacts`` contacts over ``days`` days from ``start`` across the given SOPs.

    variety: "standard" (the SOPs' paths and the deviations above) or "realistic" (also the long
    tail of small departures of engine.simulate.variety: repeated steps, extra holds, customers
    identified again after a transfer, system steps, swaps, skips, loops).

    sops: objects with the ``engine.model.Sop`` fields (name, net, initial_marking, final_marking,
    owner_of, label_map). Same arguments and seed give the same result, bit for bit. A bad argument
    raises InputError naming it (``field``).
    """
    sop_names, weights = check_arguments(sops, contacts, days, deviation_rate, seed, start, timezone,
                                         intent_weights)
    if variety not in VARIETIES:
        raise InputError(f"Unknown variety '{variety}' (valid: {', '.join(VARIETIES)})", field="variety")
    rng = np.random.default_rng(seed)
    n = int(contacts)
    voc = build_vocabulary(sops, drifts, EXTRA_LABELS if variety == "realistic" else ())
    # arrivals, customers, intents, paths, channels
    arrivals = draw_arrivals(rng, n, start, days, timezone)
    parent, root = link_repeats(rng, arrivals)
    sop_of, variant, channel = _draw_intents(rng, voc, weights, parent, root)
    # people
    agents_per_team = int(np.clip(n // (days * 40), 8, 400))
    wf = build_workforce(rng, agents_per_team)
    people = _People(wf, *route_contacts(rng, wf, arrivals))
    # events, with deviations by team, drift, lost context and ping-pong transfers
    trace = _draw_traces(rng, voc, variant, sop_of, people, deviation_rate)
    if variety == "realistic":
        _add_variety(np.random.default_rng([seed, 1]), trace, voc, sop_of, people)
    scope_values = {"team": (wf.teams, people.team), "site": (wf.sites, people.site),
                    "shift": (wf.shifts, people.shift), "sop": (tuple(sop_names), sop_of),
                    "channel": (CHANNEL_NAMES, channel)}
    drift = _apply_drifts(rng, drifts, trace, voc, arrivals, scope_values, deviation_rate)
    frictions = _apply_frictions(frictions, drift)
    bot_handoff, context_loss = _lose_context(rng, trace, voc, sop_of, drift)
    ping_ponged = _ping_pong(rng, trace, voc, sop_of, min(0.9, PING_PONG_PER_DEVIATION_RATE * deviation_rate)
                             if frictions.ping_pong is None else frictions.ping_pong)
    fits = np.zeros(n, dtype=bool)
    for s, (table, accept, st) in enumerate(voc.tables):
        idx = np.flatnonzero(sop_of == s)
        sub_off, sub_codes = _subset_csr(trace.offsets, trace.codes, idx)
        fits[idx] = accept_traces(table, accept, st, sub_off, sub_codes)
    truth = trace.injected.arrays()
    deviation_count = np.bincount(truth["contact"], minlength=n).astype(np.int32)
    queues = tuple(_queue_name(s) for s in sop_names) + EXTRA_QUEUES
    legs = _draw_legs(rng, trace, voc, sop_of, people, ping_ponged, len(queues))
    start_ns, end_ns = _draw_times(rng, trace, voc, arrivals, channel, people, drift.handle_factors, legs)
    owner_ev, owners, resource, resources = _owners_and_resources(rng, sops, trace, voc, sop_of, people, drift,
                                                                  legs)
    start_ns, end_ns, bo_delayed, bo_delay_s = delay_back_office(
        seed, frictions, trace.offsets, owner_ev, back_office_owners(sops, owners, voc.talk_label,
                                                  frictions.back_office_owner), start_ns, end_ns)
    outcome = _outcomes(voc, legs.contact_ev, trace.codes, n)
    # customers: who comes back depends on how their last contact went
    parent = keep_returns(rng, parent, outcome, context_loss | ((deviation_count > 0) & ~fits))
    _, customer = np.unique(find_first_contacts(parent), return_inverse=True)
    n_customers = int(customer.max()) + 1
    ids, alt = draw_identifiers(rng, n_customers)
    spelling = rng.random(n) < 0.3
    customer_code = customer + np.where(spelling, n_customers, 0)
    customers_dict = pa.concat_arrays([ids, alt])
    # tables
    width = max(7, len(str(n)))
    contact_ids = pc.binary_join_element_wise(
        "C", pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), width, "0"), "")
    intents = pa.array(sop_names, pa.string())
    ev, c = legs.contact_ev, legs.leg
    events = pa.table({
        "contact_id": _dict_column(ev, contact_ids),
        "activity": _dict_column(trace.codes, voc.vocab),
        "start": pa.array(start_ns, TS),
        "end": pa.array(end_ns, TS),
        "agent": _dict_column(resource, resources),
        "owner": _dict_column(owner_ev, owners),
        "team": _dict_column(legs.team[ev, c], wf.teams),
        "site": _dict_column(people.site[ev], wf.sites),
        "shift": _dict_column(people.shift[ev], wf.shifts),
        "channel": _dict_column(channel[ev], CHANNEL_NAMES),
        "queue": _dict_column(legs.queue[ev, c], queues),
        "customer": _dict_column(customer_code[ev], customers_dict),
        "intent": _dict_column(sop_of[ev], intents),
        "outcome": _dict_column(outcome[ev], OUTCOMES),
        "leg": pa.array(c, pa.int8()),
    })
    transfers, ping_contacts = _transfer_table(legs, contact_ids, start_ns, queues, wf, n)
    contacts_table = pa.table({
        "contact_id": contact_ids,
        "customer": _dict_column(customer_code, customers_dict),
        "arrival": pa.array(arrivals, TS),
        "sop": _dict_column(sop_of, intents),
        "variant": pa.array((variant - np.array(voc.sop_var_base)[sop_of]).astype(np.int32)),
        "channel": _dict_column(channel, CHANNEL_NAMES),
        "queue": _dict_column(sop_of, queues),
        "site": _dict_column(people.site, wf.sites),
        "shift": _dict_column(people.shift, wf.shifts),
        "team": _dict_column(people.team, wf.teams),
        "agent": _dict_column(people.agent, wf.agents),
        "repeat_of": _dict_column(np.where(parent >= 0, parent, -1), contact_ids),
        "legs": pa.array(np.bincount(ev, weights=legs.is_transfer, minlength=n).astype(np.int32) + 1),
        "ping_pong": pa.array(ping_contacts),
        "bot_version": _dict_column(drift.bot_version, drift.bot_versions),
        "bot_handoff": pa.array(bot_handoff),
        "context_loss": pa.array(context_loss),
        "outcome": _dict_column(outcome, OUTCOMES),
        "deviations": pa.array(deviation_count),
        "fits_sop": pa.array(fits),
    })
    if bo_delayed.any():
        contacts_table = contacts_table.append_column("back_office_delay", pa.array(bo_delayed)) \
            .append_column("back_office_delay_s", pa.array(bo_delay_s))
    deviations = _deviation_table(truth, contact_ids, voc.vocab, drifts, fits, sop_of, intents, people)
    drift_info, parameters = _describe_run(drifts, drift, truth, sop_names, n, seed, start, days, deviation_rate,
                                           timezone, weights, agents_per_team, variety, frictions)
    return Simulation(events=events, contacts=contacts_table, transfers=transfers, deviations=deviations,
                      drifts=tuple(drift_info), parameters=parameters,
                      sop_variants={sop_names[s]: len(voc.paths[s].variants) for s in range(len(sops))})


def _apply_frictions(frictions: Frictions | None, drift) -> Frictions:
    """The frictions asked for (checked); a set context-loss probability replaces the drifts' default."""
    frictions = frictions or Frictions()
    frictions.check()
    if frictions.context_loss is not None:
        drift.context_p[drift.context_drift < 0] = frictions.context_loss
    return frictions


def _describe_run(drifts, drift, truth, sop_names, n, seed, start, days, deviation_rate, timezone, weights,
                  agents_per_team, variety, frictions) -> tuple[list[dict], dict]:
    """The drift points with what they touched, and the run's parameters (for the manifest)."""
    drift_info = []
    for di, d in enumerate(drifts):
        info = d.describe()
        info["contacts_affected"] = drift.counts[di]
        info["deviations_injected"] = int((truth["drift"] == di).sum())
        drift_info.append(info)
    parameters = {"sops": sop_names, "contacts": n, "seed": seed, "start": start, "days": days,
                  "deviation_rate": deviation_rate, "timezone": timezone,
                  "intent_weights": [float(w) for w in weights], "agents_per_team": agents_per_team,
                  "drifts": [d.describe() for d in drifts]}
    if variety != "standard":
        parameters["variety"] = variety
    if frictions != Frictions():
        parameters["frictions"] = frictions.as_dict()
    return drift_info, parameters


def _draw_intents(rng, voc: _Vocabulary, weights: np.ndarray, parent: np.ndarray, root: np.ndarray):
    """(SOP, variant, channel) of each contact; a repeat contact mostly keeps its first contact's intent."""
    n, n_sops = len(parent), len(weights)
    draws = rng.choice(n_sops, size=n, p=weights / weights.sum())
    keep_intent = rng.random(n) < SAME_INTENT_ON_REPEAT
    sop_of = np.where((parent >= 0) & keep_intent, draws[root], draws).astype(np.int32)
    variant = np.empty(n, dtype=np.int64)
    for s in range(n_sops):
        mask = sop_of == s
        variant[mask] = voc.sop_var_base[s] + rng.choice(len(voc.sop_probs[s]), size=int(mask.sum()),
                                                         p=voc.sop_probs[s])
    ch_idx = {c: i for i, c in enumerate(CHANNEL_NAMES)}
    var_ch = np.array([ch_idx.get(c, -1) for c in voc.var_channel], dtype=np.int32)
    channel = var_ch[variant]
    free = channel < 0
    mix = rng.choice(len(CHANNEL_MIX), size=n, p=[w for _, w in CHANNEL_MIX])
    channel = np.where(free, np.array([ch_idx[c] for c, _ in CHANNEL_MIX])[mix], channel).astype(np.int32)
    return sop_of, variant, channel


@dataclass
class _People:
    """The workforce and who handles each contact first."""

    wf: object
    site: np.ndarray
    team: np.ndarray
    agent: np.ndarray
    shift: np.ndarray


@dataclass
class _Traces:
    """Each contact's activity codes (CSR) and the deviations injected into them so far."""

    offsets: np.ndarray
    codes: np.ndarray
    injected: Injected


def _draw_traces(rng, voc: _Vocabulary, variant: np.ndarray, sop_of: np.ndarray, people: _People,
                 deviation_rate: float) -> _Traces:
    """The variants' traces, with deviations injected more often for some teams, shifts and agents."""
    lengths = voc.var_len[variant]
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    pos = np.arange(offsets[-1]) - np.repeat(offsets[:-1], lengths)
    codes = voc.var_codes[np.repeat(voc.var_first[variant], lengths) + pos]
    del pos
    injected = Injected()
    wf = people.wf
    probability = np.clip(deviation_rate * wf.team_propensity[people.team] * wf.agent_propensity[people.agent] *
                          wf.shift_propensity[people.shift], 0.0, 0.9)
    sop_pools = [np.array([voc.code[lbl] for lbl in labels], dtype=np.int32) for labels in voc.sop_labels]
    unknown_codes = np.array([voc.code[lbl] for lbl in UNKNOWN_ACTIVITIES], dtype=np.int32)
    offsets, codes = inject_team_deviations(rng, offsets, codes, probability, sop_of, sop_pools, unknown_codes,
                                            injected)
    return _Traces(offsets, codes, injected)


def _add_variety(rng, trace: _Traces, voc: _Vocabulary, sop_of: np.ndarray, people: _People) -> None:
    """The realistic long tail (engine.simulate.variety), more of it in teams that deviate more."""
    known = np.zeros((len(voc.sop_labels), len(voc.vocab)), dtype=bool)
    for s, labels in enumerate(voc.sop_labels):
        known[s, [voc.code[lbl] for lbl in labels]] = True
    verify = np.array([voc.code[v] for v in voc.verify_label], dtype=np.int32)[sop_of]
    propensity = people.wf.team_propensity[people.team]
    trace.offsets, trace.codes = add_variety(rng, trace.offsets, trace.codes, propensity / propensity.mean(),
                                             voc.role_arr, voc.code, verify,
                                             lambda c, x: known[sop_of[c], x], trace.injected)


@dataclass
class _DriftEffects:
    """What the drift points changed beyond the traces."""

    context_p: np.ndarray             # per contact, probability that a bot handoff loses context
    context_drift: np.ndarray         # per contact, the drift that set it (-1 none)
    bot_versions: list[str]
    bot_version: np.ndarray
    handle_factors: list[tuple[np.ndarray, int | None, float]]
    counts: list[int]                 # contacts affected per drift


def _apply_drifts(rng, drifts: Sequence[Drift], trace: _Traces, voc: _Vocabulary, arrivals: np.ndarray,
                  scope_values: dict, deviation_rate: float) -> _DriftEffects:
    """Apply each drift point from its date on, within its scope: skipped or inserted steps (in ``trace``),
    context loss of a bot version, handle-time factors."""
    n, code = len(arrivals), voc.code
    out = _DriftEffects(context_p=np.full(n, min(0.9, CONTEXT_LOSS_PER_DEVIATION_RATE * deviation_rate)),
                        context_drift=np.full(n, -1, dtype=np.int16), bot_versions=["bot-v1"],
                        bot_version=np.zeros(n, dtype=np.int32), handle_factors=[], counts=[])
    for di, d in enumerate(drifts):
        in_scope = arrivals >= d.start_ns
        for key, value in sorted(d.scope.items()):
            names, values = scope_values[key]
            if value not in names:
                raise InputError(f"Drift {d.id}: unknown {key} '{value}'", field="drifts",
                                 hint=f"Valid: {', '.join(names)}")
            in_scope &= values == names.index(value)
        hit = in_scope & (rng.random(n) < d.p)
        if d.change in ("skip", "insert"):
            cand = np.flatnonzero(hit & (np.diff(trace.offsets) >= 2)) if d.change == "skip" else np.flatnonzero(hit)
            ev = find_first(trace.offsets, trace.codes, cand, code[d.step if d.change == "skip" else d.after])
            ok = ev >= 0
            if d.change == "skip":
                trace.injected.add(cand[ok], 0, trace.codes[ev[ok]], cause=2, drift=di)
                trace.offsets, trace.codes = skip_events(trace.offsets, trace.codes, ev[ok])
            else:
                new = np.full(int(ok.sum()), code[d.step], dtype=np.int32)
                trace.injected.add(cand[ok], 1, new, cause=2, drift=di)
                trace.offsets, trace.codes = insert_events(trace.offsets, trace.codes, ev[ok] + 1, cand[ok], new)
            affected = int(ok.sum())
        elif d.change == "context_loss":
            label = d.bot_version if d.bot_version.startswith("bot-") else f"bot-{d.bot_version}"
            if label not in out.bot_versions:
                out.bot_versions.append(label)
            out.bot_version[in_scope] = out.bot_versions.index(label)
            out.context_p[in_scope] = d.value
            out.context_drift[in_scope] = di
            affected = int(in_scope.sum())
        else:
            out.handle_factors.append((in_scope, None if d.step is None else code[d.step], d.value))
            affected = int(in_scope.sum())
        out.counts.append(affected)
    return out


def _lose_context(rng, trace: _Traces, voc: _Vocabulary, sop_of: np.ndarray, drift: _DriftEffects):
    """Bot handoffs that lose context: the customer identifies again. (bot handoff, context lost) per contact."""
    n = len(sop_of)
    role_arr = voc.role_arr
    handoff = find_handoffs(trace.offsets, trace.codes, role_arr == "bot", role_arr == "talk")
    lost = np.flatnonzero((handoff >= 0) & (rng.random(n) < drift.context_p))
    verify_codes = np.array([voc.code[v] for v in voc.verify_label], dtype=np.int32)[sop_of[lost]]
    trace.injected.add(lost, 1, verify_codes, cause=1, drift=drift.context_drift[lost])
    trace.offsets, trace.codes = insert_events(trace.offsets, trace.codes, handoff[lost] + 1, lost, verify_codes)
    context_loss = np.zeros(n, dtype=bool)
    context_loss[lost] = True
    return handoff >= 0, context_loss


def _ping_pong(rng, trace: _Traces, voc: _Vocabulary, sop_of: np.ndarray, ping_p: float) -> np.ndarray:
    """The customer is transferred on, then back to the first queue; the contacts it happened to."""
    n = len(sop_of)
    role_arr = voc.role_arr
    offsets, codes = trace.offsets, trace.codes
    is_transfer = role_arr == "transfer"
    contact_ev = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
    talk_seen = _per_contact_cumsum((role_arr == "talk")[codes], offsets, contact_ev) > 0
    first_transfer = pick_positions(offsets, np.arange(n), is_transfer[codes] & talk_seen, np.zeros(n))
    # only where the transfer is followed by a step (the other queue answers) before the transfer back
    followed = (first_transfer >= 0) & (first_transfer + 1 < offsets[1:])
    bounced = np.flatnonzero(followed & (rng.random(n) < ping_p))
    back = np.empty(2 * len(bounced), dtype=np.int32)
    back[0::2] = codes[first_transfer[bounced]]
    back[1::2] = np.array([voc.code[t] for t in voc.talk_label], dtype=np.int32)[sop_of[bounced]]
    at = np.repeat(first_transfer[bounced] + 2, 2)
    trace.injected.add(bounced, 1, back[0::2], cause=3)
    trace.injected.add(bounced, 1, back[1::2], cause=3)
    trace.offsets, trace.codes = insert_events(offsets, codes, at, np.repeat(bounced, 2), back)
    ping_ponged = np.zeros(n, dtype=bool)
    ping_ponged[bounced] = True
    return ping_ponged


@dataclass
class _Legs:
    """Each event's contact and leg; per contact and leg, the queue, team and agent, and ping-pong backs."""

    contact_ev: np.ndarray
    leg: np.ndarray                   # int8 per event
    is_transfer: np.ndarray           # per event, a transfer that starts a new leg
    queue: np.ndarray                 # int32 [contact, leg]
    team: np.ndarray
    agent: np.ndarray
    ping_pong: np.ndarray             # bool [contact, leg]: this leg went back to the one before last


def _draw_legs(rng, trace: _Traces, voc: _Vocabulary, sop_of: np.ndarray, people: _People,
               ping_ponged: np.ndarray, n_queues: int) -> _Legs:
    """Legs between transfers: each goes to another queue and team, or back (ping-pong)."""
    n = len(sop_of)
    role_arr = voc.role_arr
    offsets, codes = trace.offsets, trace.codes
    contact_ev = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
    talk_cum = _per_contact_cumsum((role_arr == "talk")[codes], offsets, contact_ev)
    is_leg_transfer = (role_arr == "transfer")[codes] & (talk_cum > 0)
    leg_cum = _per_contact_cumsum(is_leg_transfer, offsets, contact_ev)
    leg = np.minimum(leg_cum - is_leg_transfer, MAX_LEGS - 1).astype(np.int8)
    q_leg = np.empty((n, MAX_LEGS), dtype=np.int32)
    t_leg = np.empty((n, MAX_LEGS), dtype=np.int32)
    a_leg = np.empty((n, MAX_LEGS), dtype=np.int32)
    pp_leg = np.zeros((n, MAX_LEGS), dtype=bool)
    q_leg[:, 0], t_leg[:, 0], a_leg[:, 0] = sop_of, people.team, people.agent
    n_teams = len(people.wf.teams)
    for lg in range(1, MAX_LEGS):
        shift_q = 1 + (rng.random(n) * (n_queues - 1)).astype(np.int32)
        q_new = (q_leg[:, lg - 1] + shift_q) % n_queues
        t_new = ((t_leg[:, lg - 1] + 1 + (rng.random(n) * (n_teams - 1)).astype(np.int32)) % n_teams).astype(np.int32)
        a_new = pick_agents(rng, people.wf, t_new)
        back = (rng.random(n) < PING_PONG) if lg >= 2 else np.zeros(n, dtype=bool)
        if lg == 2:
            back |= ping_ponged
        q_leg[:, lg] = np.where(back, q_leg[:, max(lg - 2, 0)], q_new)
        t_leg[:, lg] = np.where(back, t_leg[:, max(lg - 2, 0)], t_new)
        a_leg[:, lg] = np.where(back, a_leg[:, max(lg - 2, 0)], a_new)
        pp_leg[:, lg] = back
    return _Legs(contact_ev, leg, is_leg_transfer, q_leg, t_leg, a_leg, pp_leg)


def _draw_times(rng, trace: _Traces, voc: _Vocabulary, arrivals: np.ndarray, channel: np.ndarray,
                people: _People, handle_factors: list, legs: _Legs) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of each event; queue waits grow with the load of the hour (arrivals in that hour
    against the average hour); drifts scale handle times."""
    role_arr, codes, contact_ev = voc.role_arr, trace.codes, legs.contact_ev
    medians = build_medians(voc.vocab, voc.roles)
    agent_role = np.isin(role_arr, list(AGENT_ROLES))
    gap_s = np.array([CHANNEL_GAP_S[c] for c in CHANNEL_NAMES])[channel]
    hour = (arrivals - arrivals[0]) // HOUR_NS
    per_hour = np.bincount(hour)
    load = per_hour[hour] / per_hour[per_hour > 0].mean()
    factor = np.ones(len(codes))
    queued = (role_arr == "queue")[codes]
    factor[queued] = np.clip(load ** QUEUE_LOAD_EXPONENT, 0.3, 4.0)[contact_ev[queued]]
    for in_scope, step_code, f in handle_factors:
        sel = in_scope[contact_ev]
        if step_code is not None:
            sel &= codes == step_code
        factor[sel] *= f
    return draw_times(rng, trace.offsets, codes, arrivals, medians, agent_role, people.wf.agent_speed[people.agent],
                      gap_s, factor)


def _owners_and_resources(rng, sops: Sequence, trace: _Traces, voc: _Vocabulary, sop_of: np.ndarray,
                          people: _People, drift: _DriftEffects, legs: _Legs):
    """(owner code per event, owners, resource code per event, resources): the SOP lane that owns each step,
    and who did it: the leg's agent, a member of a back-office pool, the IVR, the portal or a bot version."""
    n, n_codes = len(sop_of), len(voc.vocab)
    code, codes, contact_ev, offsets = voc.code, trace.codes, legs.contact_ev, trace.offsets
    owners = sorted({o for sop in sops for o in sop.owner_of.values() if o})
    owner_idx = {o: i for i, o in enumerate(owners)}
    owner_table = np.full((len(sops), n_codes), -1, dtype=np.int32)
    agent_owner = np.full(len(sops), -1, dtype=np.int32)
    bot_owner = np.full(len(sops), -2, dtype=np.int32)
    for s, sop in enumerate(sops):
        for task, o in sop.owner_of.items():
            if task in code and o:
                owner_table[s, code[task]] = owner_idx[o]
        # live agents work in the lane that answers the contact
        if sop.owner_of.get(voc.talk_label[s]):
            agent_owner[s] = owner_idx[sop.owner_of[voc.talk_label[s]]]
        # the bot's lane: its steps (a handoff included) are done by the bot
        bot_lanes = sorted(o for t, o in sop.owner_of.items() if o and role_of(t) == "bot")
        if bot_lanes:
            bot_owner[s] = owner_idx[bot_lanes[0]]
    owner_ev = owner_table[sop_of[contact_ev], codes]
    # steps the SOP does not own (unknown activities): the owner of the step before
    known_at = np.maximum.accumulate(np.where(owner_ev >= 0, np.arange(len(codes)), -1))
    first_of_contact = offsets[:-1][contact_ev]
    owner_ev = np.where((owner_ev < 0) & (known_at >= first_of_contact), owner_ev[np.maximum(known_at, 0)], owner_ev)
    wf = people.wf
    resources = list(wf.agents) + ["IVR", "Portal"] + drift.bot_versions
    pool_base = len(resources)
    for o in owners:
        resources.extend(f"{o}-{k:02d}" for k in range(1, POOL_SIZE + 1))
    ev_role = np.array([ROLES.index(r) for r in voc.roles], dtype=np.int8)[codes]

    def is_role(*names: str) -> np.ndarray:
        return np.isin(ev_role, [ROLES.index(x) for x in names])

    leg_agent = legs.agent[contact_ev, legs.leg]
    pool_pick = (rng.random(n) * POOL_SIZE).astype(np.int32)
    # back-office steps: a member of the owning team's pool, one per contact and team
    own = np.maximum(owner_ev, 0)
    pool_res = pool_base + own * POOL_SIZE + (pool_pick[contact_ev] + own) % POOL_SIZE
    is_agent_work = (owner_ev < 0) | (owner_ev == agent_owner[sop_of[contact_ev]])
    resource = np.where(is_agent_work, leg_agent, pool_res)
    resource = np.where(is_role("ivr"), len(wf.agents), resource)
    resource = np.where(is_role("portal"), len(wf.agents) + 1, resource)
    by_bot = is_role("bot") | (owner_ev == bot_owner[sop_of[contact_ev]])
    resource = np.where(by_bot, len(wf.agents) + 2 + drift.bot_version[contact_ev], resource)
    resource = np.where(is_role("queue", "abandon", "end"), -1, resource)
    return owner_ev, owners, resource, resources


def _outcomes(voc: _Vocabulary, contact_ev: np.ndarray, codes: np.ndarray, n: int) -> np.ndarray:
    """Outcome code of each contact (OUTCOMES) from the roles of its steps."""
    roles = np.array(voc.roles)

    def has(role: str) -> np.ndarray:
        out = np.zeros(n, dtype=bool)
        out[contact_ev[(roles == role)[codes]]] = True
        return out

    resolved, escalated, abandoned = has("resolve"), has("escalate"), has("abandon")
    contained = has("bot") & ~has("talk")
    outcome = np.full(n, 4, dtype=np.int32)
    outcome[contained] = 2
    outcome[escalated] = 1
    outcome[resolved] = 0
    outcome[abandoned & ~resolved] = 3
    return outcome


def _transfer_table(legs: _Legs, contact_ids: pa.Array, start_ns: np.ndarray, queues: tuple, wf,
                    n: int) -> tuple[pa.Table, np.ndarray]:
    """One row per transfer leg, and per contact whether a transfer went back (ping-pong)."""
    tr_ev = np.flatnonzero(legs.is_transfer)
    tr_c = legs.contact_ev[tr_ev]
    from_leg = legs.leg[tr_ev].astype(np.int64)
    to_leg = np.minimum(from_leg + 1, MAX_LEGS - 1)
    ping = legs.ping_pong[tr_c, to_leg] & (to_leg > from_leg)
    transfers = pa.table({
        "contact_id": _dict_column(tr_c, contact_ids),
        "at": pa.array(start_ns[tr_ev], TS),
        "from_leg": pa.array(from_leg.astype(np.int8)),
        "to_leg": pa.array(to_leg.astype(np.int8)),
        "from_queue": _dict_column(legs.queue[tr_c, from_leg], queues),
        "to_queue": _dict_column(legs.queue[tr_c, to_leg], queues),
        "from_team": _dict_column(legs.team[tr_c, from_leg], wf.teams),
        "to_team": _dict_column(legs.team[tr_c, to_leg], wf.teams),
        "from_agent": _dict_column(legs.agent[tr_c, from_leg], wf.agents),
        "to_agent": _dict_column(legs.agent[tr_c, to_leg], wf.agents),
        "ping_pong": pa.array(ping),
    })
    return transfers, np.bincount(tr_c, weights=ping, minlength=n) > 0


def _deviation_table(truth: dict, contact_ids: pa.Array, vocab: list[str], drifts: Sequence[Drift],
                     fits: np.ndarray, sop_of: np.ndarray, intents: pa.Array, people: _People) -> pa.Table:
    """One row per injected deviation, with the contact's SOP and people."""
    c, wf = truth["contact"], people.wf
    return pa.table({
        "contact_id": _dict_column(c, contact_ids),
        "step": _dict_column(truth["step"], vocab),
        "kind": _dict_column(truth["kind"].astype(np.int32), KINDS),
        "other_step": _dict_column(truth["other"], vocab),
        "cause": _dict_column(truth["cause"].astype(np.int32), CAUSES),
        "drift_id": _dict_column(truth["drift"].astype(np.int32), [d.id for d in drifts] or ["-"]),
        "allowed_by_sop": pa.array(fits[c]),
        "sop": _dict_column(sop_of[c], intents),
        "team": _dict_column(people.team[c], wf.teams),
        "site": _dict_column(people.site[c], wf.sites),
        "shift": _dict_column(people.shift[c], wf.shifts),
        "agent": _dict_column(people.agent[c], wf.agents),
    })
