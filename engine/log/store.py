"""Parquet store of the canonical log.

A stored log is sorted (see ``schema.sort_log``) and carries one extra column,
``case_index`` (int32, 0..n_cases-1, ascending), so that encoding needs no
string work: case offsets come from where ``case_index`` changes. The file's
key-value metadata ``cxmine`` holds a small JSON document (schema version, case
notion, counts, provenance).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.atomic import atomic_path
from engine.errors import InputError
from engine.log.schema import sort_log, validate_log

SCHEMA_VERSION = 1
ROW_GROUP = 1 << 20


def _with_case_index(table: pa.Table) -> pa.Table:
    case = table.column("case_id").combine_chunks()
    codes = case.indices.to_numpy(zero_copy_only=False) if pa.types.is_dictionary(case.type) else None
    if codes is None or (len(codes) > 1 and np.any(np.diff(codes) < 0)):
        raise InputError("Internal order broken: case_id is not dictionary-encoded in case order", field="case_id")
    # dictionary indices of a sorted log ascend; make them dense 0..n-1
    change = np.empty(len(codes), dtype=bool)
    if len(codes):
        change[0] = False
        change[1:] = codes[1:] != codes[:-1]
    idx = np.cumsum(change, dtype=np.int64).astype(np.int32)
    if "case_index" in table.column_names:
        table = table.drop_columns(["case_index"])
    return table.append_column("case_index", pa.array(idx))


def write_log(table: pa.Table, path: str | os.PathLike, *, metadata: dict | None = None,
              presorted: bool = False) -> Path:
    """Sort (unless ``presorted``), validate and write the log atomically; return the path."""
    if not presorted:
        table = sort_log(table)
    else:
        validate_log(table)
    table = _with_case_index(table)
    meta = {"schema_version": SCHEMA_VERSION, "case_notion": "contact"}
    meta.update(metadata or {})
    n_cases = int(table.column("case_index")[-1].as_py()) + 1 if table.num_rows else 0
    meta.update({"n_events": table.num_rows, "n_cases": n_cases})
    schema_meta = dict(table.schema.metadata or {})
    schema_meta[b"cxmine"] = json.dumps(meta, default=str).encode()
    table = table.replace_schema_metadata(schema_meta)
    path = Path(path)
    with atomic_path(path) as tmp:
        pq.write_table(compact_row_groups(table), tmp, row_group_size=ROW_GROUP, compression="zstd")
    return path


def compact_dictionaries(table: pa.Table) -> pa.Table:
    """Re-encode large dictionary columns so each holds only the values present.

    Parquet stores an Arrow dictionary column with the whole dictionary in
    every row group; for a column like customer_id (one value per customer)
    that repeats millions of strings per row group and makes reading slow.
    """
    for i, name in enumerate(table.column_names):
        col = table.column(i)
        if pa.types.is_dictionary(col.type) and any(len(c.dictionary) > 4096 for c in col.chunks):
            plain = col.combine_chunks().cast(col.type.value_type) if col.num_chunks else col
            enc = pc.dictionary_encode(plain)
            if enc.type != col.type:
                enc = enc.cast(col.type)
            table = table.set_column(i, name, enc)
    return table


def compact_row_groups(table: pa.Table) -> pa.Table:
    """The table as chunks of ROW_GROUP rows, each with compact dictionaries (see compact_dictionaries)."""
    if table.num_rows <= ROW_GROUP:
        return compact_dictionaries(table)
    parts = [compact_dictionaries(table.slice(start, ROW_GROUP)) for start in range(0, table.num_rows, ROW_GROUP)]
    return pa.concat_tables(parts)


def write_row_groups(writer: pq.ParquetWriter, table: pa.Table) -> None:
    """Append a sorted log table to an open writer as row groups with compact dictionaries."""
    writer.write_table(compact_row_groups(table), row_group_size=ROW_GROUP)


_HEAD_BYTES = 8192


def _head(path: Path) -> tuple[bytes, bool]:
    """The first bytes of a file, decompressed when it is gzip, and whether it was."""
    import gzip
    with open(path, "rb") as fh:
        head = fh.read(_HEAD_BYTES)
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as fh:
                return fh.read(_HEAD_BYTES), True
        except (OSError, EOFError):
            return head, False
    return head, False


def _kind_of_text(text: str) -> str | None:
    lead = text.lstrip("\ufeff \t\r\n")
    low = lead[:_HEAD_BYTES].lower()
    if lead.startswith("<"):
        if "<definitions" in low or "bpmn" in low[:2000]:
            return "a BPMN model"
        if "xes.version" in low or "<trace" in low or "xes-standard" in low:
            return "an XES event log"
        if "<object-types" in low or "<objects" in low or "ocel" in low[:2000]:
            return "an OCEL 2.0 XML log"
        return "an XML file"
    if lead.startswith(("{", "[")):
        if '"objecttypes"' in low or '"ocel:' in low:
            return "an OCEL JSON log"
        first, _, rest = lead.partition("\n")
        if first.rstrip().endswith("}") and rest.lstrip().startswith("{"):
            return "a JSON Lines file"
        return "a JSON file"
    first = lead.split("\n", 1)[0]
    if first.count(",") >= 2 or first.count("\t") >= 2 or first.count(";") >= 2:
        return "a CSV file"
    return None


def describe_file(path: str | os.PathLike) -> str:
    """What a file that is not a Parquet log looks like, for a message: ``a CSV file``, ``an XES event log``, ..."""
    body, gz = _head(Path(path))
    if not body:
        return "an empty file"
    if body.startswith(b"SQLite format 3\x00"):
        kind = "an SQLite database (OCEL 2.0 SQLite?)"
    elif body.startswith(b"PK\x03\x04"):
        kind = "a ZIP archive (or a spreadsheet)"
    elif body.startswith(b"PAR1"):
        kind = "a damaged or truncated Parquet file"
    else:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = body.decode("utf-8", errors="ignore") if body.count(b"\x00") == 0 else ""
        kind = (_kind_of_text(text) or "a text file") if text else "a binary file of unknown type"
    return f"{kind} (gzip-compressed)" if gz else kind


def _not_a_log(path: Path, exc: BaseException) -> InputError:
    kind = describe_file(path)
    if kind.startswith("a BPMN model"):
        hint = "An SOP model is not an event log: give it as the SOP, and an event log made by cxmine ingest as LOG"
    elif kind.startswith("a damaged"):
        hint = f"Re-create it with: cxmine ingest INPUT -o {path.name} ({exc})"
    elif kind.startswith(("a text file", "a binary file", "an empty file", "an XML file", "a JSON file")):
        hint = "Give the Parquet log written by cxmine ingest INPUT -o log.parquet"
    else:
        mapping = " --mapping MAPPING.toml" if kind.startswith(("a CSV", "a JSON Lines")) else ""
        hint = f"Make a log from it first: cxmine ingest {path}{mapping} -o log.parquet"
    return InputError(f"Not a Parquet event log: the file looks like {kind}", path=str(path),
                      hint=hint)


def open_log(path: str | os.PathLike) -> pq.ParquetFile:
    """Open a stored log for streaming; refuse a missing file, a non-Parquet file or a foreign Parquet file.

    A folder is read as a partitioned log (``engine.log.partitions.PartitionedLog``, read
    like a ParquetFile, in the whole log's case order).

    A cxmine log has ``case_index`` and the required columns; the message names
    the first thing missing and how to make a log. A file of another kind (CSV,
    XES, OCEL, BPMN, ...) is named as such, with the command that makes a log of it.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("Event log not found", path=str(path), hint="Create it with: cxmine ingest INPUT -o LOG.parquet")
    if path.is_dir():
        from engine.log.partitions import PartitionedLog
        return PartitionedLog(path)
    try:
        pf = pq.ParquetFile(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise _not_a_log(path, exc) from exc
    names = pf.schema_arrow.names
    if "case_index" not in names:
        raise InputError("This Parquet file is not a cxmine event log (no case_index column)", path=str(path),
                         hint="Ingest it first: cxmine ingest FILE --mapping MAP -o LOG.parquet")
    missing = [c for c in ("case_id", "activity", "timestamp") if c not in names]
    if missing:
        raise InputError(f"Column '{missing[0]}' not in the event log (available: {', '.join(names)})",
                         path=str(path), field=missing[0], hint="Give a log written by cxmine ingest")
    return pf


def log_metadata(path: str | os.PathLike) -> dict:
    """The ``cxmine`` metadata of a stored log ({} for a Parquet file cxmine did not write)."""
    if Path(path).is_dir():
        from engine.log.partitions import read_folder_metadata
        return read_folder_metadata(path)
    if not Path(path).is_file():
        raise InputError("Event log not found", path=str(path), hint="Create it with: cxmine ingest INPUT -o LOG.parquet")
    try:
        md = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowInvalid) as exc:
        raise _not_a_log(Path(path), exc) from exc
    raw = md.get(b"cxmine")
    return json.loads(raw) if raw else {}


def read_log(path: str | os.PathLike, columns: list[str] | None = None) -> pa.Table:
    """Read a stored log (all columns, or the named ones plus ``case_index``)."""
    path = Path(path)
    pf = open_log(path)
    schema = pf.schema_arrow
    if columns is not None:
        missing = [c for c in columns if c not in schema.names]
        if missing:
            raise InputError(f"Column '{missing[0]}' not in the event log (available: {', '.join(schema.names)})",
                             path=str(path), field=missing[0])
        columns = list(dict.fromkeys(list(columns) + (["case_index"] if "case_index" in schema.names else [])))
    if path.is_dir():
        return pf.read(columns)
    try:
        table = pq.read_table(path, columns=columns)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"Cannot read the event log: {exc}", path=str(path)) from exc
    return table
