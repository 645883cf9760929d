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


def encode_log(source: pa.Table | str | os.PathLike, attributes: tuple[str, ...] | None = None,
               *, with_case_ids: bool = False, case_attributes: tuple[str, ...] = ()) -> EncodedLog:
    """Encode a stored log (path) or a table returned by ``read_log``.

    ``attributes``: segmentation columns to encode per event (default: those of
    SEGMENT_COLUMNS present in the log). ``case_attributes``: columns encoded
    per case instead, as the first non-empty value of each case (for example
    ``customer_id`` or ``team``), which costs one int32 per case, not per event.
    Columns absent from the log are skipped.
    """
    if isinstance(source, pa.Table):
        names = source.column_names

        def column(name: str) -> pa.ChunkedArray:
            return source.column(name)
    else:
        from pyarrow import parquet as pq
        if not os.path.exists(source):
            raise InputError("Event log not found", path=str(source),
                             hint="Create it with: cxmine ingest INPUT -o LOG.parquet")
        try:
            names = pq.read_schema(source).names
        except (OSError, pa.ArrowInvalid) as exc:
            raise InputError(f"Not a Parquet event log: {exc}", path=str(source),
                             hint="Create it with: cxmine ingest INPUT -o LOG.parquet") from exc
        if "case_index" not in names:
            raise InputError("This Parquet file is not a cxmine event log (no case_index column)",
                             path=str(source), hint="Ingest it first: cxmine ingest FILE --mapping MAP -o LOG.parquet")

        def column(name: str) -> pa.ChunkedArray:
            # one column at a time: peak memory is one Arrow column plus the arrays built so far
            try:
                return pq.read_table(source, columns=[name]).column(name)
            except (OSError, pa.ArrowInvalid) as exc:
                raise InputError(f"Cannot read column '{name}' of the event log: {exc}", path=str(source),
                                 field=name) from exc
    if attributes is None:
        attributes = SEGMENT_COLUMNS
    attributes = tuple(c for c in attributes if c in names)
    if "case_index" not in names:
        raise InputError("The table has no case_index column; read it with read_log or encode the stored file")
    offsets = offsets_from_case_index(column("case_index").to_numpy())
    act_codes, activities = encode_strings(column("activity"))
    ts = column("timestamp").cast(pa.int64()).to_numpy()
    end = None
    if "end_timestamp" in names:
        end = column("end_timestamp").cast(pa.int64()).fill_null(NO_TIME).to_numpy()
    attrs = {name: encode_strings(column(name)) for name in attributes}
    per_case = {}
    for name in case_attributes:
        if name in names:
            codes, labels = encode_strings(column(name))
            per_case[name] = (first_per_case(codes, offsets), labels)
            del codes
    case_ids = None
    if with_case_ids and "case_id" in names:
        case = column("case_id")
        starts = pa.array(offsets[:-1])
        case_ids = pc.take(case, starts).combine_chunks()
        if pa.types.is_dictionary(case_ids.type):
            case_ids = case_ids.cast(pa.string())
    return EncodedLog(case_offsets=offsets, activity_codes=act_codes, timestamps=ts, activities=activities,
                      end_timestamps=end, attributes=attrs, case_ids=case_ids, case_attributes=per_case)
