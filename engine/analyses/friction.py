"""Friction points from every analysis on one scale, ranked by what they cost and what they risk.

``rank_frictions(log, sops, ...)`` finds four kinds of friction on a log
whose contacts are matched to their SOPs (engine.analyses.ownership):

- ``deviation``: contacts with one SOP deviation (step, kind) where the step
  was run (or due) by one team (engine.analyses.conformance).
- ``handoff``: context loss on an owner edge (the customer identifies again
  or a step is repeated after the handoff, and conformance finds a deviation
  at that repetition: a repeat the contact's SOP allows, such as a retry
  loop, is not counted); ping-pong on a route edge and over all of them (the
  transfer returns to a team already visited); delay on an owner edge
  (handoffs slower than 3 x the edge's median delay + 60 s, against the same
  edge's faster handoffs) (engine.analyses.handoffs, engine.analyses.findings).
- ``drift``: a change point of an SOP's contacts (engine.analyses.drift):
  the contacts after it, in the segment that holds most of the change, that
  show the new behaviour (lacking the activity whose share fell, or having
  the one whose share rose), against that segment's contacts before it.
- ``kpi``: a segment (value of a ``by`` attribute) whose contacts take
  longer, repeat, miss first-contact resolution or escalate more than
  comparable contacts of other segments (95% interval away from 0).

For each finding, measured on its affected contacts against comparable ones
(engine.analyses.contrast: same SOP, channel and owners taking part): frequency (contacts, share
of all contacts with a Wilson interval, contacts per period), extra minutes
per affected contact (contact time from event times, the waits between steps
included, queue waits for an agent excluded: they are no owner's work),
cost per affected contact (each owner's extra minutes times that owner's cost
per minute; context loss and ping-pong are measured inside each affected
contact instead: the repeated step, the detour through the other team),
cost per period = contacts per period x cost per contact, risk,
outcomes (contact duration, AHT, repeat rate, FCR, escalation rate: affected
against comparable, with intervals), owners and teams involved, example contact ids.

Period: contacts per period = affected contacts / days the log spans x period
days (the projection if nothing changes).

Risk = contacts per period x (1 + 9 x critical share), where critical share
is the share of the affected contacts in which a compliance-critical step of
their SOP was skipped or run out of order: a breach weighs ten times a plain
friction contact.

Ranking rule: by cost per period, highest first (ties: higher risk first);
``rank_by="risk"``: by risk, highest first (ties: higher cost first). Both
ranks are given for every finding.

How it is computed, in three steps that the single-machine path and the
Dask path (engine.distributed.friction) share: ``measure_log`` reads the
events of a log, or of one partition of its contacts, and keeps only rows
(one per contact, per handoff, per deviation: ``Measures``);
``combine_measures`` puts the rows of the partitions in the whole log's
order with the whole log's labels (on one machine: one piece, unchanged);
``rank_measures`` builds, measures and ranks the findings from those rows,
so whole-log statistics (medians per handoff edge, comparison strata,
change points, intervals) are computed once, over every contact, in log
order.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Literal, Sequence

import numpy as np

from engine.analyses.contrast import Contacts, Contrast, build_contacts, wilson
from engine.analyses.handoffs import HandoffEdge, Handoffs, activity_roles, scan_log, summarise_edges
from engine.analyses.ownership import QUEUE_WAIT, UNKNOWN_OWNER, SopMatch, StepOwnership, assign_owners, match_sops
from engine.errors import AnalysisError, InputError
from engine.log.encode import EncodedLog

DAY_NS = 86_400 * 10**9
CRITICAL_WEIGHT = 9.0
RANK_BY = ("cost", "risk")
RANKING_RULE = {
    "cost": "ranked by projected cost over the period (contacts per period x extra minutes x cost per minute of "
            "the owners whose time they add), highest first; ties by risk",
    "risk": "ranked by risk (contacts per period x (1 + 9 x share of them breaching a compliance-critical step)), "
            "highest first; ties by cost",
}
LOG_COLUMNS = ("owner", "team", "queue", "channel")
CASE_COLUMNS = ("customer_id", "intent", "team", "site", "shift", "channel", "queue")


def _listed(interval: tuple[float, float] | None) -> list[float] | None:
    return None if interval is None else list(interval)


@dataclass(frozen=True)
class Friction:
    """One friction point, measured (module docstring)."""

    kind: str
    what: str
    where: str
    sop: str | None
    owners: tuple[str, ...]
    teams: tuple[str, ...]
    contacts: int
    share: float
    share_ci: tuple[float, float] | None
    contacts_per_period: float
    extra_minutes_per_contact: float | None
    extra_minutes_ci: tuple[float, float] | None
    cost_per_contact: float | None
    cost_ci: tuple[float, float] | None
    cost_per_period: float
    critical_share: float
    risk: float
    outcomes: dict
    owner_minutes: dict[str, float]
    evidence: tuple[str, ...]
    unmatched: int = 0
    rank: int = 0
    rank_by_risk: int = 0

    @property
    def extra_minutes(self) -> float:
        """Extra minutes over the period: contacts per period x extra minutes per contact."""
        return self.contacts_per_period * (self.extra_minutes_per_contact or 0.0)

    def as_dict(self) -> dict:
        return {"rank": self.rank, "rank_by_risk": self.rank_by_risk, "kind": self.kind, "what": self.what,
                "where": self.where, "sop": self.sop, "owners": list(self.owners), "teams": list(self.teams),
                "contacts": self.contacts, "share": self.share,
                "share_ci95": _listed(self.share_ci), "contacts_per_period": self.contacts_per_period,
                "extra_minutes": self.extra_minutes,
                "extra_minutes_per_contact": self.extra_minutes_per_contact,
                "extra_minutes_per_contact_ci95": _listed(self.extra_minutes_ci),
                "cost_per_contact": self.cost_per_contact,
                "cost_per_contact_ci95": _listed(self.cost_ci),
                "cost_per_period": self.cost_per_period, "critical_share": self.critical_share, "risk": self.risk,
                "outcomes": self.outcomes, "owner_minutes": self.owner_minutes,
                "unmatched_contacts": self.unmatched, "evidence": list(self.evidence)}


@dataclass(frozen=True)
class FrictionResult:
    """The ranked frictions, the handoff tables, ownership and what the run counted."""

    frictions: tuple[Friction, ...]
    handoffs: tuple[HandoffEdge, ...]
    sop_handoffs: tuple[HandoffEdge, ...]
    ownership: tuple[StepOwnership, ...]
    contacts: int
    events: int
    span_days: float
    period_days: float
    rank_by: str
    sops: SopMatch
    owners: dict
    cost_per_minute: dict[str, dict[str, float]]
    warnings: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict:
        return {"contacts": self.contacts, "events": self.events, "span_days": self.span_days,
                "period_days": self.period_days, "rank_by": self.rank_by, "ranking_rule": RANKING_RULE[self.rank_by],
                "other_rule": RANKING_RULE["risk" if self.rank_by == "cost" else "cost"],
                "risk_rule": "risk = contacts per period x (1 + 9 x critical share)",
                "sops": self.sops.as_dict(), "owners": self.owners, "cost_per_minute": self.cost_per_minute,
                "frictions": [f.as_dict() for f in self.frictions],
                "handoffs": [e.as_dict() for e in self.handoffs],
                "sop_handoffs": [e.as_dict() for e in self.sop_handoffs],
                "ownership": [o.as_dict() for o in self.ownership], "warnings": list(self.warnings)}


def read_cost_config(path: str | Path) -> dict[str, float]:
    """A cost table (TOML: owner = cost per minute, or the same under [cost_per_minute])."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"Cannot read the cost table: {exc.strerror or exc}", path=path,
                         hint="Give a TOML file of owner = cost per minute") from exc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"The cost table is not valid TOML: {exc}", path=path,
                         hint='Write one line per owner: "Support Ops" = 0.85') from exc
    data = data.get("cost_per_minute", data)
    out = {}
    for owner, value in data.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise InputError(f"Cost per minute of '{owner}' must be a non-negative number, got {value!r}",
                             path=path, field=owner, hint=f'Write "{owner}" = 0.85')
        out[str(owner)] = float(value)
    if not out:
        raise InputError("The cost table names no owner", path=path, hint='Write "Support Ops" = 0.85')
    return out


