"""Schema of the canonical event log (DESIGN.md) and its stable order.

One row per event, sorted by (case, timestamp, original order). Strings are
stored dictionary-encoded; times are ``timestamp[ns, UTC]`` (int64 nanoseconds
underneath). Columns beyond the canonical ones are adapter attributes and are
kept as they are.

Case order: cases appear in the order of their first event's timestamp, ties by
input order (the case seen first in the input comes first). This is the order a
reader expects from an export (oldest contact first), it is deterministic, and
it makes the case column's dictionary indices ascend, so encoding needs no
string work.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.errors import InputError

TS_TYPE = pa.timestamp("ns", tz="UTC")
DICT_STRING = pa.dictionary(pa.int32(), pa.string())

REQUIRED_COLUMNS = ("case_id", "activity", "timestamp")
SEGMENT_COLUMNS = ("resource", "owner", "channel", "queue", "site", "shift", "team")
CANONICAL_TYPES: dict[str, pa.DataType] = {
    "case_id": DICT_STRING,
    "activity": DICT_STRING,
    "timestamp": TS_TYPE,
    "end_timestamp": TS_TYPE,
    **{name: DICT_STRING for name in SEGMENT_COLUMNS},
    "customer_id": DICT_STRING,
}


def _as_string(col: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    if isinstance(col, pa.Array):
        col = pa.chunked_array([col])
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if pa.types.is_large_string(col.type) or pa.types.is_string(col.type):
        return col.cast(pa.string())
    return pc.cast(col, pa.string())


def _as_timestamp(col: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    t = col.type
    if pa.types.is_timestamp(t):
        if t.tz is None:
            raise InputError(
                f"Column '{name}' has timestamps without a time zone",
                field=name, hint="Give the time zone in the mapping file (timezone: Europe/Berlin) or use UTC offsets")
        return col.cast(TS_TYPE)
    if pa.types.is_integer(t):
        return col.cast(pa.int64()).cast(TS_TYPE)
    raise InputError(f"Column '{name}' has type {t}, expected a timestamp", field=name)


def normalise_table(table: pa.Table) -> pa.Table:
    """Cast canonical columns to their canonical types; other columns are kept as they are."""
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise InputError(
            f"Required column '{missing[0]}' is missing from the event log (available: {', '.join(table.column_names)})",
            field=missing[0])
    cols, names = [], []
    for name in table.column_names:
        col = table.column(name)
        want = CANONICAL_TYPES.get(name)
        if want == TS_TYPE:
            col = _as_timestamp(col, name)
        elif want == DICT_STRING:
            col = _as_string(col)
        cols.append(col)
        names.append(name)
    return pa.table(cols, names=names)


def sort_log(table: pa.Table) -> pa.Table:
    """Stable order: case (by first event time, then input order), timestamp, original row order.

    Returns a table whose string columns are dictionary-encoded, with the
    ``case_id`` dictionary in case order.
    """
    table = normalise_table(table)
    n = table.num_rows
    if n == 0:
        return _dictionary_encode(table)
    case_enc = pc.dictionary_encode(table.column("case_id")).combine_chunks()
    case_codes = case_enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    ts = table.column("timestamp").cast(pa.int64()).to_numpy()
    n_cases = len(case_enc.dictionary)
    first = np.full(n_cases, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, case_codes, ts)
    # rank of each case: by first timestamp, ties by input order (dictionary codes follow first appearance)
    case_names = case_enc.dictionary
    case_order = np.argsort(first, kind="stable")
    case_rank = np.empty(n_cases, dtype=np.int64)
    case_rank[case_order] = np.arange(n_cases)
    row_case = case_rank[case_codes]
    order = np.lexsort((np.arange(n), ts, row_case))
    table = table.take(pa.array(order))
    new_codes = row_case[order].astype(np.int32)
    case_col = pa.DictionaryArray.from_arrays(pa.array(new_codes), case_names.take(pa.array(case_order)))
    table = table.set_column(table.column_names.index("case_id"), "case_id", case_col)
    return _dictionary_encode(table)


def _dictionary_encode(table: pa.Table) -> pa.Table:
    for i, name in enumerate(table.column_names):
        col = table.column(name)
        if CANONICAL_TYPES.get(name) == DICT_STRING and not pa.types.is_dictionary(col.type):
            col = pc.dictionary_encode(col.combine_chunks())
            if col.type.index_type != pa.int32():
                col = col.cast(DICT_STRING)
            table = table.set_column(i, name, col)
    return table


def validate_log(table: pa.Table) -> None:
    """Check the invariants a stored log must hold; raise InputError naming the first breach."""
    table = normalise_table(table)
    for name in REQUIRED_COLUMNS:
        nulls = table.column(name).null_count
        if nulls:
            raise InputError(f"Column '{name}' has {nulls} empty values; every event needs one", field=name)
    if table.num_rows == 0:
        return
    case = table.column("case_id").combine_chunks()
    if pa.types.is_dictionary(case.type):
        codes = case.indices.to_numpy(zero_copy_only=False)
    else:
        codes = pc.dictionary_encode(case).indices.to_numpy(zero_copy_only=False)
    ts = table.column("timestamp").cast(pa.int64()).to_numpy()
    change = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    starts = np.concatenate(([0], change))
    if len(np.unique(codes[starts])) != len(starts):
        raise InputError("The event log is not grouped by case; sort it with cxmine ingest", field="case_id")
    same = codes[1:] == codes[:-1]
    if np.any(same & (ts[1:] < ts[:-1])):
        raise InputError("Events of a case are not in timestamp order; sort it with cxmine ingest", field="timestamp")
