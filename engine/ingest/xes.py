"""XES (IEEE 1849-2016) reader: ``.xes`` and ``.xes.gz`` into canonical events.

The file is streamed: gzip is inflated in blocks, and each block of XML is
scanned by a small numba byte scanner (``engine.kernels.xes``) that records
where traces, events and attributes are (byte offsets), never building a tree
or one Python object per event. Columns are then cut out of the block with
vectorised gathers. Memory stays bounded by the block size plus the Arrow
columns being built.

Mapping (what pm4py's ``read_xes`` produces, one row per event):

- trace ``concept:name`` -> ``case_id``; other trace attributes -> ``case:<key>``
- event ``concept:name`` -> ``activity``, ``time:timestamp`` -> ``timestamp``
  (UTC; offsets honoured), ``org:resource`` -> ``resource``,
  ``lifecycle:transition`` -> ``lifecycle`` (start/complete events stay
  separate rows, as in pm4py)
- any other event attribute -> a column named by its key, typed: string/id ->
  string, date -> timestamp[ns, UTC], int -> int64, float -> float64, boolean ->
  bool, list/container -> JSON text of the children. A key that carries
  different types in one log becomes a string column (int and float: float).

Records are events. An event is rejected (with its line and reason) when it
has no ``time:timestamp``, an unreadable one, no ``concept:name``, or sits
outside any trace. A trace without ``concept:name`` gets the case id
``trace-<n>`` (its 1-based position in the file) and a warning. Dates without
an offset are read as UTC (warning). Extensions, globals, classifiers and log
attributes are tolerated and not turned into events.

Security: any DOCTYPE or entity declaration is refused (nothing is expanded or
fetched); only the five predefined entities and character references are
decoded. Not XML, not XES, bad UTF-8, a truncated ``.xes.gz`` or a broken
structure raise ``InputError`` with the path and line.
"""

from __future__ import annotations

import codecs
import json
import re
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.errors import InputError
from engine.ingest import ReadOptions, ReadResult, Reject, register_reader
from engine.kernels import xes as kx
from engine.kernels.xes import (MAX_KEYS, NEED_MORE, T_BOOLEAN, T_CONTAINER, T_DATE, T_FLOAT, T_ID, T_INT, T_LIST,
                                T_STRING, count_keys, find_utf8_error, gather_spans, parse_dates, parse_ints,
                                scan_xes, select_attributes)

BLOCK = 16 << 20          # bytes of XML scanned at a time
READ = 16 << 20           # bytes read from disk at a time
MAX_REJECT_TEXT = 300

TYPE_NAMES = {T_STRING: "string", T_DATE: "date", T_INT: "int", T_FLOAT: "float", T_BOOLEAN: "boolean",
              T_ID: "id", T_LIST: "list", T_CONTAINER: "container"}
ERRORS = {
    kx.E_TRUNCATED: "The file ends inside an element or comment (is it truncated?)",
    kx.E_MALFORMED_TAG: "Malformed tag",
    kx.E_DOCTYPE: "DOCTYPE or entity declarations are not accepted in XES input (nothing is expanded or fetched)",
    kx.E_NOT_LOG: "The root element is not <log>: this is not an XES file",
    kx.E_MISMATCH: "A closing tag does not match the element it closes",
    kx.E_UNOPENED: "A closing tag has no element to close",
    kx.E_NESTING: "An event, trace or log element is nested where it is not allowed",
    kx.E_AFTER_LOG: "Content after the closing </log>",
    kx.E_DEPTH: "Elements are nested too deeply",
    kx.E_LT_IN_VALUE: "A '<' inside an attribute value is not allowed in XML",
    kx.E_NO_END: "The file ends before </log> (is it truncated?)",
    kx.E_NO_LOG: "No <log> element found: this is not an XES file",
    kx.E_DUPLICATE_ATTRIBUTE: "Duplicate attribute in a tag",
    kx.E_ENTITY: "Unknown entity reference (only &lt; &gt; &amp; &quot; &apos; and &#...; are allowed)",
    kx.E_TOO_MANY_KEYS: "More distinct attribute keys than cxmine reads in one block of the file",
}


