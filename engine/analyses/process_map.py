"""Process map: the directly-follows graph simplified for people, as Disco and Celonis show it.

Two simplifications, each stated on the map:

- variant coverage: only the contacts of the most frequent variants that
  together cover at least ``coverage`` of the contacts (1.0 keeps every
  contact); activities and edges that occur only in the other contacts are
  hidden;
- minimum edge count: edges (including those from the start and to the end)
  seen fewer than ``min_edge`` times in the contacts shown are hidden.

Counts and times on the map are those of the contacts shown. Edge times are
between the two events' timestamps (start to start), median or p90, exact.
Each activity is placed in the lane of the owner that ran it most often
(ties: the owner first in alphabetical order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from engine.analyses.dfg import Dfg, discover_dfg, discover_performance_dfg
from engine.analyses.variants import count_variants
from engine.errors import AnalysisError
from engine.log.encode import EncodedLog

MEASURES = ("frequency", "median", "p90")
Edge = tuple[str, str]


@dataclass(frozen=True)
class ProcessMap:
    """What a process map shows and what it leaves out.

    ``edge_times``: seconds per shown edge for the ``median``/``p90`` measures
    (empty for ``frequency``); ``owners``: lane of each shown activity.
    """

    measure: str
    activities: dict[str, int]
    edges: dict[Edge, int]
    starts: dict[str, int]
    ends: dict[str, int]
    n_cases: int
    n_cases_shown: int
    n_variants: int
    n_variants_shown: int
    edge_times: dict[Edge, float] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    hidden_activities: tuple[str, ...] = ()
    n_edges: int = 0
    hidden_by_coverage: int = 0
    hidden_by_min_edge: int = 0
    coverage: float = 1.0
    min_edge: int = 1

    @property
    def share_shown(self) -> float:
        return self.n_cases_shown / self.n_cases if self.n_cases else 0.0

    @property
    def n_edges_hidden(self) -> int:
        return self.hidden_by_coverage + self.hidden_by_min_edge

    def as_dict(self) -> dict:
        return {"measure": self.measure, "n_cases": self.n_cases, "n_cases_shown": self.n_cases_shown,
                "n_variants": self.n_variants, "n_variants_shown": self.n_variants_shown,
                "coverage": self.coverage, "min_edge": self.min_edge,
                "activities": [{"activity": a, "count": c, "owner": self.owners.get(a)}
                               for a, c in sorted(self.activities.items(), key=lambda kv: (-kv[1], kv[0]))],
                "edges": [{"source": a, "target": b, "count": c,
                           **({f"{self.measure}_s": self.edge_times[(a, b)]} if self.edge_times else {})}
                          for (a, b), c in sorted(self.edges.items(), key=lambda kv: (-kv[1], kv[0]))],
                "start_activities": self.starts, "end_activities": self.ends,
                "hidden_activities": list(self.hidden_activities), "edges_total": self.n_edges,
                "edges_hidden_by_coverage": self.hidden_by_coverage,
                "edges_hidden_by_min_edge": self.hidden_by_min_edge}


def owners_by_activity(log: EncodedLog) -> dict[str, str]:
    """The owner that ran each activity most often (ties: first owner label); activities never owned are left out."""
    if "owner" not in log.attributes:
        return {}
    codes, labels = log.attributes["owner"]
    n_owners = len(labels)
    table = np.zeros(len(log.activities) * n_owners, dtype=np.int64)
    block = 1 << 22  # events at a time: the temporaries stay small at 100M events
    for i in range(0, len(codes), block):
        owner = codes[i:i + block]
        has = owner >= 0
        table += np.bincount(log.activity_codes[i:i + block][has].astype(np.int64) * n_owners + owner[has],
                             minlength=len(table))
    table = table.reshape(len(log.activities), n_owners)
    out = {}
    for a in np.flatnonzero(table.sum(axis=1)):
        out[log.activities[a]] = labels[int(np.argmax(table[a]))]
    return out


def owner_counts(log: EncodedLog) -> dict[tuple[str, str], int]:
    """Events per (activity, owner), for ``owners_from_counts``: what ``owners_by_activity`` reads, as a
    summary that adds up over parts of a log."""
    if "owner" not in log.attributes:
        return {}
    codes, labels = log.attributes["owner"]
    has = codes >= 0
    pairs = log.activity_codes[has].astype(np.int64) * len(labels) + codes[has]
    counts = np.bincount(pairs, minlength=len(log.activities) * len(labels))
    return {(log.activities[int(i) // len(labels)], labels[int(i) % len(labels)]): int(counts[i])
            for i in np.flatnonzero(counts)}


def owners_from_counts(counts: dict[tuple[str, str], int]) -> dict[str, str]:
    """``owners_by_activity`` from ``owner_counts``: per activity the owner with most events (ties: the
    first in alphabetical order), activities in alphabetical order."""
    best: dict[str, tuple[int, str]] = {}
    for (activity, owner), n in counts.items():
        if n and (activity not in best or (-n, owner) < (-best[activity][0], best[activity][1])):
            best[activity] = (n, owner)
    return {a: best[a][1] for a in sorted(best)}


def dfg_of_top_variants(log: EncodedLog, variants, k: int) -> Dfg:
    """The DFG of the cases that follow the ``k`` most frequent variants (of ``count_variants(log)``), counted on
    the variants themselves.

    Equal to ``discover_dfg`` of those cases (keys in the same order), without copying their events.
    """
    return dfg_of_variants(log.activities, variants, k)


def dfg_of_variants(activities, variants, k: int) -> Dfg:
    """The DFG of the ``k`` first variants of ``variants``, counted on the variants; keys in the order of
    ``activities`` (every activity of the variants, as the log's activity codes order them)."""
    n = len(activities)
    code = {a: i for i, a in enumerate(activities)}
    edges = np.zeros((n, n), dtype=np.int64)
    starts, ends, acts = (np.zeros(n, dtype=np.int64) for _ in range(3))
    for seq, count in zip(variants.sequences[:k], variants.counts[:k]):
        c = [code[a] for a in seq]
        if not c:
            continue
        starts[c[0]] += count
        ends[c[-1]] += count
        for a in c:
            acts[a] += count
        for a, b in zip(c, c[1:]):
            edges[a, b] += count
    names = activities
    a_idx, b_idx = np.nonzero(edges)
    return Dfg({(names[a], names[b]): int(edges[a, b]) for a, b in zip(a_idx, b_idx)},
               {names[a]: int(starts[a]) for a in np.flatnonzero(starts)},
               {names[a]: int(ends[a]) for a in np.flatnonzero(ends)},
               {names[a]: int(acts[a]) for a in np.flatnonzero(acts)}, int(variants.counts[:k].sum()))


def _edge_keys(dfg: Dfg) -> set:
    return set(dfg.edges) | {(None, a) for a in dfg.start_activities} | {(a, None) for a in dfg.end_activities}


def edge_threshold(dfg: Dfg, min_edge: int, max_edges: int | None) -> int:
    """The lowest count at or above ``min_edge`` that leaves at most ``max_edges`` edges (start/end arcs included)."""
    if max_edges is None:
        return min_edge
    counts = sorted(list(dfg.edges.values()) + list(dfg.start_activities.values())
                    + list(dfg.end_activities.values()), reverse=True)
    if len(counts) <= max_edges:
        return min_edge
    # keep every edge tied with the last one kept would overshoot: raise the bar just above it
    return max(min_edge, counts[max_edges] + 1)


def map_of_dfg(dfg: Dfg, min_edge: int = 1, owners: dict[str, str] | None = None,
               max_edges: int | None = None) -> ProcessMap:
    """A frequency map of a DFG as it is (every case), edges below ``min_edge`` hidden.

    With ``max_edges``, the minimum edge count is raised until at most that
    many edges remain (the map then states the count it used).
    """
    min_edge = edge_threshold(dfg, min_edge, max_edges)
    keep = {k: v for k, v in dfg.edges.items() if v >= min_edge}
    starts = {k: v for k, v in dfg.start_activities.items() if v >= min_edge}
    ends = {k: v for k, v in dfg.end_activities.items() if v >= min_edge}
    hidden = len(_edge_keys(dfg)) - len(keep) - len(starts) - len(ends)
    return ProcessMap("frequency", dict(dfg.activity_counts), keep, starts, ends, dfg.n_cases, dfg.n_cases, 0, 0,
                      owners={a: o for a, o in (owners or {}).items() if a in dfg.activity_counts},
                      n_edges=len(_edge_keys(dfg)), hidden_by_min_edge=hidden, min_edge=min_edge)


def build_process_map(log: EncodedLog, measure: str = "frequency", coverage: float = 1.0,
                      min_edge: int = 1, max_edges: int | None = None) -> ProcessMap:
    """The process map of the log, simplified by variant coverage and minimum edge count.

    ``max_edges`` raises the minimum edge count until at most that many
    edges (start and end arcs included) remain, so a map of any log stays readable.
    """
    from engine.log.select import select_cases

    _check_options(measure, coverage, min_edge, max_edges)
    if log.n_cases == 0:
        raise AnalysisError("Cannot draw a map of an empty log", hint="Check the selection of contacts and the log")
    variants = count_variants(log)

    def shown_performance(k: int):  # times need the events of the shown cases
        return discover_performance_dfg(log if k >= variants.n_variants else
                                        select_cases(log, variants.case_variant < k))

    return process_map_of(discover_dfg(log), variants, owners_by_activity(log), log.activities, measure=measure,
                          coverage=coverage, min_edge=min_edge, max_edges=max_edges,
                          shown_performance=shown_performance)


def _check_options(measure: str, coverage: float, min_edge: int, max_edges: int | None) -> None:
    if measure not in MEASURES:
        raise AnalysisError(f"Unknown map measure '{measure}' (valid: {', '.join(MEASURES)})", field="measure")
    if not 0.0 < coverage <= 1.0:
        raise AnalysisError(f"Variant coverage {coverage:g} is outside (0, 1]", field="coverage",
                            hint="For example 0.8 shows the most frequent variants covering 80% of the contacts")
    if min_edge < 1:
        raise AnalysisError(f"Minimum edge count {min_edge} is below 1", field="min_edge",
                            hint="Give 1 to show every edge")
    if max_edges is not None and max_edges < 1:
        raise AnalysisError(f"Maximum edge count {max_edges} is below 1", field="max_edges",
                            hint="Give None for no limit")


def process_map_of(full: Dfg, variants, owners: dict[str, str], activities, *, measure: str = "frequency",
                   coverage: float = 1.0, min_edge: int = 1, max_edges: int | None = None,
                   shown_performance: Callable[[int], object] | None = None) -> ProcessMap:
    """The process map from a log's summaries: its DFG, its variants (most frequent first, ties by first
    occurrence), the owner of each activity (``owners_by_activity``) and its activities in code order.

    What ``build_process_map`` draws, and what a distributed run draws from merged summaries.
    ``shown_performance(k)``: the performance DFG of the cases of the ``k`` first variants, needed
    for the ``median`` and ``p90`` measures only."""
    _check_options(measure, coverage, min_edge, max_edges)
    if measure != "frequency" and shown_performance is None:
        raise AnalysisError(f"The '{measure}' map needs the events of the cases shown", field="measure",
                            hint="Draw it from the encoded log (build_process_map)")
    k = variants.n_variants if coverage >= 1.0 else variants.variants_for_coverage(coverage)
    if k >= variants.n_variants:
        shown = full
    else:
        shown = dfg_of_variants(activities, variants, k)
    base = map_of_dfg(shown, min_edge, owners, max_edges)
    times = {}
    if measure != "frequency":
        perf = shown_performance(k)
        times = {e: (perf.edges[e].median_s if measure == "median" else perf.edges[e].p90_s) for e in base.edges}
    hidden_acts = tuple(sorted(set(full.activity_counts) - set(shown.activity_counts),
                               key=lambda a: (-full.activity_counts[a], a)))
    n_edges = len(_edge_keys(full))
    return ProcessMap(measure, base.activities, base.edges, base.starts, base.ends, variants.n_cases, shown.n_cases,
                      variants.n_variants, k, times, base.owners, hidden_acts, n_edges,
                      n_edges - len(_edge_keys(shown)), base.hidden_by_min_edge, coverage, base.min_edge)
