"""The friction finders: deviations, handoffs, drift and KPI outliers, each as measured ``Friction`` rows.

Definitions and the measurement are in engine.analyses.friction; each finder
here picks the affected contacts (and, where the comparison is narrower than
"every other contact of the same SOP and channel", the comparable ones).
The finders read the per-contact, per-handoff and per-deviation rows of
``engine.analyses.friction.Measures``, never the events: what they need of
the events (``conform_log``, ``handoff_times``) is computed beforehand, per
log or per partition. Only the drift finder reads a log: each SOP's
contacts, given by the caller.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from engine.analyses.contrast import contrast

DEVIATION_KINDS_AT_RISK = (0, 3)  # skipped, out of order
SLOW_MARGIN_NS = 60 * 10**9  # a handoff is slow beyond 3 x its edge's median delay + this


def conform_log(log, sops, sop_of_case: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Each SOP's conformance on its own contacts: (breach per contact: a compliance-critical step skipped
    or run out of order; deviant per event: a deviation was found there; per SOP, one row per deviation:
    ``case``, ``step`` (into ``steps``), ``kind``, ``team`` (code of the event's team, -1 none))."""
    from engine.analyses.conformance import check_conformance
    from engine.log.select import select_cases
    breach = np.zeros(log.n_cases, dtype=bool)
    deviant = np.zeros(log.n_events, dtype=bool)
    team_codes = log.attributes["team"][0] if "team" in log.attributes else np.full(log.n_events, -1, np.int32)
    out = []
    for s, sop in enumerate(sops):
        keep = sop_of_case == s
        if not keep.any():
            out.append({"case": np.zeros(0, np.int64), "step": np.zeros(0, np.int32), "kind": np.zeros(0, np.int8),
                        "team": np.zeros(0, np.int32), "steps": ()})
            continue
        idx = np.flatnonzero(keep)
        sub = select_cases(log, keep)
        dev = check_conformance(sub, sop, examples=0).deviations
        crit = np.array([st in sop.critical for st in dev.steps] + [False], dtype=bool)
        risky = crit[dev.step] & np.isin(dev.kind, DEVIATION_KINDS_AT_RISK) if len(dev.step) else np.zeros(0, bool)
        breach[idx[dev.case[risky]]] = True
        events = log.case_offsets[idx[dev.case]] + (dev.event - sub.case_offsets[dev.case])
        deviant[events] = True
        out.append({"case": idx[dev.case], "step": dev.step, "kind": dev.kind, "team": team_codes[events],
                    "steps": tuple(dev.steps)})
    return breach, deviant, out


