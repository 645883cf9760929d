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
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from engine.analyses.contrast import Contacts, Contrast, build_contacts, contrast, wilson
from engine.analyses.handoffs import HandoffEdge, Handoffs, activity_roles, scan_log, summarise_edges
from engine.analyses.ownership import QUEUE_WAIT, UNKNOWN_OWNER, SopMatch, StepOwnership, assign_owners, match_sops, \
    tabulate_ownership
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


def encode_for_friction(path, by: Sequence[str] = (), where: dict[str, set[str]] | None = None,
                        sops: Sequence = ()) -> EncodedLog:
    """Encode a stored log with what ``rank_frictions`` reads: case ids, per-event owner, team, queue and
    channel, per-case customer, intent, the segment attributes (``by``) and the attributes the
    ``sops``' ``applies_to`` rules name; ``where`` applied."""
    from engine.analyses.ownership import applies_to_attributes
    import pyarrow.parquet as pq

    from engine.log.select import encode_where
    try:
        names = set(pq.read_schema(path).names)
    except (OSError, ValueError):
        names = set(LOG_COLUMNS + CASE_COLUMNS)  # encode_log reports a missing or unreadable file
    wanted = CASE_COLUMNS + applies_to_attributes(sops) + tuple(b for b in by if b != "week")
    per_case = tuple(a for a in dict.fromkeys(wanted) if a in names)
    return encode_where(path, where, attributes=tuple(a for a in LOG_COLUMNS if a in names),
                        case_attributes=per_case, with_case_ids=True)


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
            "with_customer": customer >= 0, "repeated": (links[:, 0] == 1) & (customer >= 0), "channel": channel}


@dataclass(frozen=True)
class _Run:
    """What every finding builder reads."""

    log: EncodedLog
    sops: tuple
    match: SopMatch
    contacts: Contacts
    handoffs: Handoffs
    case_ids: list
    team: tuple[np.ndarray, tuple[str, ...]] | None
    period_days: float
    span_days: float
    examples: int
    min_contacts: int
    deviant_event: np.ndarray
    owner_codes: np.ndarray
    rates: np.ndarray


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
    n = run.log.n_cases
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
    from engine.analyses.findings import (deviation_findings, drift_findings, handoff_findings, kpi_findings,
                                          unexpected_loss)
    if rank_by not in RANK_BY:
        raise AnalysisError(f"Unknown ranking '{rank_by}'", field="rank_by", hint="Use one of: cost, risk")
    if not period_days > 0:
        raise AnalysisError(f"The period must be positive, got {period_days} days", field="period_days")
    if top is not None and top < 1:
        raise AnalysisError(f"top must be 1 or more, got {top}", field="top")
    if not sops:
        raise AnalysisError("No SOP given", field="sops", hint="Give an SOP model or a folder of them")
    if log.n_cases == 0:
        raise AnalysisError("The log has no contacts", hint="Check the log and the selection")
    run, result_parts = _prepare(log, tuple(sops), cost_per_minute, period_days, window_days, examples, min_contacts,
                                 library)
    found = (deviation_findings(run) + handoff_findings(run)
             + (drift_findings(run) if drift else []) + kpi_findings(run, by))
    ranked = rank([f for f in found if f.contacts >= min_contacts], rank_by)
    edges, sop_edges = summarise_edges(run.handoffs, run.contacts, run.match.names, run.match.sop_of_case,
                                       unexpected_loss(run))
    return FrictionResult(frictions=ranked[:top] if top else ranked, handoffs=edges, sop_handoffs=sop_edges,
                          rank_by=rank_by, contacts=log.n_cases, events=log.n_events, span_days=run.span_days,
                          period_days=float(period_days), sops=run.match, **result_parts)


def _prepare(log: EncodedLog, sops: tuple, config, period_days, window_days, examples, min_contacts, library):
    from engine.kernels.handoffs import time_contacts
    from engine.log.encode import NO_TIME
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
    rates = _rates(sops, owners.labels, config)
    starts = log.timestamps[log.case_offsets[:-1]]
    breach = np.zeros(log.n_cases, dtype=bool)
    labels = owners.labels + (UNKNOWN_OWNER, QUEUE_WAIT)
    contacts = build_contacts(owner_s, handle_s, labels, match.sop_of_case, flags["channel"], rates, flags, starts,
                              breach)
    handoffs = scan_log(log, owners.codes, owners.labels, roles)
    span = max((int(starts.max()) - int(starts.min())) / DAY_NS, 1.0)
    team = log.case_attributes.get("team")
    case_ids = log.case_ids.to_pylist() if log.case_ids is not None else [str(i) for i in range(log.n_cases)]
    run = _Run(log, sops, match, contacts, handoffs, case_ids, team, float(period_days), span, examples,
               min_contacts, np.zeros(log.n_events, dtype=bool), owners.codes, rates)
    warnings = []
    if match.unmatched or match.ambiguous:
        warnings.append(f"{match.unmatched:,} contacts match no SOP and {match.ambiguous:,} match several: "
                        "they are measured without an SOP (no deviations, their own stratum)")
    if owners.unknown_events:
        warnings.append(f"{owners.unknown_events:,} events have no owner (neither in the log nor by an SOP lane): "
                        f"their time is charged to '{UNKNOWN_OWNER}' at cost 0")
    unpriced = [o for k, o in enumerate(owners.labels) if not rates[:-1, k].any()]
    if unpriced:
        warnings.append("no cost per minute for " + ", ".join(unpriced) + ": their minutes cost 0")
    costs = {o: {sops[s].name: float(rates[s, k]) for s in range(len(sops))} for k, o in enumerate(owners.labels)}
    parts = {"ownership": tabulate_ownership(log, sops, match.sop_of_case, owners),
             "owners": {"labels": list(owners.labels), "events_owner_from_log": owners.from_log,
                        "events_owner_from_sop": owners.from_sop, "events_owner_unknown": owners.unknown_events},
             "cost_per_minute": costs, "warnings": tuple(warnings)}
    return run, parts
