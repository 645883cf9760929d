"""Columns of a raw source as the mapping sees them: emptiness, text form, constants, sentinels read as empty,
sources joined from several columns, and "not found" messages."""

from __future__ import annotations

import dataclasses
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


def prepare_columns(src: RawSource, mapping: dict | None) -> tuple[RawSource, dict | None, dict[str, list[str]]]:
    """Apply the mapping's ``null_values`` and join multi-column sources, before any event is planned.

    Returns the source (sentinel values now null; one added column per list of
    source columns, named by the names joined with ``|``), the mapping with
    those lists replaced by the added column's name, and added name -> parts.
    """
    if not mapping:
        return src, mapping, {}
    table = _null_values(src, mapping)
    m = dict(mapping)
    joined: dict[str, list[str]] = {}

    def join(parts: list[str], key: str, target: str) -> str:
        for part in parts:
            if part not in table.column_names:
                raise missing_column(target, src, mapping, set(), source_col=part, key=key)
        name = "|".join(parts)
        if name not in joined:
            joined[name] = list(parts)
            texts = [pc.utf8_trim_whitespace(as_text(table.column(p))) for p in parts]
            texts = [pc.if_else(pc.equal(t, ""), pa.scalar(None, pa.string()), t) for t in texts]
            table_cols[name] = pc.binary_join_element_wise(*texts, "|")
        return name

    table_cols: dict[str, pa.Array] = {}
    m["columns"] = {t: join(s, f"columns.{t}", t) if isinstance(s, list) else s
                    for t, s in mapping.get("columns", {}).items()}
    m["events"] = [{**ev, "columns": {t: join(s, f"events.{i}.columns.{t}", t) if isinstance(s, list) else s
                                      for t, s in ev.get("columns", {}).items()}}
                   for i, ev in enumerate(mapping.get("events", []))]
    for name, col in table_cols.items():
        table = table.append_column(name, col)
    date_column = mapping.get("date_column")
    if date_column is not None and date_column not in table.column_names:
        raise missing_column("date_column", src, mapping, set(), source_col=date_column, key="date_column")
    if table is not src.table:
        src = dataclasses.replace(src, table=table)
    return src, m, joined


def _null_values(src: RawSource, mapping: dict) -> pa.Table:
    """The source table with the values the mapping reads as empty (trimmed text equal) made null."""
    table = src.table
    every = mapping.get("null_values", [])
    by_column = mapping.get("column_null_values", {})
    for name in by_column:
        if name not in table.column_names:
            raise missing_column(name, src, mapping, set(), source_col=name, key=f"null_values.{name}")
    if not every and not by_column:
        return table
    for i, name in enumerate(table.column_names):
        values = list(dict.fromkeys([*every, *by_column.get(name, [])]))
        if not values:
            continue
        col = table.column(i).combine_chunks()
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        hit = pc.is_in(pc.utf8_trim_whitespace(as_text(col)), value_set=pa.array(values, pa.string()))
        if pc.any(hit).as_py():
            table = table.set_column(i, name, pc.if_else(hit, pa.scalar(None, col.type), col))
    return table