def friction_columns(path, by: Sequence[str] = (), where: dict[str, set[str]] | None = None,
                     sops: Sequence = ()) -> dict:
    """``encode_where``'s keyword arguments for what ``rank_frictions`` reads, and the ``where``
    attributes (per case)."""
    from engine.analyses.ownership import applies_to_attributes
    import pyarrow.parquet as pq

    from engine.log.select import WEEK
    try:
        names = set(pq.read_schema(path).names)
    except (OSError, ValueError):
        names = set(LOG_COLUMNS + CASE_COLUMNS)  # encode_log reports a missing or unreadable file
    wanted = CASE_COLUMNS + applies_to_attributes(sops) + tuple(b for b in by if b != "week")
    per_case = tuple(a for a in dict.fromkeys(wanted) if a in names)
    return {"attributes": tuple(a for a in LOG_COLUMNS if a in names), "with_case_ids": True,
            "case_attributes": tuple(dict.fromkeys(per_case + tuple(a for a in (where or {}) if a != WEEK)))}


def encode_for_friction(path, by: Sequence[str] = (), where: dict[str, set[str]] | None = None,
                        sops: Sequence = ()) -> EncodedLog:
    """Encode a stored log with what ``rank_frictions`` reads: case ids, per-event owner, team, queue and
    channel, per-case customer, intent, the segment attributes (``by``) and the attributes the
    ``sops``' ``applies_to`` rules name; ``where`` applied."""
    from engine.log.select import encode_where
    return encode_where(path, where, **friction_columns(path, by, where, sops))


