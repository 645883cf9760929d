"""Encoded form of the log for the numba kernels (DESIGN.md).

``case_offsets`` int64[n_cases+1], ``activity_codes`` int32[n_events],
``timestamps`` int64[n_events] (ns UTC), ``end_timestamps`` int64 with
``NO_TIME`` where unknown, and int32 codes for each segmentation attribute
(-1 where empty), with the code-to-label dictionaries. Labels are sorted, so
codes are stable for the same set of labels whatever the file's row groups.
"""

from __future__ import annotations

import itertools
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
    # int64[n_cases]: the time of each case's first event, when only those were read (encode_log's
    # case_starts_only; ``timestamps`` are then zeros)
    case_starts: np.ndarray | None = None

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


def values_of(arr: pa.Array, dtype) -> np.ndarray:
    """The values of a fixed-width Arrow array (integers, floats, timestamps; not booleans, not a
    dictionary array: pass its ``indices``) as a read-only numpy view. Null slots hold whatever the
    buffer holds: mask them with ``valid_of``.

    Reads the buffer directly: pyarrow's ``to_numpy`` converts through its pandas bridge, which imports
    pandas (a third of a second at the start of every command).
    """
    dtype = np.dtype(dtype)
    if len(arr) == 0:
        return np.empty(0, dtype=dtype)
    if arr.type.bit_width != dtype.itemsize * 8:
        raise TypeError(f"Cannot view {arr.type} as {dtype}")
    return np.frombuffer(arr.buffers()[1], dtype=dtype, count=len(arr), offset=arr.offset * dtype.itemsize)


def valid_of(arr: pa.Array) -> np.ndarray | None:
    """bool[len(arr)]: True where ``arr`` holds a value; None when it has no nulls."""
    if arr.null_count == 0:
        return None
    if arr.buffers()[0] is None:  # an array of the null type
        return np.zeros(len(arr), dtype=bool)
    bits = np.frombuffer(arr.buffers()[0], dtype=np.uint8)
    return np.unpackbits(bits, count=arr.offset + len(arr), bitorder="little")[arr.offset:].view(bool)


def index_array(positions: np.ndarray) -> pa.Array:
    """int64 Arrow array over numpy positions (for ``take``), built from the buffer (see ``values_of``)."""
    positions = np.ascontiguousarray(positions, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(positions), [None, pa.py_buffer(positions)])


