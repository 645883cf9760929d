"""Parquet sources: any column names and types; the record number stands in for the line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from engine.errors import InputError
from engine.ingest.source import RECORD_TEXT_LIMIT, RawSource, describe_bytes, flatten_structs


def read_parquet_source(path: Path, mapping: dict | None) -> RawSource:
    try:
        with open(path, "rb") as fh:
            head = fh.read(8192)
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 4))
            tail = fh.read(4)
    except OSError as exc:
        raise InputError(f"Cannot read the input file: {exc.strerror}", path=str(path)) from exc
    if size == 0 or not head.strip():
        raise InputError(f"Input file {path} is empty", hint="Export the data again; an empty file has no records")
    if not (head.startswith(b"PAR1") and tail == b"PAR1"):
        what = describe_bytes(head)
        if what is None:
            try:
                head.decode("utf-8")
                first = head.lstrip()[:1]
                what = "JSON text" if first in (b"{", b"[") else "text (CSV?)"
            except UnicodeDecodeError:
                what = "not a Parquet file"
        if head.startswith(b"PAR1"):
            raise InputError(f"Input file {path} is a truncated Parquet file (no footer)",
                             hint="Copy or export the file again")
        fmt = "csv" if "CSV" in what else "jsonl" if "JSON" in what else None
        raise InputError(f"Input file {path} is {what}, not Parquet",
                         hint=f'Give format "{fmt}"' if fmt else "Export the data as Parquet")
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"Cannot read {path} as Parquet: {exc}", hint="Copy or export the file again") from exc
    table = flatten_structs(table)
    n = table.num_rows
    if n == 0:
        raise InputError(f"Input file {path} has no records", hint="Export the data again; there is nothing to ingest")

    def text(i: int) -> str:
        row = table.slice(i, 1).to_pylist()[0]
        s = json.dumps(row, default=str, ensure_ascii=False)
        return s if len(s) <= RECORD_TEXT_LIMIT else s[:RECORD_TEXT_LIMIT] + "..."

    return RawSource(path, table, np.arange(1, n + 1, dtype=np.int64), text, records_read=n, typed=True)
