"""Ingest: turn input files into the canonical event log, accounting for every record.

A reader takes one input file and returns a ``ReadResult``: the accepted
events as an Arrow table (canonical columns plus any attributes), how many
input records it read, and a ``Reject`` for every record it refused. One input
record may become several events (a call-center row becomes IVR, queue and
agent events), so the accounting is in records: read = accepted + rejected.

Readers are registered in ``READERS`` by format name; ``ingest_files`` picks
the format from the file's extension unless told.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pyarrow as pa

from engine.errors import InputError


@dataclass(frozen=True)
class Reject:
    source: str
    line: int | None
    reason: str
    record: str = ""


@dataclass
class ReadResult:
    table: pa.Table
    records_read: int
    rejects: list[Reject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    @property
    def records_rejected(self) -> int:
        return len(self.rejects)

    @property
    def records_accepted(self) -> int:
        return self.records_read - len(self.rejects)


@dataclass(frozen=True)
class ReadOptions:
    """What a reader may need besides the path. Readers ignore what does not concern them."""

    mapping: dict | None = None
    strict: bool = False
    case_object: str | None = None
    pseudonym_key: bytes | None = None
    pseudonym_key_id: str | None = None  # recorded in the log's metadata; never the key


Reader = Callable[[Path, ReadOptions], ReadResult]
READERS: dict[str, Reader] = {}

EXTENSIONS: dict[str, str] = {
    ".csv": "csv", ".tsv": "csv", ".csv.gz": "csv",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".jsonl.gz": "jsonl",
    ".parquet": "parquet", ".pq": "parquet",
    ".xes": "xes", ".xes.gz": "xes",
    ".jsonocel": "ocel-json", ".xmlocel": "ocel-xml", ".sqlite": "ocel-sqlite", ".db": "ocel-sqlite",
}


def register_reader(name: str) -> Callable[[Reader], Reader]:
    def deco(fn: Reader) -> Reader:
        READERS[name] = fn
        return fn
    return deco


def detect_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")) and path.is_file():
        from engine.ingest.amazon_connect import sniff_vendor
        vendor = sniff_vendor(path)   # Amazon Connect / Genesys Cloud exports, told apart by their content
        if vendor:
            return vendor
    for ext in sorted(EXTENSIONS, key=len, reverse=True):
        if name.endswith(ext):
            return EXTENSIONS[ext]
    if name.endswith(".json") or name.endswith(".json.gz"):
        return "ocel-json" if "ocel" in name else "jsonl"
    if name.endswith(".xml"):
        return "ocel-xml"
    raise InputError(
        f"Cannot tell the format of '{path}' from its extension", field="format",
        hint=f"Give it with the format argument ({', '.join(sorted(_load_readers()))})")


def _load_readers() -> dict[str, Reader]:
    # Importing the reader modules registers them.
    from engine.ingest import tabular, xes, ocel  # noqa: F401
    for optional in ("engine.ingest.amazon_connect", "engine.ingest.genesys"):
        try:
            __import__(optional)
        except ModuleNotFoundError as exc:
            if exc.name != optional:
                raise
    return READERS


def read_input(path: str | os.PathLike, fmt: str | None = None, options: ReadOptions | None = None) -> ReadResult:
    """Read one input file with the reader for its format."""
    path = Path(path)
    readers = _load_readers()
    if not path.exists():
        raise InputError("Input file not found", path=str(path))
    if path.is_dir():
        raise InputError("Input is a folder, expected a file", path=str(path))
    fmt = fmt or detect_format(path)
    if fmt not in readers:
        raise InputError(f"Unknown format '{fmt}'", field="format",
                         hint=f"Valid formats: {', '.join(sorted(readers))}")
    return readers[fmt](path, options or ReadOptions())
