"""Conformance of a log against an SOP: the audit view of a token replay.

``check_conformance`` replays an encoded log on an SOP (engine.analyses.replay),
locates the deviations (engine.analyses.deviations) and tallies them: per SOP
step and kind over all contacts, per segment (team, site, shift, agent,
channel, ISO week) with example contact ids as evidence, fitness per segment,
compliance consistency of the critical steps per team, site and shift, and the
worst variants.

Segments follow ``engine.analyses.segments``: fitness and compliance put a
contact in the segment of the first non-empty value of the attribute, ``week``
is the ISO week (``2026-W10``) of its first event. A deviation is counted in
the segment of the event where it was found (the agent, team, ... that ran
that step), and in the week of its contact.

Results merge (``a + b``): every figure is a count or a sum of counts, so
results of disjoint sets of contacts add up to the result of their union. As
for ``Variants``, ``b``'s contacts follow ``a``'s: example contact ids are the
first ones in that order, ties between worst variants go to the one seen
first, so merging the consecutive parts of a log in order gives exactly the
whole log's result. Per-contact detail (``replay``, ``deviations``,
``case_ids``) and alignments belong to one part and are dropped by a merge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Literal

import numpy as np

from engine.analyses.deviations import KINDS, CaseDeviations, DeviationIndex, VariantDeviations, \
    expand_deviations, index_deviations, locate_deviations
from engine.analyses.replay import Replay, fitness_of, replay_tokens
from engine.analyses.segments import case_segments
from engine.errors import AnalysisError
from engine.model.petri_net import compile_net

SEGMENTS = ("team", "site", "shift", "resource", "channel", "week")
EVENT_ATTRIBUTES = ("team", "site", "shift", "resource", "channel")   # read per event: deviations are counted there
FITNESS_BY = ("team", "site", "shift", "channel")
COMPLIANCE_BY = ("team", "site", "shift")
NO_VALUE = "(none)"
TOKENS = ("missing", "consumed", "remaining", "produced", "unknown")
MIXED_SHARE = 0.25     # contacts running activities unknown to the SOP, from which a log looks mixed


@dataclass(frozen=True)
class StepDeviation:
    """Contacts with a deviation of one kind at one SOP step; impact = contacts x 2 if critical
    x (1 + cost per minute of the step's owner)."""

    step: str
    kind: str
    owner: str | None
    critical: bool
    contacts: int
    share: float
    impact: float
    examples: tuple[str, ...]


@dataclass(frozen=True)
class SegmentDeviation:
    attribute: str
    value: str
    step: str
    kind: str
    contacts: int
    examples: tuple[str, ...]


@dataclass(frozen=True)
class SegmentFitness:
    """Token replay of the contacts of one segment: pm4py's fitness from the token sums."""

    attribute: str
    value: str
    contacts: int
    fitness: float
    audit_fitness: float
    fit_share: float
    tokens: dict[str, int]
    fitting: int


@dataclass(frozen=True)
class Compliance:
    attribute: str
    value: str
    contacts: int
    compliant: int
    rate: float


@dataclass(frozen=True)
class WorstVariant:
    rank: int
    contacts: int
    fitness: float
    audit_fitness: float
    activities: tuple[str, ...]
    deviations: tuple[str, ...]
    example: str


@dataclass(frozen=True)
class VariantFit:
    """One variant's replay: its contacts, first contact (index in contact order, and id), the
    token counts of one of its contacts (missing, consumed, remaining, produced, unknown), pm4py's
    trace fitness and fit flag, audit fitness and the deviations located in it."""

    activities: tuple[str, ...]
    contacts: int
    first_case: int
    example: str
    tokens: tuple[int, int, int, int, int]
    is_fit: bool
    fitness: float
    audit_fitness: float
    deviations: tuple[str, ...]


class VariantTable(Sequence):
    """The VariantFit rows of one replay (``variant_fits`` of ``check_conformance``), made only when
    read: a long-tailed log has tens of thousands of variants, and a summary needs their count, the
    mean fitness and the few worst (computed here from the replay's arrays)."""

    def __init__(self, replay: Replay, found: VariantDeviations, case_ids) -> None:
        self._replay, self._found, self._case_ids = replay, found, case_ids
        self._rows: tuple[VariantFit, ...] | None = None

    def _all(self) -> tuple[VariantFit, ...]:
        if self._rows is None:
            self._rows = _variant_fits(self._replay, self._found, self._case_ids, range(self._replay.n_variants))
        return self._rows

    def __len__(self) -> int:
        return self._replay.n_variants

    def __getitem__(self, i):
        return self._all()[i]

    def __iter__(self):
        return iter(self._all())

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __repr__(self) -> str:
        return f"VariantTable({self._replay.n_variants} variants)"

    def weighted_fitness(self) -> float:
        """The exactly rounded sum of fitness x contacts over variants."""
        r = self._replay
        return math.fsum((r.fitness * r.weight.astype(np.float64)).tolist())

    def worst(self, k: int) -> tuple[VariantFit, ...]:
        """The k variants with the lowest audit fitness below 1, then most contacts, then first seen."""
        r = self._replay
        unfit = np.flatnonzero(r.audit_fitness < 1.0)
        order = unfit[np.lexsort((r.first_case[unfit], -r.weight[unfit], r.audit_fitness[unfit]))]
        return _variant_fits(r, self._found, self._case_ids, order[:k].tolist())


@dataclass(frozen=True)
class ConformanceResult:
    """Everything ``check_conformance`` finds; merges with ``+`` (module docstring)."""

    sop: str
    contacts: int
    events: int
    tokens: dict[str, int]
    fitting: int
    unknown_as_deviation: bool
    unknown_activities: dict[str, int]
    steps: tuple[StepDeviation, ...]
    segment_deviations: tuple[SegmentDeviation, ...]
    segment_fitness: tuple[SegmentFitness, ...]
    compliance: tuple[Compliance, ...]
    variant_fits: tuple[VariantFit, ...]
    critical_steps: tuple[str, ...]
    cost_per_minute: dict[str, float]
    examples: int = 5
    worst: int = 10
    contacts_with_unknown: int = 0
    contacts_unknown_unfit: int = 0
    alignments: tuple = ()
    alignment_note: str = ""
    replay: Replay | None = field(default=None, repr=False, compare=False)
    deviations: CaseDeviations | None = field(default=None, repr=False, compare=False)
    case_ids: list | None = field(default=None, repr=False, compare=False)

    @property
    def variants(self) -> int:
        return len(self.variant_fits)

    @property
    def log_fitness(self) -> float:
        t = self.tokens
        return fitness_of(t["missing"], t["consumed"], t["remaining"], t["produced"])

    @property
    def audit_fitness(self) -> float:
        t = self.tokens
        u = t["unknown"] if self.unknown_as_deviation else 0
        return fitness_of(t["missing"] + u, t["consumed"] + u, t["remaining"] + u, t["produced"] + u)

    @property
    def average_trace_fitness(self) -> float:
        """Mean of pm4py's trace fitness over contacts (an exactly rounded sum, so it merges exactly)."""
        if not self.contacts:
            return 1.0
        if isinstance(self.variant_fits, VariantTable):
            return self.variant_fits.weighted_fitness() / self.contacts
        return math.fsum(v.fitness * v.contacts for v in self.variant_fits) / self.contacts

    @property
    def fit_share(self) -> float:
        return self.fitting / self.contacts if self.contacts else 1.0

    @property
    def unknown_contact_share(self) -> float:
        """Share of contacts that ran at least one activity the SOP does not know."""
        return self.contacts_with_unknown / self.contacts if self.contacts else 0.0

    @property
    def foreign_contact_share(self) -> float:
        """Share of contacts that ran an activity the SOP does not know *and* do not fit the SOP
        (pm4py's fitness, unknown steps left out, below 1): contacts of another procedure."""
        return self.contacts_unknown_unfit / self.contacts if self.contacts else 0.0

    @property
    def mixed_log(self) -> bool:
        """True when ``MIXED_SHARE`` or more of the contacts run activities the SOP does not know and do
        not fit it, so the log most likely holds contacts of other procedures. Unknown steps alone do
        not make a log mixed: contacts that follow the SOP with extra steps (a hold, a CRM lookup) in
        between fit it once those are left out."""
        return self.foreign_contact_share >= MIXED_SHARE

    @property
    def compliance_spread(self) -> dict[str, dict[str, float]]:
        """Per attribute: min, max, range and population std of the compliance rates of its values."""
        rates: dict[str, list[float]] = {}
        for c in self.compliance:
            if c.value != NO_VALUE:
                rates.setdefault(c.attribute, []).append(c.rate)
        return {name: {"min": float(min(r)), "max": float(max(r)), "range": float(max(r) - min(r)),
                       "std": float(np.std(r))} for name, r in rates.items()}

    @property
    def worst_variants(self) -> tuple[WorstVariant, ...]:
        """Variants with audit fitness below 1, lowest first, then most contacts, then first seen."""
        if isinstance(self.variant_fits, VariantTable):
            unfit = self.variant_fits.worst(self.worst)
        else:
            unfit = sorted((v for v in self.variant_fits if v.audit_fitness < 1.0),
                           key=lambda v: (v.audit_fitness, -v.contacts, v.first_case))
        return tuple(WorstVariant(rank=rank, contacts=v.contacts, fitness=v.fitness, audit_fitness=v.audit_fitness,
                                  activities=v.activities, deviations=v.deviations, example=v.example)
                     for rank, v in enumerate(unfit[:self.worst], start=1))

    def as_dict(self) -> dict:
        out = {k: getattr(self, k) for k in ("sop", "contacts", "events", "variants", "log_fitness",
                                              "audit_fitness", "average_trace_fitness", "fit_share", "tokens",
                                              "unknown_as_deviation", "unknown_activities", "contacts_with_unknown",
                                              "unknown_contact_share", "foreign_contact_share", "mixed_log", "critical_steps",
                                              "compliance_spread", "alignment_note")}
        out["steps"] = _rows_as_dicts(self.steps)
        counts: dict[str, dict[str, int]] = {}
        for s in self.steps:
            counts.setdefault(s.step, {})[s.kind] = s.contacts
        out["deviation_counts"] = counts
        out["segment_fitness"] = _rows_as_dicts(self.segment_fitness)
        out["segment_deviations"] = _rows_as_dicts(self.segment_deviations)
        out["compliance"] = _rows_as_dicts(self.compliance)
        out["worst_variants"] = _rows_as_dicts(self.worst_variants)
        out["alignments"] = [dict(a) for a in self.alignments]
        return out

    def __add__(self, other: "ConformanceResult") -> "ConformanceResult":
        for name in ("sop", "unknown_as_deviation", "critical_steps", "cost_per_minute", "examples", "worst"):
            if getattr(self, name) != getattr(other, name):
                raise AnalysisError(f"Cannot merge conformance results with different '{name}' "
                                    f"({getattr(self, name)!r} and {getattr(other, name)!r})",
                                    hint="Check every part against the same SOP with the same settings")
        n = self.contacts + other.contacts
        k = self.examples
        steps = _merge_rows(self.steps, other.steps, ("step", "kind"), k)
        crit = frozenset(self.critical_steps)
        return ConformanceResult(
            sop=self.sop, contacts=n, events=self.events + other.events,
            tokens={t: self.tokens[t] + other.tokens[t] for t in TOKENS}, fitting=self.fitting + other.fitting,
            unknown_as_deviation=self.unknown_as_deviation,
            unknown_activities=_add_counts(self.unknown_activities, other.unknown_activities),
            steps=_step_rows({key: (row.contacts, row.examples, row.owner) for key, row in steps.items()}, n,
                             crit, self.cost_per_minute),
            segment_deviations=_segment_deviation_rows(
                {key: (row.contacts, row.examples) for key, row in _merge_rows(
                    self.segment_deviations, other.segment_deviations, ("attribute", "value", "step", "kind"),
                    k).items()}),
            segment_fitness=_merge_segment_fitness(self.segment_fitness, other.segment_fitness,
                                                   self.unknown_as_deviation),
            compliance=_merge_compliance(self.compliance, other.compliance),
            variant_fits=_merge_variants(self.variant_fits, other.variant_fits, self.contacts),
            critical_steps=self.critical_steps, cost_per_minute=self.cost_per_minute, examples=k,
            worst=self.worst, contacts_with_unknown=self.contacts_with_unknown + other.contacts_with_unknown,
            contacts_unknown_unfit=self.contacts_unknown_unfit + other.contacts_unknown_unfit)


def _rows_as_dicts(rows) -> list[dict]:
    """Rows of one flat dataclass as dicts (what dataclasses.asdict gives them, without its deep copy;
    the dicts share the rows' tuples and dicts, which are never changed)."""
    if not rows:
        return []
    names = [f.name for f in fields(rows[0])]
    return [{name: getattr(row, name) for name in names} for row in rows]


def _add_counts(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    out = dict(a)
    for key, n in b.items():
        out[key] = out.get(key, 0) + n
    return dict(sorted(out.items()))


def _merge_rows(a, b, key_fields: tuple[str, ...], k: int) -> dict:
    """Rows of a and b keyed by key_fields, contacts added, a's examples first (up to k)."""
    out: dict = {}
    for row in tuple(a) + tuple(b):
        key = tuple(getattr(row, f) for f in key_fields)
        if key in out:
            old = out[key]
            row = replace(old, contacts=old.contacts + row.contacts, examples=(old.examples + row.examples)[:k])
        out[key] = row
    return out


def _impact(contacts: int, critical: bool, cost: float) -> float:
    return round(contacts * (2.0 if critical else 1.0) * (1.0 + cost), 4)


def _step_rows(tally: dict, n_cases: int, critical: frozenset[str],
               cost_per_minute: dict[str, float]) -> tuple[StepDeviation, ...]:
    """tally: (step, kind) -> (contacts, examples, owner); rows by impact, then contacts, step, kind."""
    rows = []
    for (step, kind), (n, examples, owner) in tally.items():
        cost = cost_per_minute.get(owner, 0.0) if owner else 0.0
        rows.append(StepDeviation(step=step, kind=kind, owner=owner, critical=step in critical, contacts=n,
                                  share=n / n_cases if n_cases else 0.0,
                                  impact=_impact(n, step in critical, cost), examples=tuple(examples)))
    rows.sort(key=lambda s: (-s.impact, -s.contacts, s.step, s.kind))
    return tuple(rows)


def _segment_deviation_rows(tally: dict) -> tuple[SegmentDeviation, ...]:
    """tally: (attribute, value, step, kind) -> (contacts, examples)."""
    rows = [SegmentDeviation(attribute=a, value=v, step=s, kind=k, contacts=n, examples=tuple(ex))
            for (a, v, s, k), (n, ex) in tally.items()]
    rows.sort(key=lambda s: (s.attribute, -s.contacts, s.value, s.step, s.kind))
    return tuple(rows)


def _value_order(attributes: Sequence[str]):
    """Sort key of segment rows: attributes in the given order, no value first, then by value."""
    rank = {a: i for i, a in enumerate(attributes)}
    return lambda row: (rank[row.attribute], row.value != NO_VALUE, row.value)


def _segment_fitness_row(attribute: str, value: str, contacts: int, tokens: dict[str, int], fitting: int,
                         unknown_as_deviation: bool) -> SegmentFitness:
    m, c, r, p, u = (tokens[t] for t in TOKENS)
    ua = u if unknown_as_deviation else 0
    return SegmentFitness(attribute=attribute, value=value, contacts=contacts, fitness=fitness_of(m, c, r, p),
                          audit_fitness=fitness_of(m + ua, c + ua, r + ua, p + ua),
                          fit_share=fitting / contacts if contacts else 1.0, tokens=dict(tokens), fitting=fitting)


def _merge_segment_fitness(a, b, unknown_as_deviation: bool) -> tuple[SegmentFitness, ...]:
    out: dict = {}
    for row in tuple(a) + tuple(b):
        key = (row.attribute, row.value)
        if key in out:
            old = out[key]
            row = _segment_fitness_row(row.attribute, row.value, old.contacts + row.contacts,
                                       {t: old.tokens[t] + row.tokens[t] for t in TOKENS},
                                       old.fitting + row.fitting, unknown_as_deviation)
        out[key] = row
    attributes = list(dict.fromkeys(row.attribute for row in tuple(a) + tuple(b)))
    return tuple(sorted(out.values(), key=_value_order(attributes)))


def _merge_compliance(a, b) -> tuple[Compliance, ...]:
    out: dict = {}
    for row in tuple(a) + tuple(b):
        key = (row.attribute, row.value)
        if key in out:
            old = out[key]
            n, ok = old.contacts + row.contacts, old.compliant + row.compliant
            row = Compliance(attribute=row.attribute, value=row.value, contacts=n, compliant=ok,
                             rate=ok / n if n else 1.0)
        out[key] = row
    return tuple(sorted(out.values(), key=_value_order(COMPLIANCE_BY)))


def _merge_variants(a, b, a_contacts: int) -> tuple[VariantFit, ...]:
    """Variants of a and b, contacts added; b's first cases follow a's contacts."""
    out = {v.activities: v for v in a}
    for v in b:
        if v.activities in out:
            old = out[v.activities]
            out[v.activities] = replace(old, contacts=old.contacts + v.contacts)
        else:
            out[v.activities] = replace(v, first_case=a_contacts + v.first_case)
    return tuple(sorted(out.values(), key=lambda v: v.first_case))


# --- tallies of one encoded log ------------------------------------------------------------------

def _contact_ids(encoded) -> list:
    n = encoded.n_cases
    return encoded.case_ids.to_pylist() if encoded.case_ids is not None else [str(i) for i in range(n)]


def _ids_of(case_ids: list, cases: np.ndarray) -> list[str]:
    """The contact ids of some cases (indexes)."""
    return [str(case_ids[c]) for c in np.asarray(cases).tolist()]


def _tally(replay: Replay, index: DeviationIndex, offsets: np.ndarray, values: np.ndarray, per_event: bool,
           n_values: int, examples: int, case_ids: list):
    """(cell, contacts, example contact ids) of every non-empty cell (value + 1) x n_keys + step x kind;
    a contact counts once per step and kind (tally_by_value)."""
    from engine.kernels.deviations import tally_by_value

    contacts, ex_ptr, ex_case = tally_by_value(replay.case_variant, offsets, index.first_ptr, index.first_position,
                                               index.first_key, index.n_keys, np.ascontiguousarray(values),
                                               per_event, n_values, examples)
    cells = np.flatnonzero(contacts)
    ids = _ids_of(case_ids, ex_case)
    return cells, contacts[cells], [tuple(ids[a:b]) for a, b in zip(ex_ptr[cells].tolist(),
                                                                     ex_ptr[cells + 1].tolist())]


def _count_steps(replay: Replay, index: DeviationIndex, offsets, case_ids, examples: int, owner_of) -> dict:
    """(step, kind) -> (contacts, examples, owner)."""
    cells, contacts, ex = _tally(replay, index, offsets, np.full(len(replay.case_variant), -1, dtype=np.int32),
                                 False, 0, examples, case_ids)
    tally = {}
    for g, n, ids in zip(cells.tolist(), contacts.tolist(), ex):
        step = index.steps[g // len(KINDS)]
        tally[(step, KINDS[g % len(KINDS)])] = (n, ids, owner_of.get(step))
    return tally


def _count_segment_deviations(encoded, replay: Replay, index: DeviationIndex, case_ids,
                              examples: int) -> tuple[SegmentDeviation, ...]:
    """Contacts per attribute, value, step and kind, with examples: the attribute's value at the event
    where the deviation was found (the contact's week for ``week``). Rows in the order of
    ``_segment_deviation_rows``: attribute, most contacts, value, step, kind."""
    n_sk = index.n_keys
    kind_rank = np.argsort(np.argsort(np.array(KINDS)))
    found = []
    for name in sorted(SEGMENTS):
        if name == "week":
            if not encoded.n_events:
                continue
            codes, labels = case_segments(encoded, "week")
            per_event = False
        elif name in encoded.attributes:
            codes, labels = encoded.attributes[name]
            per_event = True
        else:
            continue
        cells, contacts, ex = _tally(replay, index, encoded.case_offsets, codes, per_event, len(labels), examples,
                                     case_ids)
        names = (NO_VALUE,) + tuple(labels)
        value_rank = np.empty(len(names), dtype=np.int64)
        value_rank[sorted(range(len(names)), key=names.__getitem__)] = np.arange(len(names))
        value, sk = cells // n_sk, cells % n_sk
        order = np.lexsort((kind_rank[sk % len(KINDS)], sk // len(KINDS), value_rank[value], -contacts))
        found.append((name, names, value[order], sk[order], contacts[order], [ex[i] for i in order.tolist()]))
    return tuple(SegmentDeviation(attribute=name, value=names[v], step=index.steps[k // len(KINDS)],
                                  kind=KINDS[k % len(KINDS)], contacts=n, examples=ids)
                 for name, names, value, sk, contacts, ex in found
                 for v, k, n, ids in zip(value.tolist(), sk.tolist(), contacts.tolist(), ex))


def _segment_sums(seg: np.ndarray, variant: np.ndarray, per_variant: np.ndarray) -> np.ndarray:
    """Per segment code + 1 (0 = no value): the sum over its contacts of their variant's row of
    per_variant (int64[V, k])."""
    from engine.kernels.deviations import sum_by_segment

    n_seg = int(seg.max()) + 1 if len(seg) else 0
    return sum_by_segment(np.ascontiguousarray(seg, dtype=np.int32), variant,
                          np.ascontiguousarray(per_variant, dtype=np.int64), n_seg)


def _segment_fitness(encoded, replay: Replay, attributes: Sequence[str]) -> tuple[SegmentFitness, ...]:
    """Token sums and fit contacts per segment of each attribute (the contact's segment)."""
    variant = replay.case_variant
    per_variant = np.column_stack([replay.counts, replay.is_fit.astype(np.int64), np.ones(replay.n_variants,
                                                                                          dtype=np.int64)])
    rows = []
    for name in attributes:
        seg, labels = case_segments(encoded, name)
        sums = _segment_sums(seg, variant, per_variant)
        for code in np.flatnonzero(sums[:, -1]).tolist():
            tok = sums[code]
            rows.append(_segment_fitness_row(name, labels[code - 1] if code > 0 else NO_VALUE, int(tok[-1]),
                                             {t: int(x) for t, x in zip(TOKENS, tok[:len(TOKENS)])},
                                             int(tok[len(TOKENS)]), replay.unknown_as_deviation))
    return tuple(sorted(rows, key=_value_order(attributes)))


def _compliance(encoded, replay: Replay, found: VariantDeviations, critical: frozenset[str]) -> tuple[Compliance, ...]:
    """Contacts in which no critical step was skipped or run out of order, per team, site and shift."""
    breach = np.array([s in critical for s in found.step], dtype=bool) & ((found.kind == 0) | (found.kind == 3))
    variant_breach = np.zeros(replay.n_variants, dtype=np.int64)
    variant_breach[found.variant[breach]] = 1
    per_variant = np.column_stack([1 - variant_breach, np.ones(replay.n_variants, dtype=np.int64)])
    rows = []
    for name in COMPLIANCE_BY:
        if name not in encoded.attributes:
            continue
        seg, labels = case_segments(encoded, name)
        sums = _segment_sums(seg, replay.case_variant, per_variant)
        for code in np.flatnonzero(sums[:, -1]).tolist():
            n, ok = int(sums[code, 1]), int(sums[code, 0])
            rows.append(Compliance(attribute=name, value=labels[code - 1] if code > 0 else NO_VALUE, contacts=n,
                                   compliant=ok, rate=ok / n if n else 1.0))
    return tuple(sorted(rows, key=_value_order(COMPLIANCE_BY)))


def _variant_fits(replay: Replay, found: VariantDeviations, case_ids, variants) -> tuple[VariantFit, ...]:
    """The VariantFit of the given variants (indexes), deviations in the order they were found."""
    variants = list(variants)
    order = np.argsort(found.variant, kind="stable")
    ptr = np.searchsorted(found.variant[order], np.arange(replay.n_variants + 1))
    at = np.asarray(variants, dtype=np.int64)
    rows = [i for v in variants for i in order[ptr[v]:ptr[v + 1]].tolist()]
    labels = iter(f"{KINDS[k]}: {found.step[i]}" for k, i in zip(found.kind[rows].tolist(), rows))
    n_dev = (ptr[at + 1] - ptr[at]).tolist()
    names, codes, offsets = replay.activities, replay.codes, replay.offsets
    examples = _ids_of(case_ids, replay.first_case[at])
    return tuple(VariantFit(activities=tuple([names[c] for c in codes[offsets[v]:offsets[v + 1]].tolist()]),
                            contacts=n, first_case=first, example=ex, tokens=tuple(tokens), is_fit=fit, fitness=f,
                            audit_fitness=af, deviations=tuple(next(labels) for _ in range(d)))
                 for v, n, first, ex, tokens, fit, f, af, d in zip(
                     variants, replay.weight[at].tolist(), replay.first_case[at].tolist(), examples,
                     replay.counts[at].tolist(), replay.is_fit[at].tolist(), replay.fitness[at].tolist(),
                     replay.audit_fitness[at].tolist(), n_dev))


def _unknown_counts(replay: Replay) -> dict[str, int]:
    """Events per activity unknown to the SOP (from the variants and their contacts)."""
    if not replay.unknown_activities:
        return {}
    unknown = set(replay.unknown_activities)
    per_event = np.repeat(replay.weight, np.diff(replay.offsets))
    cnt = np.rint(np.bincount(replay.codes, weights=per_event, minlength=len(replay.activities))).astype(np.int64)
    return dict(sorted((a, int(cnt[i])) for i, a in enumerate(replay.activities) if a in unknown and cnt[i]))


def load_kernels(sop, unknown_as_deviation: bool = True) -> None:
    """Load what ``check_conformance`` runs on ``sop``: numba with its registries and the cached machine
    code of every kernel, by checking one made-up contact (one step the SOP does not know).

    That is about a second of a short process, spent in Python; in a background thread while Arrow
    reads the log (Arrow releases the GIL) it costs little (``cxmine conform``). numba's check, at its
    first kernel, that scipy's BLAS can be imported (for ``np.dot`` in kernels, which cxmine's kernels
    never call) is skipped: importing scipy.linalg for it costs a quarter of a second of CPU. Later
    imports of scipy.linalg work as usual.
    """
    import sys

    from engine.log.encode import EncodedLog

    one = np.zeros(1, dtype=np.int32)
    contact = EncodedLog(case_offsets=np.array([0, 1], dtype=np.int64), activity_codes=one.copy(),
                         timestamps=np.zeros(1, dtype=np.int64), activities=("\0",),
                         attributes={name: (one.copy(), ("",)) for name in EVENT_ATTRIBUTES})
    blas = "scipy.linalg.cython_blas"
    unchecked = blas not in sys.modules and "numba.np.arraymath" not in sys.modules
    if unchecked:
        sys.modules[blas] = None  # import of it fails: numba's check finds no BLAS and moves on
    try:
        check_conformance(contact, sop, unknown_as_deviation=unknown_as_deviation).as_dict()
    except Exception:  # noqa: BLE001 - loading only; the check of the log itself reports any error
        return
    finally:
        if unchecked and sys.modules.get(blas, 0) is None:
            del sys.modules[blas]


def _check_attributes(encoded, by: Sequence[str]) -> None:
    available = set(encoded.attributes) | set(encoded.case_attributes) | {"week"}
    for name in by:
        if name not in available:
            raise AnalysisError(f"Attribute '{name}' is not in the log (available: {', '.join(sorted(available))})",
                                field=name, hint="Report fitness by one of the available attributes")


def check_conformance(encoded, sop, *, by: Sequence[str] = (), examples: int = 5, unknown_as_deviation: bool = True,
                      choice: Literal["name", "pm4py"] = "name", worst: int = 10) -> ConformanceResult:
    """Replay an encoded log (``encode_log(..., with_case_ids=True)``) on an SOP and report deviations.

    ``sop``: an ``engine.model.Sop``. ``by``: extra attributes to report fitness for (segment
    fitness is always given for team, site, shift, channel when present; ``week`` and encoded
    case attributes are accepted too). Deviations are counted per step and kind over all
    contacts, and per team, site, shift, agent (resource), channel and ISO week, with up to
    ``examples`` contact ids each. A contact is compliant when no compliance-critical step was
    skipped or run out of order. ``worst``: how many of the worst variants to list.
    """
    if examples < 0:
        raise AnalysisError(f"The number of examples must be 0 or more, got {examples}", field="examples")
    _check_attributes(encoded, by)
    net = compile_net(sop.net, sop.initial_marking, sop.final_marking, choice=choice)
    replay = replay_tokens(encoded.case_offsets, encoded.activity_codes, encoded.activities, net,
                           label_map=sop.label_map, unknown_as_deviation=unknown_as_deviation)
    n_cases = encoded.n_cases
    case_ids = _contact_ids(encoded)
    found = locate_deviations(replay)
    index = index_deviations(found, replay.n_variants)
    dev = expand_deviations(replay, found, encoded.case_offsets, index)
    critical = frozenset(sop.critical)
    fit_by = [a for a in dict.fromkeys(tuple(by) + FITNESS_BY) if a in by or a in encoded.attributes]
    return ConformanceResult(
        sop=sop.name, contacts=n_cases, events=encoded.n_events, tokens=replay.totals(),
        fitting=int(np.dot(replay.is_fit, replay.weight)), unknown_as_deviation=unknown_as_deviation,
        unknown_activities=_unknown_counts(replay),
        steps=_step_rows(_count_steps(replay, index, encoded.case_offsets, case_ids, examples, sop.owner_of),
                         n_cases, critical, sop.cost_per_minute),
        segment_deviations=_count_segment_deviations(encoded, replay, index, case_ids, examples),
        segment_fitness=_segment_fitness(encoded, replay, fit_by),
        compliance=_compliance(encoded, replay, found, critical),
        variant_fits=VariantTable(replay, found, case_ids), critical_steps=tuple(sorted(critical)),
        cost_per_minute=dict(sop.cost_per_minute), examples=examples, worst=worst,
        contacts_with_unknown=int(replay.weight[replay.counts[:, 4] > 0].sum()),
        contacts_unknown_unfit=int(replay.weight[(replay.counts[:, 4] > 0) & ~replay.is_fit].sum()), replay=replay, deviations=dev,
        case_ids=case_ids)