def _rates(sops: Sequence, owners: tuple[str, ...], config: dict[str, float] | None) -> np.ndarray:
    """Cost per minute of each owner under each SOP: the cost table, else the SOP's sidecar, else any
    sidecar that prices the owner, else 0. Last row: contacts without an SOP; last two columns: unknown
    owner and queue wait (both 0)."""
    config = config or {}
    anywhere: dict[str, float] = {}
    for sop in sorted(sops, key=lambda s: s.name):
        for o, v in sop.cost_per_minute.items():
            anywhere.setdefault(o, v)
    rates = np.zeros((len(sops) + 1, len(owners) + 2))
    for s in range(len(sops) + 1):
        own = sops[s].cost_per_minute if s < len(sops) else {}
        for k, o in enumerate(owners):
            rates[s, k] = config.get(o, own.get(o, anywhere.get(o, 0.0)))
    return rates


def _case_flags(log: EncodedLog, roles: np.ndarray, window_days: float) -> dict[str, np.ndarray]:
    from engine.analyses.segments import case_starts, case_segments
    from engine.kernels.kpis import ROLE_ESCALATE, ROLE_RESOLVE, ROLE_TALK, link_contacts
    case_of = np.repeat(np.arange(log.n_cases), np.diff(log.case_offsets))
    ev_role = roles[log.activity_codes]

    def has(role: int) -> np.ndarray:
        return np.bincount(case_of[ev_role == role], minlength=log.n_cases) > 0

    customer = (log.case_attributes["customer_id"][0] if "customer_id" in log.case_attributes
                else np.full(log.n_cases, -1, dtype=np.int32))
    channel = case_segments(log, "channel")[0] if "channel" in log.case_attributes or "channel" in log.attributes \
        else np.full(log.n_cases, -1, dtype=np.int32)
    links = link_contacts(customer.astype(np.int32), case_starts(log), channel.astype(np.int32),
                          np.int64(window_days * DAY_NS))
    return {"handled": has(ROLE_TALK), "resolved": has(ROLE_RESOLVE), "escalated": has(ROLE_ESCALATE),
            "with_customer": customer >= 0, "repeated": (links[:, 0] == 1) & (customer >= 0)}


# --- measures: what the finding builders read, per contact, per handoff, per deviation ---------

FLAGS = ("handled", "resolved", "escalated", "with_customer", "repeated")