def deviation_findings(run) -> list:
    """One finding per SOP, step, kind and team of the event where the deviation was found."""
    from engine.analyses.deviations import KINDS
    from engine.analyses.friction import _finding
    found = []
    team_labels = run.labels["event_team"]
    for s, dev in enumerate(run.deviations):
        sop = run.sops[s]
        steps = run.labels.get(f"steps:{s}", ())
        key = (dev["step"].astype(np.int64) * len(KINDS) + dev["kind"]) * (len(team_labels) + 1) + (dev["team"] + 1)
        for k in np.unique(key):
            cases = np.unique(dev["case"][key == k])
            if len(cases) < run.min_contacts:
                continue
            t = int(k % (len(team_labels) + 1)) - 1
            sk = int(k // (len(team_labels) + 1))
            step, kind = steps[sk // len(KINDS)], KINDS[sk % len(KINDS)]
            team_name = team_labels[t] if t >= 0 else None
            owner = sop.owner_of.get(step)
            where = f"{sop.name}: {step} {kind.replace('_', ' ')}" + (f" by team {team_name}" if team_name else "")
            found.append(_finding(run, "deviation", kind, where, sop.name, [owner] if owner else [], cases,
                                  contrast(run.contacts, cases), _pick(run, cases),
                                  teams=[team_name] if team_name else None))
    return found


def handoff_times(log, h, owner_codes: np.ndarray, deviant_event: np.ndarray, sop_of_case: np.ndarray) -> dict:
    """Per handoff, what the handoff findings read of the events: ``unexpected`` (context lost, and not by
    a repetition the contact's SOP allows, such as a retry loop: conformance found a deviation at the
    repeated step, or the contact follows no SOP); for context loss, the repeated step's start (the
    previous event's stop) and stop and its owner (``loss_from``, ``loss_to``, ``loss_owner``); the
    first event after the handoff: its start and owner (``event_ts``, ``event_owner``)."""
    lost = np.flatnonzero(h.loss_event >= 0)
    events = h.loss_event[lost]
    cases = h.case[lost]
    first = events == log.case_offsets[cases]
    prev = np.where(first, log.timestamps[events], _stop_ns(log, np.maximum(events - 1, 0)))
    loss_from, loss_to = np.zeros(len(h.case), np.int64), np.zeros(len(h.case), np.int64)
    loss_owner = np.full(len(h.case), -1, dtype=np.int32)
    loss_from[lost] = np.minimum(prev, log.timestamps[events])
    loss_to[lost] = _stop_ns(log, events)
    loss_owner[lost] = owner_codes[events]
    at = np.maximum(h.loss_event, 0)
    unexpected = h.context_loss & (deviant_event[at] | (sop_of_case[h.case] < 0)) if len(h.case) \
        else np.zeros(0, dtype=bool)
    return {"unexpected": unexpected, "loss_from": loss_from, "loss_to": loss_to, "loss_owner": loss_owner,
            "event_ts": log.timestamps[h.event], "event_owner": owner_codes[h.event].astype(np.int32)}


def _pick(run, cases: np.ndarray) -> tuple[str, ...]:
    from engine.analyses.friction import _evidence
    return _evidence(run, cases)


def handoff_findings(run) -> list:
    """Context loss and delay on owner edges, ping-pong on route edges and over all of them."""
    from engine.analyses.friction import _evidence, _finding
    h = run.handoffs
    found = []
    unexpected = run.times["unexpected"]
    key = (h.kind.astype(np.int64) << 40) | (h.frm.astype(np.int64) << 20) | h.to.astype(np.int64)
    for k in np.unique(key):
        kind, frm, to = int(k >> 40), int((k >> 20) & 0xFFFFF), int(k & 0xFFFFF)
        a, b = h.labels[kind][frm], h.labels[kind][to]
        sel = key == k
        crossing = np.zeros(run.n_cases, dtype=bool)
        crossing[h.case[sel]] = True
        if kind == 0:
            lost = np.unique(h.case[sel & unexpected])
            if len(lost) >= run.min_contacts:
                pool = crossing.copy()
                pool[lost] = False
                effect = _repeated_time(run, np.flatnonzero(sel & unexpected), contrast(run.contacts, lost, pool))
                found.append(_finding(run, "handoff", "context loss", f"context loss at handoff {a} -> {b}", None,
                                      [b], lost, effect, _evidence(run, lost)))
            typical = float(np.median(h.delay_ns[sel]))
            slow_ns = 3 * typical + SLOW_MARGIN_NS
            slow_sel = sel & (h.delay_ns > slow_ns)
            slow = np.unique(h.case[slow_sel])
            if len(slow) >= run.min_contacts:
                pool = crossing.copy()
                pool[slow] = False
                longest = np.zeros(run.n_cases)
                np.maximum.at(longest, h.case[slow_sel], h.delay_ns[slow_sel] / 1e9)
                found.append(_finding(run, "handoff", "delay",
                                      f"delay at handoff {a} -> {b} (over {slow_ns / 1e9:,.0f} s: 3 x its "
                                      "median + 60 s)", None, [b], slow, contrast(run.contacts, slow, pool),
                                      _evidence(run, slow, longest[slow])))
        else:
            ping = np.unique(h.case[sel & h.ping_pong])
            if len(ping) >= run.min_contacts:
                pool = np.ones(run.n_cases, dtype=bool)
                pool[np.unique(h.case[h.ping_pong & (h.kind == 1)])] = False
                effect = _detour_time(run, np.flatnonzero(sel & h.ping_pong), contrast(run.contacts, ping, pool))
                found.append(_finding(run, "handoff", "ping-pong", f"ping-pong transfer {a} -> {b} (back to {b})",
                                      None, _owners_at(run, ping), ping, effect,
                                      _evidence(run, ping), teams=[b, a]))
    ping_all = np.unique(h.case[h.ping_pong & (h.kind == 1)])
    if len(ping_all) >= run.min_contacts:
        pool = np.ones(run.n_cases, dtype=bool)
        found.append(_finding(run, "handoff", "ping-pong", "ping-pong transfers (back to a team already visited)",
                              None, _owners_at(run, ping_all), ping_all,
                              _detour_time(run, np.flatnonzero(h.ping_pong & (h.kind == 1)),
                                           contrast(run.contacts, ping_all, pool)),
                              _evidence(run, ping_all)))
    return found


def _stop_ns(log, events: np.ndarray) -> np.ndarray:
    """Each event's end, else the next event's start in its case, else its own start."""
    from engine.log.encode import NO_TIME
    ts = log.timestamps
    case_end = np.searchsorted(log.case_offsets, events, side="right")
    last = events + 1 >= log.case_offsets[case_end]
    nxt = np.where(last, ts[events], ts[np.minimum(events + 1, len(ts) - 1)])
    if log.end_timestamps is None:
        return nxt
    end = log.end_timestamps[events]
    return np.where(end != NO_TIME, end, nxt)


def _direct_time(run, cases: np.ndarray, t_from: np.ndarray, t_to: np.ndarray, owner: np.ndarray, effect):
    """A friction's added time measured inside each affected contact (from ``t_from`` to ``t_to``, ns),
    charged to ``owner`` (owner codes, -1 unknown) at the contact's SOP rate; mean per affected contact
    with a normal 95% interval. Replaces the comparison's extra minutes and cost; outcomes stay compared."""
    from engine.analyses.contrast import Z95, Difference
    minutes = np.maximum(t_to - t_from, 0) / 6e10
    unknown = run.rates.shape[1] - 2
    rate = run.rates[run.contacts.sop[cases], np.where(owner >= 0, owner, unknown)]
    per_case, cost_case = np.zeros(run.n_cases), np.zeros(run.n_cases)
    np.add.at(per_case, cases, minutes)
    np.add.at(cost_case, cases, minutes * rate)
    u = np.unique(cases)

    def mean_ci(x):
        m = float(x.mean())
        half = Z95 * float(x.std(ddof=1)) / np.sqrt(len(x)) if len(x) > 1 else 0.0
        return Difference(m, 0.0, m, m - half, m + half, len(x), 0,
                          "measured in each affected contact: mean, normal approximation")
    owners = {}
    for o in np.unique(owner):
        owners[run.contacts.owners[o if o >= 0 else unknown]] = float(minutes[owner == o].sum() / len(u))
    return replace(effect, extra_minutes=mean_ci(per_case[u]), cost=mean_ci(cost_case[u]), owner_minutes=owners,
                   unmatched=0)


def _repeated_time(run, rows: np.ndarray, effect):
    """Context loss: the repeated step's length and the wait before it (from the previous event's stop)."""
    t = run.times
    return _direct_time(run, run.handoffs.case[rows], t["loss_from"][rows], t["loss_to"][rows], t["loss_owner"][rows],
                        effect)


def _detour_time(run, rows: np.ndarray, effect):
    """Ping-pong: from the transfer to the team in between (the route handoff before, in the same contact)
    to the first event back, charged to the owner of the first event in between."""
    h, t = run.handoffs, run.times
    ok = (rows > 0) & (h.case[np.maximum(rows - 1, 0)] == h.case[rows]) & (h.kind[np.maximum(rows - 1, 0)] == 1)
    rows = rows[ok]
    before = rows - 1
    t_from = t["event_ts"][before] - h.delay_ns[before]
    return _direct_time(run, h.case[rows], t_from, t["event_ts"][rows], t["event_owner"][before], effect)


def _owners_at(run, cases: np.ndarray) -> list[str]:
    """Owners with the most time in the cases (those holding at least 10% of it)."""
    minutes = run.contacts.owner_min[cases].sum(axis=0)
    total = minutes.sum()
    order = np.argsort(-minutes, kind="stable")
    return [run.contacts.owners[i] for i in order if total and minutes[i] >= 0.1 * total]


def _presence(log, change) -> np.ndarray:
    """bool per case: the case has the activity, or the edge, of a drift ``Change``."""
    from engine.analyses.drift import END, START
    from engine.kernels.drift import cases_with_edges
    acts = {a: i for i, a in enumerate(log.activities)}
    marker = len(log.activities)
    if change.kind == "activity":
        case_of = np.repeat(np.arange(log.n_cases), np.diff(log.case_offsets))
        return np.bincount(case_of[log.activity_codes == acts[change.label]], minlength=log.n_cases) > 0
    a, b = change.label.split(" -> ", 1)
    ka = marker if a == START else acts[a]
    kb = marker if b == END else acts[b]
    keys = np.array([ka * (marker + 1) + kb], dtype=np.int64)
    return cases_with_edges(log.case_offsets, log.activity_codes, keys, marker)[:, 0].astype(bool)


def drift_findings(run) -> list:
    """One finding per change point of each SOP's contacts (module docstring of engine.analyses.friction)."""
    from engine.analyses.drift import DriftSettings, detect_drift
    from engine.analyses.friction import _finding
    from engine.errors import AnalysisError
    found = []
    for s, sop in enumerate(run.sops):
        keep = run.match.sop_of_case == s
        if keep.sum() < 2 * DriftSettings().min_cases:
            continue
        idx = np.flatnonzero(keep)
        sub = run.sop_log(keep)
        try:
            result = detect_drift(sub)
        except AnalysisError:
            continue
        for cp in result.change_points:
            changes = [c for c in cp.changes if c.kind == "activity" and c.label in sub.activities]
            changes += [c for c in cp.changes if c.kind == "edge"]
            if not changes:
                continue
            ch = changes[0]
            has = _presence(sub, ch)
            behaves = has if ch.share_after > ch.share_before else ~has
            in_seg = np.ones(sub.n_cases, dtype=bool)
            where = f"{sop.name}: from {cp.timestamp or cp.case_index}"
            teams = None
            if cp.where:
                w = cp.where[0]
                codes, labels = sub.case_attributes[w.attribute]
                labels = list(labels)
                in_seg = codes == labels.index(w.value)
                where += f", {w.attribute} {w.value}"
                teams = [w.value] if w.attribute == "team" else None
            after = np.zeros(sub.n_cases, dtype=bool)
            after[cp.case_index:] = True
            verb = "more" if ch.share_after > ch.share_before else "fewer"
            where += f": {verb} contacts with {ch.kind} '{ch.label}' ({ch.share_before:.1%} -> {ch.share_after:.1%})"
            affected = idx[after & in_seg & behaves]
            pool = np.zeros(run.n_cases, dtype=bool)
            pool[idx[~after & in_seg]] = True
            owner = sop.owner_of.get(sop.task_name(ch.label)) if ch.kind == "activity" else None
            found.append(_finding(run, "drift", "change point", where, sop.name, [owner] if owner else [],
                                  affected, contrast(run.contacts, affected, pool), _pick(run, affected),
                                  teams=teams))
    return found


def kpi_findings(run, by) -> list:
    """Segments whose contacts take longer, repeat, miss FCR or escalate more than comparable ones."""
    from engine.analyses.friction import _finding
    attrs = list(by)
    worse = {"duration_min": 1, "repeat_rate": 1, "fcr": -1, "escalation_rate": 1}
    found = []
    for attr in attrs:
        codes, labels = run.segments[attr]
        labels = list(labels)
        for v, label in enumerate(labels):
            cases = np.flatnonzero(codes == v)
            if len(cases) < run.min_contacts or len(cases) == run.n_cases:
                continue
            effect = contrast(run.contacts, cases)
            bad = [name for name, sign in worse.items()
                   if effect.outcomes[name].low is not None
                   and (effect.outcomes[name].low > 0 if sign > 0 else effect.outcomes[name].high < 0)]
            if not bad:
                continue
            worse_in = ", ".join(n.replace("_", " ") for n in bad)
            where = f"{attr} {label}: {worse_in} worse than comparable contacts"
            found.append(_finding(run, "kpi", "outlier", where, None, _owners_at(run, cases), cases, effect,
                                  _pick(run, cases), teams=[label] if attr == "team" else None))
    return found