# --------------------------------------------------------------------------- byte stream

def _iter_blocks(path: Path):
    """Yield decompressed bytes (gzip detected by its magic number, any number of members)."""
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise InputError(f"Cannot open the XES file: {exc.strerror}", path=str(path)) from exc
    with fh:
        head = fh.read(2)
        fh.seek(0)
        if head != b"\x1f\x8b":
            while True:
                data = fh.read(READ)
                if not data:
                    return
                yield data
        dec = zlib.decompressobj(wbits=47)
        fed = False
        while True:
            data = fh.read(max(READ // 8, 1))
            if not data:
                break
            while data:
                fed = True
                try:
                    out = dec.decompress(data)
                except zlib.error as exc:
                    raise InputError(f"The gzip data is corrupt ({exc})", path=str(path),
                                     hint="Re-create or re-download the .xes.gz file") from exc
                if out:
                    yield out
                if dec.eof:
                    data = dec.unused_data
                    dec = zlib.decompressobj(wbits=47)
                    fed = False
                    if not data.strip(b"\x00"):
                        data = b""
                else:
                    data = b""
        if fed and not dec.eof:
            raise InputError("The .xes.gz file is truncated (the gzip stream ends early)", path=str(path),
                             hint="Re-create or re-download the file")


_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']", re.S)


def _transcode_if_needed(first: bytes, path: Path) -> str | None:
    """The Python codec to decode the file with when it is not UTF-8, else None."""
    if first.startswith(codecs.BOM_UTF16_LE) or first.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    m = _XML_DECL.match(first[:400])
    if m:
        enc = m.group(1).decode("ascii").lower()
        if enc in ("utf-8", "utf8", "us-ascii", "ascii"):
            return None
        try:
            codecs.lookup(enc)
        except LookupError:
            raise InputError(f"Unknown character encoding '{enc}' declared", path=str(path),
                             hint="Re-encode the file as UTF-8") from None
        return enc
    return None


# --------------------------------------------------------------------------- columns from spans

EVENT_KEYS = {"concept:name": "activity", "time:timestamp": "timestamp", "org:resource": "resource",
              "lifecycle:transition": "lifecycle"}
RESERVED = {"case_id", "activity", "timestamp", "resource", "lifecycle", "case_index"}
_PSEUDONYM = r"^cus_[0-9a-f]{32}$"


class _Issues:
    """Counts of tolerated problems, each with its first location, turned into warnings at the end."""

    def __init__(self) -> None:
        self.items: dict[str, list] = {}

    def add(self, what: str, count: int, line: int | None) -> None:
        if count <= 0:
            return
        item = self.items.setdefault(what, [0, line])
        item[0] += count

    def warnings(self, path: Path) -> list[str]:
        return [f"{path}: {n} {what}" + (f" (first at line {line})" if line else "")
                for what, (n, line) in self.items.items()]


def _gather_strings(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, *, where: str,
                    lines) -> pa.Array:
    """String array of the spans (start -1: null), XML entities decoded."""
    m = len(starts)
    valid = starts >= 0
    total = int(np.sum(np.where(valid, ends - starts, 0)))
    data = np.empty(max(total, 1), np.uint8)
    offsets = np.empty(m + 1, np.int64)
    bad = gather_spans(buf, starts, ends, data, offsets, True)
    if bad >= 0:
        raise InputError(f"{ERRORS[kx.E_ENTITY]} in {where}", path=lines.path, line=lines.line_of(bad),
                         hint="Escape '&' as &amp;")
    nulls = int(m - np.count_nonzero(valid))
    bitmap = None if nulls == 0 else pa.py_buffer(np.packbits(valid, bitorder="little"))
    if offsets[-1] < 2**31 - 1:
        return pa.StringArray.from_buffers(m, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data),
                                           bitmap, nulls)
    return pa.LargeStringArray.from_buffers(m, pa.py_buffer(offsets), pa.py_buffer(data), bitmap, nulls)


class _Lines:
    """Byte offset within the current block -> 1-based line of the file."""

    def __init__(self, path: Path, data: bytes, lines_before: int) -> None:
        self.path = str(path)
        self.data = data
        self.lines_before = lines_before
        self._nl = None

    def line_of(self, pos: int) -> int:
        return self.lines_before + self.data.count(b"\n", 0, pos) + 1

    def lines_of(self, pos: np.ndarray) -> np.ndarray:
        if self._nl is None:
            self._nl = np.flatnonzero(np.frombuffer(self.data, np.uint8) == 10)
        return self.lines_before + np.searchsorted(self._nl, pos) + 1


def _typed_column(buf, t: int, sel: np.ndarray, spans, key: str, lines: _Lines,
                  issues: _Issues, children) -> pa.Array:
    """One column of owners: sel[i] is the attribute record of owner i or -1."""
    at_vs, at_ve, at_pos = spans
    has = sel >= 0
    starts = np.where(has, at_vs[np.maximum(sel, 0)], -1).astype(np.int64)
    ends = np.where(has, at_ve[np.maximum(sel, 0)], -1).astype(np.int64)
    if t in (T_LIST, T_CONTAINER):
        values = [None if r < 0 else json.dumps(children(int(r)), ensure_ascii=False) for r in sel]
        return pa.array(values, pa.string())
    missing_value = has & (starts < 0)
    if missing_value.any():
        first = int(at_pos[sel[missing_value][0]])
        issues.add(f"'{key}' attribute(s) without a value, read as empty", int(missing_value.sum()),
                   lines.line_of(first))
    if t in (T_DATE, T_INT):
        out = np.empty(len(sel), np.int64)
        flags = np.empty(len(sel), np.int8)
        (parse_dates if t == T_DATE else parse_ints)(buf, starts, ends, out, flags)

        def tell(mask: np.ndarray, what: str) -> None:
            if mask.any():
                issues.add(f"'{key}' {what}", int(mask.sum()), lines.line_of(int(at_pos[sel[mask][0]])))
        tell(flags == 2, "value(s) not an ISO 8601 date-time, left empty" if t == T_DATE else
             "value(s) not an integer, left empty")
        values = pa.array(out, pa.int64(), mask=flags >= 2)
        if t == T_INT:
            return values
        tell(flags == 1, "date(s) without a UTC offset, read as UTC")
        return values.cast(pa.timestamp("ns", tz="UTC"))
    text = _gather_strings(buf, starts, ends, where=f"attribute '{key}'", lines=lines)
    if t == T_FLOAT:
        try:
            return pc.cast(pc.utf8_trim_whitespace(text), pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            values = []
            bad_rows = []
            for i, v in enumerate(text.to_pylist()):
                try:
                    values.append(None if v is None else float(v))
                except ValueError:
                    values.append(None)
                    bad_rows.append(i)
            issues.add(f"'{key}' value(s) not a number, left empty", len(bad_rows),
                       lines.line_of(int(at_pos[sel[bad_rows[0]]])))
            return pa.array(values, pa.float64())
    if t == T_BOOLEAN:
        low = pc.utf8_lower(pc.utf8_trim_whitespace(text))
        is_true = pc.is_in(low, pa.array(["true", "1"]))
        is_false = pc.is_in(low, pa.array(["false", "0"]))
        known = pc.or_(is_true, is_false)
        bad = pc.and_(pc.is_valid(low), pc.invert(known)).to_numpy(zero_copy_only=False)
        if bad.any():
            issues.add(f"'{key}' value(s) not a boolean, left empty", int(bad.sum()),
                       lines.line_of(int(at_pos[sel[bad][0]])))
        return pc.if_else(known, is_true, pa.scalar(None, pa.bool_()))
    return text


def _unify(types: list[int]) -> int:
    kinds = set(types)
    if len(kinds) == 1:
        return types[0]
    if kinds <= {T_INT, T_FLOAT}:
        return T_FLOAT
    if kinds <= {T_STRING, T_ID}:
        return T_STRING
    return -1  # text of whatever was written


class _Block:
    """Turns one scanned block into the columns of its accepted events."""

    def __init__(self, path: Path, data: bytes, lines: _Lines, arrays: dict, ne: int, nt: int, na: int,
                 nkeys: int, trace_base: int, issues: _Issues) -> None:
        self.path, self.data, self.lines, self.issues = path, data, lines, issues
        self.buf = np.frombuffer(data, np.uint8)
        self.ne, self.nt, self.na = ne, nt, na
        self.a = {k: v[:na] for k, v in arrays.items() if k.startswith("at_")}
        self.ev_trace = arrays["ev_trace"][:ne]
        self.ev_pos = arrays["ev_pos"][:ne]
        self.tr_pos = arrays["tr_pos"][:nt]
        self.trace_base = trace_base
        self.nkeys = nkeys
        self.key_first = arrays["key_first"][:nkeys]
        self._kids = None

    def children(self, r: int):
        """JSON-ready value of a list (array of {key: value}) or container ({key: value})."""
        a = self.a
        if self._kids is None:
            kids: dict[int, list[int]] = {}
            for c in np.flatnonzero(a["at_parent"] >= 0):
                kids.setdefault(int(a["at_parent"][c]), []).append(int(c))
            self._kids = kids
        items = []
        for c in self._kids.get(r, []):
            key = self._text(a["at_ks"][c], a["at_ke"][c]) or ""
            t = int(a["at_type"][c])
            if t in (T_LIST, T_CONTAINER):
                value = self.children(c)
            else:
                value = self._text(a["at_vs"][c], a["at_ve"][c])
                if t == T_INT:
                    try:
                        value = int(value)
                    except (TypeError, ValueError):
                        pass
                elif t == T_FLOAT:
                    try:
                        value = float(value)
                    except (TypeError, ValueError):
                        pass
                elif t == T_BOOLEAN and value is not None:
                    value = {"true": True, "1": True, "false": False, "0": False}.get(value.strip().lower(), value)
            items.append((key, value))
        if int(a["at_type"][r]) == T_CONTAINER:
            return dict(items)
        return [{k: v} for k, v in items]

    def _text(self, s: int, e: int) -> str | None:
        if s < 0:
            return None
        arr = _gather_strings(self.buf, np.array([s], np.int64), np.array([e], np.int64), where="a list value",
                              lines=self.lines)
        return arr[0].as_py()

    def columns(self, scope: int) -> dict[str, tuple[int, pa.Array]]:
        """{key: (type, array over owners)} of the top-level attributes of traces (1) or events (2)."""
        a = self.a
        n_own = self.ne if scope == 2 else self.nt
        out: dict[str, tuple[int, pa.Array]] = {}
        if n_own == 0 or self.na == 0:
            return out
        top = (a["at_scope"] == scope) & (a["at_parent"] < 0) if scope == 1 else None
        if top is not None:
            no_key = np.flatnonzero(top & (a["at_kid"] < 0))
        else:
            no_key = np.flatnonzero((a["at_kid"] < 0) & (a["at_parent"] < 0) & (a["at_scope"] == 2))
        if len(no_key):
            self.issues.add("attribute element(s) without a key, ignored", len(no_key),
                            self.lines.line_of(int(a["at_pos"][no_key[0]])))
        counts = count_keys(a["at_scope"], a["at_parent"], a["at_kid"], scope, self.nkeys)
        used = np.flatnonzero(counts)
        if not len(used):
            return out
        col_of = np.full(self.nkeys, -1, np.int64)
        col_of[used] = np.arange(len(used))
        sel_all, type_bits = select_attributes(a["at_scope"], a["at_parent"], a["at_kid"], a["at_owner"], a["at_type"],
                                     scope, col_of, len(used), n_own)
        first = self.key_first[used]
        names = _gather_strings(self.buf, a["at_ks"][first].astype(np.int64), a["at_ke"][first].astype(np.int64),
                                where="an attribute key", lines=self.lines).to_pylist()
        spans = (a["at_vs"], a["at_ve"], a["at_pos"])
        for c, key in enumerate(names):
            types = [t for t in TYPE_NAMES if type_bits[c] & (1 << (t - 10))]
            t = _unify(types)
            sel = sel_all[c]
            if t == -1:
                self.issues.add(f"'{key}' written with several types ({', '.join(TYPE_NAMES[x] for x in types)}), "
                                "kept as text", 1, None)
                t = T_STRING
            if key == "time:timestamp" and scope == 2:
                t = T_DATE
            col = _typed_column(self.buf, t, sel, spans, key, self.lines, self.issues, self.children)
            if key in out:  # two keys with one hash cannot happen in practice; keep the first
                continue
            out[key] = (t, col)
        return out

    def table(self, rejects: list[Reject]) -> pa.Table:
        ne = self.ne
        ev = self.columns(2)
        tr = self.columns(1)
        # case ids: trace concept:name, else the trace's position in the file
        if "concept:name" in tr:
            case = tr.pop("concept:name")[1]
            if case.type != pa.string():
                case = pc.cast(case, pa.string())
        else:
            case = pa.nulls(self.nt, pa.string())
        unnamed = pc.is_null(case).to_numpy(zero_copy_only=False) if self.nt else np.zeros(0, bool)
        if unnamed.any():
            idx = np.flatnonzero(unnamed)
            self.issues.add("trace(s) without concept:name, named trace-<position>", len(idx),
                            self.lines.line_of(int(self.tr_pos[idx[0]])))
            fill = pa.array([f"trace-{self.trace_base + int(i) + 1}" for i in idx], pa.string())
            case = pc.replace_with_mask(case, pa.array(unnamed), fill)
        if self.nt:
            with_events = np.zeros(self.nt, bool)
            with_events[self.ev_trace[self.ev_trace >= 0]] = True
            empty = np.flatnonzero(~with_events)
            if len(empty):
                self.issues.add("trace(s) without events (no rows, as in pm4py)", len(empty),
                                self.lines.line_of(int(self.tr_pos[empty[0]])))
        # reasons to refuse an event
        reason = np.zeros(ne, np.int8)
        act = ev.pop("concept:name", (T_STRING, pa.nulls(ne, pa.string())))[1]
        if act.type != pa.string():
            act = pc.cast(act, pa.string())
        ts_t, ts = ev.pop("time:timestamp", (T_DATE, pa.nulls(ne, pa.timestamp("ns", tz="UTC"))))
        reason[pc.is_null(act).to_numpy(zero_copy_only=False)] = 3
        ts_null = pc.is_null(ts).to_numpy(zero_copy_only=False)
        reason[ts_null] = 2
        reason[self.ev_trace < 0] = 1
        bad = np.flatnonzero(reason)
        if len(bad):
            texts = {1: "event outside any <trace>", 2: "event has no readable time:timestamp",
                     3: "event has no concept:name (activity)"}
            lines = self.lines.lines_of(self.ev_pos[bad])
            for i, line in zip(bad.tolist(), lines.tolist()):
                p = int(self.ev_pos[i])
                raw = self.data[p:p + MAX_REJECT_TEXT]
                end = raw.find(b"</event>")
                raw = raw[:end + 8] if end >= 0 else raw
                rejects.append(Reject(str(self.path), int(line), texts[int(reason[i])],
                                      " ".join(raw.decode("utf-8", "replace").split())))
        keep = np.flatnonzero(reason == 0)
        take = pa.array(keep)
        trace_of = pa.array(self.ev_trace[keep])
        cols: dict[str, tuple[int, pa.Array]] = {
            "case_id": (T_STRING, case.take(trace_of) if self.nt else pa.array([], pa.string())),
            "activity": (T_STRING, act.take(take)),
            "timestamp": (T_DATE, ts.take(take)),
        }
        for key, (t, col) in ev.items():
            name = EVENT_KEYS.get(key, key)
            if name in RESERVED and key not in EVENT_KEYS or name in cols:
                name = "attr:" + key
            cols[name] = (t, col.take(take))
        for key, (t, col) in tr.items():
            name = "case:" + key
            while name in cols:
                name = "attr:" + name
            cols[name] = (t, col.take(trace_of))
        # strings repeat a lot (activities, agents, queues): keep them dictionary-encoded
        return pa.table({k: pc.dictionary_encode(v) if k != "case_id" and pa.types.is_string(v.type) else v
                         for k, (_, v) in cols.items()})


def _finish(tables: list[pa.Table], key: bytes | None, warnings: list[str]) -> pa.Table:
    """One table from the blocks' tables: columns in first-seen order, one type per column."""
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return pa.table({"case_id": pa.array([], pa.string()), "activity": pa.array([], pa.string()),
                         "timestamp": pa.array([], pa.timestamp("ns", tz="UTC"))})
    names: dict[str, list[pa.DataType]] = {}
    for t in tables:
        for f in t.schema:
            names.setdefault(f.name, []).append(f.type)
    target: dict[str, pa.DataType] = {}
    for name, types in names.items():
        kinds = set(types)
        if len(kinds) == 1:
            target[name] = types[0]
        elif kinds <= {pa.int64(), pa.float64()}:
            target[name] = pa.float64()
        else:
            target[name] = pa.string()
            warnings.append(f"attribute '{name}' has different types in different parts of the file; kept as text")
    out = []
    for t in tables:
        cols = []
        for name, typ in target.items():
            if name in t.column_names:
                col = t.column(name)
                if col.type != typ:
                    col = pc.cast(col, typ) if typ != pa.string() else _as_text(col)
            else:
                col = pa.nulls(t.num_rows, typ)
            cols.append(col)
        out.append(pa.table(cols, names=list(target)))
    table = pa.concat_tables(out)
    if "customer_id" in table.column_names:
        from engine.ingest.pseudonym import pseudonymise, run_key
        col = table.column("customer_id")
        if all(pc.all(pc.match_substring_regex(_dictionary_or_values(ch), _PSEUDONYM)).as_py() is not False
               for ch in col.chunks):
            return table  # written by cxmine: already pseudonymised
        k, warning = run_key(key)
        col = _as_text(col).combine_chunks()
        already = pc.fill_null(pc.match_substring_regex(col, _PSEUDONYM), False)
        hashed = pseudonymise(col, k)
        table = table.set_column(table.column_names.index("customer_id"), "customer_id",
                                 pc.if_else(already, col, hashed))
        if warning and not pc.all(already).as_py():
            warnings.append(warning)
    return table


def _dictionary_or_values(chunk: pa.Array) -> pa.Array:
    return chunk.dictionary if pa.types.is_dictionary(chunk.type) else pc.cast(chunk, pa.string())


def _as_text(col):
    if pa.types.is_timestamp(col.type):
        return pc.strftime(col, format="%Y-%m-%dT%H:%M:%S.%f%z")
    if pa.types.is_boolean(col.type):
        return pc.if_else(col, "true", "false")
    return pc.cast(col, pa.string())


# --------------------------------------------------------------------------- the reader

def _blocks_utf8(path: Path):
    """Blocks of UTF-8 XML: files in another declared encoding are re-encoded first."""
    blocks = _iter_blocks(path)
    first = next(blocks, b"")
    while len(first) < 400:
        more = next(blocks, None)
        if more is None:
            break
        first += more
    codec = _transcode_if_needed(first, path)
    if codec is None:
        if first.startswith(codecs.BOM_UTF8):
            first = first[3:]
        yield first
        yield from blocks
        return
    raw = first + b"".join(blocks)
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as exc:
        raise InputError(f"The file is not valid {codec} text (byte {exc.start})", path=str(path),
                         hint="Re-encode the file as UTF-8") from None
    yield text.lstrip("\ufeff").encode("utf-8")


def read_xes(path: str | Path, options: ReadOptions | None = None) -> ReadResult:
    """Read one XES file into canonical events (see the module docstring for the mapping)."""
    path = Path(path)
    options = options or ReadOptions()
    issues = _Issues()
    rejects: list[Reject] = []
    tables: list[pa.Table] = []
    state = np.zeros(3, np.int64)
    out = np.zeros(8, np.int64)
    blocks = _blocks_utf8(path)
    carry = b""
    eof = False
    want = BLOCK
    lines_before = 0
    trace_base = 0
    events_read = 0
    ignored = 0
    builder = ThreadPoolExecutor(max_workers=1)
    pending: list = []
    try:
        while True:
            parts = [carry]
            size = len(carry)
            while size < want and not eof:
                nxt = next(blocks, None)
                if nxt is None:
                    eof = True
                    break
                parts.append(nxt)
                size += len(nxt)
            data = b"".join(parts)
            parts = None
            buf = np.frombuffer(data, np.uint8)
            bad = find_utf8_error(buf, eof)
            if bad >= 0:
                line = lines_before + data.count(b"\n", 0, bad) + 1
                raise InputError(f"The file is not valid UTF-8 (byte {data[bad]:#04x} at line {line})",
                                 path=str(path), line=line,
                                 hint="Re-encode the file as UTF-8, or declare its encoding in the <?xml ...?> line")
            cap = int(np.count_nonzero(buf == 60)) + 1
            arrays = {name: np.empty(cap, np.int32) for name in
                      ("ev_trace", "ev_pos", "tr_pos", "at_scope", "at_owner", "at_parent", "at_type",
                       "at_ks", "at_ke", "at_vs", "at_ve", "at_kid")}
            arrays["at_pos"] = arrays["at_ks"]  # the key's offset locates the attribute well enough
            arrays["key_first"] = np.empty(MAX_KEYS, np.int64)
            out[:] = 0
            scan_xes(buf, eof, state, arrays["ev_trace"], arrays["ev_pos"], arrays["tr_pos"], arrays["at_scope"],
                  arrays["at_owner"], arrays["at_parent"], arrays["at_type"], arrays["at_ks"], arrays["at_ke"],
                  arrays["at_vs"], arrays["at_ve"], arrays["at_kid"], arrays["key_first"], out)
            status = int(out[0])
            lines = _Lines(path, data, lines_before)
            if status >= 2:
                _raise_scan_error(status, int(out[1]), data, lines)
            if status == NEED_MORE:
                carry = data
                want = max(want, 2 * len(data))
                continue
            ne, nt, na, safe = int(out[2]), int(out[3]), int(out[4]), int(out[5])
            ignored += int(out[6])
            if ne or nt:
                # columns of this block are built on a second thread while the next block is scanned
                block = _Block(path, data, lines, arrays, ne, nt, na, int(out[7]), trace_base, issues)
                pending.append(builder.submit(block.table, rejects))
                while len(pending) > 1:
                    tables.append(pending.pop(0).result())
            events_read += ne
            trace_base += nt
            lines_before += data.count(b"\n", 0, safe)
            carry = data[safe:]
            want = BLOCK
            if eof:
                break
        tables.extend(f.result() for f in pending)
    finally:
        for f in pending:
            f.cancel()
        builder.shutdown(wait=True)
    if ignored:
        issues.add("element(s) XES does not define, ignored", ignored, None)
    warnings = issues.warnings(path)
    table = _finish(tables, options.pseudonym_key, warnings)
    meta = {"xes": {"source": str(path), "traces": trace_base, "events": events_read}}
    return ReadResult(table=table, records_read=events_read, rejects=rejects, warnings=warnings, metadata=meta)


def _raise_scan_error(status: int, pos: int, data: bytes, lines: _Lines) -> None:
    """The InputError of a scanner error code, at its line."""
    again = "Re-create the file or re-download it"
    not_xes = "Give an XES file (root element <log>), or choose the XES input format"
    hint = {kx.E_TRUNCATED: again, kx.E_NO_END: again, kx.E_NOT_LOG: not_xes, kx.E_NO_LOG: not_xes,
            kx.E_DOCTYPE: "Remove the DOCTYPE from the file"}.get(status, "Fix the XML at that line")
    if status in (kx.E_NOT_LOG, kx.E_NO_LOG) and _looks_binary(data):
        raise InputError("The file is not XML (binary content)", path=lines.path, line=None, hint=hint)
    raise InputError(ERRORS[status], path=lines.path, line=lines.line_of(min(pos, len(data))), hint=hint)


def _looks_binary(data: bytes) -> bool:
    head = data[:512]
    return b"\x00" in head


@register_reader("xes")
def read_xes_file(path: Path, options: ReadOptions) -> ReadResult:
    return read_xes(path, options)
