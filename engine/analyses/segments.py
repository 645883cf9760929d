"""Segments: a partition of the cases of a log by one attribute.

A case belongs to the segment of the first non-empty value of the attribute
in the case (for ``channel``: the channel the contact came in on; for
``team``: the first team that touched it). ``week`` is the ISO calendar week
(Monday to Sunday, UTC) of the case's first event. Cases with no value are
left out of that segmentation (they still count overall).
"""

from __future__ import annotations

import numpy as np

from engine.errors import AnalysisError
from engine.log.encode import EncodedLog
from engine.log.schema import SEGMENT_COLUMNS
from engine.log.select import WEEK, case_weeks, week_label  # noqa: F401 (week_label: the one week definition)

SEGMENT_ATTRIBUTES = SEGMENT_COLUMNS + (WEEK,)


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


def case_starts(log: EncodedLog) -> np.ndarray:
    return log.timestamps[log.case_offsets[:-1]] if log.n_cases else np.empty(0, dtype=np.int64)


def case_segments(log: EncodedLog, attribute: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Segment code of every case (int32, -1 for none) and the segment labels."""
    if attribute == WEEK:
        return case_weeks(log)
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
    """Raise InputError, before any heavy work, if a stored log lacks one of the segment attributes
    (see ``engine.log.select.check_attributes``)."""
    from engine.log.select import check_attributes
    check_attributes(path, by=tuple(attributes))
