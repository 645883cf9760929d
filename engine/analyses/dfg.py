"""Directly-follows graphs: frequency (edge, start and end activity counts,
activity counts) and performance (per edge: count, mean, min, max, median, p90
of the time between the two events).

Both merge by addition (``a + b``) over partitions of cases. The performance
DFG keeps every edge's durations, so median and p90 of a merged summary are
still exact.

Performance measures: ``start_to_start`` (default) takes the time from the
first event's timestamp to the second's, as pm4py's discover_performance_dfg
does on a log with one timestamp per event; ``end_to_start`` takes it from the
first event's end (its timestamp when the end is unknown), i.e. the waiting
time between the two steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from engine.analyses.segments import case_segments, check_log, chunk_count
from engine.errors import AnalysisError
from engine.log.encode import NO_TIME, EncodedLog

Edge = tuple[str, str]
MEASURES = ("start_to_start", "end_to_start")
_MAX_CELLS = 1 << 27


def _add_counts(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out


@dataclass(frozen=True)
class Dfg:
    """Frequency directly-follows graph of a set of cases."""

    edges: dict[Edge, int]
    start_activities: dict[str, int]
    end_activities: dict[str, int]
    activity_counts: dict[str, int]
    n_cases: int

    def __add__(self, other: "Dfg") -> "Dfg":
        return Dfg(_add_counts(self.edges, other.edges), _add_counts(self.start_activities, other.start_activities),
                   _add_counts(self.end_activities, other.end_activities),
                   _add_counts(self.activity_counts, other.activity_counts), self.n_cases + other.n_cases)

    def as_dict(self) -> dict:
        return {"n_cases": self.n_cases,
                "edges": [{"source": a, "target": b, "count": c}
                          for (a, b), c in sorted(self.edges.items(), key=lambda kv: (-kv[1], kv[0]))],
                "start_activities": self.start_activities, "end_activities": self.end_activities,
                "activity_counts": self.activity_counts}


@dataclass(frozen=True)
class EdgeTimes:
    """Time between two directly-following events on one edge; durations in seconds."""

    count: int
    total_ns: int
    min_ns: int
    max_ns: int
    median_s: float
    p90_s: float

    @property
    def mean_s(self) -> float:
        return self.total_ns / self.count / 1e9 if self.count else float("nan")

    @property
    def min_s(self) -> float:
        return self.min_ns / 1e9

    @property
    def max_s(self) -> float:
        return self.max_ns / 1e9

    def as_dict(self) -> dict:
        return {"count": self.count, "mean_s": self.mean_s, "median_s": self.median_s, "p90_s": self.p90_s,
                "min_s": self.min_s, "max_s": self.max_s, "total_s": self.total_ns / 1e9}


@dataclass(frozen=True)
class PerformanceDfg:
    """Performance directly-follows graph; ``durations`` holds each edge's durations (int64 ns, case order)."""

    edges: dict[Edge, EdgeTimes]
    durations: dict[Edge, np.ndarray]
    measure: str
    n_cases: int

    def __add__(self, other: "PerformanceDfg") -> "PerformanceDfg":
        if self.measure != other.measure:
            raise AnalysisError(f"Cannot merge performance DFGs of different measures "
                                f"({self.measure}, {other.measure})")
        merged = dict(self.durations)
        for k, v in other.durations.items():
            merged[k] = np.concatenate([merged[k], v]) if k in merged else v
        keys = list(merged)
        offsets = np.zeros(len(keys) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(merged[k]) for k in keys])
        flat = np.concatenate([merged[k] for k in keys]) if keys else np.empty(0, dtype=np.int64)
        return _performance(keys, offsets, flat, self.measure, self.n_cases + other.n_cases)

    def as_dict(self) -> dict:
        return {"n_cases": self.n_cases, "measure": self.measure,
                "edges": [{"source": a, "target": b, **t.as_dict()}
                          for (a, b), t in sorted(self.edges.items(), key=lambda kv: (-kv[1].count, kv[0]))]}


