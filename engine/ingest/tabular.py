"""Tabular readers: CSV (also TSV, gzip), JSON Lines and Parquet, through a mapping file.

Reading is vectorised: pyarrow parses the file with every column as text,
timestamps are parsed column-wise (pyarrow casts and ``strptime``), and
Python touches only the records that are refused. Each refused record becomes
a ``Reject`` with its line and reason; read = accepted + rejected.

Line numbers: see ``engine.ingest.source``. The work is split by phase:
``source`` (bytes, UTF-8, record boundaries), ``csv_source``,
``jsonl_source`` and ``parquet_source`` (records as columns),
``timestamps`` (the time parser), ``events`` (mapping to events and the
per-record checks), ``duplicates`` and ``columns``.

Decisions on bad input (README, "Ingest and mapping files"):

- a required column that is missing, an empty file, a file that is not what
  its extension says, a header that is not UTF-8: the whole file is refused
  with an ``InputError``;
- a record with too few or too many fields, bytes that are not UTF-8, an
  empty case id, activity or timestamp, a timestamp that does not parse, an
  end before its start, or an exact duplicate of an earlier record: that
  record is refused and written to the rejects file;
- time zones: UTC offsets in the data are honoured and converted to UTC;
  values without an offset are read in the mapping's ``timezone``. Without a
  ``timezone``, a column where no value has an offset is refused as a whole
  (the error says which key to add); in a column that mixes values with and
  without offsets, each value without one is refused per record. Local times
  that do not exist (the hour skipped when clocks go forward) are refused;
  ambiguous ones (the hour repeated when clocks go back) take the earlier
  instant.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import InputError
from engine.ingest import ReadOptions, ReadResult, register_reader
from engine.ingest.csv_source import read_csv_source
from engine.ingest.events import build_events
from engine.ingest.jsonl_source import read_jsonl_source
from engine.ingest.parquet_source import read_parquet_source


def _mapping_for(path: Path, options: ReadOptions, fmt: str) -> dict | None:
    m = options.mapping
    if m and m.get("format") and m["format"] != fmt:
        raise InputError(f"The mapping file says format = \"{m['format']}\" but {path} is read as {fmt}",
                         hint="Remove format from the mapping file or give the matching format argument")
    return m


@register_reader("csv")
def read_csv(path: Path, options: ReadOptions) -> ReadResult:
    """CSV, TSV (delimiter from the mapping, or the extension, or the header), gzip-compressed too."""
    mapping = _mapping_for(path, options, "csv")
    return build_events(read_csv_source(path, mapping), mapping, options)


@register_reader("jsonl")
def read_jsonl(path: Path, options: ReadOptions) -> ReadResult:
    """JSON Lines: one object per line; nested objects flattened to dotted column names (Queue.Name)."""
    mapping = _mapping_for(path, options, "jsonl")
    return build_events(read_jsonl_source(path, mapping), mapping, options)


@register_reader("parquet")
def read_parquet(path: Path, options: ReadOptions) -> ReadResult:
    """Parquet with any column names and types, through the mapping; line = record number."""
    mapping = _mapping_for(path, options, "parquet")
    return build_events(read_parquet_source(path, mapping), mapping, options)