@dataclass(frozen=True)
class Measures:
    """What the finding builders read about a log (or one partition of it), compactly.

    ``contacts``: one row per contact: ``position`` (its place in the whole log), ``events``, ``sop``
    (into the SOPs, -1 none), ``owner_s`` (seconds per owner, then unknown and queue wait), ``handle_s``,
    the FLAGS, ``start`` (ns), ``breach``, ``variant`` (with ``variants``) and ``case:ATTR`` codes.
    ``handoffs``: one row per handoff (engine.analyses.handoffs.Handoffs's fields with the case's and
    the events' indices in this log, and engine.analyses.findings.handoff_times). ``deviations``: per
    SOP, one row per deviation of its contacts (case, step, kind, team of the event). ``labels``: what
    the codes index (``activities``, ``owners``, ``routes``, ``event_team``, ``steps:S``, ``case:ATTR``).
    ``variants``: each variant's activity codes (offsets, codes), to rebuild a contact's sequence.
    """

    n_events: int
    labels: dict[str, tuple]
    contacts: dict[str, np.ndarray]
    case_ids: list
    handoffs: dict[str, np.ndarray]
    deviations: tuple[dict[str, np.ndarray], ...]
    ownership: dict
    counts: dict[str, int]
    variants: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def n_cases(self) -> int:
        return len(self.contacts["position"])


def _labels_of(labels) -> tuple:
    return tuple(labels.to_pylist()) if hasattr(labels, "to_pylist") else tuple(labels)


def measure_log(log: EncodedLog, sops: Sequence, *, window_days: float = 7.0, library: bool = True,
                by: Sequence[str] = (), positions: np.ndarray | None = None, variants: bool = False) -> Measures:
    """The measures of an encoded log (``encode_for_friction``), the whole log or a partition of its
    contacts; ``positions``: each contact's position in the whole log (default: its index here);
    ``variants``: also each contact's activity sequence, as a variant (engine.distributed.friction)."""
    from engine.analyses.drift import EXPLAIN_ATTRIBUTES
    from engine.analyses.findings import conform_log, handoff_times
    from engine.analyses.ownership import count_step_owners, owner_labels
    from engine.analyses.segments import case_segments
    from engine.kernels.handoffs import time_contacts
    from engine.log.encode import NO_TIME
    sops = tuple(sops)
    route_name = next((a for a in ("team", "queue") if a in log.attributes), None)
    labels = {"activities": tuple(log.activities), "owners": owner_labels(log, sops),
              "routes": tuple(log.attributes[route_name][1]) if route_name else (),
              "event_team": tuple(log.attributes["team"][1]) if "team" in log.attributes else ()}
    segments = {}
    for name in dict.fromkeys(tuple(by) + ("channel", "team") + EXPLAIN_ATTRIBUTES):
        if name in by or name in log.case_attributes or name in log.attributes:
            codes, values = case_segments(log, name)
            segments[name] = codes
            labels[f"case:{name}"] = _labels_of(values)
    n = log.n_cases
    if n == 0:  # a partition without selected contacts: its labels count, it has nothing else
        return Measures(0, labels, {"position": np.zeros(0, np.int64)}, [], {}, (), {},
                        dict.fromkeys(("unmatched", "ambiguous", "from_log", "from_sop", "unknown_events"), 0))
    match = match_sops(log, sops, library=library)
    owners = assign_owners(log, sops, match.sop_of_case)
    label_map: dict[str, str] = {}
    for sop in sops:
        for k, v in sop.label_map.items():
            label_map.setdefault(k, v)
    roles = activity_roles(log.activities, label_map)
    end = log.end_timestamps if log.end_timestamps is not None else np.empty(0, dtype=np.int64)
    owner_s, handle_s = time_contacts(log.case_offsets, log.activity_codes, log.timestamps, end,
                                      owners.codes, len(owners.labels), roles, NO_TIME)
    flags = _case_flags(log, roles, window_days)
    breach, deviant_event, deviations = conform_log(log, sops, match.sop_of_case)
    for s, dev in enumerate(deviations):
        labels[f"steps:{s}"] = dev.pop("steps")
    h = scan_log(log, owners.codes, owners.labels, roles)
    handoffs = {"case": h.case, "kind": h.kind, "frm": h.frm, "to": h.to, "delay_ns": h.delay_ns,
                "loss_event": h.loss_event, "ping_pong": h.ping_pong, "event": h.event,
                **handoff_times(log, h, owners.codes, deviant_event, match.sop_of_case)}
    contacts = {"position": np.arange(n, dtype=np.int64) if positions is None else np.asarray(positions, np.int64),
                "events": np.diff(log.case_offsets), "sop": match.sop_of_case, "owner_s": owner_s,
                "handle_s": handle_s, **flags, "start": log.timestamps[log.case_offsets[:-1]], "breach": breach,
                **{f"case:{name}": codes for name, codes in segments.items()}}
    var = None
    if variants:
        from engine.analyses.variants import assign_variants
        from engine.kernels.variants import gather_sequences
        contacts["variant"], first_case = assign_variants(log)
        var = gather_sequences(log.case_offsets, log.activity_codes, first_case.astype(np.int64))
    case_ids = log.case_ids.to_pylist() if log.case_ids is not None else [str(i) for i in range(n)]
    counts = {"unmatched": match.unmatched, "ambiguous": match.ambiguous, "from_log": owners.from_log,
              "from_sop": owners.from_sop, "unknown_events": owners.unknown_events}
    return Measures(log.n_events, labels, contacts, case_ids, handoffs, tuple(deviations),
                    count_step_owners(log, sops, match.sop_of_case, owners), counts, var)


