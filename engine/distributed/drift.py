"""Drift on Dask: the single-machine change-point search and explanation, fed by counts merged over partitions.

Time order across partitions. The single-machine path orders the contacts
by first event (ties by input order) and cuts them into units: blocks of N
contacts or calendar days, weeks or months. A partitioned log keeps that
order in ``global_case_index`` (engine.log.partitions), and each partition
holds a subsequence of it. So every partition can tell, for each of its
contacts, its rank in the whole (selected) log and its unit, and count per
unit; counts of the same unit from every partition add up to the unit's
counts in the whole log (units merged by key, as engine.distributed.windows
merges windows). The search then runs on the client, on exactly the prefix
sums the single-machine path builds, with the same functions
(engine.analyses.drift: seeded intervals, ``_best_split``, the greedy
choice with the guard, ``_refine``, ``rank_changes``, ``drift_series``).

Passes over the partitions (engine.distributed.drift_partials), each merged
exactly:

1. catalogue: activity and attribute labels, and the selected contacts'
   global positions (with a selection), which rank them; with ``by``, the
   selected contacts' positions per value of each attribute;
2. units: contacts, contacts with each edge and each activity, SOP tokens,
   per unit;
3. sample (only when a split is significant): the contacts of the units
   around each significant split, read contact by contact to locate the
   change exactly (``_refine``) and to count the stretches before and
   after a change that end inside a unit;
4. detail (only when there are change points): per stretch between change
   points, the variants, and per team, site, shift, channel and queue value
   the contacts with each edge that moved (where the change is).

Drift within each value of an attribute (``by``). On one machine each value
is a log of its own (its contacts in the whole log's order) searched like
the whole log, and compared with the rest. Here each value's contacts are
ranked among themselves: the i-th contact of a value in the whole log's
order is the value's contact i, found in the sorted ranks of the value's
contacts (gathered by the catalogue pass, 8 bytes per selected contact and
attribute, sent once to every worker). Each pass then computes, next to the
whole log's summary, the same summary for every value on its own ranks:
units cut by the value's own window (blocks of ``ceil(n / 2,000)`` of the
value's contacts, or calendar periods), the contacts around the value's
significant splits, and its stretches' detail (its own attribute left out
of the explanation). The pass count stays 2 to 4 whatever the number of
values. The comparison with the rest reads each value's unit counts summed,
and the whole log's variants with their contacts per value (units pass).
A value's change points carry the position of their contact in the whole
(selected) log, as on one machine. Values with fewer than ``2 * min_cases``
contacts are compared, not searched, as on one machine.

KPIs before and after each change (``kpis``). On one machine each stretch
between change points is a log of its own for ``compute_kpis``, repeat
contacts linked within it. A partition holds every contact of its customers
(engine.log.partitions), so the detail pass computes, per partition, the KPI
sums of each stretch's contacts in it, and the sums add up to the stretch's
(the KPI partials of ``cxmine kpi`` on Dask, per stretch). The log is read
with the columns ``cxmine drift --kpis`` reads: owner, queue and channel per
event, the customer per case.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Sequence

import numpy as np

from engine.analyses.drift import (EXPLAIN_ATTRIBUTES, WINDOWS, ChangePoint, DriftResult, DriftSettings, SegmentShift,
                                   drift_series, edge_label, iso_time, rank_changes, rank_where, seeded_intervals)
from engine.distributed.cluster import open_client, run_partitions
from engine.distributed.drift_partials import (ORDER_ERROR, ORDER_HINT, CaseSample, StretchDetail, UnitCounts,
                                               ValueRanks, catalogue_partition, count_partition_units,
                                               detail_partition_stretches, sample_partition_cases)
from engine.errors import AnalysisError


def _units(window, n: int, zone) -> tuple[tuple, str]:
    """The unit spec the partitions count by, and the window's name (as ``window_offsets`` names it)."""
    from engine.analyses.drift import window_offsets
    if isinstance(window, str) and window in WINDOWS[1:]:
        return ("calendar", window, zone), window
    offsets, name = window_offsets(SimpleNamespace(n_cases=n), window, zone)  # validates the window
    return ("block", int(offsets[1])), name


def _prefix(x: np.ndarray) -> np.ndarray:
    return np.vstack([np.zeros((1, x.shape[1]), np.int64), np.cumsum(x, axis=0)])


