"""Per-partition summaries of variants, DFG, KPIs, conformance (one SOP or a library), and their exact merge.

Each ``summarise_*`` function runs on a worker: it reads one partition file
(a complete cxmine log of its cases, see engine.log.partitions), applies the
selection, runs the single-machine analysis on it and returns a *partial*
whose ``+`` is exact. ``finish()`` of the merged partial is the result the
single-machine path returns for the whole log.

Order. The single-machine results break ties by first occurrence in the
log's case order (variants) and list the first example contacts in that
order (conformance). A partition's cases are a subsequence of the whole
log's case order, interleaved with the other partitions', so merging "b's
contacts after a's" (what ``Variants.__add__`` and ``ConformanceResult.__add__``
assume) would not do. Instead every order-dependent value of a partial
carries the case's global position (``global_case_index``): a variant's
first case is the smallest global position over the partitions, example
contact ids are merged by global position and cut to the requested number.
These merges are commutative, so any merge order gives the same result.

What stays different: ``first_case`` fields hold global positions (the
single-machine path counts positions within the selection or the segment;
the order they give is the same), a performance DFG's ``durations`` are
grouped by partition (every statistic, median and p90 included, is the
same), and the per-contact detail of a conformance result (``replay``,
``deviations``, ``case_ids``) is not gathered.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from engine.analyses.cases import CaseProfile
from engine.analyses.conformance import ConformanceResult
from engine.analyses.dfg import Dfg, PerformanceDfg
from engine.analyses.kpis import Kpis
from engine.analyses.segments import case_segments
from engine.analyses.variants import Variants
from engine.log.encode import EncodedLog

#: examples kept per row while partials merge; cut to the requested number by ``finish``
_ALL_EXAMPLES = 1 << 30
#: example contacts per task and status of an SOP's execution (``summarize_execution``'s default)
_EXECUTION_EXAMPLES = 5


def global_case_positions(path: str, log: EncodedLog) -> np.ndarray:
    """int64[n_cases]: each case's position in the whole log (its ``case_index`` for a single-file log)."""
    import pyarrow.parquet as pq

    from engine.log.partitions import GLOBAL_CASE_INDEX
    if GLOBAL_CASE_INDEX not in pq.read_schema(path).names:
        return np.arange(log.n_cases, dtype=np.int64)
    per_event = pq.read_table(path, columns=[GLOBAL_CASE_INDEX]).column(0).to_numpy()
    return per_event[log.case_offsets[:-1]].astype(np.int64)


def encode_partition(path: str, where: dict[str, set[str]] | None, *, by: Sequence[str] = (),
                     **kwargs) -> tuple[EncodedLog, np.ndarray] | None:
    """The partition encoded as ``encode_where`` does, and its selected cases' global positions;
    None when no case of the partition is selected."""
    from engine.log.select import WEEK, cases_where, encode_where, select_cases
    wanted = tuple(a for a in (where or {}) if a != WEEK)
    kwargs["case_attributes"] = tuple(dict.fromkeys(tuple(kwargs.get("case_attributes", ())) + wanted))
    log = encode_where(path, None, by=by, **kwargs)
    positions = global_case_positions(path, log)
    if where:
        keep = cases_where(log, where)
        if not keep.any():
            return None
        log, positions = select_cases(log, keep), positions[keep]
    return log, positions


def sorted_by_label(groups: dict) -> dict:
    """Segments in label order, as the single-machine path lists them (its labels are sorted)."""
    return dict(sorted(groups.items()))


def _merge_dicts(a: dict, b: dict, merge) -> dict:
    out = dict(a)
    for key, value in b.items():
        out[key] = merge(out[key], value) if key in out else value
    return out


# --- variants ---------------------------------------------------------------------------------

def merge_variants(a: Variants, b: Variants) -> Variants:
    """Variants of two disjoint sets of cases whose ``first_case`` are global positions."""
    totals: dict[tuple[str, ...], list[int]] = {}
    for part in (a, b):
        for s, c, f in zip(part.sequences, part.counts, part.first_case):
            t = totals.setdefault(s, [0, int(f)])
            t[0] += int(c)
            t[1] = min(t[1], int(f))
    seqs = list(totals)
    counts = np.array([totals[s][0] for s in seqs], dtype=np.int64)
    first = np.array([totals[s][1] for s in seqs], dtype=np.int64)
    order = np.lexsort((first, -counts))
    return Variants(tuple(seqs[i] for i in order), counts[order], a.n_cases + b.n_cases, first[order])


