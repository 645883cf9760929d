"""Partitioned log: the canonical log as a folder of Parquet files, one per partition of the cases.

Layout of a partitioned log ``DIR``:

- ``DIR/part-00000.parquet`` ... ``part-{N-1}``: each a complete cxmine log of
  its cases (readable on its own by every command), in the whole log's case
  order, with ``case_index`` 0..m-1 within the file and ``global_case_index``
  (int64), the case's position in the whole log.
- ``DIR/cxmine.json``: the log's metadata (as a single-file log carries it)
  plus ``partitions``, ``partition_key`` and ``files``.

A case never spans partitions. Its partition is a stable hash (64-bit
FNV-1a of the UTF-8 key, modulo N) of its customer (the first non-empty
``customer_id`` of the case) or, when it has none, of its case id. Keying by
customer keeps every contact of a customer in one partition, so repeat
contacts and journeys (which link a customer's contacts) are found within a
partition exactly as on the whole log.

Reading a folder as one log (``PartitionedLog``, what ``open_log`` returns
for a folder) interleaves the partitions back into the whole log's case
order by ``global_case_index``, so the single-machine path gives the same
encoded arrays, and the same results, as for the single file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.errors import InputError

GLOBAL_CASE_INDEX = "global_case_index"
META_FILE = "cxmine.json"
MAX_PARTITIONS = 4096


def partition_file_name(p: int) -> str:
    return f"part-{p:05d}.parquet"


def _string_hashes(values: pa.Array) -> np.ndarray:
    """Stable uint64 hash of each string of an Arrow string array (nulls hash as the empty string)."""
    from engine.kernels.partitions import hash_strings
    values = values.cast(pa.string()).fill_null("")
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    bufs = values.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32)[values.offset:values.offset + len(values) + 1].astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, dtype=np.uint8)
    return hash_strings(offsets, data)


def _first_value_per_case(col: pa.ChunkedArray, offsets: np.ndarray) -> pa.Array:
    """Each case's first non-empty value of a string column (null when it has none)."""
    plain = col.cast(col.type.value_type) if pa.types.is_dictionary(col.type) else col
    plain = plain.combine_chunks() if isinstance(plain, pa.ChunkedArray) else plain
    valid = np.flatnonzero(pc.is_valid(plain).to_numpy(zero_copy_only=False))
    n_cases = len(offsets) - 1
    if len(valid) == 0:
        return pa.nulls(n_cases, pa.string())
    k = np.searchsorted(valid, offsets[:-1])
    pos = valid[np.minimum(k, len(valid) - 1)]
    inside = (k < len(valid)) & (pos < offsets[1:])
    return pc.if_else(pa.array(inside), plain.take(pa.array(pos)).cast(pa.string()), pa.nulls(n_cases, pa.string()))


def case_partitions(table: pa.Table, offsets: np.ndarray, n_partitions: int) -> np.ndarray:
    """Partition (int32) of each case of a sorted log table: hash of its customer, else of its case id."""
    n_cases = len(offsets) - 1
    case_id = table.column("case_id")
    case_id = case_id.cast(case_id.type.value_type) if pa.types.is_dictionary(case_id.type) else case_id
    key = case_id.combine_chunks().take(pa.array(offsets[:-1])).cast(pa.string()) if n_cases else \
        pa.array([], pa.string())
    if "customer_id" in table.column_names and n_cases:
        customer = _first_value_per_case(table.column("customer_id"), offsets)
        key = pc.if_else(pc.is_valid(customer), customer, key)
    return (_string_hashes(key) % np.uint64(n_partitions)).astype(np.int32)


def _case_starts(case_index: np.ndarray) -> np.ndarray:
    from engine.log.encode import offsets_from_case_index
    return offsets_from_case_index(case_index)


