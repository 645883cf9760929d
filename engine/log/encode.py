"""Encoded form of the log for the numba kernels (DESIGN.md).

``case_offsets`` int64[n_cases+1], ``activity_codes`` int32[n_events],
``timestamps`` int64[n_events] (ns UTC), ``end_timestamps`` int64 with
``NO_TIME`` where unknown, and int32 codes for each segmentation attribute
(-1 where empty), with the code-to-label dictionaries. Labels are sorted, so
codes are stable for the same set of labels whatever the file's row groups.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.log.schema import SEGMENT_COLUMNS
from engine.errors import InputError

NO_TIME = np.iinfo(np.int64).min
# per-case attributes with more distinct values keep Arrow labels (see encode_log)
MAX_SORTED_LABELS = 1 << 16


@dataclass(frozen=True)
class EncodedLog:
    case_offsets: np.ndarray
    activity_codes: np.ndarray
    timestamps: np.ndarray
    activities: tuple[str, ...]
    end_timestamps: np.ndarray | None = None
    attributes: dict[str, tuple[np.ndarray, tuple[str, ...]]] = field(default_factory=dict)
    case_ids: pa.Array | None = None
    case_attributes: dict[str, tuple[np.ndarray, tuple[str, ...]]] = field(default_factory=dict)

    @property
    def n_cases(self) -> int:
        return len(self.case_offsets) - 1

    @property
    def n_events(self) -> int:
        return len(self.activity_codes)

    def case_label(self, i: int) -> str:
        if self.case_ids is None:
            return str(i)
        return self.case_ids[i].as_py()


def encode_strings(col: pa.ChunkedArray) -> tuple[np.ndarray, tuple[str, ...]]:
    """int32 codes (-1 for null) into a sorted label tuple.

    Works on Arrow dictionaries without touching per-row strings: the chunks'
    dictionaries are unified, the unified dictionary is sorted once, and the
    indices are remapped with numpy.
    """
    if isinstance(col, pa.Array):
        col = pa.chunked_array([col])
    if not pa.types.is_dictionary(col.type):
        col = pc.dictionary_encode(col)
    if col.num_chunks == 0:
        return np.empty(0, dtype=np.int32), ()
    col = col.unify_dictionaries()
    dictionary = col.chunk(0).dictionary
    if not (pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type)):
        dictionary = pc.cast(dictionary, pa.string())
    valid = pc.is_valid(dictionary).to_numpy(zero_copy_only=False)
    order = pc.sort_indices(dictionary).to_numpy()
    order = order[valid[order]]
    ordered = dictionary.take(pa.array(order))
    if len(pc.unique(ordered)) != len(ordered):
        # equal labels under different indices (a dictionary with duplicates): fold them
        labels = tuple(dict.fromkeys(ordered.to_pylist()))
        pos = {s: i for i, s in enumerate(labels)}
        remap = np.array([pos.get(x, -1) for x in dictionary.to_pylist()] + [-1], dtype=np.int32)
    else:
        labels = tuple(ordered.to_pylist())
        remap = np.full(len(dictionary) + 1, -1, dtype=np.int32)
        remap[order] = np.arange(len(order), dtype=np.int32)
    out = np.empty(len(col), dtype=np.int32)
    at = 0
    for ch in col.chunks:
        idx = ch.indices.fill_null(len(remap) - 1).to_numpy(zero_copy_only=False)
        out[at:at + len(ch)] = remap[idx]
        at += len(ch)
    return out, labels


def offsets_from_case_index(case_index: np.ndarray) -> np.ndarray:
    n = len(case_index)
    if n == 0:
        return np.zeros(1, dtype=np.int64)
    starts = np.flatnonzero(case_index[1:] != case_index[:-1]) + 1
    return np.concatenate(([0], starts, [n])).astype(np.int64)


def first_per_case(codes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """First non-negative code of each case (-1 if none), int32[n_cases]."""
    n_cases = len(offsets) - 1
    valid = np.flatnonzero(codes >= 0)
    out = np.full(n_cases, -1, dtype=np.int32)
    if len(valid) == 0 or n_cases == 0:
        return out
    k = np.searchsorted(valid, offsets[:-1])
    inside = k < len(valid)
    pos = valid[np.minimum(k, len(valid) - 1)]
    inside &= pos < offsets[1:]
    out[inside] = codes[pos[inside]]
    return out


def _times_into(chunks, n: int) -> np.ndarray:
    """int64 ns of a timestamp column, chunk by chunk into one array (NO_TIME for nulls)."""
    out = np.empty(n, dtype=np.int64)
    at = 0
    for ch in chunks:
        arr = ch.cast(pa.int64())
        if arr.null_count:
            arr = arr.fill_null(NO_TIME)
        out[at:at + len(arr)] = arr.to_numpy(zero_copy_only=False)
        at += len(arr)
    return out


def _codes_into(chunks, n: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """int32 codes (-1 for null) of a string column into sorted labels, chunk by chunk."""
    out = np.empty(n, dtype=np.int32)
    ids: dict[str, int] = {}
    at = 0
    for ch in chunks:
        if not pa.types.is_dictionary(ch.type):
            ch = pc.dictionary_encode(ch)
        remap = np.array([-1 if x is None else ids.setdefault(x, len(ids)) for x in ch.dictionary.to_pylist()]
                         + [-1], dtype=np.int32)
        idx = ch.indices.fill_null(len(remap) - 1).to_numpy(zero_copy_only=False)
        out[at:at + len(ch)] = remap[idx]
        at += len(ch)
    labels = sorted(ids)
    rank = np.empty(len(ids) + 1, dtype=np.int32)
    rank[[ids[x] for x in labels]] = np.arange(len(labels), dtype=np.int32)
    rank[-1] = -1
    np.take(rank, out, out=out)  # -1 indexes the last slot, which is -1
    return out, tuple(labels)


def _first_per_case_into(chunks, offsets: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """First non-empty value of each case of a string column, as int32 codes (-1: none) and sorted labels.

    Only each chunk's first value per case is kept, so a high-cardinality
    column (customer_id) never exists as a per-event array of strings.
    """
    n_cases = len(offsets) - 1
    cases, values = [], []
    at = 0
    for ch in chunks:
        valid = pc.is_valid(ch).to_numpy(zero_copy_only=False)
        pos = np.flatnonzero(valid)
        if len(pos):
            case = np.searchsorted(offsets, pos + at, side="right") - 1
            first = np.flatnonzero(np.concatenate(([True], case[1:] != case[:-1])))
            cases.append(case[first])
            taken = ch.take(pa.array(pos[first]))
            values.append(taken.cast(taken.type.value_type) if pa.types.is_dictionary(taken.type) else taken)
        at += len(ch)
    out = np.full(n_cases, -1, dtype=np.int32)
    if not cases:
        return out, ()
    case = np.concatenate(cases)
    vals = pa.chunked_array(values).cast(pa.string())
    # a case split between chunks keeps the value of its earliest chunk
    keep = np.concatenate(([True], case[1:] != case[:-1]))
    vals = vals.filter(pa.array(keep)).combine_chunks()
    enc = pc.dictionary_encode(vals)
    if len(enc.dictionary) > MAX_SORTED_LABELS:
        # millions of values (customer pseudonyms): codes in order of first appearance, labels stay in Arrow
        out[case[keep]] = enc.indices.to_numpy(zero_copy_only=False)
        return out, enc.dictionary
    codes, labels = encode_strings(enc)
    out[case[keep]] = codes
    return out, labels


def encode_log(source: pa.Table | str | os.PathLike, attributes: tuple[str, ...] | None = None,
               *, with_case_ids: bool = False, case_attributes: tuple[str, ...] = ()) -> EncodedLog:
    """Encode a stored log (path) or a table returned by ``read_log``.

    ``attributes``: segmentation columns to encode per event (default: those of
    SEGMENT_COLUMNS present in the log). ``case_attributes``: columns encoded
    per case instead, as the first non-empty value of each case (for example
    ``customer_id`` or ``team``), which costs one int32 per case, not per event.
    Columns absent from the log are skipped. Labels are sorted tuples of
    str, except for a per-case attribute with more than 65,536 distinct
    values (customer_id): its codes follow first appearance and its labels
    are a pyarrow string array, so millions of pseudonyms never become
    Python strings.

    A stored log is read one column and one row group at a time into
    preallocated arrays, so peak memory stays close to the size of the
    arrays returned.
    """
    if isinstance(source, pa.Table):
        names = source.column_names
        n = source.num_rows

        def chunks(name: str):
            return source.column(name).chunks
    else:
        from pyarrow import parquet as pq
        if not os.path.exists(source):
            raise InputError("Event log not found", path=str(source),
                             hint="Create it with: cxmine ingest INPUT -o LOG.parquet")
        try:
            pf = pq.ParquetFile(source)
        except (OSError, pa.ArrowInvalid) as exc:
            raise InputError(f"Not a Parquet event log: {exc}", path=str(source),
                             hint="Create it with: cxmine ingest INPUT -o LOG.parquet") from exc
        names = pf.schema_arrow.names
        n = pf.metadata.num_rows
        if "case_index" not in names:
            raise InputError("This Parquet file is not a cxmine event log (no case_index column)",
                             path=str(source), hint="Ingest it first: cxmine ingest FILE --mapping MAP -o LOG.parquet")

        def chunks(name: str):
            for i in range(pf.num_row_groups):
                try:
                    col = pf.read_row_group(i, columns=[name]).column(0)
                except (OSError, pa.ArrowInvalid) as exc:
                    raise InputError(f"Cannot read column '{name}' of the event log (row group {i}): {exc}",
                                     path=str(source), field=name) from exc
                yield from col.chunks
    if attributes is None:
        attributes = SEGMENT_COLUMNS
    attributes = tuple(c for c in attributes if c in names)
    if "case_index" not in names:
        raise InputError("The table has no case_index column; read it with read_log or encode the stored file")
    case_index = np.empty(n, dtype=np.int32)
    at = 0
    for ch in chunks("case_index"):
        case_index[at:at + len(ch)] = ch.to_numpy(zero_copy_only=False)
        at += len(ch)
    offsets = offsets_from_case_index(case_index)
    del case_index
    per_case = {name: _first_per_case_into(chunks(name), offsets) for name in case_attributes if name in names}
    act_codes, activities = _codes_into(chunks("activity"), n)
    if len(act_codes) and act_codes.min() < 0:
        raise InputError("Some events have no activity", field="activity", hint="Re-ingest the log")
    ts = _times_into(chunks("timestamp"), n)
    end = _times_into(chunks("end_timestamp"), n) if "end_timestamp" in names else None
    attrs = {name: _codes_into(chunks(name), n) for name in attributes}
    case_ids = None
    if with_case_ids and "case_id" in names:
        codes, labels = _first_per_case_into(chunks("case_id"), offsets)
        labels = labels if isinstance(labels, pa.Array) else pa.array(list(labels), pa.string())
        case_ids = labels.take(pa.array(codes)) if len(codes) else pa.array([], pa.string())
    return EncodedLog(case_offsets=offsets, activity_codes=act_codes, timestamps=ts, activities=activities,
                      end_timestamps=end, attributes=attrs, case_ids=case_ids, case_attributes=per_case)
