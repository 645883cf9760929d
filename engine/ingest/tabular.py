"""Tabular readers: CSV (also TSV, gzip), JSON Lines and Parquet, through a mapping file.

Reading is vectorised: pyarrow parses the file with every column as text,
timestamps are parsed column-wise (pyarrow casts and ``strptime``), and
Python touches only the records that are refused. Each refused record becomes
a ``Reject`` with its line and reason; read = accepted + rejected.

Line numbers are 1-based physical lines of the file, the header being line 1
(CSV); in JSON Lines the first line is line 1; in Parquet, where there are no
lines, the record number (first row = 1) stands in their place. A CSV record
whose quoted value spans several lines is numbered by the line it starts on.

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

import codecs
import difflib
import gzip
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pyarrow.parquet as pq

from engine.errors import InputError
from engine.ingest import ReadOptions, ReadResult, Reject, register_reader
from engine.ingest.pseudonym import pseudonymise, run_key
from engine.ingest.timestamps import ParsedTimes, parse_timestamps, problem_reason
from engine.log.schema import REQUIRED_COLUMNS

RECORD_TEXT_LIMIT = 500
CANONICAL = ("case_id", "activity", "timestamp", "end_timestamp", "resource", "owner", "channel", "queue", "site",
             "shift", "team", "customer_id")
_GUESS = {
    "case_id": ("case", "contact", "call", "conversation", "interaction", "ticket", "session", "id"),
    "activity": ("activity", "event", "step", "action", "task", "state", "status"),
    "timestamp": ("timestamp", "time", "ts", "date", "start", "created"),
}
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


# ---------------------------------------------------------------------------- raw source

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


def _describe_bytes(head: bytes) -> str | None:
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            return what
    if b"\x00" in head[:8192]:
        return "binary data"
    return None


def _read_bytes(path: Path, expect: str) -> bytes:
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
    what = _describe_bytes(data[:8192])
    if what is not None:
        hint = {"a Parquet file": "Read it with --format parquet"}.get(
            what, f"Export the data as {expect} (or give the right --format)")
        raise InputError(f"Input file {path} is {what}, not {expect}", hint=hint)
    return data


def _first_char(data: bytes) -> bytes:
    m = re.search(rb"\S", data)
    return b"" if m is None else data[m.start():m.start() + 1]


def _transcode(data: bytes, encoding: str, path: Path) -> bytes:
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


def _bad_utf8_spans(data: bytes) -> list[tuple[int, int]]:
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


def _newlines(buf: np.ndarray) -> np.ndarray:
    """Positions of the line breaks ("\n", or "\r" in a file that has no "\n")."""
    nl = np.flatnonzero(buf == 10)
    if not len(nl):
        nl = np.flatnonzero(buf == 13)
    return nl


def _quoted_newlines(buf: np.ndarray, nl: np.ndarray) -> np.ndarray | None:
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


def _split_records(buf: np.ndarray, nl: np.ndarray, inside: np.ndarray | None = None) -> Records:
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


def _record_text(data: bytes, start: int, end: int) -> str:
    text = data[start:end].decode("utf-8", errors="replace").rstrip("\r\n")
    return text if len(text) <= RECORD_TEXT_LIMIT else text[:RECORD_TEXT_LIMIT] + "..."


def _utf8_rejects(data: bytes, spans, recs: Records, path: Path) -> tuple[bytes, set[int], list[Reject]]:
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
                              _record_text(bytes(fixed), int(recs.starts[k]), int(recs.ends[k]))))
    return bytes(fixed), set(bad_records), rejects


def _header_names(header: str, delimiter: str, path: Path) -> list[str]:
    import csv
    row = next(csv.reader([header], delimiter=delimiter), [])
    names = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(row):
        name = raw.strip()
        if not name:
            name = f"column_{i + 1}"
        if name in seen:
            raise InputError(f"Column name '{name}' appears twice in the header of {path} (columns {seen[name] + 1} "
                             f"and {i + 1})", path=None, field=name,
                             hint="Rename one of them so every column name is unique")
        seen[name] = i
        names.append(name)
    return names


def _sniff_delimiter(header: str, path: Path, mapping: dict | None) -> str:
    if mapping and mapping.get("delimiter"):
        return mapping["delimiter"]
    name = path.name.lower()
    if name.endswith(".tsv") or name.endswith(".tsv.gz") or name.endswith(".tab"):
        return "\t"
    for d in (",", "\t", ";", "|"):
        if d in header:
            return d
    return ","


def read_csv_source(path: Path, mapping: dict | None) -> RawSource:
    data = _read_bytes(path, "CSV")
    data = _transcode(data, (mapping or {}).get("encoding", "utf-8"), path)
    if _first_char(data) in (b"{", b"["):
        raise InputError(f"Input file {path} is JSON, not CSV", hint="Read it with --format jsonl")
    buf = np.frombuffer(data, dtype=np.uint8)
    nl = _newlines(buf)
    inside = _quoted_newlines(buf, nl)
    quoted_newlines = inside is not None and bool(inside.any())
    recs = _split_records(buf, nl, inside if quoted_newlines else None)
    spans = _bad_utf8_spans(data)
    bad_utf8: set[int] = set()
    rejects: list[Reject] = []
    if spans:
        data, bad_utf8, rejects = _utf8_rejects(data, spans, recs, path)
        if 0 in bad_utf8:
            raise InputError(f"The header of {path} holds bytes that are not UTF-8", path=None, field=None,
                             hint="Save the file as UTF-8, or set its encoding in the mapping file "
                                  "(encoding = \"cp1252\")")
        buf = np.frombuffer(data, dtype=np.uint8)
    header = data[int(recs.starts[0]):int(recs.ends[0])].decode("utf-8", errors="replace").rstrip("\r\n")
    delimiter = _sniff_delimiter(header, path, mapping)
    names = _header_names(header, delimiter, path)
    invalid: list[tuple[int, int, int]] = []

    def on_invalid(row) -> str:
        invalid.append((row.number, row.expected_columns, row.actual_columns))
        return "skip"

    try:
        table = pcsv.read_csv(
            pa.BufferReader(data),
            read_options=pcsv.ReadOptions(use_threads=False, column_names=names, skip_rows=1,
                                          block_size=1 << 24),
            parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=quoted_newlines,
                                            invalid_row_handler=on_invalid),
            convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                strings_can_be_null=True, null_values=[""],
                                                quoted_strings_can_be_null=True))
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        raise InputError(f"Cannot parse {path} as CSV: {exc}", path=None,
                         hint="Check the delimiter and quoting (a quote left open runs to the end of the file)") from exc
    n_records = len(recs.starts)
    warnings = []
    if n_records - 1 != table.num_rows + len(invalid):
        # stray quotes inside unquoted values: records are physical lines
        recs = _split_records(buf, nl)
        n_records = len(recs.starts)
    if n_records - 1 != table.num_rows + len(invalid):
        warnings.append(f"{path}: line numbers could not be matched to CSV records; the rejects file gives "
                        f"record numbers (header = 1) instead")
        count = table.num_rows + len(invalid) + 1
        recs = Records(np.zeros(count, dtype=np.int64), np.zeros(count, dtype=np.int64),  # no record text
                       np.arange(1, count + 1, dtype=np.int64))
    if table.num_rows + len(invalid) == 0:
        raise InputError(f"Input file {path} has a header but no records", path=None,
                         hint="Export the data again; there is nothing to ingest")
    invalid_idx = np.array([num - 1 for num, _, _ in invalid], dtype=np.int64)  # index into recs
    for num, expected, actual in invalid:
        k = num - 1
        if k in bad_utf8:
            continue
        rejects.append(Reject(str(path), int(recs.lines[k]),
                              f"{'too few' if actual < expected else 'too many'} fields: expected {expected}, "
                              f"found {actual}",
                              _record_text(data, int(recs.starts[k]), int(recs.ends[k]))))
    accepted = np.ones(n_records, dtype=bool)
    accepted[0] = False
    accepted[invalid_idx] = False
    row_rec = np.flatnonzero(accepted)
    src = RawSource(path, table, recs.lines[row_rec],
                    lambda i: _record_text(data, int(recs.starts[row_rec[i]]), int(recs.ends[row_rec[i]])),
                    rejects=rejects, warnings=warnings, records_read=n_records - 1)
    if bad_utf8:
        bad_rows = np.flatnonzero(np.isin(row_rec, np.fromiter(bad_utf8, dtype=np.int64)))
        src = _drop_rows(src, bad_rows)
        src.warnings.append(f"{path}: {len(bad_utf8)} record(s) hold bytes that are not UTF-8 and were refused; if "
                            f"the file is in another encoding, set it in the mapping file (encoding = \"cp1252\")")
    return src


def _drop_rows(src: RawSource, rows: np.ndarray) -> RawSource:
    keep = np.ones(src.table.num_rows, dtype=bool)
    keep[rows] = False
    idx = np.flatnonzero(keep)
    old_text = src.record_text
    src.table = src.table.take(pa.array(idx))
    src.lines = src.lines[idx]
    src.record_text = lambda i: old_text(int(idx[i]))
    return src


def _untimed(t: pa.DataType) -> tuple[pa.DataType, bool]:
    """The type with every timestamp (pyarrow infers them from JSON strings) replaced by text."""
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return pa.string(), True
    if pa.types.is_struct(t):
        fields, changed = [], False
        for f in t:
            ft, c = _untimed(f.type)
            fields.append(pa.field(f.name, ft))
            changed |= c
        return pa.struct(fields), changed
    return t, False


def _json_block(data: bytes) -> pa.Table:
    read = pjson.ReadOptions(use_threads=False, block_size=1 << 24)
    table = pjson.read_json(pa.BufferReader(data), read_options=read)
    schema, changed = _untimed(pa.struct(list(table.schema)))
    if changed:
        # read again keeping times as written: the offset (or its absence) decides how they are read
        table = pjson.read_json(pa.BufferReader(data), read_options=read,
                                parse_options=pjson.ParseOptions(explicit_schema=pa.schema(list(schema))))
    return _stringify(_flatten(table))


def _flatten(table: pa.Table) -> pa.Table:
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    return table


def _stringify(table: pa.Table) -> pa.Table:
    cols = []
    for f in table.schema:
        col = table.column(f.name)
        if pa.types.is_string(f.type):
            cols.append(col)
        elif pa.types.is_null(f.type):
            cols.append(pa.nulls(len(col), pa.string()))
        elif pa.types.is_list(f.type) or pa.types.is_large_list(f.type) or pa.types.is_map(f.type):
            cols.append(pa.array([None if v is None else json.dumps(v, default=str, ensure_ascii=False)
                                  for v in col.to_pylist()], pa.string()))
        elif pa.types.is_boolean(f.type):
            cols.append(pc.if_else(col, "true", "false"))
        else:
            cols.append(pc.cast(col, pa.string()))
    return pa.table(cols, names=table.column_names)


def _json_python(lines: list[bytes]) -> tuple[pa.Table, list[tuple[int, str]]]:
    """Slow path for a small block with a bad line: parse line by line; return the table and refusals."""
    rows, bad = [], []
    for i, raw in enumerate(lines):
        try:
            obj = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            bad.append((i, f"not valid JSON: {exc.msg} at character {exc.colno}"
                        if isinstance(exc, json.JSONDecodeError) else "not valid JSON"))
            continue
        if not isinstance(obj, dict):
            bad.append((i, f"a JSON {type(obj).__name__.replace('dict', 'object').replace('list', 'array')} "
                           f"where a JSON object was expected"))
            continue
        rows.append((i, obj))
    flat_rows = [(i, _flatten_obj(o)) for i, o in rows]
    names: dict[str, None] = {}
    for _, o in flat_rows:
        names.update(dict.fromkeys(o))
    cols = {n: pa.array([None if (v := o.get(n)) is None else v if isinstance(v, str)
                         else json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict, bool))
                         else str(v) for _, o in flat_rows], pa.string()) for n in names}
    table = pa.table(cols) if cols else pa.table({"__empty": pa.nulls(len(flat_rows), pa.string())})
    return table, bad


def _flatten_obj(obj: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in obj.items():
        if isinstance(v, dict) and v:
            out.update(_flatten_obj(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def read_jsonl_source(path: Path, mapping: dict | None) -> RawSource:
    data = _read_bytes(path, "JSON Lines")
    data = _transcode(data, (mapping or {}).get("encoding", "utf-8"), path)
    first = _first_char(data)
    if first == b"[":
        raise InputError(f"Input file {path} is a JSON array, not JSON Lines (one object per line)",
                         hint="Convert it with: jq -c '.[]' FILE > FILE.jsonl")
    if first != b"{":
        raise InputError(f"Input file {path} is not JSON Lines: the first line does not start with '{{'",
                         hint="Give the right --format (csv, parquet, ...) or export one JSON object per line")
    buf = np.frombuffer(data, dtype=np.uint8)
    recs = _split_records(buf, _newlines(buf))
    # whitespace-only lines are blank in JSON Lines (only lines starting with white space can be)
    lead = np.flatnonzero(np.isin(buf[recs.starts], np.array([9, 13, 32], dtype=np.uint8)))
    blank = [k for k in lead if not data[recs.starts[k]:recs.ends[k]].strip()]
    if blank:
        keep = np.ones(len(recs.starts), dtype=bool)
        keep[blank] = False
        recs = Records(recs.starts[keep], recs.ends[keep], recs.lines[keep])
    spans = _bad_utf8_spans(data)
    rejects: list[Reject] = []
    bad_utf8: set[int] = set()
    if spans:
        data, bad_utf8, rejects = _utf8_rejects(data, spans, recs, path)
    tables: list[pa.Table] = []
    row_rec: list[np.ndarray] = []

    def parse(lo: int, hi: int) -> None:
        idx = np.arange(lo, hi, dtype=np.int64)
        if bad_utf8:
            idx = np.setdiff1d(idx, np.fromiter(bad_utf8, dtype=np.int64), assume_unique=True)
        if not len(idx):
            return
        if len(idx) != hi - lo or hi - lo <= 1024:
            chunk = b"\n".join(data[recs.starts[k]:recs.ends[k]] for k in idx)
        else:
            chunk = data[recs.starts[lo]:recs.ends[hi - 1]]
        try:
            t = _json_block(chunk)
            if t.num_rows != len(idx):
                raise pa.ArrowInvalid("record count differs")
            tables.append(t)
            row_rec.append(idx)
            return
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            pass
        if hi - lo > 1024:
            mid = (lo + hi) // 2
            parse(lo, mid)
            parse(mid, hi)
            return
        t, bad = _json_python([data[recs.starts[k]:recs.ends[k]] for k in idx])
        bad_pos = {i for i, _ in bad}
        for i, reason in bad:
            k = int(idx[i])
            rejects.append(Reject(str(path), int(recs.lines[k]), reason,
                                  _record_text(data, int(recs.starts[k]), int(recs.ends[k]))))
        good = np.array([k for i, k in enumerate(idx) if i not in bad_pos], dtype=np.int64)
        if len(good):
            tables.append(t)
            row_rec.append(good)

    parse(0, len(recs.starts))
    tables = [t.drop_columns(["__empty"]) if "__empty" in t.column_names else t for t in tables]
    if tables:
        table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
        rr = np.concatenate(row_rec)
    else:
        table, rr = pa.table({}), np.zeros(0, dtype=np.int64)
    src = RawSource(path, table, recs.lines[rr],
                    lambda i: _record_text(data, int(recs.starts[rr[i]]), int(recs.ends[rr[i]])),
                    rejects=rejects, records_read=len(recs.starts))
    return src


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
        what = _describe_bytes(head)
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
                         hint=f"Give --format {fmt}" if fmt else "Export the data as Parquet")
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"Cannot read {path} as Parquet: {exc}", hint="Copy or export the file again") from exc
    table = _flatten(table)
    n = table.num_rows
    if n == 0:
        raise InputError(f"Input file {path} has no records", hint="Export the data again; there is nothing to ingest")

    def text(i: int) -> str:
        row = table.slice(i, 1).to_pylist()[0]
        s = json.dumps(row, default=str, ensure_ascii=False)
        return s if len(s) <= RECORD_TEXT_LIMIT else s[:RECORD_TEXT_LIMIT] + "..."

    return RawSource(path, table, np.arange(1, n + 1, dtype=np.int64), text, records_read=n, typed=True)


# ---------------------------------------------------------------------------- mapping to events

def _tokens(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t]


def _guess_source(target: str, available: list[str], used: set[str]) -> str | None:
    """A plausible source column for a canonical one, for the hint of a 'not found' message."""
    free = [c for c in available if c not in used]
    for word in _GUESS.get(target, ()):
        for c in free:
            if any(t == word or (len(word) >= 4 and t.startswith(word)) for t in _tokens(c)):
                return c
    close = difflib.get_close_matches(target, free, n=1, cutoff=0.4)
    return close[0] if close else None


def _missing_column(target: str, src: RawSource, mapping: dict | None, used: set[str],
                    source_col: str | None = None, key: str | None = None) -> InputError:
    available = src.table.column_names
    listing = ", ".join(available)
    if source_col is not None:
        line = (mapping or {}).get("lines", {}).get(key or f"columns.{target}")
        guess = _guess_source(source_col, available, used) or _guess_source(target, available, used)
        where = f"line {line} of {mapping['path']}" if line else mapping["path"]
        return InputError(
            f"Column '{source_col}' not found in {src.name} (available: {listing})", field=target,
            hint=f"Fix {where}: {key.rsplit('.', 1)[-1] if key else target} = \"{guess or 'COLUMN'}\"")
    guess = _guess_source(target, available, used)
    return InputError(
        f"Column '{target}' not found in {src.name} (available: {listing})", field=target,
        hint=f"Map it in the mapping file: {target} = \"{guess or 'COLUMN'}\"" +
             ("" if mapping else " (under [columns], and pass it with --mapping FILE)"))


def _nonempty(col: pa.Array) -> np.ndarray:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        m = pc.and_(pc.greater(pc.binary_length(col), 0), pc.invert(pc.utf8_is_space(col)))
    else:
        m = col.is_valid()
    return pc.fill_null(m, False).to_numpy(zero_copy_only=False)


def _as_text(col) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if pa.types.is_string(col.type):
        return col
    if pa.types.is_large_string(col.type):
        return col.cast(pa.string())
    if pa.types.is_boolean(col.type):
        return pc.if_else(col, "true", "false")
    try:
        return pc.cast(col, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else str(v) for v in col.to_pylist()], pa.string())


def _dense_codes(col, rows: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes 0..k-1 of ``col`` at ``rows``, equal exactly when the values are equal (nulls share one code)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if len(rows) != len(col):
        col = col.take(pa.array(rows))
    t = col.type
    if pa.types.is_timestamp(t) or pa.types.is_integer(t) or pa.types.is_date(t):
        arr = col.cast(pa.int64())
        vals = np.where(arr.is_valid().to_numpy(zero_copy_only=False), arr.fill_null(0).to_numpy(zero_copy_only=False),
                        np.iinfo(np.int64).min)
        uniq, inv = np.unique(vals, return_inverse=True)
        return inv.astype(np.int64), len(uniq)
    if pa.types.is_dictionary(t):
        col = col.cast(t.value_type)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_binary(col.type)):
        col = _as_text(col)
    enc = pc.dictionary_encode(col)
    card = len(enc.dictionary)
    return enc.indices.cast(pa.int64()).fill_null(card).to_numpy(zero_copy_only=False), card + 1


def _group_first(columns: list, rows: np.ndarray) -> np.ndarray:
    """For each of ``rows``, the position (in ``rows``) of the first row with equal values, -1 for firsts."""
    keys: list[np.ndarray] = []
    key, span = np.zeros(len(rows), dtype=np.int64), 1
    for col in columns:
        codes, card = _dense_codes(col, rows)
        if span * card >= 2**62:
            keys.append(key)
            key, span = np.zeros(len(rows), dtype=np.int64), 1
        key = key * card + codes
        span *= card
    keys.append(key)
    order = np.argsort(keys[0], kind="stable") if len(keys) == 1 else np.lexsort(keys[::-1])
    same = np.ones(len(rows) - 1, dtype=bool)
    for k in keys:
        ks = k[order]
        same &= ks[1:] == ks[:-1]
    first = np.full(len(rows), -1, dtype=np.int64)
    if not same.any():
        return first
    starts = np.concatenate(([True], ~same))
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
    later = np.flatnonzero(~starts)
    first[order[later]] = order[group_start[later]]   # stable order: the group's first is the earliest row
    return first


def find_duplicates(columns: list, candidates: np.ndarray, lead: int = 3) -> np.ndarray:
    """For each row, the index of the earlier identical row among ``candidates`` (-1 if none).

    Rows are first grouped on the ``lead`` columns (case, activity, time: cheap and
    nearly always unique); only rows that collide there are compared on every column.
    """
    n = len(candidates)
    out = np.full(n, -1, dtype=np.int64)
    rows = np.flatnonzero(candidates)
    if len(rows) < 2:
        return out
    first = _group_first(columns[:lead], rows)
    if not (first >= 0).any() or len(columns) <= lead:
        hit = first >= 0
        out[rows[hit]] = rows[first[hit]]
        return out
    involved = np.zeros(len(rows), dtype=bool)
    involved[first >= 0] = True
    involved[first[first >= 0]] = True
    sub = rows[involved]
    first = _group_first(columns, sub)
    hit = first >= 0
    out[sub[hit]] = sub[first[hit]]
    return out


@dataclass
class _EventSpec:
    activity: str | None
    activity_column: str | None
    timestamp: str
    end_timestamp: str | None
    when: str | None
    unless: str | None = None
    where: dict = field(default_factory=dict)
    columns: dict = field(default_factory=dict)
    constants: dict = field(default_factory=dict)
    key: str = "columns"


def _constant_array(value, n: int) -> pa.Array:
    if isinstance(value, bool):
        return pa.repeat(pa.scalar("true" if value else "false"), n)
    return pa.repeat(pa.scalar(value), n)


def build_events(src: RawSource, mapping: dict | None, options: ReadOptions) -> ReadResult:
    """Turn a raw source into canonical events; refuse bad records with their reason."""
    table = src.table
    n = table.num_rows
    available = table.column_names
    m = mapping or {}
    fmt = m.get("timestamp_format", "ISO8601")
    tz = m.get("timezone")
    columns = dict(m.get("columns", {}))
    constants = dict(m.get("constants", {}))
    events_cfg = m.get("events", [])
    keep_unmapped = m.get("keep_unmapped", True)
    used: set[str] = set(columns.values())

    def need(target: str, spec_key: str | None = None) -> None:
        source = columns.get(target)
        if source is None:
            if target in available and target not in used:
                columns[target] = target
                used.add(target)
                return
            if target in constants:
                return
            raise _missing_column(target, src, mapping, used)
        if source not in available:
            raise _missing_column(target, src, mapping, used, source_col=source, key=spec_key or f"columns.{target}")

    if not events_cfg:
        for target in REQUIRED_COLUMNS:
            need(target)
        if "end_timestamp" in available and "end_timestamp" not in columns and "end_timestamp" not in used:
            columns["end_timestamp"] = "end_timestamp"
        for target, source in list(columns.items()):
            need(target)
        for c in CANONICAL:
            if c in available and c not in columns and c not in used and c not in constants:
                columns[c] = c
        specs = [_EventSpec(None, columns.pop("activity"), columns.pop("timestamp"),
                            columns.pop("end_timestamp", None), None)]
        used = set(columns.values()) | {specs[0].activity_column, specs[0].timestamp} | \
            ({specs[0].end_timestamp} if specs[0].end_timestamp else set())
    else:
        need("case_id")
        for target in list(columns):
            need(target)
        specs = []
        for i, ev in enumerate(events_cfg):
            for key in ("activity_column", "timestamp", "end_timestamp", "when", "unless"):
                col = ev.get(key)
                if col is not None and col not in available:
                    raise _missing_column(key, src, mapping, used, source_col=col, key=f"events.{i}.{key}")
            for key, col in list(ev.get("columns", {}).items()) + [(c, c) for c in ev.get("where", {})]:
                if col not in available:
                    raise _missing_column(key, src, mapping, used, source_col=col, key=f"events.{i}.columns.{key}")
            specs.append(_EventSpec(ev.get("activity"), ev.get("activity_column"), ev["timestamp"],
                                    ev.get("end_timestamp"), ev.get("when"), ev.get("unless"), ev.get("where", {}),
                                    ev.get("columns", {}), ev.get("constants", {}), key=f"events.{i}"))
            used |= {c for c in (ev.get("activity_column"), ev["timestamp"], ev.get("end_timestamp"), ev.get("when"),
                                 ev.get("unless")) if c} | set(ev.get("columns", {}).values())
    wide = bool(events_cfg)

    # per-record problems: first reason wins
    reason_of: dict[int, str] = {}

    def refuse(rows: np.ndarray, reason: Callable[[int], str]) -> None:
        for r in rows:
            r = int(r)
            if r not in reason_of:
                reason_of[r] = reason(r)

    case_col = columns.get("case_id")
    if case_col is not None:
        empty_case = ~_nonempty(table.column(case_col))
        refuse(np.flatnonzero(empty_case), lambda r: f"empty case_id (column '{case_col}')")

    parsed: dict[str, ParsedTimes] = {}

    def times(col: str) -> ParsedTimes:
        if col not in parsed:
            p = parse_timestamps(table.column(col), fmt, tz)
            present = _nonempty(table.column(col))
            if tz is None and present.any() and np.all(p.problem[present] == 2):
                line = int(src.lines[int(np.flatnonzero(present)[0])])
                sample = table.column(col)[int(np.flatnonzero(present)[0])].as_py()
                raise InputError(
                    f"Timestamps in column '{col}' of {src.name} carry no UTC offset (e.g. '{sample}' on line {line}) "
                    f"and no time zone is given", field=col,
                    hint="Add the zone of these local times to the mapping file: timezone = \"Europe/Berlin\" "
                         "(or write the offsets, e.g. 2026-03-01T09:30:00+01:00)")
            parsed[col] = p
        return parsed[col]

    emitted: list[np.ndarray] = []
    for spec in specs:
        if spec.when is None:
            emit = np.ones(n, dtype=bool)
        else:
            emit = _nonempty(table.column(spec.when))
        if spec.unless is not None:
            emit &= ~_nonempty(table.column(spec.unless))
        for col, vals in spec.where.items():
            text = _as_text(table.column(col))
            hit = pc.fill_null(pc.is_in(pc.utf8_trim_whitespace(text), value_set=pa.array(vals, pa.string())), False)
            emit &= hit.to_numpy(zero_copy_only=False)
        if spec.activity_column is not None:
            empty_act = emit & ~_nonempty(table.column(spec.activity_column))
            refuse(np.flatnonzero(empty_act), lambda r, c=spec.activity_column: f"empty activity (column '{c}')")
        present_ts = _nonempty(table.column(spec.timestamp))
        refuse(np.flatnonzero(emit & ~present_ts),
               lambda r, c=spec.timestamp: f"empty timestamp (column '{c}')")
        for col in (spec.timestamp, spec.end_timestamp):
            if col is None:
                continue
            p = times(col)
            bad = emit & (p.problem > 0)
            if bad.any():
                raw = table.column(col)
                refuse(np.flatnonzero(bad), lambda r, c=col, p=p, raw=raw: problem_reason(
                    int(p.problem[r]), str(raw[r].as_py()).strip(), c, fmt, tz))
        if spec.end_timestamp is not None:
            s, e = times(spec.timestamp), times(spec.end_timestamp)
            before = emit & s.valid & e.valid & (e.values < s.values)
            if before.any():
                raw_s, raw_e = table.column(spec.timestamp), table.column(spec.end_timestamp)
                refuse(np.flatnonzero(before), lambda r, a=spec.timestamp, b=spec.end_timestamp, rs=raw_s, re_=raw_e:
                       f"end '{str(re_[r].as_py()).strip()}' (column '{b}') is before start "
                       f"'{str(rs[r].as_py()).strip()}' (column '{a}')")
        emitted.append(emit)
    if wide:
        any_event = np.logical_or.reduce(emitted) if emitted else np.zeros(n, dtype=bool)
        whens = ", ".join(sorted({s.when or s.timestamp for s in specs}))
        refuse(np.flatnonzero(~any_event), lambda r: f"no event: every [[events]] entry's condition is empty "
                                                     f"(columns {whens})")

    # duplicates among records otherwise good
    ok = np.ones(n, dtype=bool)
    if reason_of:
        ok[np.fromiter(reason_of, dtype=np.int64)] = False
    if wide:
        dup_cols = [table.column(c) for c in available]
    else:
        spec = specs[0]
        ts_col = times(spec.timestamp).to_arrow()
        dup_cols = [table.column(columns["case_id"]), table.column(spec.activity_column), ts_col] + \
            [table.column(c) for c in available if c not in (columns["case_id"], spec.activity_column, spec.timestamp)]
    first = find_duplicates(dup_cols, ok)
    dups = np.flatnonzero(first >= 0)
    refuse(dups, lambda r: f"duplicate of line {int(src.lines[first[r]])}")
    if reason_of:
        ok[np.fromiter(reason_of, dtype=np.int64)] = False

    rejects = list(src.rejects)
    for r, reason in reason_of.items():
        rejects.append(Reject(src.name, int(src.lines[r]), reason, src.record_text(r)))
    rejects.sort(key=lambda j: (j.line is None, j.line or 0))

    # row-level attribute columns
    row_cols: dict[str, pa.Array] = {}
    for target, source in columns.items():
        row_cols[target] = table.column(source).combine_chunks()
    for target, value in constants.items():
        if target not in row_cols:
            row_cols[target] = _constant_array(value, n)
    warnings = list(src.warnings)
    if keep_unmapped:
        for c in available:
            if c in used or c in columns.values():
                continue
            if c in row_cols or c in CANONICAL or c in ("activity", "timestamp", "end_timestamp", "case_index"):
                warnings.append(f"{src.name}: column '{c}' is not mapped and its name is taken by a canonical "
                                f"column; it was left out (map it under another name to keep it)")
                continue
            row_cols[c] = table.column(c).combine_chunks()

    pieces = []
    for spec, emit in zip(specs, emitted):
        rows = np.flatnonzero(emit & ok)
        take = pa.array(rows)
        cols: dict[str, pa.Array] = {"__row": pa.array(rows, pa.int64())}
        cols["case_id"] = pc.take(row_cols["case_id"], take)
        if spec.activity is not None:
            cols["activity"] = pa.repeat(pa.scalar(spec.activity), len(rows))
        else:
            cols["activity"] = pc.take(table.column(spec.activity_column).combine_chunks(), take)
        cols["timestamp"] = pc.take(times(spec.timestamp).to_arrow(), take)
        if spec.end_timestamp is not None:
            cols["end_timestamp"] = pc.take(times(spec.end_timestamp).to_arrow(), take)
        for name, arr in row_cols.items():
            if name != "case_id":
                cols[name] = pc.take(arr, take)
        for name, source in spec.columns.items():
            cols[name] = pc.take(table.column(source).combine_chunks(), take)
        for name, value in spec.constants.items():
            cols[name] = _constant_array(value, len(rows))
        pieces.append(pa.table(cols))
    out = pa.concat_tables(pieces, promote_options="permissive") if len(pieces) > 1 else pieces[0]
    if len(pieces) > 1:
        order = np.argsort(out.column("__row").to_numpy(), kind="stable")
        out = out.take(pa.array(order))
    out = out.drop_columns(["__row"])

    # text columns: empty -> null for optional columns; canonical ones as text
    cols, names = [], []
    for name in out.column_names:
        col = out.column(name)
        if name in CANONICAL and name not in ("timestamp", "end_timestamp"):
            col = _as_text(col)
            if name not in ("case_id", "activity"):
                col = pc.if_else(pc.equal(pc.utf8_trim_whitespace(col), ""), pa.scalar(None, pa.string()), col)
            else:
                col = pc.utf8_trim_whitespace(col)
        cols.append(col)
        names.append(name)
    out = pa.table(cols, names=names)

    # PII columns, named as output or as source columns (a mapped source column: its targets)
    targets_of: dict[str, list[str]] = {}
    for target, source in list(columns.items()) + [kv for spec in specs for kv in spec.columns.items()]:
        targets_of.setdefault(source, []).append(target)
    pii: dict[str, None] = {}
    for c in ["customer_id", *m.get("pseudonymise", [])]:
        found = [t for t in [c, *targets_of.get(c, [])] if t in out.column_names]
        if not found and c != "customer_id":
            warnings.append(f"{src.name}: column '{c}' listed under pseudonymise is neither in the input nor mapped")
        pii.update(dict.fromkeys(found))
    if pii:
        key, warning = run_key(options.pseudonym_key)
        for c in pii:
            col = _as_text(out.column(c))
            col = pc.if_else(pc.equal(pc.utf8_trim_whitespace(col), ""), pa.scalar(None, pa.string()), col)
            out = out.set_column(out.column_names.index(c), c, pseudonymise(col, key))
        if warning and warning not in warnings:
            warnings.append(warning)
    metadata = {"mapping": m["path"]} if mapping and m.get("path") else {}
    if tz:
        metadata["timezone"] = tz
    return ReadResult(table=out, records_read=src.records_read, rejects=rejects, warnings=warnings,
                      metadata=metadata)


def _mapping_for(path: Path, options: ReadOptions, fmt: str) -> dict | None:
    m = options.mapping
    if m and m.get("format") and m["format"] != fmt:
        raise InputError(f"The mapping file says format = \"{m['format']}\" but {path} is read as {fmt}",
                         hint="Remove format from the mapping file or give the matching --format")
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