class PartitionWriter:
    """Write a partitioned log from consecutive chunks of a sorted log, each holding whole cases.

    Use as a context manager: the folder appears (replacing an earlier
    partitioned log there) only when every chunk is written; an error leaves
    nothing behind. A chunk is a table as ``sort_log`` returns it, or a slice
    of a stored log with its ``case_index``; its cases follow those of the
    chunk before.
    """

    def __init__(self, folder: str | os.PathLike, n_partitions: int, metadata: dict | None = None) -> None:
        if not 1 <= n_partitions <= MAX_PARTITIONS:
            raise InputError(f"The number of partitions must be 1 to {MAX_PARTITIONS}, got {n_partitions}",
                             field="partitions")
        self.folder = Path(folder)
        _check_target(self.folder)
        self.n = n_partitions
        self.metadata = dict(metadata or {})
        self.cases = 0
        self.events = 0
        self.local_cases = np.zeros(n_partitions, dtype=np.int64)
        self.buffers: list[list[pa.Table]] = [[] for _ in range(n_partitions)]
        self.buffered = np.zeros(n_partitions, dtype=np.int64)
        self.writers: list[pq.ParquetWriter | None] = [None] * n_partitions
        self.schema: pa.Schema | None = None
        self.flush_rows = max(1 << 16, (1 << 21) // n_partitions)
        self.tmp: Path | None = None

    def __enter__(self) -> "PartitionWriter":
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.folder.name}.", suffix=".part", dir=self.folder.parent))
        return self

    def __exit__(self, kind, exc, tb) -> None:
        try:
            if kind is None:
                self._finish()
        finally:
            for w in self.writers:
                if w is not None:
                    w.close()
            if self.tmp is not None and self.tmp.exists():
                shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, table: pa.Table) -> None:
        """Append a chunk of whole cases (see the class docstring)."""
        from engine.log.store import _with_case_index
        if table.num_rows == 0:
            return
        if "case_index" in table.column_names:
            global_index = table.column("case_index").to_numpy().astype(np.int64)
            table = table.drop_columns(["case_index"])
        else:
            global_index = _with_case_index(table).column("case_index").to_numpy().astype(np.int64) + self.cases
        if GLOBAL_CASE_INDEX in table.column_names:
            table = table.drop_columns([GLOBAL_CASE_INDEX])
        offsets = _case_starts(global_index)
        part_of_case = case_partitions(table, offsets, self.n)
        row_part = np.repeat(part_of_case, np.diff(offsets))
        new_case = np.zeros(len(global_index), dtype=bool)
        new_case[offsets[:-1]] = True
        by_partition = np.argsort(row_part, kind="stable")  # rows of each partition, in order
        bounds = np.searchsorted(row_part[by_partition], np.arange(self.n + 1))
        for p in np.flatnonzero(np.diff(bounds)):
            rows = by_partition[bounds[p]:bounds[p + 1]]
            local = np.cumsum(new_case[rows]) - 1 + self.local_cases[p]
            self.local_cases[p] = local[-1] + 1
            sub = table.take(pa.array(rows))
            sub = sub.append_column("case_index", pa.array(local.astype(np.int32)))
            sub = sub.append_column(GLOBAL_CASE_INDEX, pa.array(global_index[rows]))
            self.buffers[p].append(sub)
            self.buffered[p] += len(rows)
            if self.buffered[p] >= self.flush_rows:
                self._flush(int(p))
        self.cases = int(global_index[-1]) + 1
        self.events += table.num_rows

    def _writer(self, p: int, schema: pa.Schema) -> pq.ParquetWriter:
        if self.schema is None:
            meta = dict(schema.metadata or {})
            meta[b"cxmine"] = json.dumps({"schema_version": 1, "partition_of": self.n}).encode()
            self.schema = schema.with_metadata(meta)
        if self.writers[p] is None:
            self.writers[p] = pq.ParquetWriter(self.tmp / partition_file_name(p), self.schema, compression="zstd")
        return self.writers[p]

    def _flush(self, p: int) -> None:
        from engine.log.store import write_row_groups
        if not self.buffers[p]:
            return
        table = pa.concat_tables(self.buffers[p], promote_options="permissive")
        self.buffers[p], self.buffered[p] = [], 0
        writer = self._writer(p, table.schema)
        write_row_groups(writer, table.cast(writer.schema))

    def _finish(self) -> None:
        for p in range(self.n):
            self._flush(p)
        if self.schema is None:
            raise InputError("Nothing to write: the log has no events", path=str(self.folder))
        for p in range(self.n):
            if self.writers[p] is None:
                self._writer(p, self.schema)
            self.writers[p].close()
        meta = {"schema_version": 1, "case_notion": "contact", **self.metadata, "n_events": self.events,
                "n_cases": self.cases, "partitions": self.n,
                "partition_key": "customer_id, else case_id (FNV-1a 64 of the UTF-8 key, modulo partitions)",
                "files": [partition_file_name(p) for p in range(self.n)]}
        (self.tmp / META_FILE).write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
        os.chmod(self.tmp, 0o777 & ~_umask())
        if self.folder.exists():
            old = self.folder.with_name(f".{self.folder.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(self.folder, old)
            os.replace(self.tmp, self.folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(self.tmp, self.folder)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _check_target(folder: Path) -> None:
    """Refuse to replace a file, or a folder that is not an (empty or) partitioned cxmine log."""
    if folder.exists() and not folder.is_dir():
        raise InputError("A partitioned log is a folder, and a file is in the way", path=str(folder),
                         hint="Give a new folder name, e.g. log.parts")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / META_FILE).exists():
        raise InputError("The output folder is not empty and holds no partitioned cxmine log; it is left as it is",
                         path=str(folder), hint="Give a new or empty folder")


def write_partitioned_log(table: pa.Table, folder: str | os.PathLike, n_partitions: int, *,
                          metadata: dict | None = None, presorted: bool = False) -> Path:
    """Sort (unless ``presorted``) and write a log table as a partitioned log; return the folder."""
    from engine.log.schema import sort_log, validate_log
    if not presorted:
        table = sort_log(table)
    else:
        validate_log(table)
    with PartitionWriter(folder, n_partitions, metadata) as writer:
        writer.write(table)
    return Path(folder)


def partition_log(source: str | os.PathLike, folder: str | os.PathLike, n_partitions: int) -> Path:
    """Write a stored single-file log as a partitioned log, one row group at a time (memory stays bounded)."""
    from engine.log.store import log_metadata, open_log
    pf = open_log(source)
    if isinstance(pf, PartitionedLog):
        raise InputError("The log is already partitioned", path=str(source),
                         hint="Give the single-file log, or use the folder as it is")
    meta = {k: v for k, v in log_metadata(source).items() if k not in ("n_events", "n_cases")}
    meta["partitioned_from"] = str(source)
    carry: pa.Table | None = None
    with PartitionWriter(folder, n_partitions, meta) as writer:
        for i in range(pf.num_row_groups):
            batch = pf.read_row_group(i)
            if carry is not None:
                batch = pa.concat_tables([carry, batch.cast(carry.schema)])
            ci = batch.column("case_index").to_numpy()
            last = int(np.searchsorted(ci, ci[-1]))  # the last case may continue in the next row group
            carry = batch.slice(last)
            writer.write(batch.slice(0, last))
        if carry is not None:
            writer.write(carry)
    return Path(folder)


@dataclass(frozen=True)
class FolderMetadata:
    num_rows: int
    num_row_groups: int = 1


class PartitionedLog:
    """A partitioned log read as one log in the whole log's case order (``open_log`` of a folder).

    Offers what the readers of a single-file log use of a ``pyarrow.parquet.ParquetFile``:
    ``schema_arrow``, ``metadata.num_rows``, ``num_row_groups``, ``read_row_group``,
    ``iter_batches``; the one row group is the whole log (``case_index`` is the global index).
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.meta = read_folder_metadata(self.folder)
        self.files = [self.folder / name for name in self.meta["files"]]
        try:
            self._file_schema = pq.read_schema(self.files[0])
            rows = sum(pq.ParquetFile(f).metadata.num_rows for f in self.files)
        except (OSError, pa.ArrowInvalid) as exc:
            raise InputError(f"Cannot read a partition of the log: {exc}", path=str(self.folder),
                             hint="Write the partitioned log again (cxmine partition or cxmine ingest --partitions)") \
                from exc
        schema = self._file_schema.remove(self._file_schema.get_field_index(GLOBAL_CASE_INDEX))
        md = dict(schema.metadata or {})
        md[b"cxmine"] = json.dumps(self.meta, default=str).encode()
        self.schema_arrow = schema.with_metadata(md)
        self.metadata = FolderMetadata(rows)
        self.num_row_groups = 1

    def read(self, columns: list[str] | None = None) -> pa.Table:
        """The log (or the named columns and ``case_index``) in the whole log's case order."""
        names = self.schema_arrow.names if columns is None else list(columns)
        wanted = [c for c in names if c not in ("case_index", GLOBAL_CASE_INDEX)]
        try:
            parts = [pq.read_table(f, columns=wanted + [GLOBAL_CASE_INDEX]) for f in self.files]
        except (OSError, pa.ArrowInvalid) as exc:
            raise InputError(f"Cannot read a partition of the log: {exc}", path=str(self.folder)) from exc
        table = pa.concat_tables(parts, promote_options="permissive")
        del parts  # the concatenated table shares their buffers; keep no second reference to them
        global_index = table.column(GLOBAL_CASE_INDEX).to_numpy()
        order = np.argsort(global_index, kind="stable")
        case_index = pa.array(global_index[order].astype(np.int32))
        del global_index
        table = table.drop_columns([GLOBAL_CASE_INDEX])
        # Column by column, each partition-order column released once its case-order copy exists: the
        # peak is the log plus one column, not the log twice (a whole-table take holds both).
        indices = pa.array(order)
        del order
        ordered = {}
        for name in list(table.column_names):
            ordered[name] = table.column(name).take(indices)
            table = table.drop_columns([name])
        del table, indices
        ordered["case_index"] = case_index
        table = pa.table(ordered)
        if columns is None:
            table = table.select(self.schema_arrow.names)
        return table.replace_schema_metadata(self.schema_arrow.metadata)

    def read_row_group(self, i: int, columns: list[str] | None = None) -> pa.Table:
        if i != 0:
            raise IndexError(f"row group {i} of a partitioned log read as one (it has 1)")
        return self.read(columns)

    def iter_batches(self, batch_size: int = 65536, columns: list[str] | None = None):
        yield from self.read(columns).to_batches(max_chunksize=batch_size)


def read_folder_metadata(folder: str | os.PathLike) -> dict:
    """The ``cxmine.json`` of a partitioned log; InputError when the folder is not one."""
    folder = Path(folder)
    meta_path = folder / META_FILE
    if not meta_path.is_file():
        raise InputError("Event log expected, found a folder that is not a partitioned cxmine log (no cxmine.json)",
                         path=str(folder),
                         hint="Give the .parquet file written by cxmine ingest, or a folder written by "
                              "cxmine ingest --partitions N or cxmine partition")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        files = list(meta["files"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"The partitioned log's cxmine.json is damaged ({exc})", path=str(meta_path),
                         hint="Write the partitioned log again") from exc
    missing = [name for name in files if not (folder / name).is_file()]
    if missing or not files:
        raise InputError(f"Partition file {missing[0] if missing else '(none listed)'} of the log is missing",
                         path=str(folder), hint="Write the partitioned log again; every partition is needed")
    return meta


def partition_paths(folder: str | os.PathLike) -> list[Path]:
    """The partition files of a partitioned log, in partition order."""
    folder = Path(folder)
    return [folder / name for name in read_folder_metadata(folder)["files"]]
