"""The canonical event log: schema, Parquet store, encoded arrays, XES/OCEL writers."""

from engine.log.schema import (
    CANONICAL_TYPES,
    REQUIRED_COLUMNS,
    SEGMENT_COLUMNS,
    normalise_table,
    sort_log,
    validate_log,
)
from engine.log.store import read_log, write_log, log_metadata
from engine.log.encode import EncodedLog, encode_log

__all__ = [
    "CANONICAL_TYPES", "REQUIRED_COLUMNS", "SEGMENT_COLUMNS", "normalise_table", "sort_log",
    "validate_log", "read_log", "write_log", "log_metadata", "EncodedLog", "encode_log",
]
