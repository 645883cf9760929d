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
   global positions (with a selection), which rank them;
2. units: contacts, contacts with each edge and each activity, SOP tokens,
   per unit;
3. sample (only when a split is significant): the contacts of the units
   around each significant split, read contact by contact to locate the
   change exactly (``_refine``) and to count the stretches before and
   after a change that end inside a unit;
4. detail (only when there are change points): per stretch between change
   points, the variants, and per team, site, shift, channel and queue value
   the contacts with each edge that moved (where the change is).

Not available here, because they need a change's contacts as a log of their
own: drift within each value of an attribute (``by``: each value's own search
over its own case positions), and the KPIs before and after each change
(``kpis``). Both run on one machine (``engine.analyses.drift.detect_drift``).
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from engine.analyses.drift import (EXPLAIN_ATTRIBUTES, WINDOWS, ChangePoint, DriftResult, DriftSettings, SegmentShift,
                                   drift_series, edge_label, iso_time, rank_changes, rank_where, seeded_intervals)
from engine.distributed.cluster import open_client, run_partitions
from engine.distributed.drift_partials import (ORDER_ERROR, ORDER_HINT, CaseSample, StretchDetail, UnitCounts,
                                               catalogue_partition, count_partition_units,
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


def _search(c, s: DriftSettings, sample):
    """``segment_log``'s greedy choice, with the refinement of each split read from the sampled contacts.

    ``sample(ranges)`` returns a ``_Cases`` of the contacts of those rank ranges (one pass over the log)."""
    from engine.analyses.drift import _best_split
    candidates = [x for x in (_best_split(c, a, b, s) for a, b in seeded_intervals(c.offsets, s.min_cases))
                  if x is not None]
    if not candidates:
        return [], 0.0, None
    penalty = math.log(sum(x.tests for x in candidates))
    significant = [x for x in sorted(candidates, key=lambda x: x.log_sf) if x.log_sf + penalty < math.log(s.alpha)]
    if not significant:
        return [], penalty, None
    n = int(c.offsets[-1])
    ranges: list[list[int]] = []  # the rank ranges to read, overlapping ones joined
    for lo, hi in sorted((int(c.offsets[max(x.a, x.unit - 1)]), min(n, int(c.offsets[min(x.b, x.unit + 1)]) + 1))
                         for x in significant):
        if ranges and lo <= ranges[-1][1]:
            ranges[-1][1] = max(ranges[-1][1], hi)
        else:
            ranges.append([lo, hi])
    cases = sample([tuple(r) for r in ranges])
    found = []
    for split in significant:
        lo, hi = int(c.offsets[split.a]), int(c.offsets[split.b])
        if any(lo < case + s.guard and hi > case - s.guard for case, _, _ in found):
            continue
        found.append((_refine_sampled(cases, c, split, s), split, split.log_sf + penalty))
    return sorted(found, key=lambda x: x[0]), penalty, cases


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


def _explain(found, c, cases: _Cases, n: int, zone, s: DriftSettings, tokens, detail_of) -> list[ChangePoint]:
    """One ChangePoint per change, as ``explain_change`` gives it, from prefix counts at the cuts."""
    from engine.analyses.drift import _fitness_change
    activities = cases.activities
    cuts = [0] + [case for case, _, _ in found] + [n]
    at = {r: cases.prefix_at(r, tokens) for r in cuts}
    all_labels = [edge_label(k, activities) for k in c.edge_keys]
    ranked = []
    for i, (case, split, log_p) in enumerate(found):
        first, end = cuts[i], cuts[i + 2]
        nb, na = case - first, end - case
        kb, ka = at[case][0] - at[first][0], at[end][0] - at[case][0]
        edges = rank_changes("edge", all_labels, kb, nb, ka, na, s)
        acts = rank_changes("activity", list(activities), at[case][1] - at[first][1], nb, at[end][1] - at[case][1],
                            na, s)
        moved = [all_labels.index(e.label) for e in edges] or [int(split.features[0])]
        ranked.append((edges + acts, moved, (kb[moved], nb), (ka[moved], na)))
    keys = np.unique(c.edge_keys[[m for _, moved, _, _ in ranked for m in moved]])
    detail = detail_of(np.asarray(cuts, dtype=np.int64), keys)
    prefix = None if tokens is None else {r: v[2] for r, v in at.items()}
    points = []
    for i, ((case, split, log_p), (changes, moved, before, after)) in enumerate(zip(found, ranked)):
        columns = [int(np.searchsorted(keys, c.edge_keys[m])) for m in moved]
        where = _where(detail, i, columns, [all_labels[m] for m in moved], before, after, s)
        changes = changes + _variant_changes(detail, i, activities, s)
        when = iso_time(cases.start(case), zone) if case < n else None
        p = min(1.0, math.exp(log_p))
        point = ChangePoint(case, when, round(1.0 - p, 12), p, round(split.statistic, 3), before[1], after[1],
                            tuple(changes), where)
        points.append(replace(point, fitness=_fitness_change(prefix, (cuts[i], cuts[i + 1], cuts[i + 2]))))
    return points


def distributed_drift(log: str | os.PathLike, settings: DriftSettings | None = None, *, where: dict | None = None,
                      timezone: str | None = None, sop_path: str | os.PathLike | None = None, client=None,
                      scheduler: str | None = None) -> DriftResult:
    """``detect_drift`` of the whole (selected) log, without ``by`` and ``kpis`` (see the module docstring).

    ``sop_path``: an SOP (read by every worker): token-replay fitness per window and around each change."""
    from engine.analyses.drift import _check_settings, _fitness, _zone
    from engine.log.select import no_match_error
    settings = settings or DriftSettings()
    _check_settings(settings)
    zone = _zone(timezone)
    if client is None:
        with open_client(scheduler) as own:
            return distributed_drift(log, settings, where=where, timezone=timezone, sop_path=sop_path, client=own)
    sop = None
    if sop_path is not None:
        from engine.model import load_sop
        load_sop(sop_path)  # a bad SOP is reported here, once, before any task runs
        sop = str(Path(sop_path).resolve())
    where = where or None
    catalogue = run_partitions(log, catalogue_partition, client=client, where=where,
                               case_attributes=EXPLAIN_ATTRIBUTES, positions=not Path(log).is_dir())
    if catalogue is None:
        raise no_match_error(where)
    n = catalogue.n_cases
    if n < 2 * settings.min_cases:
        raise AnalysisError(f"The log has {n:,} contacts; drift detection needs at least "
                            f"{2 * settings.min_cases:,} (min_cases on each side of a change)",
                            hint="Analyse a longer period, or lower min_cases")
    activities = tuple(sorted(catalogue.activities))
    selected = None if catalogue.positions is None else client.scatter(catalogue.positions, broadcast=True)
    common = dict(client=client, where=where, activities=activities, selected=selected)
    unit, window = _units(settings.window, n, zone)
    counts, starts, tokens = _aligned(run_partitions(log, count_partition_units, unit=unit, sop_path=sop, **common),
                                      unit, n, zone)

    def sample(ranges):
        merged = run_partitions(log, sample_partition_cases, ranges=ranges, **common)
        return _Cases(merged.in_order(), counts, activities, sop)

    def detail_of(cuts, keys):
        labels = {name: tuple(sorted(v)) for name, v in catalogue.values.items()}
        return run_partitions(log, detail_partition_stretches, cuts=cuts, edge_keys=keys, labels=labels, **common)

    found, penalty, cases = _search(counts, settings, sample)
    points = _explain(found, counts, cases, n, zone, settings, tokens, detail_of) if found else []
    from engine.analyses.drift import _charted
    series = drift_series(counts, starts,
                          [int(np.searchsorted(counts.offsets, p.case_index, side="right")) - 1 for p in points],
                          _charted(SimpleNamespace(activities=activities), counts, points), settings, penalty)
    if tokens is not None:
        at = {int(r): tokens[u] for u, r in enumerate(counts.offsets)}
        bounds = np.append(series.first_case, n)
        series = replace(series, fitness=np.array([_fitness(at, int(a), int(b))[0]
                                                   for a, b in zip(bounds[:-1], bounds[1:])]))
    return DriftResult(n, window, str(zone.key), settings, tuple(points), series)