def _global_variants(v: Variants, positions: np.ndarray) -> Variants:
    return Variants(v.sequences, v.counts, v.n_cases, positions[v.first_case].astype(np.int64))


@dataclass(frozen=True)
class ProfilePartial:
    """Per-case events and durations with each case's global position (``CaseProfile`` in log order
    at ``finish``, so floating-point means sum in the same order as on one machine)."""

    events: np.ndarray
    durations_ns: np.ndarray
    positions: np.ndarray

    def __add__(self, other: "ProfilePartial") -> "ProfilePartial":
        return ProfilePartial(*(np.concatenate([x, y]) for x, y in zip(
            (self.events, self.durations_ns, self.positions), (other.events, other.durations_ns, other.positions))))

    def finish(self) -> CaseProfile:
        order = np.argsort(self.positions, kind="stable")
        return CaseProfile(self.events[order], self.durations_ns[order])


@dataclass(frozen=True)
class VariantsPartial:
    overall: Variants
    segments: dict[str, dict[str, Variants]]
    profile: ProfilePartial

    def __add__(self, other: "VariantsPartial") -> "VariantsPartial":
        return VariantsPartial(merge_variants(self.overall, other.overall),
                               _merge_dicts(self.segments, other.segments,
                                            lambda x, y: _merge_dicts(x, y, merge_variants)),
                               self.profile + other.profile)

    def finish(self) -> tuple[Variants, dict[str, dict[str, Variants]], CaseProfile]:
        """The whole log's variants, its variants per segment, and its case profile."""
        return (self.overall, {attr: sorted_by_label(s) for attr, s in self.segments.items()},
                self.profile.finish())


def variants_by_segment(log: EncodedLog, positions: np.ndarray, attr: str) -> dict[str, Variants]:
    """``count_variants_by`` with each variant's first case as a global position."""
    from engine.analyses.variants import count_variants_by
    seg, _ = case_segments(log, attr)
    return {label: _global_variants(v, positions[seg == g])
            for g, (label, v) in enumerate(count_variants_by(log, attr).items())}


def summarise_variants(path: str, by: Sequence[str] = (), where: dict | None = None) -> VariantsPartial | None:
    from engine.analyses.cases import profile_cases
    from engine.analyses.variants import count_variants
    encoded = encode_partition(path, where, by=by, attributes=())
    if encoded is None:
        return None
    log, positions = encoded
    segments = {attr: variants_by_segment(log, positions, attr) for attr in by}
    profile = profile_cases(log)
    return VariantsPartial(_global_variants(count_variants(log), positions), segments,
                           ProfilePartial(profile.events, profile.durations_ns, positions))


# --- directly-follows graphs ------------------------------------------------------------------

def _canonical_dfg(d: Dfg) -> Dfg:
    """Keys in label order, as the single-machine path builds them (its activity codes are sorted labels)."""
    return Dfg(dict(sorted(d.edges.items())), dict(sorted(d.start_activities.items())),
               dict(sorted(d.end_activities.items())), dict(sorted(d.activity_counts.items())), d.n_cases)


def _canonical_performance(p: PerformanceDfg) -> PerformanceDfg:
    return PerformanceDfg(dict(sorted(p.edges.items())), dict(sorted(p.durations.items())), p.measure, p.n_cases)


def _add_pair(x: tuple, y: tuple) -> tuple:
    return x[0] + y[0], x[1] + y[1]


@dataclass(frozen=True)
class DfgPartial:
    overall: tuple[Dfg, PerformanceDfg]
    segments: dict[str, dict[str, tuple[Dfg, PerformanceDfg]]]

    def __add__(self, other: "DfgPartial") -> "DfgPartial":
        return DfgPartial(_add_pair(self.overall, other.overall),
                          _merge_dicts(self.segments, other.segments, lambda x, y: _merge_dicts(x, y, _add_pair)))

    def finish(self) -> list[tuple]:
        """``[(attribute, label, Dfg, PerformanceDfg)]`` as ``cxmine dfg`` builds it: the whole log first
        (attribute None), then each segment."""
        graphs = [(None, None, _canonical_dfg(self.overall[0]), _canonical_performance(self.overall[1]))]
        for attr, groups in self.segments.items():
            graphs += [(attr, label, _canonical_dfg(f), _canonical_performance(p))
                       for label, (f, p) in sorted_by_label(groups).items()]
        return graphs