def _lookup(local: tuple, whole: tuple) -> np.ndarray:
    """int32 code in ``whole`` of each code in ``local``, and -1 for -1 (the last slot)."""
    index = {x: i for i, x in enumerate(whole)}
    return np.array([index[x] for x in local] + [-1], dtype=np.int32)


def combine_measures(pieces: Sequence[Measures]) -> Measures:
    """The measures of a whole log from those of partitions of its contacts (every partition, with or
    without contacts, for its labels): contacts in the order of their positions (renumbered from 0),
    handoffs and deviations with the whole log's case and event indices, every code into the union of
    the partitions' labels (sorted, as the whole log's dictionaries are)."""
    names = dict.fromkeys(k for p in pieces for k in p.labels)
    labels = {k: tuple(sorted(set().union(*(p.labels.get(k, ()) for p in pieces)))) for k in names}
    full = [p for p in pieces if p.n_cases]
    counts = {k: sum(p.counts[k] for p in pieces) for k in pieces[0].counts}
    ownership: dict = {}
    for p in full:
        for key, c in p.ownership.items():
            ownership[key] = ownership.get(key, 0) + c
    positions = np.concatenate([p.contacts["position"] for p in full]) if full else np.zeros(0, np.int64)
    order = np.argsort(positions, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    starts = np.cumsum([0] + [p.n_cases for p in full])
    n_owners = len(labels["owners"])

    def gather(rows: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(rows)[order]

    contacts = {}
    for key in (full[0].contacts if full else {"position": None}):
        rows = []
        for p in full:
            x = p.contacts[key]
            if key == "owner_s":
                k = x.shape[1] - 2
                out = np.zeros((len(x), n_owners + 2))
                out[:, _lookup(p.labels["owners"], labels["owners"])[:k]] = x[:, :k]
                out[:, n_owners:] = x[:, k:]
                x = out
            elif key.startswith("case:"):
                x = _lookup(p.labels[key], labels[key])[x]
            rows.append(x)
        contacts[key] = gather(rows) if rows else np.zeros(0, np.int64)
    variants = None
    if full and full[0].variants is not None:
        table: dict[tuple, int] = {}
        rows = []
        for p in full:
            act = _lookup(p.labels["activities"], labels["activities"])
            offsets, codes = p.variants
            ids = np.array([table.setdefault(tuple(act[codes[a:b]].tolist()), len(table))
                            for a, b in zip(offsets[:-1], offsets[1:])], dtype=np.int32)
            rows.append(ids[p.contacts["variant"]])
        contacts["variant"] = gather(rows)
        seqs = list(table)
        variants = (np.concatenate(([0], np.cumsum([len(s) for s in seqs]))).astype(np.int64),
                    np.array([a for s in seqs for a in s], dtype=np.int32))
    if "position" in contacts:
        contacts["position"] = np.arange(len(order), dtype=np.int64)
    case_ids = np.array([c for p in full for c in p.case_ids], dtype=object)[order].tolist()
    event_start = np.concatenate(([0], np.cumsum(contacts["events"]))) if full else np.zeros(1, np.int64)
    handoffs: dict[str, list] = {}
    deviations: list[dict[str, list]] = []
    for p, base in zip(full, starts):
        local_start = np.concatenate(([0], np.cumsum(p.contacts["events"])))
        h = dict(p.handoffs)
        case = rank[base + h["case"]]
        shift = event_start[case] - local_start[h["case"]]
        owner = _lookup(p.labels["owners"], labels["owners"])
        route = _lookup(p.labels["routes"], labels["routes"])
        for end in ("frm", "to"):
            h[end] = np.where(h["kind"] == 0, owner[np.where(h["kind"] == 0, h[end], -1)],
                              route[np.where(h["kind"] == 1, h[end], -1)])
        h.update(case=case, event=h["event"] + shift, loss_event=np.where(h["loss_event"] >= 0,
                                                                           h["loss_event"] + shift, -1),
                 loss_owner=owner[h["loss_owner"]], event_owner=owner[h["event_owner"]])
        for key, x in h.items():
            handoffs.setdefault(key, []).append(x)
        team = _lookup(p.labels["event_team"], labels["event_team"])
        for s, dev in enumerate(p.deviations):
            while len(deviations) <= s:
                deviations.append({})
            steps = _lookup(p.labels[f"steps:{s}"], labels[f"steps:{s}"])
            for key, x in (("case", rank[base + dev["case"]]), ("step", steps[dev["step"]]), ("kind", dev["kind"]),
                           ("team", team[dev["team"]])):
                deviations[s].setdefault(key, []).append(x)
    handoffs = {k: np.concatenate(v) for k, v in handoffs.items()}
    if handoffs:
        by_case = np.argsort(handoffs["case"], kind="stable")  # a contact's handoffs stay in their order
        handoffs = {k: v[by_case] for k, v in handoffs.items()}
    deviations = tuple({k: np.concatenate(v) for k, v in d.items()} for d in deviations)
    return Measures(sum(p.n_events for p in pieces), labels, contacts, case_ids, handoffs, deviations, ownership,
                    counts, variants)


# --- the findings -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Run:
    """What every finding builder reads."""

    n_cases: int
    sops: tuple
    match: SopMatch
    contacts: Contacts
    handoffs: Handoffs
    times: dict[str, np.ndarray]
    deviations: tuple[dict[str, np.ndarray], ...]
    labels: dict[str, tuple]
    segments: dict[str, tuple[np.ndarray, tuple[str, ...]]]
    case_ids: list
    team: tuple[np.ndarray, tuple[str, ...]] | None
    period_days: float
    span_days: float
    examples: int
    min_contacts: int
    rates: np.ndarray
    sop_log: Callable[[np.ndarray], EncodedLog]


def _teams(run: _Run, cases: np.ndarray) -> tuple[str, ...]:
    """Teams holding at least 10% of the cases, most first."""
    if run.team is None or not len(cases):
        return ()
    codes, labels = run.team
    counts = np.bincount(codes[cases][codes[cases] >= 0], minlength=len(labels))
    order = np.argsort(-counts, kind="stable")
    return tuple(labels[i] for i in order if counts[i] and counts[i] >= 0.1 * len(cases))


def _evidence(run: _Run, cases: np.ndarray, order_by: np.ndarray | None = None) -> tuple[str, ...]:
    if order_by is not None:
        cases = cases[np.argsort(-order_by, kind="stable")]
    return tuple(str(run.case_ids[int(c)]) for c in cases[:run.examples])


def _finding(run: _Run, kind: str, what: str, where: str, sop: str | None, owners, cases: np.ndarray,
             effect: Contrast, evidence: tuple[str, ...], teams=None) -> Friction:
    n = run.n_cases
    k = len(cases)
    per_period = k / run.span_days * run.period_days
    cost = effect.cost.difference
    critical = float(run.contacts.breach[cases].mean()) if k else 0.0
    outcomes = {name: d.as_dict() for name, d in effect.outcomes.items()}
    extra = effect.extra_minutes
    return Friction(kind=kind, what=what, where=where, sop=sop, owners=tuple(owners),
                    teams=tuple(teams) if teams is not None else _teams(run, cases), contacts=k,
                    share=k / n if n else 0.0, share_ci=wilson(k, n), contacts_per_period=per_period,
                    extra_minutes_per_contact=extra.difference,
                    extra_minutes_ci=None if extra.low is None else (extra.low, extra.high),
                    cost_per_contact=cost, cost_ci=None if effect.cost.low is None else (effect.cost.low,
                                                                                          effect.cost.high),
                    cost_per_period=per_period * (cost or 0.0), critical_share=critical,
                    risk=per_period * (1 + CRITICAL_WEIGHT * critical), outcomes=outcomes,
                    owner_minutes=effect.owner_minutes, evidence=evidence, unmatched=effect.unmatched)


def rank(frictions: Sequence[Friction], rank_by: str) -> tuple[Friction, ...]:
    """Both ranks set; ordered by ``rank_by`` (module docstring)."""
    by_cost = sorted(frictions, key=lambda f: (-f.cost_per_period, -f.risk, f.kind, f.where))
    by_risk = sorted(frictions, key=lambda f: (-f.risk, -f.cost_per_period, f.kind, f.where))
    risk_rank = {id(f): i + 1 for i, f in enumerate(by_risk)}
    ranked = [replace(f, rank=i + 1, rank_by_risk=risk_rank[id(f)]) for i, f in enumerate(by_cost)]
    if rank_by == "risk":
        ranked.sort(key=lambda f: f.rank_by_risk)
    return tuple(ranked)


def check_ranking(sops: Sequence, rank_by: str, period_days: float, top: int | None) -> None:
    """The arguments of ``rank_frictions`` that are refused before any work."""
    if rank_by not in RANK_BY:
        raise AnalysisError(f"Unknown ranking '{rank_by}'", field="rank_by", hint="Use one of: cost, risk")
    if not period_days > 0:
        raise AnalysisError(f"The period must be positive, got {period_days} days", field="period_days")
    if top is not None and top < 1:
        raise AnalysisError(f"top must be 1 or more, got {top}", field="top")
    if not sops:
        raise AnalysisError("No SOP given", field="sops", hint="Give an SOP model or a folder of them")


def rank_frictions(log: EncodedLog, sops: Sequence, *, cost_per_minute: dict[str, float] | None = None,
                   period_days: float = 90.0, by: Sequence[str] = (), rank_by: Literal["cost", "risk"] = "cost",
                   top: int | None = None, examples: int = 5, window_days: float = 7.0, min_contacts: int = 10,
                   drift: bool = True, library: bool = True) -> FrictionResult:
    """Find, measure and rank the friction points of ``log`` against ``sops`` (module docstring).

    ``log``: from ``encode_for_friction``; ``sops``: loaded ``engine.model.Sop`` objects;
    ``cost_per_minute``: owner -> cost, overriding the sidecars (an owner that owns no SOP step
    is accepted); ``period_days``: the projection period; ``by``: attributes for KPI outliers
    (default: team, when the log has it); ``top``: keep the first ``top`` findings;
    ``min_contacts``: smaller findings are not reported; ``drift``: include drift findings;
    ``library``: False when one SOP is given on its own (it then applies to every contact unless its
    sidecar has ``applies_to``; engine.analyses.ownership.match_sops).
    """
    from engine.log.select import select_cases
    check_ranking(sops, rank_by, period_days, top)
    if log.n_cases == 0:
        raise AnalysisError("The log has no contacts", hint="Check the log and the selection")
    measures = combine_measures([measure_log(log, sops, window_days=window_days, library=library, by=by)])
    return rank_measures(measures, sops, lambda keep: select_cases(log, keep), cost_per_minute=cost_per_minute,
                         period_days=period_days, by=by, rank_by=rank_by, top=top, examples=examples,
                         min_contacts=min_contacts, drift=drift)


def rank_measures(measures: Measures, sops: Sequence, sop_log: Callable[[np.ndarray], EncodedLog], *,
                  cost_per_minute: dict[str, float] | None = None, period_days: float = 90.0,
                  by: Sequence[str] = (), rank_by: str = "cost", top: int | None = None, examples: int = 5,
                  min_contacts: int = 10, drift: bool = True) -> FrictionResult:
    """``rank_frictions`` from a whole log's measures (``combine_measures``); ``sop_log(keep)``: the
    encoded log of the contacts where ``keep`` (bool per contact), for the drift findings."""
    from engine.analyses.findings import deviation_findings, drift_findings, handoff_findings, kpi_findings
    run, result_parts = _prepare(measures, tuple(sops), cost_per_minute, period_days, examples, min_contacts,
                                 sop_log)
    found = (deviation_findings(run) + handoff_findings(run)
             + (drift_findings(run) if drift else []) + kpi_findings(run, by))
    ranked = rank([f for f in found if f.contacts >= min_contacts], rank_by)
    edges, sop_edges = summarise_edges(run.handoffs, run.contacts, run.match.names, run.match.sop_of_case,
                                       run.times["unexpected"])
    return FrictionResult(frictions=ranked[:top] if top else ranked, handoffs=edges, sop_handoffs=sop_edges,
                          rank_by=rank_by, contacts=run.n_cases, events=measures.n_events, span_days=run.span_days,
                          period_days=float(period_days), sops=run.match, **result_parts)


def _prepare(m: Measures, sops: tuple, config, period_days, examples, min_contacts, sop_log):
    from engine.analyses.ownership import ownership_table
    c, labels = m.contacts, m.labels
    n = m.n_cases
    owners = labels["owners"]
    match = SopMatch(c["sop"], tuple(s.name for s in sops), m.counts["unmatched"], m.counts["ambiguous"])
    rates = _rates(sops, owners, config)
    channel = c["case:channel"] if "case:channel" in c else np.full(n, -1, dtype=np.int32)
    contacts = build_contacts(c["owner_s"], c["handle_s"], owners + (UNKNOWN_OWNER, QUEUE_WAIT), c["sop"], channel,
                              rates, {k: c[k] for k in FLAGS}, c["start"], c["breach"])
    h = m.handoffs
    handoffs = Handoffs(h["case"], h["kind"], h["frm"], h["to"], h["delay_ns"], h["loss_event"], h["ping_pong"],
                        h["event"], (owners, labels["routes"]), n, m.n_events)
    times = {k: h[k] for k in ("unexpected", "loss_from", "loss_to", "loss_owner", "event_ts", "event_owner")}
    starts = c["start"]
    span = max((int(starts.max()) - int(starts.min())) / DAY_NS, 1.0)
    segments = {k[5:]: (c[k], labels[k]) for k in c if k.startswith("case:")}
    run = _Run(n, sops, match, contacts, handoffs, times, m.deviations, labels, segments, m.case_ids,
               segments.get("team"), float(period_days), span, examples, min_contacts, rates, sop_log)
    warnings = []
    if match.unmatched or match.ambiguous:
        warnings.append(f"{match.unmatched:,} contacts match no SOP and {match.ambiguous:,} match several: "
                        "they are measured without an SOP (no deviations, their own stratum)")
    if m.counts["unknown_events"]:
        warnings.append(f"{m.counts['unknown_events']:,} events have no owner (neither in the log nor by an SOP "
                        f"lane): their time is charged to '{UNKNOWN_OWNER}' at cost 0")
    unpriced = [o for k, o in enumerate(owners) if not rates[:-1, k].any()]
    if unpriced:
        warnings.append("no cost per minute for " + ", ".join(unpriced) + ": their minutes cost 0")
    costs = {o: {sops[s].name: float(rates[s, k]) for s in range(len(sops))} for k, o in enumerate(owners)}
    parts = {"ownership": ownership_table(sops, m.ownership, owners),
             "owners": {"labels": list(owners), "events_owner_from_log": m.counts["from_log"],
                        "events_owner_from_sop": m.counts["from_sop"],
                        "events_owner_unknown": m.counts["unknown_events"]},
             "cost_per_minute": costs, "warnings": tuple(warnings)}
    return run, parts
