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
from engine.log.store import ROW_GROUP, open_log
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


class _Times:
    """int64 ns of a timestamp column, filled batch by batch (NO_TIME for nulls)."""

    def __init__(self, n: int) -> None:
        self.out = np.empty(n, dtype=np.int64)

    def feed(self, col: pa.ChunkedArray, at: int, case_index: np.ndarray) -> None:
        for ch in col.chunks:
            arr = ch.cast(pa.int64())
            if arr.null_count:
                arr = arr.fill_null(NO_TIME)
            self.out[at:at + len(arr)] = arr.to_numpy(zero_copy_only=False)
            at += len(arr)

    def finish(self) -> np.ndarray:
        return self.out


class _Codes:
    """int32 codes (-1 for null) of a string column; labels sorted at the end."""

    def __init__(self, n: int) -> None:
        self.out = np.empty(n, dtype=np.int32)
        self.ids: dict[str, int] = {}

    def feed(self, col: pa.ChunkedArray, at: int, case_index: np.ndarray) -> None:
        ids = self.ids
        for ch in col.chunks:
            if not pa.types.is_dictionary(ch.type):
                ch = pc.dictionary_encode(ch)
            remap = np.array([-1 if x is None else ids.setdefault(x, len(ids)) for x in ch.dictionary.to_pylist()]
                             + [-1], dtype=np.int32)
            idx = ch.indices
            idx = (idx.fill_null(len(remap) - 1) if idx.null_count else idx).to_numpy(zero_copy_only=False)
            self.out[at:at + len(ch)] = remap[idx]
            at += len(ch)

    def finish(self) -> tuple[np.ndarray, tuple[str, ...]]:
        labels = sorted(self.ids)
        rank = np.empty(len(self.ids) + 1, dtype=np.int32)
        rank[[self.ids[x] for x in labels]] = np.arange(len(labels), dtype=np.int32)
        rank[-1] = -1
        if not np.array_equal(rank[:-1], np.arange(len(labels))):
            # in blocks, so the remap needs no second full-size array; -1 indexes the last slot (-1)
            for i in range(0, len(self.out), 1 << 20):
                block = self.out[i:i + (1 << 20)]
                block[:] = rank[block]
        return self.out, tuple(labels)


