"""Raw sources: the bytes of an input file checked, and its records located, before any column is read.

A ``RawSource`` holds every input record of a tabular file as columns (text
for CSV and JSON Lines, Parquet's own types), the line each record came from,
the records refused while reading, and a way to show a record's text in the
rejects file.

Line numbers are 1-based physical lines of the file, the header being line 1
(CSV); in JSON Lines the first line is line 1; in Parquet, where there are no
lines, the record number (first row = 1) stands in their place. A CSV record
whose quoted value spans several lines is numbered by the line it starts on.
"""

from __future__ import annotations

import codecs
import gzip
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa

from engine.errors import InputError
from engine.ingest import Reject

RECORD_TEXT_LIMIT = 500
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook?)"),
    (b"\xd0\xcf\x11\xe0", "an old-style Office document (an Excel .xls workbook?)"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"PAR1", "a Parquet file"),
    (b"<?xml", "an XML document"),
)


@dataclass
class RawSource:
    """Every input record as text columns (or Parquet's own types), with the line each came from."""

    path: Path
    table: pa.Table
    lines: np.ndarray
    record_text: Callable[[int], str]
    rejects: list[Reject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    records_read: int = 0
    typed: bool = False

    @property
    def name(self) -> str:
        return str(self.path)


def describe_bytes(head: bytes) -> str | None:
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            return what
    if b"\x00" in head[:8192]:
        return "binary data"
    return None


def read_bytes(path: Path, expect: str) -> bytes:
    """The file's bytes, gunzipped when compressed; refuses empty files and files of another kind."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"Cannot read the input file: {exc.strerror}", path=str(path)) from exc
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"Compressed input is truncated or corrupt ({exc})", path=str(path),
                             hint="Copy or download the file again") from exc
    if re.search(rb"\S", data) is None:
        raise InputError(f"Input file {path} is empty", path=None, field=None,
                         hint=f"Export the data again; an empty file has no {expect} records")
    what = describe_bytes(data[:8192])
    if what is not None:
        hint = {"a Parquet file": 'Read it with format "parquet"'}.get(
            what, f"Export the data as {expect} (or give the right format argument)")
        raise InputError(f"Input file {path} is {what}, not {expect}", hint=hint)
    return data


def first_char(data: bytes) -> bytes:
    m = re.search(rb"\S", data)
    return b"" if m is None else data[m.start():m.start() + 1]


def transcode(data: bytes, encoding: str, path: Path) -> bytes:
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        return data[3:] if data.startswith(codecs.BOM_UTF8) else data
    try:
        return data.decode(encoding).encode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InputError(f"Input is not valid {encoding}: byte 0x{data[exc.start]:02x}", path=str(path), line=line,
                         hint="Set the right encoding in the mapping file (encoding = \"...\")") from exc


_bad_utf8: list[tuple[int, int]] = []


def _collect_bad_utf8(exc: UnicodeDecodeError):
    _bad_utf8.append((exc.start, exc.end))
    return ("\ufffd", exc.end)


codecs.register_error("cxmine-collect", _collect_bad_utf8)


def bad_utf8_spans(data: bytes) -> list[tuple[int, int]]:
    """Byte spans that are not UTF-8 (empty list for a clean file)."""
    whole = pa.Array.from_buffers(pa.large_binary(), 1,
                                  [None, pa.py_buffer(np.array([0, len(data)], dtype=np.int64)), pa.py_buffer(data)])
    try:
        whole.cast(pa.large_string())   # pyarrow's (SIMD) UTF-8 check
        return []
    except pa.ArrowInvalid:
        pass
    _bad_utf8.clear()
    data.decode("utf-8", errors="cxmine-collect")
    spans = list(_bad_utf8)
    _bad_utf8.clear()
    return spans


@dataclass
class Records:
    """Non-empty records of a text file: byte start/end and 1-based starting line."""

    starts: np.ndarray
    ends: np.ndarray
    lines: np.ndarray


def newlines(buf: np.ndarray) -> np.ndarray:
    """Positions of the line breaks ("\n", or "\r" in a file that has no "\n")."""
    nl = np.flatnonzero(buf == 10)
    if not len(nl):
        nl = np.flatnonzero(buf == 13)
    return nl


def quoted_newlines(buf: np.ndarray, nl: np.ndarray) -> np.ndarray | None:
    """Mask of line breaks inside double quotes (None when the file has no quotes)."""
    if not len(nl):
        return None
    quotes = (buf == 34).view(np.uint8)
    if not quotes.any():
        return None
    # parity of the quotes of each line (up to and including its break), then of all quotes before each break;
    # xor on one byte per character: no wider copy of the file
    line_starts = np.concatenate(([0], nl[:-1] + 1))
    per_line = np.bitwise_xor.reduceat(quotes, line_starts)
    return np.bitwise_xor.accumulate(per_line) == 1


def split_records(buf: np.ndarray, nl: np.ndarray, inside: np.ndarray | None = None) -> Records:
    """Record boundaries at the line breaks ``nl`` (except those ``inside`` quotes); blank records dropped."""
    terms = nl if inside is None else nl[~inside]
    n = len(buf)
    starts = np.concatenate(([0], terms + 1))
    ends = np.concatenate((terms, [n]))
    keep = starts < ends
    starts, ends = starts[keep], ends[keep]
    # a record made only of "\r" (CRLF blank line) is blank
    one = (ends - starts) == 1
    if one.any():
        blank = np.zeros(len(starts), dtype=bool)
        blank[one] = buf[starts[one]] == 13
        starts, ends = starts[~blank], ends[~blank]
    lines = np.searchsorted(nl, starts) + 1
    return Records(starts.astype(np.int64), ends.astype(np.int64), lines.astype(np.int64))


def record_text(data: bytes, start: int, end: int) -> str:
    text = data[start:end].decode("utf-8", errors="replace").rstrip("\r\n")
    return text if len(text) <= RECORD_TEXT_LIMIT else text[:RECORD_TEXT_LIMIT] + "..."


def utf8_rejects(data: bytes, spans, recs: Records, path: Path) -> tuple[bytes, set[int], list[Reject]]:
    """Replace bytes that are not UTF-8 by '?' (lengths kept) and refuse the records holding them."""
    fixed = bytearray(data)
    bad_records: dict[int, tuple[int, int]] = {}
    for start, end in spans:
        fixed[start:end] = b"?" * (end - start)
        k = int(np.searchsorted(recs.starts, start, side="right") - 1)
        if k >= 0 and start < recs.ends[k]:
            bad_records.setdefault(k, (start, end))
    rejects = []
    for k, (start, _end) in sorted(bad_records.items()):
        col = start - int(recs.starts[k]) + 1
        rejects.append(Reject(str(path), int(recs.lines[k]),
                              f"bytes that are not UTF-8 (0x{data[start]:02x} at character {col} of the line)",
                              record_text(bytes(fixed), int(recs.starts[k]), int(recs.ends[k]))))
    return bytes(fixed), set(bad_records), rejects


def drop_rows(src: RawSource, rows: np.ndarray) -> RawSource:
    keep = np.ones(src.table.num_rows, dtype=bool)
    keep[rows] = False
    idx = np.flatnonzero(keep)
    old_text = src.record_text
    src.table = src.table.take(pa.array(idx))
    src.lines = src.lines[idx]
    src.record_text = lambda i: old_text(int(idx[i]))
    return src


def flatten_structs(table: pa.Table) -> pa.Table:
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    return table
