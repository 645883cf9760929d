"""Columns of a raw source as the mapping sees them: emptiness, text form, constants, and "not found" messages."""

from __future__ import annotations

import difflib
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.errors import InputError
from engine.ingest.source import RawSource

CANONICAL = ("case_id", "activity", "timestamp", "end_timestamp", "resource", "owner", "channel", "queue", "site",
             "shift", "team", "customer_id")
_GUESS = {
    "case_id": ("case", "contact", "call", "conversation", "interaction", "ticket", "session", "id"),
    "activity": ("activity", "event", "step", "action", "task", "state", "status"),
    "timestamp": ("timestamp", "time", "ts", "date", "start", "created"),
}


def _tokens(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t]


def _guess_source(target: str, available: list[str], used: set[str]) -> str | None:
    """A plausible source column for a canonical one, for the hint of a 'not found' message."""
    free = [c for c in available if c not in used]
    for word in _GUESS.get(target, ()):
        for c in free:
            if any(t == word or (len(word) >= 4 and t.startswith(word)) for t in _tokens(c)):
                return c
    close = difflib.get_close_matches(target, free, n=1, cutoff=0.4)
    return close[0] if close else None


def missing_column(target: str, src: RawSource, mapping: dict | None, used: set[str],
                    source_col: str | None = None, key: str | None = None) -> InputError:
    available = src.table.column_names
    listing = ", ".join(available)
    if source_col is not None:
        line = (mapping or {}).get("lines", {}).get(key or f"columns.{target}")
        guess = _guess_source(source_col, available, used) or _guess_source(target, available, used)
        where = f"line {line} of {mapping['path']}" if line else mapping["path"]
        return InputError(
            f"Column '{source_col}' not found in {src.name} (available: {listing})", field=target,
            hint=f"Fix {where}: {key.rsplit('.', 1)[-1] if key else target} = \"{guess or 'COLUMN'}\"")
    guess = _guess_source(target, available, used)
    return InputError(
        f"Column '{target}' not found in {src.name} (available: {listing})", field=target,
        hint=f"Map it in the mapping file: {target} = \"{guess or 'COLUMN'}\"" +
             ("" if mapping else " (under [columns], and pass it with the mapping argument)"))


def nonempty(col: pa.Array) -> np.ndarray:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        m = pc.and_(pc.greater(pc.binary_length(col), 0), pc.invert(pc.utf8_is_space(col)))
    else:
        m = col.is_valid()
    return pc.fill_null(m, False).to_numpy(zero_copy_only=False)


def as_text(col) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if pa.types.is_string(col.type):
        return col
    if pa.types.is_large_string(col.type):
        return col.cast(pa.string())
    if pa.types.is_boolean(col.type):
        return pc.if_else(col, "true", "false")
    try:
        return pc.cast(col, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else str(v) for v in col.to_pylist()], pa.string())


def constant_array(value, n: int) -> pa.Array:
    if isinstance(value, bool):
        return pa.repeat(pa.scalar("true" if value else "false"), n)
    return pa.repeat(pa.scalar(value), n)