def summarise_dfg(path: str, by: Sequence[str] = (), where: dict | None = None,
                  measure: str = "start_to_start") -> DfgPartial | None:
    from engine.analyses.dfg import discover_dfg, discover_performance_dfg
    encoded = encode_partition(path, where, by=by, attributes=())
    if encoded is None:
        return None
    log, _ = encoded
    segments = {}
    for attr in by:
        freq, perf = discover_dfg(log, by=attr), discover_performance_dfg(log, by=attr, measure=measure)
        segments[attr] = {label: (freq[label], perf[label]) for label in freq}
    return DfgPartial((discover_dfg(log), discover_performance_dfg(log, measure=measure)), segments)


# --- KPIs -------------------------------------------------------------------------------------

def finish_kpis(k: Kpis) -> Kpis:
    return replace(k, segments={attr: sorted_by_label(s) for attr, s in k.segments.items()})


def summarise_kpis(path: str, by: Sequence[str] = (), where: dict | None = None, **params) -> Kpis | None:
    """KPIs of one partition; repeat contacts are linked within it, which is exact because a partition
    holds every contact of its customers (engine.log.partitions)."""
    from engine.analyses.kpis import compute_kpis, encode_for_kpis
    from engine.log.select import cases_where
    log = encode_for_kpis(path, by, where)
    if where and not cases_where(log, where).any():
        return None
    return compute_kpis(log, by=by, where=where, **params)


# --- conformance ------------------------------------------------------------------------------

def _merge_variant_fits(a, b) -> tuple:
    out = {v.activities: v for v in a}
    for v in b:
        old = out.get(v.activities)
        if old is None:
            out[v.activities] = v
        else:
            first = old if old.first_case <= v.first_case else v
            out[v.activities] = replace(first, contacts=old.contacts + v.contacts)
    return tuple(sorted(out.values(), key=lambda v: v.first_case))