class _FirstPerCase:
    """First non-empty value of each case of a string column.

    Only each batch's first value per case is kept, so a high-cardinality
    column (customer_id) never exists as a per-event array of strings.
    """

    def __init__(self) -> None:
        self.cases: list[np.ndarray] = []
        self.values: list[pa.Array] = []

    def feed(self, col: pa.ChunkedArray, at: int, case_index: np.ndarray) -> None:
        for ch in col.chunks:
            ci = case_index[at:at + len(ch)]
            if ch.null_count:
                pos = np.flatnonzero(pc.is_valid(ch).to_numpy(zero_copy_only=False))
                c = ci[pos]
            else:
                pos, c = None, ci
            if len(c):
                first = np.flatnonzero(np.concatenate(([True], c[1:] != c[:-1])))
                self.cases.append(c[first])
                taken = ch.take(pa.array(first if pos is None else pos[first]))
                self.values.append(taken.cast(taken.type.value_type) if pa.types.is_dictionary(taken.type)
                                   else taken)
            at += len(ch)

    def finish(self, n_cases: int) -> tuple[np.ndarray, tuple[str, ...] | pa.Array]:
        out = np.full(n_cases, -1, dtype=np.int32)
        if not self.cases:
            return out, ()
        case = np.concatenate(self.cases)
        vals = pa.chunked_array(self.values).cast(pa.string())
        # a case split between batches keeps the value of its earliest batch
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
               *, with_case_ids: bool = False, case_attributes: tuple[str, ...] = (),
               with_times: bool = True) -> EncodedLog:
    """Encode a stored log (path) or a table returned by ``read_log``.

    ``attributes``: segmentation columns to encode per event (default: those of
    SEGMENT_COLUMNS present in the log). ``case_attributes``: columns encoded
    per case instead, as the first non-empty value of each case (for example
    ``customer_id`` or ``team``), which costs one int32 per case, not per event.
    Columns absent from the log are skipped. Labels are sorted tuples of
    str, except for a per-case attribute with more than 65,536 distinct
    values (customer_id): its codes follow first appearance and its labels
    are a pyarrow string array, so millions of pseudonyms never become
    Python strings. ``with_times=False`` (for analyses of the order of
    events only, such as discovery) reads no times: ``timestamps`` is then a
    read-only array of zeros that takes no memory, ``end_timestamps`` None.

    Two passes over the row groups (case boundaries and per-case attributes,
    then per-event columns), each reading its columns together (decoded in
    parallel by Arrow) into preallocated arrays: peak memory stays close to
    the size of the arrays returned.
    """
    if isinstance(source, pa.Table):
        names = source.column_names
        n = source.num_rows

        def batches(columns: list[str]):
            sub = source.select(columns)
            for start in range(0, n, ROW_GROUP):
                yield sub.slice(start, ROW_GROUP)
    else:
        pf = open_log(source)
        names = pf.schema_arrow.names
        n = pf.metadata.num_rows

        def read(i: int, columns: list[str]) -> pa.Table:
            try:
                return pf.read_row_group(i, columns=columns)
            except (OSError, pa.ArrowInvalid) as exc:
                raise InputError(f"Cannot read row group {i} of the event log: {exc}", path=str(source)) from exc

        def batches(columns: list[str]):
            # decode the next row group in a thread (Arrow releases the GIL) while this one is converted
            from concurrent.futures import ThreadPoolExecutor
            with ThreadPoolExecutor(max_workers=1) as pool:
                ahead = pool.submit(read, 0, columns) if pf.num_row_groups else None
                for i in range(pf.num_row_groups):
                    batch = ahead.result()
                    ahead = pool.submit(read, i + 1, columns) if i + 1 < pf.num_row_groups else None
                    yield batch
    if attributes is None:
        attributes = SEGMENT_COLUMNS
    attributes = tuple(c for c in attributes if c in names)
    if "case_index" not in names:
        raise InputError("The table has no case_index column; read it with read_log or encode the stored file")
    per_event = {"activity": _Codes(n)}
    if with_times:
        per_event["timestamp"] = _Times(n)
    if with_times and "end_timestamp" in names:
        per_event["end_timestamp"] = _Times(n)
    for name in attributes:
        per_event.setdefault(name, _Codes(n))
    per_case = {name: _FirstPerCase() for name in case_attributes if name in names}
    if with_case_ids and "case_id" in names:
        per_case.setdefault("case_id", _FirstPerCase())
    case_index = np.empty(n, dtype=np.int32)
    # pass 1: case boundaries and per-case attributes; their transient strings
    # (millions of customer pseudonyms) are gone before the per-event arrays exist
    at = 0
    for batch in batches(["case_index"] + list(per_case)):
        m = batch.num_rows
        cursor = at
        for ch in batch.column("case_index").chunks:
            case_index[cursor:cursor + len(ch)] = ch.to_numpy(zero_copy_only=False)
            cursor += len(ch)
        for name, sink in per_case.items():
            sink.feed(batch.column(name), at, case_index)
        at += m
    offsets = offsets_from_case_index(case_index)
    del case_index
    n_cases = len(offsets) - 1
    finished = {name: sink.finish(n_cases) for name, sink in per_case.items()}
    pa.default_memory_pool().release_unused()
    # pass 2: per-event columns into preallocated arrays
    at = 0
    for batch in batches(list(per_event)):
        for name, sink in per_event.items():
            sink.feed(batch.column(name), at, None)
        at += batch.num_rows
    pa.default_memory_pool().release_unused()
    act_codes, activities = per_event["activity"].finish()
    if len(act_codes) and act_codes.min() < 0:
        raise InputError("Some events have no activity", field="activity", hint="Re-ingest the log")
    ts = per_event["timestamp"].finish() if with_times else np.broadcast_to(np.zeros(1, dtype=np.int64), (n,))
    end = per_event["end_timestamp"].finish() if "end_timestamp" in per_event else None
    attrs = {name: per_event[name].finish() for name in attributes}
    case_attrs = {name: finished[name] for name in case_attributes if name in finished}
    case_ids = None
    if "case_id" in finished and with_case_ids:
        codes, labels = finished["case_id"]
        labels = labels if isinstance(labels, pa.Array) else pa.array(list(labels), pa.string())
        case_ids = labels.take(pa.array(codes)) if len(codes) else pa.array([], pa.string())
    return EncodedLog(case_offsets=offsets, activity_codes=act_codes, timestamps=ts, activities=activities,
                      end_timestamps=end, attributes=attrs, case_ids=case_ids, case_attributes=case_attrs)
