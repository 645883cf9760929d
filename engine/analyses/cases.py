"""Case profile: events per case and case duration, overall or per segment.

Case duration is the time from the case's first event to its last start or
end time. The profile keeps the per-case values, so its statistics are exact
and two profiles merge (``a + b``) by concatenation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.analyses.segments import case_segments, check_log
from engine.log.encode import NO_TIME, EncodedLog


def _stats(values: np.ndarray, scale: float) -> dict:
    if len(values) == 0:
        return {"count": 0, "mean": None, "median": None, "p90": None, "min": None, "max": None}
    return {"count": int(len(values)), "mean": float(values.mean()) / scale,
            "median": float(np.median(values)) / scale, "p90": float(np.percentile(values, 90)) / scale,
            "min": float(values.min()) / scale, "max": float(values.max()) / scale}


@dataclass(frozen=True)
class CaseProfile:
    """Per-case event counts and durations (int64 ns) of a set of cases."""

    events: np.ndarray
    durations_ns: np.ndarray

    @property
    def n_cases(self) -> int:
        return len(self.events)

    def event_stats(self) -> dict:
        return _stats(self.events, 1.0)

    def duration_stats(self) -> dict:
        """Statistics of case durations, in seconds."""
        return _stats(self.durations_ns, 1e9)

    def __add__(self, other: "CaseProfile") -> "CaseProfile":
        return CaseProfile(np.concatenate([self.events, other.events]),
                           np.concatenate([self.durations_ns, other.durations_ns]))

    def as_dict(self) -> dict:
        return {"n_cases": self.n_cases, "events_per_case": self.event_stats(),
                "case_duration_s": self.duration_stats()}


def profile_cases(log: EncodedLog, by: str | None = None) -> CaseProfile | dict[str, CaseProfile]:
    """Events per case and case durations, overall or per segment of ``by``."""
    from engine.kernels.dfg import profile_cases as _profile
    check_log(log)
    end = log.end_timestamps if log.end_timestamps is not None else np.empty(0, dtype=np.int64)
    events, durations = _profile(log.case_offsets, log.timestamps, end, NO_TIME)
    if by is None:
        return CaseProfile(events, durations)
    seg, labels = case_segments(log, by)
    return {label: CaseProfile(events[seg == g], durations[seg == g]) for g, label in enumerate(labels)}