@dataclass(frozen=True)
class ConformancePartial:
    """A conformance result whose examples are uncut and whose variants' first cases are global
    positions; ``positions``: global position of every example contact id."""

    result: ConformanceResult
    positions: dict[str, int]
    examples: int
    contacts: object = None  # pandas DataFrame: contacts.csv's rows plus "position", when asked for

    def __add__(self, other: "ConformancePartial") -> "ConformancePartial":
        merged = replace(self.result, variant_fits=()) + replace(other.result, variant_fits=())
        fits = _merge_variant_fits(self.result.variant_fits, other.result.variant_fits)
        contacts = None
        if self.contacts is not None and other.contacts is not None:
            import pandas as pd
            contacts = pd.concat([self.contacts, other.contacts], ignore_index=True)
        return ConformancePartial(replace(merged, variant_fits=fits), {**self.positions, **other.positions},
                                  self.examples, contacts)

    def finish(self) -> ConformanceResult:
        def cut(examples: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(sorted(examples, key=self.positions.__getitem__)[:self.examples])

        r = self.result
        return replace(r, examples=self.examples, steps=tuple(replace(s, examples=cut(s.examples)) for s in r.steps),
                       segment_deviations=tuple(replace(s, examples=cut(s.examples)) for s in r.segment_deviations))

    def contact_rows(self):
        """contacts.csv's rows (engine.report.conformance.contact_frame) of every contact, in log order."""
        if self.contacts is None:
            return None
        rows = self.contacts.sort_values("position", kind="stable").drop(columns="position")
        return rows.reset_index(drop=True)


def conformance_partial(result: ConformanceResult, positions: np.ndarray, examples: int,
                        per_contact: bool = False) -> ConformancePartial:
    """The partial of one partition's ``check_conformance`` result; ``positions``: global position of each
    of its contacts."""
    ids = result.case_ids
    shown = {e for row in result.steps + result.segment_deviations for e in row.examples}
    where_of = {str(c): int(positions[i]) for i, c in enumerate(ids) if str(c) in shown}
    fits = tuple(replace(v, first_case=int(positions[v.first_case])) for v in result.variant_fits)
    contacts = None
    if per_contact:
        from engine.report.conformance import contact_frame
        contacts = contact_frame(result).assign(position=positions)
    result = replace(result, variant_fits=fits, examples=_ALL_EXAMPLES, replay=None, deviations=None, case_ids=None)
    return ConformancePartial(result, where_of, examples, contacts)


def _conformance_attributes(by: Sequence[str]) -> tuple[str, ...]:
    from engine.log.schema import SEGMENT_COLUMNS
    return SEGMENT_COLUMNS + tuple(a for a in by if a not in SEGMENT_COLUMNS + ("week",))


def summarise_conformance(path: str, sop_path: str, by: Sequence[str] = (), where: dict | None = None,
                          examples: int = 5, unknown_as_deviation: bool = True, per_contact: bool = False,
                          worst: int = 10) -> ConformancePartial | None:
    from engine.analyses.conformance import check_conformance
    from engine.model import load_sop
    encoded = encode_partition(path, where, by=by, with_case_ids=True, attributes=_conformance_attributes(by))
    if encoded is None:
        return None
    log, positions = encoded
    result = check_conformance(log, load_sop(sop_path), by=by, examples=examples,
                               unknown_as_deviation=unknown_as_deviation, worst=worst)
    return conformance_partial(result, positions, examples, per_contact)


# --- the SOP library --------------------------------------------------------------------------

@dataclass(frozen=True)
class Unassigned:
    """Contacts no SOP (or several SOPs) applies to: their count and the first example contacts as
    ``(global position, contact id)``."""

    contacts: int
    examples: tuple[tuple[int, str], ...]

    def merge(self, other: "Unassigned", k: int) -> "Unassigned":
        return Unassigned(self.contacts + other.contacts, tuple(sorted(self.examples + other.examples)[:k]))

    def ids(self) -> tuple[str, ...]:
        return tuple(c for _, c in self.examples)


@dataclass(frozen=True)
class ExecutionPartial:
    """``summarize_execution`` of one SOP's contacts in a partition (engine.analyses.sop_execution): the
    counts per task, flow and flow outside the SOP add up; example contacts are chosen by global position
    (``positions``); shares are taken of the merged contacts at ``finish``."""

    execution: object  # SopExecution
    positions: dict[str, int]

    def __add__(self, other: "ExecutionPartial") -> "ExecutionPartial":
        from engine.analyses.sop_execution import STATUSES
        a, b = self.execution, other.execution
        positions = {**self.positions, **other.positions}

        def examples(x: dict, y: dict) -> dict:
            keys = [s for s in STATUSES if s in x or s in y]
            return {k: tuple(sorted(x.get(k, ()) + y.get(k, ()), key=positions.__getitem__)[:_EXECUTION_EXAMPLES])
                    for k in keys}

        steps = tuple(replace(x, contacts=x.contacts + y.contacts, ran=x.ran + y.ran,
                              counts={k: x.counts[k] + y.counts[k] for k in x.counts},
                              examples=examples(x.examples, y.examples)) for x, y in zip(a.steps, b.steps))
        flows = tuple(replace(x, contacts=x.contacts + y.contacts) for x, y in zip(a.flows, b.flows))
        outside = {(o.source, o.target): o for o in a.outside}
        for o in b.outside:
            old = outside.get((o.source, o.target))
            outside[(o.source, o.target)] = o if old is None else replace(old, contacts=old.contacts + o.contacts,
                                                                           times=old.times + o.times)
        merged = replace(a, contacts=a.contacts + b.contacts, steps=steps, flows=flows,
                         outside=tuple(outside.values()))
        kept = {c for step in steps for ids in step.examples.values() for c in ids}
        return ExecutionPartial(merged, {c: p for c, p in positions.items() if c in kept})

    def finish(self, result: ConformanceResult):
        """The SopExecution of the merged contacts (``result``: their merged conformance)."""
        e = self.execution
        n = e.contacts
        outside = sorted(e.outside, key=lambda o: (-o.contacts, (o.source, o.target)))
        return replace(e, log_contacts=n, unknown_activities=dict(result.unknown_activities),
                       flows=tuple(replace(f, share=f.contacts / n if n else 0.0) for f in e.flows),
                       outside=tuple(replace(o, share=o.contacts / n if n else 0.0) for o in outside))


def execution_partial(result: ConformanceResult, sop, positions: np.ndarray) -> ExecutionPartial | None:
    """The partial of ``summarize_execution`` of a partition's result (which keeps its replay); None when
    none of the partition's contacts is the SOP's."""
    from engine.analyses.sop_execution import summarize_execution
    if not result.contacts:
        return None
    execution = summarize_execution(result, sop, examples=_EXECUTION_EXAMPLES)
    shown = {c for step in execution.steps for ids in step.examples.values() for c in ids}
    where_of = {str(c): int(positions[i]) for i, c in enumerate(result.case_ids) if str(c) in shown}
    return ExecutionPartial(execution, where_of)


@dataclass(frozen=True)
class LibraryPartial:
    """``check_library`` of one partition: a conformance partial per SOP (in library order), the
    contacts looked at, and the unmatched and ambiguous contacts."""

    sops: tuple[ConformancePartial, ...]
    paths: tuple[str, ...]
    contacts: int
    unmatched: Unassigned
    ambiguous: Unassigned
    examples: int
    executions: tuple[ExecutionPartial | None, ...] | None = None

    def __add__(self, other: "LibraryPartial") -> "LibraryPartial":
        executions = None
        if self.executions is not None and other.executions is not None:
            executions = tuple(x if y is None else y if x is None else x + y
                               for x, y in zip(self.executions, other.executions))
        return LibraryPartial(tuple(a + b for a, b in zip(self.sops, other.sops)), self.paths,
                              self.contacts + other.contacts, self.unmatched.merge(other.unmatched, self.examples),
                              self.ambiguous.merge(other.ambiguous, self.examples), self.examples, executions)

    def finish(self):
        """The ``LibraryResult`` of the whole (selected) log."""
        from engine.analyses.library import LibraryResult
        return LibraryResult(results=tuple(p.finish() for p in self.sops), paths=self.paths, contacts=self.contacts,
                             unmatched=self.unmatched.contacts, unmatched_examples=self.unmatched.ids(),
                             ambiguous=self.ambiguous.contacts, ambiguous_examples=self.ambiguous.ids())

    def contact_rows(self) -> list:
        """Per SOP, contacts.csv's rows of its contacts in log order (None when they were not gathered)."""
        return [p.contact_rows() for p in self.sops]

    def sop_executions(self, results: Sequence[ConformanceResult]) -> list:
        """Per SOP, the ``SopExecution`` of its contacts (``log_contacts``: its own contacts; None for an SOP
        without contacts); ``results``: the finished conformance results."""
        return [None if e is None else e.finish(r) for e, r in zip(self.executions, results)]


def summarise_library(path: str, sops: Sequence, by: Sequence[str] = (), where: dict | None = None,
                      examples: int = 5, unknown_as_deviation: bool = True, worst: int = 10,
                      per_contact: bool = False, executions: bool = False) -> LibraryPartial | None:
    """``check_library`` on one partition (each contact on the SOP that applies to it), as a partial;
    with ``executions``, also each SOP's execution laid on it (``summarize_execution``).

    Every SOP gets a partial, also when none of the partition's contacts is its own, so the merged
    result of an SOP no contact applies to is the single-machine one of no contacts."""
    from engine.analyses.conformance import check_conformance
    from engine.analyses.library import AMBIGUOUS, UNMATCHED, applies_to_attributes, assign_sops
    from engine.log.select import select_cases
    encoded = encode_partition(path, where, by=by, with_case_ids=True, attributes=_conformance_attributes(by),
                               case_attributes=applies_to_attributes(sops))
    if encoded is None:
        return None
    log, positions = encoded
    which = assign_sops(log, sops)
    partials, executed = [], []
    for i, sop in enumerate(sops):
        mine = which == i
        result = check_conformance(select_cases(log, mine), sop, by=by, examples=examples,
                                   unknown_as_deviation=unknown_as_deviation, worst=worst)
        if executions:
            executed.append(execution_partial(result, sop, positions[mine]))
        partials.append(conformance_partial(result, positions[mine], examples, per_contact))
    ids = log.case_ids.to_pylist() if log.case_ids is not None else [str(i) for i in range(log.n_cases)]

    def unassigned(kind: int) -> Unassigned:
        cases = np.flatnonzero(which == kind)
        return Unassigned(len(cases), tuple((int(positions[c]), str(ids[c])) for c in cases[:examples]))

    return LibraryPartial(tuple(partials), tuple(str(s.path) for s in sops), log.n_cases, unassigned(UNMATCHED),
                          unassigned(AMBIGUOUS), examples, tuple(executed) if executions else None)


# --- discovery --------------------------------------------------------------------------------

def _add_discovery_pair(x: tuple[Variants, Dfg], y: tuple[Variants, Dfg]) -> tuple[Variants, Dfg]:
    return merge_variants(x[0], y[0]), x[1] + y[1]


@dataclass(frozen=True)
class DiscoveryPartial:
    """What the miners read (variants with their first cases as global positions, and the DFG with
    activity, start and end counts), for the whole selection and per segment."""

    overall: tuple[Variants, Dfg]
    segments: dict[str, dict[str, tuple[Variants, Dfg]]]

    def __add__(self, other: "DiscoveryPartial") -> "DiscoveryPartial":
        return DiscoveryPartial(_add_discovery_pair(self.overall, other.overall),
                                _merge_dicts(self.segments, other.segments,
                                             lambda x, y: _merge_dicts(x, y, _add_discovery_pair)))

    def finish(self) -> tuple[tuple[Variants, Dfg], dict[str, dict[str, tuple[Variants, Dfg]]]]:
        """``((variants, dfg), {attr: {label: (variants, dfg)}})``, segments in label order."""
        def canonical(pair):
            return pair[0], _canonical_dfg(pair[1])

        return canonical(self.overall), {attr: {label: canonical(p) for label, p in sorted_by_label(s).items()}
                                         for attr, s in self.segments.items()}


def summarise_discovery(path: str, by: Sequence[str] = (), where: dict | None = None) -> DiscoveryPartial | None:
    from engine.analyses.dfg import discover_dfg
    from engine.analyses.variants import count_variants
    encoded = encode_partition(path, where, by=by, attributes=())
    if encoded is None:
        return None
    log, positions = encoded
    segments = {}
    for attr in by:
        dfgs = discover_dfg(log, by=attr)
        segments[attr] = {label: (v, dfgs[label]) for label, v in variants_by_segment(log, positions, attr).items()}
    return DiscoveryPartial((_global_variants(count_variants(log), positions), discover_dfg(log)), segments)


# --- the report (engine.analyses.overview) ----------------------------------------------------

def _add_kpi_trends(a: dict, b: dict) -> dict:
    return _merge_dicts(a, b, lambda x, y: x + y)


@dataclass(frozen=True)
class OverviewKpisPartial:
    """The report's KPIs: by segment, weekly for all contacts (``trends["all"]``) and per team (a
    ``Kpis`` per team label, its contacts selected), and the log's contacts and events."""

    kpis: Kpis
    trends: dict[str, Kpis]
    n_cases: int
    n_events: int

    def __add__(self, other: "OverviewKpisPartial") -> "OverviewKpisPartial":
        return OverviewKpisPartial(self.kpis + other.kpis, _add_kpi_trends(self.trends, other.trends),
                                   self.n_cases + other.n_cases, self.n_events + other.n_events)

    def finish(self) -> tuple[Kpis, dict[str, Kpis], int, int]:
        """``(kpis, trends, contacts, events)``: trends of all contacts first, then per team in label order."""
        teams = sorted(t for t in self.trends if t != "all")
        trends = {label: finish_kpis(self.trends[label]) for label in ["all", *teams]}
        return finish_kpis(self.kpis), trends, self.n_cases, self.n_events


#: a per-case attribute made for one KPI pass: the pair (team, ISO week) of each contact
_TEAM_WEEK = "\x00team-week"


def summarise_overview_kpis(path: str, segments: Sequence[str] = (), critical: frozenset = frozenset(),
                            label_map: dict | None = None, window_days: float = 7.0) -> OverviewKpisPartial:
    """The report's KPIs of one partition (``_kpi_part`` of engine.analyses.overview) in one run of the KPI
    kernel: the segments, the weeks, the teams and the (team, week) pairs are slots of the same pass.

    A team's trend is the KPIs of the contacts whose team is that team (the selection ``--where team=T``:
    the same per-case value) and their weeks, so it equals the single-machine ``compute_kpis(...,
    where={"team": {T}})`` without one pass per team. A team none of the partition's contacts belongs
    to adds nothing to the merge."""
    from engine.analyses.kpis import KpiSummary, compute_kpis, encode_for_kpis
    from engine.kernels.kpis import MEASURES
    log = encode_for_kpis(path, by=tuple(segments) + ("week",))
    by = tuple(segments) + ("week",)
    teams: list[str] = []
    if "team" in log.case_attributes:  # as on one machine: team trends where the team is a per-case value
        team_codes, labels = log.case_attributes["team"]
        teams = labels.to_pylist() if hasattr(labels, "to_pylist") else list(labels)
        week_codes, weeks = case_segments(log, "week")
        pair = np.where((team_codes >= 0) & (week_codes >= 0),
                        team_codes.astype(np.int64) * len(weeks) + week_codes, -1).astype(np.int32)
        pair_labels = tuple(str(i) for i in range(len(teams) * len(weeks)))
        log = replace(log, case_attributes={**log.case_attributes, _TEAM_WEEK: (pair, pair_labels)})
        by += ("team", _TEAM_WEEK)
    k = compute_kpis(log, by=by, critical=critical, label_map=label_map, window_days=window_days)

    def kpis(overall, segs) -> Kpis:
        return Kpis(overall, segs, k.window_days, k.critical_steps)

    trends = {"all": kpis(k.overall, {"week": k.segments["week"]})}
    zero = KpiSummary(np.zeros(len(MEASURES), dtype=np.int64))
    per_team: dict[str, dict[str, KpiSummary]] = {}
    for key, summary in k.segments.get(_TEAM_WEEK, {}).items():
        t, w = divmod(int(key), len(weeks))
        per_team.setdefault(teams[t], {})[weeks[w]] = summary
    for team in sorted(set(teams)):
        trends[team] = kpis(k.segments["team"].get(team, zero), {"week": per_team.get(team, {})})
    return OverviewKpisPartial(kpis(k.overall, {a: k.segments[a] for a in dict.fromkeys(segments)}), trends,
                               log.n_cases, log.n_events)


@dataclass(frozen=True)
class FlowPartial:
    """The report's flow section: variants with global first cases, the case profile, the DFG and
    performance DFG, events per (activity, owner) and the first and last event time."""

    variants: Variants
    profile: ProfilePartial
    graphs: tuple[Dfg, PerformanceDfg]
    owners: dict[tuple[str, str], int]
    span: tuple[int, int] | None

    def __add__(self, other: "FlowPartial") -> "FlowPartial":
        spans = [s for s in (self.span, other.span) if s is not None]
        span = (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else None
        return FlowPartial(merge_variants(self.variants, other.variants), self.profile + other.profile,
                           _add_pair(self.graphs, other.graphs),
                           _merge_dicts(self.owners, other.owners, lambda x, y: x + y), span)

    def finish(self, coverage: float, max_edges: int | None):
        """``(variants, profile, dfg, performance, span, process map)`` as the single-machine report
        computes them; the map is the frequency map of ``build_process_map(log, coverage=coverage,
        max_edges=max_edges)`` (None for a log without contacts)."""
        from engine.analyses.process_map import owners_from_counts, process_map_of
        dfg, perf = _canonical_dfg(self.graphs[0]), _canonical_performance(self.graphs[1])
        pmap = None
        if self.variants.n_cases:
            pmap = process_map_of(dfg, self.variants, owners_from_counts(self.owners), sorted(dfg.activity_counts),
                                  coverage=coverage, max_edges=max_edges)
        return self.variants, self.profile.finish(), dfg, perf, self.span, pmap


def summarise_flow(path: str) -> FlowPartial:
    from engine.analyses.cases import profile_cases
    from engine.analyses.dfg import discover_dfg, discover_performance_dfg
    from engine.analyses.process_map import owner_counts
    from engine.analyses.variants import count_variants
    log, positions = encode_partition(path, None, attributes=("owner",), case_attributes=())
    span = (int(log.timestamps.min()), int(log.timestamps.max())) if log.n_events else None
    profile = profile_cases(log)
    return FlowPartial(_global_variants(count_variants(log), positions),
                       ProfilePartial(profile.events, profile.durations_ns, positions),
                       (discover_dfg(log), discover_performance_dfg(log)), owner_counts(log), span)