def _performance(keys: list, offsets: np.ndarray, flat: np.ndarray, measure: str, n_cases: int) -> PerformanceDfg:
    from engine.kernels.dfg import summarise_durations
    ints, quant = summarise_durations(offsets, flat)
    edges, durations = {}, {}
    for i, key in enumerate(keys):
        if ints[i, 0] == 0:
            continue
        edges[key] = EdgeTimes(int(ints[i, 0]), int(ints[i, 1]) * 1_000_000_000 + int(ints[i, 2]),
                               int(ints[i, 3]), int(ints[i, 4]), float(quant[i, 0]) / 1e9, float(quant[i, 1]) / 1e9)
        durations[key] = flat[offsets[i]:offsets[i + 1]]
    return PerformanceDfg(edges, durations, measure, n_cases)


def _groups(log: EncodedLog, by: str | None) -> tuple[np.ndarray, tuple[str, ...]]:
    if by is None:
        return np.zeros(log.n_cases, dtype=np.int32), ("all",)
    return case_segments(log, by)


def _check_cells(n_groups: int, n_activities: int, by: str | None) -> None:
    if n_groups * n_activities * n_activities > _MAX_CELLS:
        raise AnalysisError(f"{n_activities} activities x {n_groups} segments is too many for a dense DFG",
                            field=by, hint="Segment by an attribute with fewer values, or filter the log")


def discover_dfg(log: EncodedLog, by: str | None = None) -> Dfg | dict[str, Dfg]:
    """Frequency DFG of the log, or one per segment of ``by`` (a dict label -> Dfg)."""
    from engine.kernels.dfg import count_dfg
    check_log(log)
    if by is None:  # one group holding every case: no group array to build or read
        group, labels = np.empty(0, dtype=np.int32), ("all",)
        n_in = np.array([log.n_cases])
    else:
        group, labels = case_segments(log, by)
        n_in = np.bincount(group[group >= 0], minlength=len(labels))
    A = len(log.activities)
    _check_cells(len(labels), A, by)
    n_chunks = chunk_count(log.n_cases, len(labels) * A * A)
    edges, starts, ends, acts = count_dfg(log.case_offsets, log.activity_codes, group, len(labels), A, n_chunks)
    names = log.activities
    out = {}
    for g, label in enumerate(labels):
        a_idx, b_idx = np.nonzero(edges[g])
        out[label] = Dfg({(names[a], names[b]): int(edges[g, a, b]) for a, b in zip(a_idx, b_idx)},
                         {names[a]: int(starts[g, a]) for a in np.flatnonzero(starts[g])},
                         {names[a]: int(ends[g, a]) for a in np.flatnonzero(ends[g])},
                         {names[a]: int(acts[g, a]) for a in np.flatnonzero(acts[g])}, int(n_in[g]))
    return out["all"] if by is None else out


def discover_performance_dfg(log: EncodedLog, by: str | None = None,
                             measure: Literal["start_to_start", "end_to_start"] = "start_to_start"
                             ) -> PerformanceDfg | dict[str, PerformanceDfg]:
    """Performance DFG of the log, or one per segment of ``by``."""
    from engine.kernels.dfg import edge_durations
    check_log(log)
    if measure not in MEASURES:
        raise AnalysisError(f"Unknown performance measure '{measure}' (valid: {', '.join(MEASURES)})",
                            field="measure")
    from_times = log.timestamps
    if measure == "end_to_start" and log.end_timestamps is not None:
        from_times = np.where(log.end_timestamps == NO_TIME, log.timestamps, log.end_timestamps)
    group, labels = _groups(log, by)
    A = len(log.activities)
    _check_cells(len(labels), A, by)
    n_keys = len(labels) * A * A
    n_chunks = chunk_count(log.n_cases, n_keys)
    offsets, durations = edge_durations(log.case_offsets, log.activity_codes, from_times, log.timestamps, group,
                                        A, n_keys, n_chunks)
    n_in = np.bincount(group[group >= 0], minlength=len(labels))
    names = log.activities
    out = {}
    for g, label in enumerate(labels):
        base = g * A * A
        sub = offsets[base:base + A * A + 1]
        present = np.flatnonzero(np.diff(sub))
        keys = [(names[k // A], names[k % A]) for k in present]
        # the group's durations are one contiguous run, in key order: take a view, not a copy
        part_offsets = np.append(sub[present], sub[-1]) - sub[0]
        flat = durations[sub[0]:sub[-1]]
        out[label] = _performance(keys, part_offsets, flat, measure, int(n_in[g]))
    return out["all"] if by is None else out