def _aligned(units: UnitCounts, unit: tuple, n: int, zone):
    """The merged units on the single-machine path's unit grid: (_Counts, unit starts, token prefix or None)."""
    from engine.analyses.drift import _Counts, _period_starts
    if unit[0] == "calendar":
        bounds = np.asarray(_period_starts(int(units.keys[0]), int(units.keys[-1]), unit[1], zone), dtype=np.int64)
    else:
        bounds = np.arange(-(-n // unit[1]), dtype=np.int64)
    row = np.searchsorted(bounds, units.keys)
    if np.any(row >= len(bounds)) or np.any(bounds[np.minimum(row, len(bounds) - 1)] != units.keys):
        raise AnalysisError("The partitions' windows do not line up (internal error)")

    def spread(x: np.ndarray) -> np.ndarray:
        out = np.zeros((len(bounds),) + x.shape[1:], dtype=np.int64)
        out[row] = x
        return out

    cases = spread(units.cases)
    offsets = np.concatenate(([0], np.cumsum(cases))).astype(np.int64)
    if np.any(units.first_rank != offsets[row]) or np.any(units.last_rank != offsets[row + 1] - 1):
        raise AnalysisError(ORDER_ERROR, hint=ORDER_HINT)
    counts = _Counts(offsets, units.edge_keys, _prefix(spread(units.edges)), _prefix(spread(units.activities)))
    # a calendar unit starts at its period's start; a block of contacts (never empty) at its first contact's
    starts = tuple(iso_time(int(b), zone) for b in (bounds if unit[0] == "calendar" else units.first_start))
    tokens = None if units.tokens is None else _prefix(spread(units.tokens))
    return counts, starts, tokens


class _Cases:
    """The sampled contacts (ranks sorted), for prefix sums that end inside a unit: the counts over the
    contacts of a unit before a cut are counted from their sequences when asked for."""

    def __init__(self, sample: CaseSample, counts, activities: tuple[str, ...], sop_path: str | None) -> None:
        self.sample, self.counts, self.activities, self.sop_path = sample, counts, activities, sop_path

    def rows(self, lo: int, hi: int) -> tuple[int, int]:
        a, b = np.searchsorted(self.sample.ranks, [lo, hi])
        if b - a != hi - lo:
            raise AnalysisError("A sampled stretch of contacts is incomplete (internal error)")
        return int(a), int(b)

    def prefix_at(self, r: int, tokens: np.ndarray | None) -> tuple:
        """(contacts with each edge, with each activity, tokens or None) over the contacts of ranks [0, r): the
        units before r's unit, then its contacts before r."""
        from engine.distributed.drift_partials import sop_tokens_of
        from engine.kernels.drift import count_windows
        c = self.counts
        u = int(np.searchsorted(c.offsets, r, side="right")) - 1
        base = (c.edges[u], c.activities[u], None if tokens is None else tokens[u])
        if r == c.offsets[u]:
            return base
        lo = int(c.offsets[u])
        self.rows(lo, r)
        part = self.sample.log(self.activities, lo, r)
        edges, _, acts, _, _ = count_windows(part.case_offsets, part.activity_codes,
                                             np.array([0, part.n_cases], dtype=np.int64), c.edge_keys,
                                             len(self.activities))
        extra = None if tokens is None else sop_tokens_of(part, self.sop_path).sum(axis=0)
        return base[0] + edges[0], base[1] + acts[0], None if tokens is None else base[2] + extra

    def start(self, r: int) -> int:
        a, _ = self.rows(r, r + 1)
        return int(self.sample.starts[a])


def _refine_sampled(cases: _Cases, c, split, s: DriftSettings) -> int:
    """``_refine`` on the sampled contacts of the units around the split, in ranks shifted to start at 0."""
    from engine.analyses.drift import _refine
    u = split.unit
    lo, hi = int(c.offsets[max(split.a, u - 1)]), int(c.offsets[min(split.b, u + 1)])
    sub = cases.sample.log(cases.activities, lo, hi)
    return lo + _refine(sub, replace(c, offsets=c.offsets - lo), split.a, split.b, replace(split, case=split.case - lo),
                        s)


def _candidates(c, s: DriftSettings) -> tuple[list, float, list[tuple[int, int]]]:
    """``segment_log``'s significant candidates, most significant first, the log Bonferroni factor, and the
    rank ranges to read contact by contact to refine them (the units around each split, overlaps joined)."""
    from engine.analyses.drift import _best_split
    candidates = [x for x in (_best_split(c, a, b, s) for a, b in seeded_intervals(c.offsets, s.min_cases))
                  if x is not None]
    if not candidates:
        return [], 0.0, []
    penalty = math.log(sum(x.tests for x in candidates))
    significant = [x for x in sorted(candidates, key=lambda x: x.log_sf) if x.log_sf + penalty < math.log(s.alpha)]
    n = int(c.offsets[-1])
    ranges: list[list[int]] = []
    for lo, hi in sorted((int(c.offsets[max(x.a, x.unit - 1)]), min(n, int(c.offsets[min(x.b, x.unit + 1)]) + 1))
                         for x in significant):
        if ranges and lo <= ranges[-1][1]:
            ranges[-1][1] = max(ranges[-1][1], hi)
        else:
            ranges.append([lo, hi])
    return significant, penalty, [tuple(r) for r in ranges]


def _choose(significant: list, penalty: float, cases: "_Cases", c, s: DriftSettings) -> list:
    """``segment_log``'s greedy choice with the guard, each split refined on the sampled contacts."""
    found = []
    for split in significant:
        lo, hi = int(c.offsets[split.a]), int(c.offsets[split.b])
        if any(lo < case + s.guard and hi > case - s.guard for case, _, _ in found):
            continue
        found.append((_refine_sampled(cases, c, split, s), split, split.log_sf + penalty))
    return sorted(found, key=lambda x: x[0])


def _where(detail: StretchDetail, i: int, columns: list[int], labels: list[str], before: tuple[np.ndarray, int],
           after: tuple[np.ndarray, int], s: DriftSettings) -> tuple[SegmentShift, ...]:
    """``rank_where`` of the stretch before (i) and after (i + 1) the change, from the merged counts per value
    of the moved edges (``columns`` of the detail's edges)."""
    by_value = {}
    for name in [n for n in EXPLAIN_ATTRIBUTES if n in detail.values]:
        values, cases, edges = detail.values[name]
        by_value[name] = (values, *((cases[j], edges[j][:, columns].astype(np.float64)) for j in (i, i + 1)))
    return rank_where(by_value, before, after, labels, s)


def _variant_changes(detail: StretchDetail, i: int, activities: tuple[str, ...], s: DriftSettings) -> list:
    """``rank_variant_changes`` on the merged variants (ids in order of first occurrence, as on one machine)."""
    seqs = sorted(detail.variants, key=lambda q: detail.variants[q][0])
    if not seqs:
        return []
    table = np.array([detail.variants[q][1][[i, i + 1]] for q in seqs], dtype=np.int64)
    kb, ka = table[:, 0], table[:, 1]
    nb, na = int(kb.sum()), int(ka.sum())
    common = np.flatnonzero((kb >= 0.01 * max(1, nb)) | (ka >= 0.01 * max(1, na)))
    labels = [" > ".join(activities[k] for k in seqs[v]) for v in common]
    return rank_changes("variant", labels, kb[common], nb, ka[common], na, s)


class _Searched:
    """One log searched: the whole (selected) log, or the contacts of one value of ``by`` in their value ranks.

    Filled pass by pass: the unit counts (``counts``, SOP token prefix ``tokens``), the significant splits and
    the ranges to sample, the sampled contacts (``cases``), the change points found, and what moved at each
    (``ranked``), whose edges the detail pass counts per stretch."""

    def __init__(self, n: int, counts, tokens, s: DriftSettings) -> None:
        self.n, self.counts, self.tokens = n, counts, tokens
        self.significant, self.penalty, self.ranges = _candidates(counts, s)
        self.cases, self.found, self.ranked = None, [], []
        self.cuts, self.at, self.keys = [], {}, np.zeros(0, dtype=np.int64)

    def choose(self, sample, activities: tuple[str, ...], sop_path: str | None, s: DriftSettings) -> None:
        """The change points, from the sampled contacts (a CaseSample of the ranges, or None)."""
        if not self.significant:
            return
        self.cases = _Cases(sample.in_order(), self.counts, activities, sop_path)
        self.found = _choose(self.significant, self.penalty, self.cases, self.counts, s)
        self._rank(s)

    def _rank(self, s: DriftSettings) -> None:
        """Edges and activities that moved at each change, from prefix counts at the cuts."""
        c, cases = self.counts, self.cases
        activities = cases.activities
        self.cuts = [0] + [case for case, _, _ in self.found] + [self.n]
        self.at = at = {r: cases.prefix_at(r, self.tokens) for r in self.cuts}
        self.labels = [edge_label(k, activities) for k in c.edge_keys]
        for i, (case, split, log_p) in enumerate(self.found):
            first, end = self.cuts[i], self.cuts[i + 2]
            nb, na = case - first, end - case
            kb, ka = at[case][0] - at[first][0], at[end][0] - at[case][0]
            edges = rank_changes("edge", self.labels, kb, nb, ka, na, s)
            acts = rank_changes("activity", list(activities), at[case][1] - at[first][1], nb,
                                at[end][1] - at[case][1], na, s)
            moved = [self.labels.index(e.label) for e in edges] or [int(split.features[0])]
            self.ranked.append((edges + acts, moved, (kb[moved], nb), (ka[moved], na)))
        self.keys = np.unique(c.edge_keys[[m for _, moved, _, _ in self.ranked for m in moved]])

    def stretches(self) -> tuple[np.ndarray, np.ndarray]:
        """What the detail pass counts: the cuts (ranks) between stretches and the edges that moved."""
        return np.asarray(self.cuts, dtype=np.int64), self.keys

    def points(self, detail: StretchDetail, zone, s: DriftSettings) -> list[ChangePoint]:
        """One ChangePoint per change, as ``explain_change`` gives it."""
        from engine.analyses.drift import _fitness_change
        cuts, c = self.cuts, self.counts
        prefix = None if self.tokens is None else {r: v[2] for r, v in self.at.items()}
        out = []
        for i, ((case, split, log_p), (changes, moved, before, after)) in enumerate(zip(self.found, self.ranked)):
            columns = [int(np.searchsorted(self.keys, c.edge_keys[m])) for m in moved]
            where = _where(detail, i, columns, [self.labels[m] for m in moved], before, after, s)
            changes = changes + _variant_changes(detail, i, self.cases.activities, s)
            when = iso_time(self.cases.start(case), zone) if case < self.n else None
            p = min(1.0, math.exp(log_p))
            point = ChangePoint(case, when, round(1.0 - p, 12), p, round(split.statistic, 3), before[1], after[1],
                                tuple(changes), where)
            point = replace(point, fitness=_fitness_change(prefix, (cuts[i], cuts[i + 1], cuts[i + 2])))
            if detail.kpis is not None:
                from engine.analyses.kpi_shift import kpi_change
                from engine.analyses.kpis import KpiSummary
                point = replace(point, kpis=kpi_change(KpiSummary(detail.kpis[i]), KpiSummary(detail.kpis[i + 1])))
            out.append(point)
        return out


def _value_ranks(catalogue, by: tuple[str, ...]) -> ValueRanks:
    """Per value of ``by`` with selected contacts, the sorted ranks of its contacts in the selected log."""
    keys = [(a, v) for a in by for v in sorted(catalogue.values.get(a, ())) if (a, v) in catalogue.by_positions]
    ranks = [catalogue.by_positions[k] if catalogue.positions is None else
             np.searchsorted(catalogue.positions, catalogue.by_positions[k]).astype(np.int64) for k in keys]
    return ValueRanks(tuple(keys), tuple(ranks))


def _split_pass(merged, values: bool) -> tuple:
    """(whole log's summary, {key: value's summary}) of a pass run with or without ``values``."""
    if merged is None:
        return None, {}
    return (merged.whole, merged.values) if values else (merged, {})


def _value_counts(attribute: str, labels: list[str], values: ValueRanks, units: dict, variants,
                  edge_keys: np.ndarray, activities: tuple[str, ...], sop: bool):
    """The counts ``compare_segments`` reads, per value of ``attribute``: each value's unit counts summed, and
    the variants' contacts per value (variants in the whole log's order of first occurrence, as
    ``assign_variants`` numbers them). Returns (counts, a log of one contact per variant in that order)."""
    from engine.analyses.segment_comparison import _PerValue
    from engine.log.encode import EncodedLog
    m, f, a = len(labels), len(edge_keys), len(activities)
    sizes, edges = np.zeros(m, dtype=np.int64), np.zeros((m, f), dtype=np.int64)
    acts, tokens = np.zeros((m, a), dtype=np.int64), np.zeros((m, 5), dtype=np.int64) if sop else None
    seqs = sorted(variants.table, key=lambda q: variants.table[q][0]) if variants is not None else []
    table = np.zeros((m, len(seqs)), dtype=np.int64)
    column = {k: i for i, k in enumerate(values.keys)}
    for j, label in enumerate(labels):
        u = units.get((attribute, label))
        if u is None:
            continue
        sizes[j] = u.cases.sum()
        edges[j, np.searchsorted(edge_keys, u.edge_keys)] = u.edges.sum(axis=0)
        acts[j] = u.activities.sum(axis=0)
        if sop:
            tokens[j] = u.tokens.sum(axis=0)
        table[j] = [variants.table[q][1][column[(attribute, label)]] for q in seqs]
    lengths = np.array([len(q) for q in seqs], dtype=np.int64)
    codes = np.array([x for q in seqs for x in q], dtype=np.int32)
    # one contact per variant, in order: variant v's first contact is contact v
    variant_log = EncodedLog(np.concatenate(([0], np.cumsum(lengths))).astype(np.int64), codes,
                             np.zeros(len(codes), dtype=np.int64), activities)
    return _PerValue(sizes, edges, acts, table, tokens), variant_log


def _comparisons(attribute: str, labels: list[str], values: ValueRanks, units: dict, variants, edge_keys: np.ndarray,
                 activities: tuple[str, ...], sop: bool, s: DriftSettings) -> list:
    """``compare_segments`` of ``attribute`` from the merged counts (``_value_counts``)."""
    from engine.analyses.segment_comparison import compare_counts
    per, variant_log = _value_counts(attribute, labels, values, units, variants, edge_keys, activities, sop)
    return compare_counts(attribute, labels, per, [edge_label(k, activities) for k in edge_keys], variant_log,
                          np.arange(variant_log.n_cases, dtype=np.int64), s)


def distributed_drift(log: str | os.PathLike, settings: DriftSettings | None = None, *, where: dict | None = None,
                      timezone: str | None = None, sop_path: str | os.PathLike | None = None,
                      by: str | Sequence[str] = (), kpis: bool = False, client=None,
                      scheduler: str | None = None) -> DriftResult:
    """``detect_drift`` of the whole (selected) log (see the module docstring).

    ``sop_path``: an SOP (read by every worker): token-replay fitness per window and around each change.
    ``by``: also the change points within each value of each attribute, and each value compared with the
    rest. ``kpis``: the KPIs (as ``cxmine drift --kpis`` computes them) of the contacts before and after
    each change of the whole log."""
    from engine.analyses.drift import SegmentDrift, _check_settings, _fitness, _zone
    from engine.log.select import no_match_error
    settings = settings or DriftSettings()
    _check_settings(settings)
    zone = _zone(timezone)
    attributes = (by,) if isinstance(by, str) else tuple(dict.fromkeys(by or ()))
    if client is None:
        with open_client(scheduler) as own:
            return distributed_drift(log, settings, where=where, timezone=timezone, sop_path=sop_path, by=attributes,
                                     kpis=kpis, client=own)
    sop = None
    if sop_path is not None:
        from engine.model import load_sop
        load_sop(sop_path)  # a bad SOP is reported here, once, before any task runs
        sop = str(Path(sop_path).resolve())
    where = where or None
    catalogue = run_partitions(log, catalogue_partition, client=client, where=where,
                               case_attributes=tuple(dict.fromkeys(EXPLAIN_ATTRIBUTES + attributes)),
                               positions=not Path(log).is_dir(), by=attributes)
    if catalogue is None or catalogue.n_cases == 0:
        raise no_match_error(where)
    n = catalogue.n_cases
    if n < 2 * settings.min_cases:
        raise AnalysisError(f"The log has {n:,} contacts; drift detection needs at least "
                            f"{2 * settings.min_cases:,} (min_cases on each side of a change)",
                            hint="Analyse a longer period, or lower min_cases")
    for name in attributes:
        if name not in catalogue.values:
            raise AnalysisError(f"Attribute '{name}' is not in the event log",
                                hint=f"Use one the log has: {', '.join(sorted(catalogue.values)) or 'none'}")
    activities = tuple(sorted(catalogue.activities))
    selected = None if catalogue.positions is None else client.scatter(catalogue.positions, broadcast=True)
    common = dict(client=client, where=where, activities=activities, selected=selected)
    values = _value_ranks(catalogue, attributes) if attributes else None
    per_value = {} if values is None else dict(values=client.scatter(values, broadcast=True))
    value_units = {} if values is None else {k: _units(settings.window, len(r), zone)[0]
                                             for k, r in zip(values.keys, values.ranks)}
    unit, window = _units(settings.window, n, zone)
    merged = run_partitions(log, count_partition_units, unit=unit, sop_path=sop, **common,
                            **({} if values is None else dict(per_value, value_units=value_units)))
    units, units_by_value = _split_pass(merged, values is not None)
    counts, starts, tokens = _aligned(units, unit, n, zone)
    searched = {None: _Searched(n, counts, tokens, settings)}
    for key, ranks in ([] if values is None else zip(values.keys, values.ranks)):
        if len(ranks) >= 2 * settings.min_cases:
            c, _, t = _aligned(units_by_value[key], value_units[key], len(ranks), zone)
            searched[key] = _Searched(len(ranks), c, t, settings)

    # one pass reads the contacts around every significant split, of the whole log and of every value
    value_ranges = {k: x.ranges for k, x in searched.items() if k is not None and x.ranges}
    if any(x.ranges for x in searched.values()):
        sampled, sampled_by_value = _split_pass(
            run_partitions(log, sample_partition_cases, ranges=searched[None].ranges, **common,
                           **(dict(per_value, value_ranges=value_ranges) if value_ranges else {})),
            bool(value_ranges))
        for key, x in searched.items():
            x.choose(sampled if key is None else sampled_by_value.get(key), activities, sop, settings)

    # one pass counts the stretches between change points, of the whole log and of every value
    labels = {name: tuple(sorted(v)) for name, v in catalogue.values.items() if name in EXPLAIN_ATTRIBUTES}
    value_stretches = {k: x.stretches() for k, x in searched.items() if k is not None and x.found}
    points, points_by_value = [], {}
    if any(x.found for x in searched.values()):
        whole = searched[None]
        cuts, keys = whole.stretches() if whole.found else (None, None)
        detail, detail_by_value = _split_pass(
            run_partitions(log, detail_partition_stretches, cuts=cuts, edge_keys=keys, labels=labels,
                           kpis=kpis and bool(whole.found), **common,
                           **(dict(per_value, value_stretches=value_stretches) if value_stretches else {})),
            bool(value_stretches))
        points = whole.points(detail, zone, settings) if whole.found else []
        points_by_value = {k: searched[k].points(detail_by_value[k], zone, settings) for k in value_stretches}

    from engine.analyses.drift import _charted
    series = drift_series(counts, starts,
                          [int(np.searchsorted(counts.offsets, p.case_index, side="right")) - 1 for p in points],
                          _charted(SimpleNamespace(activities=activities), counts, points), settings,
                          searched[None].penalty)
    if tokens is not None:
        at = {int(r): tokens[u] for u, r in enumerate(counts.offsets)}
        bounds = np.append(series.first_case, n)
        series = replace(series, fitness=np.array([_fitness(at, int(a), int(b))[0]
                                                   for a, b in zip(bounds[:-1], bounds[1:])]))
    segments = []
    for name in attributes:
        names = [str(v) for v in sorted(catalogue.values[name])]
        compared = {c.value: c for c in _comparisons(name, names, values, units_by_value, merged.variants,
                                                     units.edge_keys, activities, sop is not None, settings)}
        rank_of = dict(zip(values.keys, values.ranks))
        for label in names:
            ranks = rank_of.get((name, label), np.zeros(0, dtype=np.int64))
            found = points_by_value.get((name, label), [])
            # case indices are positions in the whole log, so a value's change can be found in it
            segments.append(SegmentDrift(name, label, len(ranks), tuple(replace(p, case_index=int(ranks[p.case_index]))
                                                                       for p in found), compared[label]))
    return DriftResult(n, window, str(zone.key), settings, tuple(points), series, tuple(segments))
