"""Exact duplicate records, found column-wise: dense codes per column, grouped, compared only where they collide."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.ingest.columns import as_text


def _dense_codes(col, rows: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes 0..k-1 of ``col`` at ``rows``, equal exactly when the values are equal (nulls share one code)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if len(rows) != len(col):
        col = col.take(pa.array(rows))
    t = col.type
    if pa.types.is_timestamp(t) or pa.types.is_integer(t) or pa.types.is_date(t):
        arr = col.cast(pa.int64())
        vals = np.where(arr.is_valid().to_numpy(zero_copy_only=False), arr.fill_null(0).to_numpy(zero_copy_only=False),
                        np.iinfo(np.int64).min)
        uniq, inv = np.unique(vals, return_inverse=True)
        return inv.astype(np.int64), len(uniq)
    if pa.types.is_dictionary(t):
        col = col.cast(t.value_type)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_binary(col.type)):
        col = as_text(col)
    enc = pc.dictionary_encode(col)
    card = len(enc.dictionary)
    return enc.indices.cast(pa.int64()).fill_null(card).to_numpy(zero_copy_only=False), card + 1


def _group_first(columns: list, rows: np.ndarray) -> np.ndarray:
    """For each of ``rows``, the position (in ``rows``) of the first row with equal values, -1 for firsts."""
    keys: list[np.ndarray] = []
    key, span = np.zeros(len(rows), dtype=np.int64), 1
    for col in columns:
        codes, card = _dense_codes(col, rows)
        if span * card >= 2**62:
            keys.append(key)
            key, span = np.zeros(len(rows), dtype=np.int64), 1
        key = key * card + codes
        span *= card
    keys.append(key)
    order = np.argsort(keys[0], kind="stable") if len(keys) == 1 else np.lexsort(keys[::-1])
    same = np.ones(len(rows) - 1, dtype=bool)
    for k in keys:
        ks = k[order]
        same &= ks[1:] == ks[:-1]
    first = np.full(len(rows), -1, dtype=np.int64)
    if not same.any():
        return first
    starts = np.concatenate(([True], ~same))
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
    later = np.flatnonzero(~starts)
    first[order[later]] = order[group_start[later]]   # stable order: the group's first is the earliest row
    return first


def find_duplicates(columns: list, candidates: np.ndarray, lead: int = 3) -> np.ndarray:
    """For each row, the index of the earlier identical row among ``candidates`` (-1 if none).

    Rows are first grouped on the ``lead`` columns (case, activity, time: cheap and
    nearly always unique); only rows that collide there are compared on every column.
    """
    n = len(candidates)
    out = np.full(n, -1, dtype=np.int64)
    rows = np.flatnonzero(candidates)
    if len(rows) < 2:
        return out
    first = _group_first(columns[:lead], rows)
    if not (first >= 0).any() or len(columns) <= lead:
        hit = first >= 0
        out[rows[hit]] = rows[first[hit]]
        return out
    involved = np.zeros(len(rows), dtype=bool)
    involved[first >= 0] = True
    involved[first[first >= 0]] = True
    sub = rows[involved]
    first = _group_first(columns, sub)
    hit = first >= 0
    out[sub[hit]] = sub[first[hit]]
    return out
