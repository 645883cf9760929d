"""The JSON reader of the vendor adapters: exports as the platforms write them, flattened to columns.

Amazon Connect and Genesys Cloud exports arrive as JSON Lines (one record, or
one page of records, per line), JSON arrays, JSON documents written back to
back (Firehose to S3), or documentation samples with comments; any of them
gzip-compressed. ``load_json_records`` reads them all into one Arrow table
whose nested objects are flattened to dotted column names
(``Agent.Username``), keeping for each row the line (or record number) it
came from, so rejects can name it. JSON Lines go through pyarrow's columnar
reader; everything else through the standard library, record by record.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from engine.errors import InputError
from engine.ingest import Reject


@dataclass
class JsonRecords:
    """Records of a JSON export, flattened to dotted column names (``Agent.Username``)."""

    table: pa.Table
    row_lines: np.ndarray | None = None    # line (JSON Lines) or record number (documents) of each row
    texts: list[str] | None = None         # raw text per row, when read by the slow path
    rejects: list[Reject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source: Path | None = None             # JSON Lines read columnar: line numbers found on demand
    parents: np.ndarray | None = None      # ... through the page (line) each record came from

    @property
    def lines(self) -> np.ndarray:
        if self.row_lines is None:
            lines = _scan_lines(self.source) if self.source is not None else np.arange(1, self.table.num_rows + 1)
            self.row_lines = lines[self.parents] if self.parents is not None else lines
        return self.row_lines

    def text_of(self, row: int) -> str:
        if self.texts is not None:
            return self.texts[row]
        return json.dumps(_row_dict(self.table, row), default=str)


def _row_dict(table: pa.Table, row: int) -> dict:
    out = {}
    for name in table.column_names:
        v = table.column(name)[row].as_py()
        if v is not None:
            out[name] = v
    return out


def _is_gzip(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == b"\x1f\x8b"
    except OSError as exc:
        raise InputError(f"Cannot read the file: {exc}", path=str(path)) from exc


def _stream(path: Path):
    """A binary stream of the file's content (gunzipped when gzip)."""
    return pa.input_stream(str(path), compression="gzip" if _is_gzip(path) else None)


def _open_bytes(path: Path) -> bytes:
    try:
        with _stream(path) as fh:
            return fh.read()
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"Cannot read the file: {exc}", path=str(path),
                         hint="Give an uncompressed or complete gzip JSON export") from exc


def _peek(path: Path, size: int = 1 << 20) -> bytes:
    try:
        with _stream(path) as fh:
            return fh.read(size)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"Cannot read the file: {exc}", path=str(path),
                         hint="Give an uncompressed or complete gzip JSON export") from exc


def _scan_lines(path: Path, chunk: int = 1 << 26) -> np.ndarray:
    """1-based numbers of the non-blank lines of a file (pyarrow.json skips blank lines), read in chunks."""
    out: list[np.ndarray] = []
    line_no = 0          # lines completed so far
    carry_solid = False  # the unfinished line so far has a non-blank byte
    with _stream(path) as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            arr = np.frombuffer(block, dtype=np.uint8)
            nl = np.flatnonzero(arr == 10)
            starts = np.concatenate(([0], nl + 1))
            ends = np.concatenate((nl, [len(arr)]))
            length = ends - starts
            solid = length > 0
            for i in np.flatnonzero((length > 0) & (length < 16)):
                solid[i] = bool(block[starts[i]:ends[i]].strip())
            solid[0] |= carry_solid
            done = solid[:-1]                       # lines ended by a newline in this block
            out.append(np.flatnonzero(done).astype(np.int64) + line_no + 1)
            line_no += len(done)
            carry_solid = bool(solid[-1])
    if carry_solid:
        out.append(np.array([line_no + 1], np.int64))
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def flatten_table(table: pa.Table, *, keep_lists: tuple[str, ...] = ()) -> pa.Table:
    """Flatten nested structs to dotted names; list columns are dropped unless named in keep_lists."""
    cols, names = [], []
    stack = [(n, table.column(n)) for n in table.column_names]
    while stack:
        name, col = stack.pop(0)
        t = col.type
        if pa.types.is_struct(t):
            if t.num_fields == 0:
                continue
            arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
            for i in range(t.num_fields):
                child = pc.struct_field(arr, [i])
                stack.append((f"{name}.{t.field(i).name}", child))
            continue
        if (pa.types.is_list(t) or pa.types.is_large_list(t)) and name not in keep_lists:
            continue
        if pa.types.is_null(t):
            continue
        cols.append(col)
        names.append(name)
    return pa.table(cols, names=names) if cols else pa.table({"__empty": pa.nulls(table.num_rows)})


