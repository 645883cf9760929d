"""Per-window summaries: what time-ordered analyses (drift) need from a partitioned log.

A partition holds cases from the whole time range, interleaved with the
other partitions', so no partition sees the cases in time order. But a
window (a day, a week) of the whole log is the union of that window's cases
in every partition. So each partition splits its cases by the window of
their first event and summarises each window (any partial that merges with
``+``); ``Windowed`` merges two such dicts window by window. The merged
result holds, for every window, exactly the summary of that window's cases
in the whole log, and ``in_order()`` lists the windows in time order for a
change-point test to run on, on the client.

Windows are counted from a fixed origin (``origin_ns``, default the epoch),
the same in every partition; ``width_ns`` is the window length.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from engine.errors import AnalysisError
from engine.log.encode import EncodedLog

DAY_NS = 86_400 * 1_000_000_000


@dataclass(frozen=True)
class Windowed:
    """Summaries by window index (window k covers [origin + k x width, origin + (k+1) x width))."""

    width_ns: int
    origin_ns: int = 0
    windows: dict[int, object] = field(default_factory=dict)

    def __add__(self, other: "Windowed") -> "Windowed":
        if (self.width_ns, self.origin_ns) != (other.width_ns, other.origin_ns):
            raise AnalysisError("Cannot merge summaries of different windows "
                                f"({self.width_ns}/{self.origin_ns} ns and {other.width_ns}/{other.origin_ns} ns)")
        merged = dict(self.windows)
        for k, summary in other.windows.items():
            merged[k] = merged[k] + summary if k in merged else summary
        return Windowed(self.width_ns, self.origin_ns, dict(sorted(merged.items())))

    def in_order(self) -> list[tuple[int, object]]:
        """``(window start in ns, summary)`` in time order; windows without cases are left out."""
        return [(self.origin_ns + k * self.width_ns, s) for k, s in sorted(self.windows.items())]


def case_windows(log: EncodedLog, width_ns: int, origin_ns: int = 0) -> np.ndarray:
    """int64 window index of every case: the window of its first event."""
    if width_ns <= 0:
        raise AnalysisError(f"The window width must be positive, got {width_ns} ns", field="width_ns")
    starts = log.timestamps[log.case_offsets[:-1]] if log.n_cases else np.empty(0, dtype=np.int64)
    return np.floor_divide(starts - origin_ns, width_ns)


def summarise_windows(log: EncodedLog, positions: np.ndarray, summarise: Callable[[EncodedLog, np.ndarray], object],
                      width_ns: int, origin_ns: int = 0) -> Windowed:
    """``summarise(cases of one window, their global positions)`` for every window of this log's cases."""
    from engine.log.select import select_cases
    window = case_windows(log, width_ns, origin_ns)
    out = {}
    for k in np.unique(window):
        keep = window == k
        out[int(k)] = summarise(select_cases(log, keep), positions[keep])
    return Windowed(int(width_ns), int(origin_ns), out)