def _index_dtype(arr: pa.Array) -> np.dtype:
    """numpy dtype of the indices of a dictionary array."""
    t = arr.type.index_type
    return np.dtype(("i" if pa.types.is_signed_integer(t) else "u") + str(t.bit_width // 8))


def _indices_of(ch: pa.Array, null: int) -> np.ndarray:
    """int32/int64 indices of a dictionary chunk, ``null`` where the value is null (a writable copy only
    when there are nulls)."""
    idx = values_of(ch.indices, _index_dtype(ch))
    valid = valid_of(ch)
    if valid is not None:
        idx = np.where(valid, idx, null)
    return idx


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
    order = values_of(pc.sort_indices(dictionary), np.uint64).astype(np.int64)
    valid = valid_of(dictionary)
    if valid is not None:
        order = order[valid[order]]
    ordered = dictionary.take(index_array(order))
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
        np.take(remap, _indices_of(ch, len(remap) - 1), out=out[at:at + len(ch)], mode="clip")
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
            if not (pa.types.is_timestamp(ch.type) or pa.types.is_int64(ch.type)):
                ch = ch.cast(pa.int64())
            part = self.out[at:at + len(ch)]
            part[:] = values_of(ch, np.int64)
            valid = valid_of(ch)
            if valid is not None:
                part[~valid] = NO_TIME
            at += len(ch)

    def finish(self) -> np.ndarray:
        return self.out


class _CaseStarts:
    """The time of each case's first event (NO_TIME where it has none), from the timestamp column."""

    def __init__(self) -> None:
        self.cases: list[np.ndarray] = []
        self.times: list[np.ndarray] = []

    def feed(self, col: pa.ChunkedArray, at: int, case_index: np.ndarray) -> None:
        for ch in col.chunks:
            ci = case_index[at:at + len(ch)]
            if len(ci):
                if not (pa.types.is_timestamp(ch.type) or pa.types.is_int64(ch.type)):
                    ch = ch.cast(pa.int64())
                first = np.flatnonzero(np.concatenate(([True], ci[1:] != ci[:-1])))
                times = values_of(ch, np.int64)[first]
                valid = valid_of(ch)
                if valid is not None:
                    times[~valid[first]] = NO_TIME
                self.cases.append(ci[first])
                self.times.append(times)
            at += len(ch)

    def finish(self, n_cases: int) -> np.ndarray:
        out = np.full(n_cases, NO_TIME, dtype=np.int64)
        if self.cases:
            case, times = np.concatenate(self.cases), np.concatenate(self.times)
            keep = np.concatenate(([True], case[1:] != case[:-1]))  # a case split between batches starts in the first
            out[case[keep]] = times[keep]
        return out


class _Codes:
    """int32 codes (-1 for null) of a string column, into its sorted labels.

    Each chunk is coded at once by the rank of its labels among the labels seen
    so far. A stored log repeats a column's dictionary in every row group, so
    the first row group brings every label and no code changes later; chunks
    coded before new labels appeared are re-coded once at the end. Past
    MAX_SORTED_LABELS labels, chunks keep ids in order of first appearance,
    ranked at the end.
    """

    def __init__(self, n: int) -> None:
        self.out = np.empty(n, dtype=np.int32)
        self.ids: dict[str, int] = {}
        self.rank = np.full(1, -1, dtype=np.int32)   # id -> position among the labels seen; last slot -1
        self.ranked = 0                               # labels that self.rank covers
        self.parts: list[tuple[int, int, int]] = []   # (start, stop, labels ranked when coded, -1 for ids)

    @staticmethod
    def _rank(ids: dict[str, int]) -> np.ndarray:
        rank = np.empty(len(ids) + 1, dtype=np.int32)
        rank[[ids[x] for x in sorted(ids)]] = np.arange(len(ids), dtype=np.int32)
        rank[-1] = -1
        return rank

    def feed(self, col: pa.ChunkedArray, at: int, case_index: np.ndarray) -> None:
        ids = self.ids
        for ch in col.chunks:
            if not pa.types.is_dictionary(ch.type):
                ch = pc.dictionary_encode(ch)
            seen = np.array([-1 if x is None else ids.setdefault(x, len(ids)) for x in ch.dictionary.to_pylist()]
                            + [-1], dtype=np.int64)
            if len(ids) != self.ranked and len(ids) <= MAX_SORTED_LABELS:
                self.rank, self.ranked = self._rank(ids), len(ids)
            coded = self.ranked if self.ranked == len(ids) else -1
            remap = (self.rank[seen] if coded >= 0 else seen).astype(np.int32)
            np.take(remap, _indices_of(ch, len(remap) - 1), out=self.out[at:at + len(ch)], mode="clip")
            self.parts.append((at, at + len(ch), coded))
            at += len(ch)

    def finish(self) -> tuple[np.ndarray, tuple[str, ...]]:
        ids = self.ids
        rank = self.rank if self.ranked == len(ids) else self._rank(ids)
        fixes: dict[int, np.ndarray] = {}
        for start, stop, coded in self.parts:
            if coded == len(ids):
                continue
            if coded not in fixes:
                if coded < 0:
                    fixes[coded] = rank
                else:  # positions among the first `coded` labels seen -> positions among all
                    first = sorted(itertools.islice(ids, coded))
                    fixes[coded] = np.append(rank[[ids[x] for x in first]], np.int32(-1))
            fix = fixes[coded]
            # in blocks, so the remap needs no second full-size array; -1 wraps to the last slot (-1)
            for i in range(start, stop, 1 << 20):
                block = self.out[i:min(i + (1 << 20), stop)]
                np.take(fix, block, out=block, mode="wrap")
        return self.out, tuple(sorted(ids))


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
            valid = valid_of(ch)
            if valid is not None:
                pos = np.flatnonzero(valid)
                c = ci[pos]
            else:
                pos, c = None, ci
            if len(c):
                first = np.flatnonzero(np.concatenate(([True], c[1:] != c[:-1])))
                self.cases.append(c[first])
                taken = ch.take(index_array(first if pos is None else pos[first]))
                self.values.append(taken.cast(taken.type.value_type) if pa.types.is_dictionary(taken.type)
                                   else taken)
            at += len(ch)

    def _firsts(self) -> tuple[np.ndarray, pa.Array]:
        """(cases, their value): a case split between batches keeps the value of its earliest batch."""
        case = np.concatenate(self.cases)
        vals = pa.chunked_array(self.values).cast(pa.string())
        keep = np.concatenate(([True], case[1:] != case[:-1]))
        if not keep.all():
            vals, case = vals.take(index_array(np.flatnonzero(keep))), case[keep]
        return case, vals.combine_chunks()

    def finish(self, n_cases: int) -> tuple[np.ndarray, tuple[str, ...] | pa.Array]:
        out = np.full(n_cases, -1, dtype=np.int32)
        if not self.cases:
            return out, ()
        case, vals = self._firsts()
        enc = pc.dictionary_encode(vals)
        if len(enc.dictionary) > MAX_SORTED_LABELS:
            # millions of values (customer pseudonyms): codes in order of first appearance, labels stay in Arrow
            out[case] = values_of(enc.indices, np.int32)
            return out, enc.dictionary
        codes, labels = encode_strings(enc)
        out[case] = codes
        return out, labels

    def strings(self, n_cases: int) -> pa.Array:
        """The value of every case as an Arrow string array (every case must have one)."""
        if self.cases:
            case, vals = self._firsts()
            if len(case) == n_cases:  # case indexes ascend from 0, so every case has its value
                return vals
        codes, labels = self.finish(n_cases)
        labels = labels if isinstance(labels, pa.Array) else pa.array(list(labels), pa.string())
        return labels.take(index_array(codes)) if len(codes) else pa.array([], pa.string())


def encode_log(source: pa.Table | str | os.PathLike, attributes: tuple[str, ...] | None = None,
               *, with_case_ids: bool = False, case_attributes: tuple[str, ...] = (),
               with_times: bool = True, case_starts_only: bool = False) -> EncodedLog:
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
    ``case_starts_only=True`` (for analyses that need only when each contact
    started, such as conformance for its ISO weeks) keeps the time of each
    case's first event only, as ``case_starts``; ``timestamps`` are then
    zeros as without times, ``end_timestamps`` None.

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
    starts = _CaseStarts() if with_times and case_starts_only else None
    with_times = with_times and not case_starts_only
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
    for batch in batches(["case_index"] + list(per_case) + (["timestamp"] if starts else [])):
        m = batch.num_rows
        cursor = at
        for ch in batch.column("case_index").chunks:
            case_index[cursor:cursor + len(ch)] = values_of(ch if ch.type == pa.int32() else ch.cast(pa.int32()),
                                                            np.int32)
            cursor += len(ch)
        for name, sink in per_case.items():
            sink.feed(batch.column(name), at, case_index)
        if starts:
            starts.feed(batch.column("timestamp"), at, case_index)
        at += m
    offsets = offsets_from_case_index(case_index)
    del case_index
    n_cases = len(offsets) - 1
    finished = {name: per_case[name].finish(n_cases) for name in case_attributes if name in per_case}
    case_ids = per_case["case_id"].strings(n_cases) if "case_id" in per_case and with_case_ids else None
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
    return EncodedLog(case_offsets=offsets, activity_codes=act_codes, timestamps=ts, activities=activities,
                      end_timestamps=end, attributes=attrs, case_ids=case_ids, case_attributes=case_attrs,
                      case_starts=starts.finish(n_cases) if starts else None)