def list_items(col: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """(the items of a list column, one after the other; the row each came from)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    return pc.list_flatten(col), pc.list_parent_indices(col).to_numpy(zero_copy_only=False).astype(np.int64)


def struct_table(struct: pa.Array) -> pa.Table:
    """A table with one column per field of a struct array (a placeholder column when it is empty)."""
    return pa.Table.from_struct_array(struct) if len(struct) else pa.table({"__empty": pa.nulls(0)})


def _flatten_dict(obj, prefix: str, out: dict) -> None:
    for k, v in obj.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            _flatten_dict(v, name + ".", out)
        elif isinstance(v, list):
            out[name] = v
        elif v is not None:
            out[name] = v


def _strip_jsonc(text: str) -> str:
    """Remove // and /* */ comments and trailing commas outside strings (documentation samples)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            out.append(c)
            i += 1
    return re.sub(r",(\s*[}\]])", r"\1", "".join(out))


def _split_documents(text: str) -> list[tuple[int, object]] | None:
    """Parse back-to-back JSON values; return (line, value) or None when the text is not JSON."""
    dec = json.JSONDecoder()
    i, n, out = 0, len(text), []
    while True:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            return out
        try:
            value, end = dec.raw_decode(text, i)
        except json.JSONDecodeError:
            return None
        out.append((text.count("\n", 0, i) + 1, value))
        i = end


def _records_of(value, unwrap: tuple[str, ...]) -> list:
    if isinstance(value, list):
        return [r for v in value for r in _records_of(v, unwrap)]
    if isinstance(value, dict):
        for k in unwrap:
            if isinstance(value.get(k), list) and len(value) <= 4:
                return [r for v in value[k] for r in _records_of(v, ())]
    return [value]


def load_json_records(path: Path, *, unwrap: tuple[str, ...] = (), keep_lists: tuple[str, ...] = (),
                      what: str = "records") -> JsonRecords:
    """Read a JSON export: JSON Lines (fast, columnar), or JSON documents / arrays / concatenated values.

    ``unwrap``: keys of a page object whose list holds the records (``conversations``).
    """
    head = _peek(path)
    stripped = head.lstrip()
    if not stripped:
        return JsonRecords(pa.table({"__empty": pa.nulls(0)}), np.zeros(0, np.int64))
    if stripped[:1] == b"{" and b"\n" in head.strip():
        try:
            with _stream(path) as fh:
                table = pj.read_json(fh, read_options=pj.ReadOptions(block_size=1 << 24))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            table = None
        if table is not None:
            first = [k for k in unwrap if k in table.column_names]
            if first and pa.types.is_list(table.column(first[0]).type):
                items, parents = list_items(table.column(first[0]))
                return JsonRecords(flatten_table(struct_table(items), keep_lists=keep_lists), source=path,
                                   parents=parents)
            return JsonRecords(flatten_table(table, keep_lists=keep_lists), source=path)
    data = _open_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"The file is not UTF-8 text (byte {exc.start})", path=str(path),
                         hint=f"Give the JSON export of {what} as the platform wrote it") from exc
    del data
    return _load_slow(path, text, unwrap, keep_lists, what)


def _load_slow(path: Path, text: str, unwrap, keep_lists, what) -> JsonRecords:
    rejects: list[Reject] = []
    warnings: list[str] = []
    docs = _split_documents(text)
    items: list[tuple[int, object, str]] = []
    if docs is not None:
        for line, value in docs:
            recs = _records_of(value, unwrap)
            for r in recs:
                items.append((line, r, json.dumps(r, default=str)))
    else:
        lines = text.splitlines()
        first = next((ln for ln in lines if ln.strip()), "")
        try:
            jsonl = isinstance(json.loads(first), (dict, list))
        except json.JSONDecodeError:
            jsonl = False
        if jsonl:
            for i, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    rejects.append(Reject(str(path), i, f"not valid JSON: {exc.msg} at column {exc.colno}",
                                          line[:2000]))
                    continue
                for r in _records_of(value, unwrap):
                    items.append((i, r, line))
        else:
            lenient = _strip_jsonc(text)
            docs = _split_documents(lenient)
            if docs is None:
                try:
                    json.loads(lenient)
                    where = ""
                except json.JSONDecodeError as exc:
                    where = f" (line {exc.lineno}, column {exc.colno}: {exc.msg})"
                raise InputError(f"Not JSON{where}: cannot read {what} from this file", path=str(path),
                                 hint="Give JSON Lines (one record per line), a JSON array or JSON documents")
            warnings.append(f"{path}: JSON with comments or trailing commas (documentation style); read leniently")
            for line, value in docs:
                for r in _records_of(value, unwrap):
                    items.append((line, r, json.dumps(r, default=str)))
    flat_rows, lines_out, texts = [], [], []
    for line, rec, raw in items:
        if not isinstance(rec, dict):
            rejects.append(Reject(str(path), line, f"not a JSON object ({type(rec).__name__})", raw[:2000]))
            continue
        flat: dict = {}
        _flatten_dict(rec, "", flat)
        flat_rows.append(flat)
        lines_out.append(line)
        texts.append(raw)
    table = _table_from_rows(flat_rows, keep_lists)
    return JsonRecords(table, np.array(lines_out, dtype=np.int64), texts, rejects, warnings)


def _table_from_rows(rows: list[dict], keep_lists) -> pa.Table:
    names: dict[str, None] = {}
    for r in rows:
        for k in r:
            names.setdefault(k, None)
    cols, out_names = [], []
    for name in names:
        values = [r.get(name) for r in rows]
        if any(isinstance(v, list) for v in values):
            if name not in keep_lists:
                continue
            try:
                arr = pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                continue
        else:
            try:
                arr = pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                arr = pa.array([None if v is None else str(v) for v in values], pa.string())
        if pa.types.is_null(arr.type):
            continue
        cols.append(arr)
        out_names.append(name)
    if not cols:
        return pa.table({"__empty": pa.nulls(len(rows))})
    return pa.table(cols, names=out_names)


def sniff_vendor(path: Path, size: int = 1 << 16) -> str | None:
    """``amazon-connect``, ``amazon-connect-events`` or ``genesys`` from the first bytes of a JSON export."""
    try:
        raw = _peek(path, size)
    except InputError:
        return None
    text = raw.decode("utf-8", errors="replace")
    if "Amazon Connect Contact Event" in text or ('"eventType"' in text and '"contactId"' in text):
        return "amazon-connect-events"
    if '"AWSContactTraceRecordFormatVersion"' in text or ('"ContactId"' in text and '"InitiationTimestamp"' in text):
        return "amazon-connect"
    if '"conversationId"' in text and '"participants"' in text:
        return "genesys"
    return None
