"""Segments: a partition of the cases of a log by one attribute.

A case belongs to the segment of the first non-empty value of the attribute
in the case (for ``channel``: the channel the contact came in on; for
``team``: the first team that touched it). ``week`` is the ISO calendar week
(Monday to Sunday, UTC) of the case's first event. Cases with no value are
left out of that segmentation (they still count overall).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from engine.errors import AnalysisError
from engine.log.encode import EncodedLog
from engine.log.schema import SEGMENT_COLUMNS

SEGMENT_ATTRIBUTES = SEGMENT_COLUMNS + ("week",)
_DAY_NS = 86_400 * 1_000_000_000


def check_log(log: EncodedLog) -> None:
    """Raise AnalysisError if the encoded arrays break the kernels' invariants."""
    if not isinstance(log, EncodedLog):
        raise AnalysisError(f"Expected an encoded log, got {type(log).__name__}",
                            hint="Encode it first: engine.log.encode_log(path)")
    off, codes, ts = log.case_offsets, log.activity_codes, log.timestamps
    if off.dtype != np.int64 or codes.dtype != np.int32 or ts.dtype != np.int64:
        raise AnalysisError("Encoded log has wrong dtypes (want int64 offsets, int32 codes, int64 timestamps)")
    if len(off) == 0 or off[0] != 0 or off[-1] != len(codes) or len(ts) != len(codes):
        raise AnalysisError("Encoded log is inconsistent: case offsets do not cover the events")
    if len(off) > 1 and np.any(np.diff(off) < 0):
        raise AnalysisError("Encoded log is inconsistent: case offsets are not ascending")
    if len(codes) and (codes.min() < 0 or codes.max() >= len(log.activities)):
        raise AnalysisError("Encoded log has activity codes outside its activity labels",
                            hint="Every event needs an activity; re-ingest the log")


def week_label(week: int) -> str:
    """ISO week label (e.g. 2026-W07) of a Monday-based week index counted from the epoch."""
    monday = dt.date(1970, 1, 1) + dt.timedelta(days=int(week) * 7 - 3)
    year, number, _ = monday.isocalendar()
    return f"{year}-W{number:02d}"


def case_starts(log: EncodedLog) -> np.ndarray:
    return log.timestamps[log.case_offsets[:-1]] if log.n_cases else np.empty(0, dtype=np.int64)


def case_segments(log: EncodedLog, attribute: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Segment code of every case (int32, -1 for none) and the segment labels."""
    if attribute == "week":
        starts = case_starts(log)
        if len(starts) == 0:
            return np.empty(0, dtype=np.int32), ()
        weeks = (np.floor_divide(starts, _DAY_NS) + 3) // 7
        lo = int(weeks.min())
        present = np.bincount(weeks - lo) > 0
        dense = np.cumsum(present) - 1
        codes = dense[weeks - lo].astype(np.int32)
        labels = tuple(week_label(lo + w) for w in np.flatnonzero(present))
        return codes, labels
    if attribute in log.case_attributes:
        return log.case_attributes[attribute]
    if attribute in log.attributes:
        from engine.kernels.dfg import first_code_per_case
        codes, labels = log.attributes[attribute]
        return first_code_per_case(log.case_offsets, codes), labels
    available = sorted(set(log.attributes) | set(log.case_attributes) | {"week"})
    raise AnalysisError(f"Cannot segment by '{attribute}': the log has no such attribute "
                        f"(available: {', '.join(available)})", field=attribute,
                        hint="Use one of the available attributes, or ingest the column")


def chunk_count(n_cases: int, cells: int) -> int:
    """Chunks of cases with their own buffers: up to 16, fewer when buffers would be large.

    Depends only on the data's shape, never on the thread count.
    """
    if n_cases == 0:
        return 1
    by_memory = max(1, (1 << 24) // max(1, cells))
    return int(max(1, min(16, by_memory, n_cases)))


def check_segment_attributes(path, attributes) -> None:
    """Raise AnalysisError, before any heavy work, if a stored log lacks one of the segment attributes."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    try:
        names = set(pq.read_schema(path).names)
    except (OSError, pa.ArrowInvalid):
        return  # encode_log reports unreadable or missing files with the store's message
    for attr in attributes:
        if attr != "week" and attr not in names:
            available = [c for c in SEGMENT_COLUMNS if c in names] + ["week"]
            raise AnalysisError(f"Cannot segment by '{attr}': the log has no such column "
                                f"(available: {', '.join(available)})", path=str(path), field=attr,
                                hint="Use one of the available attributes, or map the column at ingest")
