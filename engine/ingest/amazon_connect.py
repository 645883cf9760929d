"""Amazon Connect adapters: contact records (CTR) and EventBridge contact events.

Two readers:

``amazon-connect``
    Contact records as the contact-record data stream (Kinesis / Firehose)
    exports them: one JSON record per line, JSON arrays, or records written back
    to back without separators (Firehose to S3); gzip too. Each record is one
    *leg* of a contact. Legs linked by ``PreviousContactId`` / ``NextContactId``
    / ``InitialContactId`` whose ``InitiationMethod`` is ``TRANSFER``,
    ``QUEUE_TRANSFER`` or ``MONITOR`` belong to the contact that started the
    chain and become one case; the boundary between two legs is a ``Transfer``,
    ``Consult`` or ``Conference`` event (see ``classify_handoffs``). Callback,
    outbound, API and disconnect-flow legs are new contacts; their link to the
    earlier contact is kept in ``previous_contact_id`` / ``initial_contact_id``
    so that ``--case journey`` chains them.

``amazon-connect-events``
    EventBridge "Amazon Connect Contact Event" messages (with or without the
    envelope): INITIATED, CONNECTED_TO_SYSTEM, QUEUED, CONNECTED_TO_AGENT,
    DISCONNECTED, ... The messages of one contact are merged: each milestone
    (initiation, connected to system, enqueue, connected to agent,
    disconnect) comes from whichever message carries it (a DISCONNECTED
    message carries them all), and the contact gets ``Contact initiated`` (or
    ``Transfer`` for a transfer leg), ``Outbound call``, ``Queue`` (enqueue to
    agent or disconnect), ``Agent answer`` (to disconnect), ``Abandon`` or
    ``Disconnect``; an end time earlier than its start is left unknown. Other
    event types stay one event per message.

Events of one leg (times from the record's own fields):

=================  ===========================================================
``IVR menu``       voice: ConnectedToSystem (or Initiation) -> Enqueue (or
                   agent / disconnect) for inbound, API and disconnect-flow legs
``Bot intent``     the same span for chat legs
``Outbound call``  outbound / callback legs: Initiation -> ConnectedToSystem
``Queue``          Queue.EnqueueTimestamp -> Queue.DequeueTimestamp
``Agent answer``   Agent.ConnectedToAgentTimestamp -> ACW start (or disconnect)
``Wrap-up``        Agent.AfterContactWorkStart -> AfterContactWorkEnd
``Transfer``       at a transfer leg's InitiationTimestamp, or an external
                   transfer (TransferredToEndpoint) at TransferCompleted
``Abandon``        queued, never connected to an agent, disconnected
``Disconnect``     the last leg's DisconnectTimestamp
=================  ===========================================================

Holds: a contact record carries only ``NumberOfHolds`` and
``CustomerHoldDuration``, not when the holds happened, so they are kept as
attributes (``number_of_holds``, ``customer_hold_seconds``) of the ``Agent
answer`` event rather than invented as timed events.

Step trail: a record whose contact attributes carry ``cxmine_steps`` (written
by agent desktops or flows that log each procedure step, and by
``engine.simulate.vendor``) gets its events from that trail instead:
``activity|start_ms|end_ms|owner|resource`` entries separated by ``;`` (epoch
milliseconds; ``%``, ``|`` and ``;`` inside a field percent-encoded). A contact
record has no field for procedure steps such as ``Verify identity``; the trail
is how they reach the log.

Contact attributes named ``team``, ``site``, ``shift`` or ``queue`` fill those
columns for events whose record gives none (flows often set them).

Owners: flow steps -> ``Self-service``; Queue -> the queue's name; agent steps
-> the agent's team, which is the deepest agent hierarchy group (Level5 ..
Level1; the routing profile when there is none); the shallowest group, when
there are two or more levels, is the ``site``.

Privacy: ``CustomerEndpoint.Address`` (or ``CustomerId``) becomes the
pseudonymised ``customer_id``; system and transfer endpoints are pseudonymised
too; contact attributes are scrubbed with ``scrub_identifiers``. Refused records
are written to the rejects file scrubbed the same way.

Accounting: a record is one JSON object. Refused, with the reason: a record
that is not a contact record (agent event stream, Lambda contact-flow event,
Streams agent snapshot, SNS message, Cases event, ...), a record without
ContactId or InitiationTimestamp, a timestamp that cannot be read, a
disconnect before the initiation, and the second and later copies of a
ContactId (the copy with the latest ``LastUpdateTimestamp`` is kept, as the
contact-record documentation advises).
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from engine.errors import InputError
from engine.ingest import ReadOptions, ReadResult, Reject, register_reader
from engine.ingest.pseudonym import pseudonymise, pseudonymise_value, run_key

TS = pa.timestamp("ns", tz="UTC")
CANONICAL_STRINGS = ("case_id", "activity", "resource", "owner", "channel", "queue", "site", "shift", "team",
                     "customer_id")
SELF_SERVICE = "Self-service"
STEP_ATTRIBUTE = "cxmine_steps"
MERGED_METHODS = ("TRANSFER", "QUEUE_TRANSFER", "MONITOR")
CHUNK = 100_000   # contact records turned into events per chunk (whole cases), which bounds memory
CHANNELS = {"VOICE": "voice", "CHAT": "chat", "TASK": "task", "EMAIL": "email"}

# ---------------------------------------------------------------------------
# PII scrubbing (shared with the Genesys reader)

_EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
_INTL_PHONE = r"\+\d(?:[ ().\-]{0,2}\d){6,16}"
_PII_IN_TEXT = re.compile(f"{_EMAIL}|{_INTL_PHONE}")
_LOCAL_PHONE = re.compile(r"^\(?\d(?:[ ().\-]{0,2}\d){6,16}$")
_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_RE2_PREFILTER = r"@|\+\d|^\(?\d[\d ().\-]{5,}\d$"
PII_KEYS = re.compile(r"(phone|mobile|msisdn|e-?mail|ani|dnis|account|customer.?id|cust.?id|address|contact.?number)",
                      re.IGNORECASE)


def scrub_text(text: str, key: bytes) -> str:
    """Replace e-mail addresses and phone numbers inside ``text`` by their pseudonyms.

    Rule: an e-mail address anywhere; an international number (``+`` then 7 to
    17 digits, spaces, dots, dashes or parentheses between them) anywhere; and a
    whole value that is a national number (7 to 17 digits with those
    separators, not a date).
    """
    if _LOCAL_PHONE.match(text.strip()) and not _DATE_LIKE.match(text.strip()):
        return pseudonymise_value(text, key)
    return _PII_IN_TEXT.sub(lambda m: pseudonymise_value(m.group(0), key), text)


def scrub_column(col: pa.ChunkedArray | pa.Array, key: bytes, *, whole: bool = False) -> pa.Array:
    """Scrub a string column; ``whole`` pseudonymises every value (identifier columns)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if not pa.types.is_string(col.type):
        if pa.types.is_large_string(col.type):
            col = col.cast(pa.string())
        else:
            return col
    if whole:
        return pseudonymise(col, key)
    hit = pc.match_substring_regex(col, _RE2_PREFILTER)
    if not pc.any(hit).as_py():
        return col
    enc = pc.dictionary_encode(col)
    labels = enc.dictionary.to_pylist()
    fixed = pa.array([None if v is None else scrub_text(v, key) for v in labels], pa.string())
    return pc.take(fixed, enc.indices)


def scrub_record_text(text: str, key: bytes, limit: int = 2000) -> str:
    text = scrub_text(text, key)
    return text if len(text) <= limit else text[:limit] + "..."


# ---------------------------------------------------------------------------
# JSON records (shared with the Genesys reader)

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
                col = table.column(first[0]).combine_chunks()
                parents = pc.list_parent_indices(col).to_numpy().astype(np.int64)
                records = pa.Table.from_struct_array(pc.list_flatten(col))
                return JsonRecords(flatten_table(records, keep_lists=keep_lists), source=path, parents=parents)
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
        with open(path, "rb") as fh:
            head = fh.read(2)
            fh.seek(0)
            raw = gzip.open(fh).read(size) if head == b"\x1f\x8b" else fh.read(size)
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    text = raw.decode("utf-8", errors="replace")
    if "Amazon Connect Contact Event" in text or ('"eventType"' in text and '"contactId"' in text):
        return "amazon-connect-events"
    if '"AWSContactTraceRecordFormatVersion"' in text or ('"ContactId"' in text and '"InitiationTimestamp"' in text):
        return "amazon-connect"
    if '"conversationId"' in text and '"participants"' in text:
        return "genesys"
    return None


# ---------------------------------------------------------------------------
# column helpers

def col_or_null(table: pa.Table, *names: str, type_: pa.DataType = pa.string()) -> pa.Array:
    """First of ``names`` present (case-insensitive match as fallback), else nulls."""
    lower = {n.lower(): n for n in table.column_names}
    for name in names:
        real = name if name in table.column_names else lower.get(name.lower())
        if real is not None:
            col = table.column(real).combine_chunks()
            if type_ == pa.string() and not pa.types.is_string(col.type):
                if pa.types.is_timestamp(col.type):
                    col = pc.strftime(col, format="%Y-%m-%dT%H:%M:%S", unit="s") if col.type.tz is None else \
                        pc.strftime(col, format="%Y-%m-%dT%H:%M:%SZ")
                col = pc.cast(col, pa.string())
            return col
    return pa.nulls(table.num_rows, type_)


_ISO = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$"


def parse_times(table: pa.Table, *names: str) -> tuple[pa.Array, pa.Array]:
    """(timestamps ns UTC, bad mask): bad where a value is present but not an ISO 8601 time with zone.

    pyarrow.json already turns ``...Z`` strings into zone-less timestamps (UTC);
    those are taken as UTC.
    """
    lower = {n.lower(): n for n in table.column_names}
    real = next((n if n in table.column_names else lower.get(n.lower()) for n in names
                 if n in table.column_names or n.lower() in lower), None)
    n = table.num_rows
    if real is None:
        return pa.nulls(n, TS), pa.array(np.zeros(n, bool))
    col = table.column(real).combine_chunks()
    t = col.type
    if pa.types.is_timestamp(t):
        out = col if t.tz is not None else pc.assume_timezone(col, "UTC")
        return out.cast(TS), pa.array(np.zeros(n, bool))
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        # epoch milliseconds (Lambda media streams) when large, else seconds
        vals = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
        scale = np.where(np.abs(vals) > 1e11, 1e6, 1e9)
        ns = pa.array(np.nan_to_num(vals * scale).astype(np.int64), mask=np.isnan(vals))
        return ns.cast(TS), pa.array(np.zeros(n, bool))
    if not pa.types.is_string(t):
        col = pc.cast(col, pa.string())
    ok = pc.match_substring_regex(col, _ISO)
    present = pc.is_valid(col)
    bad = pc.and_(present, pc.invert(pc.fill_null(ok, False)))
    good = pc.if_else(pc.fill_null(ok, False), col, pa.nulls(n, pa.string()))
    good = pc.replace_substring_regex(good, r"^(\d{4}-\d{2}-\d{2}) ", r"\1T")
    good = pc.replace_substring_regex(good, r"([+-]\d{2})(\d{2})$", r"\1:\2")
    return pc.cast(good, TS), bad


def _as_bool_mask(arr: pa.Array) -> np.ndarray:
    return pc.fill_null(arr, False).to_numpy(zero_copy_only=False).astype(bool)


def _empty_to_null(col: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(col, ""), pa.nulls(len(col), col.type), col)


# ---------------------------------------------------------------------------
# events

@dataclass
class EventParts:
    """Event rows collected per kind, then concatenated: row -> source record index."""

    rows: list[np.ndarray] = field(default_factory=list)
    columns: dict[str, list[pa.Array]] = field(default_factory=dict)
    rank: list[np.ndarray] = field(default_factory=list)

    def add(self, rows: np.ndarray, rank: int, **cols) -> None:
        k = len(rows)
        if k == 0:
            return
        self.rows.append(rows.astype(np.int64))
        self.rank.append(np.full(k, rank, np.int8))
        have = set()
        for name, value in cols.items():
            if isinstance(value, str) or value is None:
                value = pa.array([value] * k, pa.string()) if value is not None else pa.nulls(k, pa.string())
            self.columns.setdefault(name, [pa.nulls(len(r), value.type) for r in self.rows[:-1]]).append(value)
            have.add(name)
        for name, chunks in self.columns.items():
            if name not in have:
                chunks.append(pa.nulls(k, chunks[0].type))

    def build(self) -> tuple[np.ndarray, pa.Table]:
        if not self.rows:
            return np.zeros(0, np.int64), pa.table({})
        rows = np.concatenate(self.rows)
        cols = {}
        for name, chunks in self.columns.items():
            types = {c.type for c in chunks if not pa.types.is_null(c.type)}
            typ = types.pop() if len(types) == 1 else pa.string()
            cols[name] = pa.concat_arrays([c.cast(typ) for c in chunks])
        table = pa.table(cols)
        ts = table.column("timestamp").cast(pa.int64()).to_numpy(zero_copy_only=False)
        order = np.lexsort((np.concatenate(self.rank), ts))
        return rows[order], table.take(pa.array(order))


def parse_step_trail(trail: pa.Array, row_ids: np.ndarray) -> tuple[np.ndarray, dict[str, pa.Array], np.ndarray]:
    """Decode ``activity|start_ms|end_ms|owner|resource;...`` into event columns.

    Returns (record row of each event, columns, bad record rows). Works in slices of
    ``chunk`` records so the split strings never all exist at once.
    """
    chunk = 100_000
    if len(trail) > chunk:
        parts = [parse_step_trail(trail.slice(i, chunk), row_ids[i:i + chunk]) for i in range(0, len(trail), chunk)]
        rows = np.concatenate([p[0] for p in parts])
        cols = {k: pa.concat_arrays([p[1][k] for p in parts]) for k in parts[0][1]}
        bad = np.concatenate([p[2] for p in parts])
        return rows, cols, bad
    entries = pc.split_pattern(trail, ";")
    parents = pc.list_parent_indices(entries).to_numpy()
    flat = pc.list_flatten(entries)
    keep = pc.not_equal(flat, "")
    flat = flat.filter(keep)
    parents = parents[_as_bool_mask(keep)]
    parts = pc.split_pattern(flat, "|")
    nparts = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    bad_entry = nparts != 5
    safe = pc.if_else(pa.array(bad_entry), pa.scalar(["", "0", "", "", ""], pa.list_(pa.string())), parts)

    def field_(i):
        v = pc.list_element(safe, i)
        for enc, dec in (("%7C", "|"), ("%3B", ";"), ("%25", "%")):
            v = pc.replace_substring(v, enc, dec)
        return _empty_to_null(v)

    start_s, end_s = pc.list_element(safe, 1), pc.list_element(safe, 2)
    start_ok = pc.match_substring_regex(start_s, r"^-?\d+$")
    end_ok = pc.or_(pc.equal(end_s, ""), pc.match_substring_regex(end_s, r"^-?\d+$"))
    bad_entry |= ~_as_bool_mask(start_ok) | ~_as_bool_mask(end_ok)
    start = pc.multiply(pc.cast(pc.if_else(start_ok, start_s, "0"), pa.int64()), 1_000_000)
    end = pc.multiply(pc.cast(_empty_to_null(pc.if_else(end_ok, end_s, "")), pa.int64()), 1_000_000)
    bad_rows = np.unique(row_ids[parents[bad_entry]])
    good = ~bad_entry & ~np.isin(row_ids[parents], bad_rows)
    gm = pa.array(good)
    cols = {"activity": field_(0).filter(gm), "timestamp": start.filter(gm).cast(TS),
            "end_timestamp": end.filter(gm).cast(TS), "owner": field_(3).filter(gm),
            "resource": field_(4).filter(gm)}
    return row_ids[parents[good]], cols, bad_rows


def resolve_chains(contact_ids: pa.Array, previous: pa.Array, next_ids: pa.Array, initial: pa.Array,
                   methods: pa.Array) -> pa.Array:
    """Case id of each leg: legs started by TRANSFER / QUEUE_TRANSFER / MONITOR join the leg before them.

    Follows PreviousContactId (and, where a leg lacks it, the NextContactId of
    the leg before) to the first leg of the chain within the file; when that
    leg is not in the file, the case is named by the missing leg's id.
    """
    n = len(contact_ids)
    ids = contact_ids
    prev = previous
    # NextContactId of A = B gives B's previous = A where B does not say
    nxt_valid = _as_bool_mask(pc.is_valid(next_ids))
    if nxt_valid.any():
        owners_of_next = np.flatnonzero(nxt_valid)
        pos = _positions(next_ids.filter(pa.array(nxt_valid)), ids)
        fill_idx = np.full(n, -1, np.int64)
        hit = pos >= 0
        fill_idx[pos[hit]] = owners_of_next[hit]
        from_next = pc.take(ids, pa.array(np.maximum(fill_idx, 0)))
        from_next = pc.if_else(pa.array(fill_idx >= 0), from_next, pa.nulls(n, pa.string()))
        prev = pc.coalesce(prev, from_next)
    merged = _as_bool_mask(pc.is_in(pc.utf8_upper(pc.fill_null(methods, "")), value_set=pa.array(MERGED_METHODS)))
    merged &= _as_bool_mask(pc.is_valid(prev))
    parent = _positions(prev, ids)
    self_idx = np.arange(n, dtype=np.int64)
    p = np.where(merged & (parent >= 0), parent, self_idx)
    for _ in range(64):
        q = p[p]
        if np.array_equal(q, p):
            break
        p = q
    else:
        p = np.where(p[p] == p, p, self_idx)   # cycles: each leg stays its own case
    root = p
    # a merged root whose previous leg is missing from the file: name the case after the missing leg
    root_merged = merged[root] & (parent[root] < 0)
    case = pc.take(ids, pa.array(root))
    missing_name = pc.take(pc.coalesce(initial, prev), pa.array(root))
    return pc.if_else(pa.array(root_merged), missing_name, case)


def _positions(values: pa.Array, value_set: pa.Array) -> np.ndarray:
    """Index of each value in value_set (-1 where absent or null)."""
    pos = pc.fill_null(pc.index_in(values, value_set=value_set), -1)
    return pos.to_numpy(zero_copy_only=False).astype(np.int64)


def classify_handoffs(first_acw: np.ndarray, second_acw: np.ndarray, first_hold_s: np.ndarray,
                      second_talk_s: np.ndarray) -> np.ndarray:
    """Kind of each consultative handoff between two linked legs: 0 transfer, 1 consult, 2 conference.

    Following the contact-record documentation on conferences and transfers:
    the initiating agent entering after-contact work before the consulted agent
    is a transfer; otherwise the consulted agent left first, and it is a
    consult when the customer was on hold for (at least) the consulted agent's
    interaction, a conference when the customer could talk to both. Unknown
    times (nulls as int64 min) count as a transfer.
    """
    nat = np.iinfo(np.int64).min
    known = (first_acw != nat) & (second_acw != nat)
    transfer = ~known | (first_acw <= second_acw)
    consult = ~transfer & (first_hold_s >= np.maximum(second_talk_s, 0))
    return np.where(transfer, 0, np.where(consult, 1, 2)).astype(np.int8)


def _i64(arr: pa.Array) -> np.ndarray:
    return pc.fill_null(arr.cast(pa.int64()), np.iinfo(np.int64).min).to_numpy(zero_copy_only=False)


def _num(table: pa.Table, name: str) -> np.ndarray:
    col = col_or_null(table, name, type_=pa.float64())
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        col = pc.cast(pc.if_else(pc.match_substring_regex(pc.cast(col, pa.string()), r"^-?\d+(\.\d+)?$"),
                                 pc.cast(col, pa.string()), pa.nulls(len(col), pa.string())), pa.float64())
    return pc.fill_null(pc.cast(col, pa.float64()), 0.0).to_numpy(zero_copy_only=False)


CONSUMED_CTR = {
    "ContactId", "InitialContactId", "PreviousContactId", "NextContactId", "Channel", "InitiationMethod",
    "InitiationTimestamp", "ConnectedToSystemTimestamp", "DisconnectTimestamp", "DisconnectReason",
    "Queue.Name", "Queue.EnqueueTimestamp", "Queue.DequeueTimestamp", "Agent.Username",
    "Agent.ConnectedToAgentTimestamp", "Agent.AfterContactWorkStartTimestamp", "Agent.AfterContactWorkEndTimestamp",
    "Agent.NumberOfHolds", "Agent.CustomerHoldDuration", "CustomerEndpoint.Address", "CustomerEndpoint.Type",
    "CustomerId", "TransferCompletedTimestamp", "TransferredToEndpoint.Address", f"Attributes.{STEP_ATTRIBUTE}",
}


def _not_a_contact_reason(table: pa.Table) -> pa.Array:
    """Per row, why a record without ContactId is not a contact record."""
    n = table.num_rows
    reason = pa.nulls(n, pa.string())
    checks = [
        (("CurrentAgentSnapshot.", "PreviousAgentSnapshot.", "AgentARN"),
         "not a contact record: an agent event stream record"),
        (("Details.ContactData.",), "not a contact record: a Lambda contact-flow event (Details.ContactData); "
                                    "export contact records from the contact-record data stream instead"),
        (("snapshotTimestamp", "contacts"), "not a contact record: an Amazon Connect Streams agent snapshot"),
        (("TopicArn", "MessageId"), "not a contact record: an SNS message"),
        (("Contacts",), "not a contact record: contact states from the agent event stream"),
    ]
    for prefixes, text in reversed(checks):
        cols = [c for c in table.column_names if any(c.startswith(p) or f".{p}" in c for p in prefixes)]
        if not cols:
            continue
        hit = pc.is_valid(table.column(cols[0]).combine_chunks())
        for c in cols[1:]:
            hit = pc.or_(hit, pc.is_valid(table.column(c).combine_chunks()))
        reason = pc.if_else(hit, pa.scalar(text), reason)
    if "eventType" in table.column_names:
        reason = pc.if_else(pc.is_valid(table.column("eventType").combine_chunks()), pa.scalar(
            "not a contact record: an Amazon Connect contact event; read contact events with "
            "--format amazon-connect-events"), reason)
    if "detail-type" in table.column_names:
        dtype = col_or_null(table, "detail-type")
        text = pc.binary_join_element_wise(pa.scalar("not a contact record: an EventBridge event ("), dtype,
                                           pa.scalar("); contact events are read with --format "
                                                     "amazon-connect-events"), "")
        reason = pc.if_else(pc.is_valid(dtype), text, reason)
    return reason


def read_contact_records(path: Path, options: ReadOptions) -> ReadResult:
    key, warning = run_key(options.pseudonym_key)
    recs = load_json_records(path, what="Amazon Connect contact records")
    table, src = recs.table, str(path)
    n = table.num_rows
    rejects = list(recs.rejects)
    warnings = list(recs.warnings) + ([warning] if warning else [])
    if n == 0:
        return ReadResult(_empty_events(), len(rejects), rejects, warnings, {"source_format": "amazon-connect"})

    contact = _empty_to_null(col_or_null(table, "ContactId"))
    init_ts, bad_init = parse_times(table, "InitiationTimestamp")
    disc_ts, bad_disc = parse_times(table, "DisconnectTimestamp")
    sys_ts, bad_sys = parse_times(table, "ConnectedToSystemTimestamp")
    enq_ts, bad_enq = parse_times(table, "Queue.EnqueueTimestamp")
    deq_ts, bad_deq = parse_times(table, "Queue.DequeueTimestamp")
    agent_ts, bad_agent = parse_times(table, "Agent.ConnectedToAgentTimestamp")
    acw_s, bad_acws = parse_times(table, "Agent.AfterContactWorkStartTimestamp")
    acw_e, bad_acwe = parse_times(table, "Agent.AfterContactWorkEndTimestamp")
    xfer_ts, bad_xfer = parse_times(table, "TransferCompletedTimestamp")
    upd_ts, _ = parse_times(table, "LastUpdateTimestamp")

    kind = _not_a_contact_reason(table)
    reason = pc.if_else(pc.or_(pc.is_null(contact), pc.is_valid(col_or_null(table, "eventType"))), kind,
                        pa.nulls(n, pa.string()))
    reason = pc.coalesce(reason, pc.if_else(pc.is_null(contact), pa.scalar("missing required field ContactId"),
                                            pa.nulls(n, pa.string())))
    for bad, name in ((bad_init, "InitiationTimestamp"), (bad_disc, "DisconnectTimestamp"),
                      (bad_sys, "ConnectedToSystemTimestamp"), (bad_enq, "Queue.EnqueueTimestamp"),
                      (bad_deq, "Queue.DequeueTimestamp"), (bad_agent, "Agent.ConnectedToAgentTimestamp"),
                      (bad_acws, "Agent.AfterContactWorkStartTimestamp"),
                      (bad_acwe, "Agent.AfterContactWorkEndTimestamp"), (bad_xfer, "TransferCompletedTimestamp")):
        reason = pc.coalesce(reason, pc.if_else(bad, pa.scalar(
            f"{name} is not an ISO 8601 time with zone (expected e.g. 2024-05-01T10:00:00Z)"), pa.nulls(n, pa.string())))
    reason = pc.coalesce(reason, pc.if_else(pc.is_null(init_ts), pa.scalar("missing required field InitiationTimestamp"),
                                            pa.nulls(n, pa.string())))
    i_init, i_disc = _i64(init_ts), _i64(disc_ts)
    nat = np.iinfo(np.int64).min
    impossible = (i_disc != nat) & (i_init != nat) & (i_disc < i_init)
    reason = pc.coalesce(reason, pc.if_else(pa.array(impossible), pa.scalar(
        "impossible times: DisconnectTimestamp before InitiationTimestamp"), pa.nulls(n, pa.string())))
    i_enq, i_deq, i_agent = _i64(enq_ts), _i64(deq_ts), _i64(agent_ts)
    i_acws, i_acwe = _i64(acw_s), _i64(acw_e)
    backwards = ((i_deq != nat) & (i_enq != nat) & (i_deq < i_enq)) | \
                ((i_acwe != nat) & (i_acws != nat) & (i_acwe < i_acws))
    reason = pc.coalesce(reason, pc.if_else(pa.array(backwards), pa.scalar(
        "impossible times: a dequeue or after-contact-work end before its start"), pa.nulls(n, pa.string())))

    # duplicates: keep the latest LastUpdateTimestamp (ties: the later copy)
    ok = _as_bool_mask(pc.is_null(reason))
    dup = np.zeros(n, bool)
    if ok.any():
        idx = np.flatnonzero(ok)
        enc = pc.dictionary_encode(contact.filter(pa.array(ok))).indices.to_numpy(zero_copy_only=False)
        upd = _i64(upd_ts)[idx]
        order = np.lexsort((idx, upd, enc))
        last_of_group = np.ones(len(order), bool)
        last_of_group[:-1] = enc[order][1:] != enc[order][:-1]
        dup[idx[order[~last_of_group]]] = True
    reason = pc.coalesce(reason, pc.if_else(pa.array(dup), pa.scalar(
        "duplicate ContactId (kept the copy with the latest LastUpdateTimestamp)"), pa.nulls(n, pa.string())))

    # step trails that cannot be read refuse their record
    trail = _empty_to_null(col_or_null(table, f"Attributes.{STEP_ATTRIBUTE}"))
    ok = _as_bool_mask(pc.is_null(reason))
    has_trail = ok & _as_bool_mask(pc.is_valid(trail))
    trail_rows = np.flatnonzero(has_trail)
    trail_ev_rows, trail_cols, bad_trail = parse_step_trail(trail.take(pa.array(trail_rows)), trail_rows)
    if len(bad_trail):
        m = np.zeros(n, bool)
        m[bad_trail] = True
        reason = pc.coalesce(reason, pc.if_else(pa.array(m), pa.scalar(
            f"Attributes.{STEP_ATTRIBUTE} is not a step trail (activity|start_ms|end_ms|owner|resource;...)"),
            pa.nulls(n, pa.string())))
        has_trail[bad_trail] = False

    reason_list = reason.to_pylist()
    for i, r in enumerate(reason_list):
        if r is not None:
            rejects.append(Reject(src, int(recs.lines[i]), r, scrub_record_text(recs.text_of(i), key)))
    ok = np.array([r is None for r in reason_list])
    if not ok.any():
        return ReadResult(_empty_events(), n + len(recs.rejects), rejects, warnings,
                          {"source_format": "amazon-connect"})

    # legs -> cases: the chains are resolved over the whole file, then whole cases are turned into
    # events a chunk at a time, which bounds memory
    keep_all = np.flatnonzero(ok)
    kp = pa.array(keep_all)
    case_all = resolve_chains(contact.take(kp), _empty_to_null(col_or_null(table, "PreviousContactId")).take(kp),
                              _empty_to_null(col_or_null(table, "NextContactId")).take(kp),
                              _empty_to_null(col_or_null(table, "InitialContactId")).take(kp),
                              pc.utf8_upper(col_or_null(table, "InitiationMethod")).take(kp))
    case_codes = pc.dictionary_encode(case_all).indices.to_numpy(zero_copy_only=False)
    by_case = np.argsort(case_codes, kind="stable")
    sorted_codes = case_codes[by_case]
    bounds = [0]
    while bounds[-1] < len(by_case):
        nxt = min(bounds[-1] + CHUNK, len(by_case))
        while nxt < len(by_case) and sorted_codes[nxt] == sorted_codes[nxt - 1]:
            nxt += 1
        bounds.append(nxt)

    def events_of(keep: np.ndarray) -> pa.Table:
        kt = table.take(pa.array(keep))
        k = len(keep)

        def take(a):
            return a.take(pa.array(keep))

        contact_k = take(contact)
        previous = _empty_to_null(col_or_null(kt, "PreviousContactId"))
        initial = _empty_to_null(col_or_null(kt, "InitialContactId"))
        next_ids = _empty_to_null(col_or_null(kt, "NextContactId"))
        method = pc.utf8_upper(col_or_null(kt, "InitiationMethod"))
        case_id = resolve_chains(contact_k, previous, next_ids, initial, method)
        merged = _as_bool_mask(pc.is_in(pc.fill_null(method, ""), value_set=pa.array(MERGED_METHODS))) & \
            _as_bool_mask(pc.is_valid(previous))
        channel_raw = pc.utf8_upper(col_or_null(kt, "Channel"))
        channel = pc.utf8_lower(channel_raw)
        k_init, k_disc, k_sys = _i64(take(init_ts)), _i64(take(disc_ts)), _i64(take(sys_ts))
        k_enq, k_deq, k_agent = i_enq[keep], i_deq[keep], i_agent[keep]
        k_acws, k_acwe, k_xfer = i_acws[keep], i_acwe[keep], _i64(take(xfer_ts))
        has_trail_k = has_trail[keep]

        queue_name = _empty_to_null(col_or_null(kt, "Queue.Name"))
        agent_name = _empty_to_null(col_or_null(kt, "Agent.Username"))
        levels = [_empty_to_null(col_or_null(kt, f"Agent.HierarchyGroups.Level{i}.GroupName")) for i in range(1, 6)]
        team = pc.coalesce(*reversed(levels), _empty_to_null(col_or_null(kt, "Agent.RoutingProfile.Name")))
        n_levels = sum(pc.is_valid(lv).cast(pa.int8()).to_numpy(zero_copy_only=False).astype(int) for lv in levels)
        site = pc.if_else(pa.array(n_levels >= 2), levels[0], pa.nulls(k, pa.string()))

        def ts(a: np.ndarray) -> pa.Array:
            return pa.array(a, mask=a == nat).cast(TS)

        parts = EventParts()
        native = ~has_trail_k
        # transfer into a merged leg, consult or conference (classified against the leg before)
        prev_idx = _positions(previous, contact_k)
        is_handoff = merged & native
        hold_s = _num(kt, "Agent.CustomerHoldDuration")
        talk_s = np.where((k_agent != nat) & (k_acws != nat), (k_acws - k_agent) / 1e9, 0.0)
        first_acw = np.where(prev_idx >= 0, k_acws[np.maximum(prev_idx, 0)], nat)
        first_hold = np.where(prev_idx >= 0, hold_s[np.maximum(prev_idx, 0)], 0.0)
        kind = classify_handoffs(first_acw, k_acws, first_hold, talk_s)
        queue_xfer = method.to_numpy(zero_copy_only=False) == "QUEUE_TRANSFER"
        kind = np.where(queue_xfer, 0, kind)
        prev_owner = pc.take(pc.coalesce(team, queue_name), pa.array(np.maximum(prev_idx, 0)))
        prev_owner = pc.if_else(pa.array(prev_idx >= 0), prev_owner, pa.nulls(k, pa.string()))
        prev_agent = pc.if_else(pa.array(prev_idx >= 0), pc.take(agent_name, pa.array(np.maximum(prev_idx, 0))),
                                pa.nulls(k, pa.string()))
        labels = np.array(["Transfer", "Consult", "Conference"])
        kinds = np.array(["transfer", "consult", "conference"])
        for code in range(3):
            rows = np.flatnonzero(is_handoff & (kind == code))
            if len(rows):
                parts.add(rows, 0, activity=labels[code], timestamp=ts(k_init[rows]), end_timestamp=pa.nulls(len(rows), TS),
                          owner=prev_owner.take(pa.array(rows)), resource=prev_agent.take(pa.array(rows)),
                          queue=queue_name.take(pa.array(rows)), team=prev_owner.take(pa.array(rows)),
                          site=pa.nulls(len(rows), pa.string()), transfer_type=kinds[code],
                          transfer_to=pc.coalesce(queue_name, agent_name).take(pa.array(rows)))
        # contact flow (IVR / bot) and outbound dialling
        m = method.to_numpy(zero_copy_only=False)
        m = np.where(m == None, "INBOUND", m)  # noqa: E711
        flow_start = np.where(k_sys != nat, k_sys, k_init)
        flow_end = np.where(k_enq != nat, k_enq, np.where(k_agent != nat, k_agent, k_disc))
        flow_kind = np.isin(m, ["INBOUND", "API", "DISCONNECT", "EXTERNAL_OUTBOUND", "WEBRTC_API"]) | (m == "")
        has_flow = native & flow_kind & (flow_end != nat) & (flow_end > flow_start)
        ch = channel_raw.to_numpy(zero_copy_only=False)
        for label, sel in (("IVR menu", ch == "VOICE"), ("Bot intent", ch == "CHAT"), ("Contact flow", (ch != "VOICE") & (ch != "CHAT"))):
            rows = np.flatnonzero(has_flow & sel)
            if len(rows):
                parts.add(rows, 1, activity=label, timestamp=ts(flow_start[rows]), end_timestamp=ts(flow_end[rows]),
                          owner=SELF_SERVICE, resource=None, queue=None, team=None, site=None)
        outbound = native & np.isin(m, ["OUTBOUND", "CALLBACK"]) & (k_sys != nat)
        rows = np.flatnonzero(outbound)
        if len(rows):
            parts.add(rows, 1, activity="Outbound call", timestamp=ts(k_init[rows]), end_timestamp=ts(k_sys[rows]),
                      owner=pc.coalesce(team, queue_name).take(pa.array(rows)), resource=agent_name.take(pa.array(rows)),
                      queue=queue_name.take(pa.array(rows)), team=team.take(pa.array(rows)), site=site.take(pa.array(rows)))
        # queue
        rows = np.flatnonzero(native & (k_enq != nat))
        if len(rows):
            deq = np.where(k_deq != nat, k_deq, np.where(k_agent != nat, k_agent, k_disc))[rows]
            q = queue_name.take(pa.array(rows))
            parts.add(rows, 2, activity="Queue", timestamp=ts(k_enq[rows]), end_timestamp=ts(deq), owner=q,
                      resource=None, queue=q, team=None, site=None)
        # agent
        agent_end = np.where(k_acws != nat, k_acws, k_disc)
        rows = np.flatnonzero(native & (k_agent != nat))
        if len(rows):
            r = pa.array(rows)
            parts.add(rows, 3, activity="Agent answer", timestamp=ts(k_agent[rows]), end_timestamp=ts(agent_end[rows]),
                      owner=team.take(r), resource=agent_name.take(r), queue=queue_name.take(r), team=team.take(r),
                      site=site.take(r), number_of_holds=pa.array(_num(kt, "Agent.NumberOfHolds")[rows].astype(np.int64)),
                      customer_hold_seconds=pa.array(hold_s[rows]))
        rows = np.flatnonzero(native & (k_acws != nat))
        if len(rows):
            r = pa.array(rows)
            parts.add(rows, 4, activity="Wrap-up", timestamp=ts(k_acws[rows]), end_timestamp=ts(k_acwe[rows]),
                      owner=team.take(r), resource=agent_name.take(r), queue=queue_name.take(r), team=team.take(r),
                      site=site.take(r))
        # external transfer
        ext = _empty_to_null(col_or_null(kt, "TransferredToEndpoint.Address"))
        rows = np.flatnonzero(native & _as_bool_mask(pc.is_valid(ext)))
        if len(rows):
            r = pa.array(rows)
            at = np.where(k_xfer != nat, k_xfer, np.where(k_acws != nat, k_acws, k_disc))[rows]
            parts.add(rows, 4, activity="Transfer", timestamp=ts(at), end_timestamp=pa.nulls(len(rows), TS),
                      owner=team.take(r), resource=agent_name.take(r), queue=queue_name.take(r), team=team.take(r),
                      site=site.take(r), transfer_type="external", transfer_to=scrub_column(ext.take(r), key, whole=True))
        # end of the contact: abandon or disconnect, on legs no merged leg follows
        followed = np.zeros(k, bool)
        followed[prev_idx[merged & (prev_idx >= 0)]] = True
        abandon = native & (k_enq != nat) & (k_agent == nat) & (k_disc != nat) & ~followed
        rows = np.flatnonzero(abandon)
        if len(rows):
            parts.add(rows, 5, activity="Abandon", timestamp=ts(k_disc[rows]), end_timestamp=pa.nulls(len(rows), TS),
                      owner=queue_name.take(pa.array(rows)), resource=None, queue=queue_name.take(pa.array(rows)),
                      team=None, site=None)
        rows = np.flatnonzero(native & ~abandon & ~followed & (k_disc != nat))
        if len(rows):
            parts.add(rows, 5, activity="Disconnect", timestamp=ts(k_disc[rows]), end_timestamp=pa.nulls(len(rows), TS),
                      owner=None, resource=None, queue=queue_name.take(pa.array(rows)), team=None, site=None)
        # a leg with nothing else to show (a task still open): its initiation
        bare = native & ~has_flow & ~outbound & (k_enq == nat) & (k_agent == nat) & (k_disc == nat) & ~is_handoff
        rows = np.flatnonzero(bare)
        if len(rows):
            parts.add(rows, 1, activity="Contact initiated", timestamp=ts(k_init[rows]),
                      end_timestamp=pa.nulls(len(rows), TS), owner=None, resource=None,
                      queue=queue_name.take(pa.array(rows)), team=None, site=None)
        # step trails
        in_chunk = np.zeros(n, bool)
        in_chunk[keep] = True
        sel = in_chunk[trail_ev_rows]
        if sel.any():
            pos = np.searchsorted(keep, trail_ev_rows[sel])
            r = pa.array(pos)
            chunk_cols = {name: col.filter(pa.array(sel)) for name, col in trail_cols.items()}
            parts.add(pos, 0, queue=queue_name.take(r), team=team.take(r), site=site.take(r), **chunk_cols)
        rows, events = parts.build()
        leg = _leg_columns(kt, key, case_id, contact_k, channel, previous, initial, method)
        return fill_from_attributes(_join_leg_columns(events, rows, leg))

    parts_out = [events_of(np.sort(keep_all[by_case[lo:hi]])) for lo, hi in zip(bounds[:-1], bounds[1:])]
    out = pa.concat_tables([t for t in parts_out if t.num_rows], promote_options="permissive") \
        if any(t.num_rows for t in parts_out) else _empty_events()
    meta = {"source_format": "amazon-connect", "contact_records": int(ok.sum())}
    return ReadResult(out, n + len(recs.rejects), rejects, warnings, meta)


def _leg_columns(kt: pa.Table, key: bytes, case_id, contact, channel, previous, initial, method) -> dict[str, pa.Array]:
    customer = pc.coalesce(_empty_to_null(col_or_null(kt, "CustomerEndpoint.Address")),
                           _empty_to_null(col_or_null(kt, "CustomerId")),
                           _empty_to_null(col_or_null(kt, "Attributes.customer_id")))
    cols: dict[str, pa.Array] = {
        "case_id": case_id, "channel": channel, "customer_id": pseudonymise(customer, key),
        "contact_leg_id": contact, "previous_contact_id": previous, "initial_contact_id": initial,
        "initiation_method": method,
        "disconnect_reason": _empty_to_null(col_or_null(kt, "DisconnectReason")),
    }
    for name in kt.column_names:
        if name in CONSUMED_CTR or name.startswith("Agent.HierarchyGroups.") or name == "__empty":
            continue
        col = kt.column(name).combine_chunks()
        if pa.types.is_timestamp(col.type):
            col = col.cast(pa.timestamp(col.type.unit, tz="UTC")) if col.type.tz is None else col
        if name.startswith("Attributes."):
            key_name = name.split(".", 1)[1]
            out = "attr." + key_name
            col = scrub_column(col, key, whole=bool(PII_KEYS.search(key_name)) and pa.types.is_string(col.type))
        elif "Endpoint" in name and name.endswith(".Address"):
            out, col = name, scrub_column(col, key, whole=True)
        else:
            out, col = name, scrub_column(col, key) if pa.types.is_string(col.type) else col
        cols[out] = col
    return cols


def _join_leg_columns(events: pa.Table, rows: np.ndarray, leg: dict[str, pa.Array]) -> pa.Table:
    """Events plus the columns of their record, repeated per event (strings dictionary-encoded first)."""
    idx = pa.array(rows)
    out = {"case_id": leg["case_id"].take(idx)}
    for name in events.column_names:
        out[name] = events.column(name)
    for name, col in leg.items():
        if name == "case_id" or name in out:
            continue
        if pa.types.is_string(col.type) and name not in CANONICAL_STRINGS:
            col = pc.dictionary_encode(col)
        out[name] = col.take(idx)
    return pa.table(out)


FILLED_FROM_ATTRIBUTES = ("team", "site", "shift", "queue")


def fill_from_attributes(table: pa.Table) -> pa.Table:
    """Contact attributes named team, site, shift or queue fill those columns where the event has none."""
    for name in FILLED_FROM_ATTRIBUTES:
        attr = "attr." + name
        if attr not in table.column_names:
            continue
        col = table.column(attr).combine_chunks()
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if not pa.types.is_string(col.type):
            continue
        if name in table.column_names:
            merged = pc.coalesce(table.column(name).combine_chunks().cast(pa.string()), col)
            table = table.set_column(table.column_names.index(name), name, merged)
        else:
            table = table.append_column(name, col)
        table = table.drop_columns([attr])
    return table


def _empty_events() -> pa.Table:
    return pa.table({"case_id": pa.array([], pa.string()), "activity": pa.array([], pa.string()),
                     "timestamp": pa.array([], TS)})


# ---------------------------------------------------------------------------
# EventBridge contact events

EVENT_LABELS = {
    "INITIATED": "Contact initiated", "CONNECTED_TO_SYSTEM": "Connected to system", "QUEUED": "Queue",
    "CONNECTED_TO_AGENT": "Agent answer", "DISCONNECTED": "Disconnect", "CONTACT_DATA_UPDATED": "Contact updated",
    "COMPLETED": "Completed",
}


def read_contact_events(path: Path, options: ReadOptions) -> ReadResult:
    key, warning = run_key(options.pseudonym_key)
    recs = load_json_records(path, what="Amazon Connect contact events")
    table, src = recs.table, str(path)
    n = table.num_rows
    rejects = list(recs.rejects)
    warnings = list(recs.warnings) + ([warning] if warning else [])
    meta = {"source_format": "amazon-connect-events"}
    if n == 0:
        return ReadResult(_empty_events(), len(rejects), rejects, warnings, meta)
    # unwrap the EventBridge envelope: fields under detail.* win
    names = {c: c[len("detail."):] for c in table.column_names if c.startswith("detail.")}
    if names:
        renamed = []
        for c in table.column_names:
            renamed.append(names.get(c, "envelope." + c if c not in names and not c.startswith("detail.") else c))
        table = table.rename_columns(renamed)
    dtype = col_or_null(table, "envelope.detail-type")
    contact = _empty_to_null(col_or_null(table, "contactId"))
    etype = pc.utf8_upper(col_or_null(table, "eventType"))
    reason = pc.if_else(pc.and_(pc.is_valid(dtype), pc.invert(pc.fill_null(pc.equal(dtype, "Amazon Connect Contact Event"), False))),
                        pc.binary_join_element_wise(pa.scalar("not a contact event: "), dtype, ""),
                        pa.nulls(n, pa.string()))
    reason = pc.coalesce(reason, pc.if_else(pc.is_null(contact), pa.scalar(
        "not a contact event: no contactId (expected an Amazon Connect Contact Event)"), pa.nulls(n, pa.string())))
    reason = pc.coalesce(reason, pc.if_else(pc.is_null(etype), pa.scalar("missing required field eventType"),
                                            pa.nulls(n, pa.string())))
    init_ts, b1 = parse_times(table, "initiationTimestamp")
    sys_ts, b2 = parse_times(table, "connectedToSystemTimestamp")
    enq_ts, b3 = parse_times(table, "queueInfo.enqueueTimestamp")
    agent_ts, b4 = parse_times(table, "agentInfo.connectedToAgentTimestamp", "AgentInfo.connectedToAgentTimestamp")
    disc_ts, b5 = parse_times(table, "disconnectTimestamp")
    env_ts, _ = parse_times(table, "envelope.time")
    for bad, nm in ((b1, "initiationTimestamp"), (b2, "connectedToSystemTimestamp"), (b3, "queueInfo.enqueueTimestamp"),
                    (b4, "agentInfo.connectedToAgentTimestamp"), (b5, "disconnectTimestamp")):
        reason = pc.coalesce(reason, pc.if_else(bad, pa.scalar(f"{nm} is not an ISO 8601 time with zone"),
                                                pa.nulls(n, pa.string())))
    et = etype.to_numpy(zero_copy_only=False)
    nat = np.iinfo(np.int64).min
    when = {"INITIATED": _i64(init_ts), "CONNECTED_TO_SYSTEM": _i64(sys_ts), "QUEUED": _i64(enq_ts),
            "CONNECTED_TO_AGENT": _i64(agent_ts), "DISCONNECTED": _i64(disc_ts)}
    at = np.full(n, nat, np.int64)
    for name, arr in when.items():
        at = np.where(et == name, arr, at)
    env = _i64(env_ts)
    at = np.where(at == nat, env, at)
    reason = pc.coalesce(reason, pc.if_else(pa.array(at == nat), pa.scalar(
        "the event carries no time for its eventType (and no envelope time)"), pa.nulls(n, pa.string())))
    i_init, i_disc = _i64(init_ts), _i64(disc_ts)
    impossible = (i_disc != nat) & (i_init != nat) & (i_disc < i_init)
    reason = pc.coalesce(reason, pc.if_else(pa.array(impossible), pa.scalar(
        "impossible times: disconnectTimestamp before initiationTimestamp"), pa.nulls(n, pa.string())))
    # duplicates: the same event of the same contact delivered twice (at least once delivery)
    ok = _as_bool_mask(pc.is_null(reason))
    idx = np.flatnonzero(ok)
    dup = np.zeros(n, bool)
    if len(idx):
        keyarr = pc.binary_join_element_wise(contact.take(pa.array(idx)), etype.take(pa.array(idx)),
                                             pc.cast(pa.array(at[idx]), pa.string()), "|")
        enc = pc.dictionary_encode(keyarr).indices.to_numpy(zero_copy_only=False)
        _, first = np.unique(enc, return_index=True)
        d = np.ones(len(idx), bool)
        d[first] = False
        dup[idx[d]] = True
    reason = pc.coalesce(reason, pc.if_else(pa.array(dup), pa.scalar("duplicate contact event (same contactId, eventType "
                                                                     "and time)"), pa.nulls(n, pa.string())))
    reason_list = reason.to_pylist()
    for i, r in enumerate(reason_list):
        if r is not None:
            rejects.append(Reject(src, int(recs.lines[i]), r, scrub_record_text(recs.text_of(i), key)))
    keep = np.flatnonzero(np.array([r is None for r in reason_list]))
    if not len(keep):
        return ReadResult(_empty_events(), n + len(recs.rejects), rejects, warnings, meta)
    kt = table.take(pa.array(keep))
    k_contact = contact.take(pa.array(keep))
    etk = et[keep]
    atk = at[keep]
    # the messages of one contact leg are merged: each milestone from whichever message carries it
    leg_codes = pc.dictionary_encode(k_contact).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    n_legs = int(leg_codes.max()) + 1
    big = np.iinfo(np.int64).max

    def milestone(name: str, values: np.ndarray) -> np.ndarray:
        v = values[keep]
        v = np.where((etk == name) & (v == nat), atk, v)     # the envelope time stands in for its own event
        v = np.where(v == nat, big, v)
        out = np.full(n_legs, big, np.int64)
        np.minimum.at(out, leg_codes, v)
        return np.where(out == big, nat, out)

    m_init, m_sys, m_enq, m_agent, m_disc = (milestone(name, values) for name, values in when.items())

    def per_leg(values: pa.Array) -> pa.Array:
        """A leg's value: the first of its messages that has one."""
        rows = np.flatnonzero(_as_bool_mask(pc.is_valid(values)))
        out = np.full(n_legs, -1, np.int64)
        if len(rows):
            legs, first = np.unique(leg_codes[rows], return_index=True)
            out[legs] = rows[first]
        taken = values.take(pa.array(np.maximum(out, 0)))
        return pc.if_else(pa.array(out >= 0), taken, pa.nulls(n_legs, values.type))

    leg_id = per_leg(k_contact)
    method = per_leg(pc.utf8_upper(col_or_null(kt, "initiationMethod")))
    previous = per_leg(_empty_to_null(col_or_null(kt, "previousContactId")))
    initial = per_leg(_empty_to_null(col_or_null(kt, "initialContactId")))
    case_id = resolve_chains(leg_id, previous, pa.nulls(n_legs, pa.string()), initial, method)
    # a later leg of a chain whose first leg sent no event here: name the case by initialContactId
    merged = _as_bool_mask(pc.is_in(pc.fill_null(method, ""), value_set=pa.array(MERGED_METHODS)))
    case_id = pc.if_else(pa.array(merged), pc.coalesce(initial, case_id), case_id)
    queue = pc.coalesce(_empty_to_null(col_or_null(kt, "queueInfo.queueArn")),
                        _empty_to_null(col_or_null(kt, "queueInfo.QueueArn")))
    queue_name = per_leg(pc.replace_substring_regex(queue, r"^.*/queue/", ""))
    agent = pc.coalesce(_empty_to_null(col_or_null(kt, "agentInfo.agentArn")),
                        _empty_to_null(col_or_null(kt, "AgentInfo.AgentArn")))
    agent_name = per_leg(pc.replace_substring_regex(agent, r"^.*/agent/", ""))
    m = method.to_numpy(zero_copy_only=False)

    def ts(v: np.ndarray) -> pa.Array:
        return pa.array(v, mask=v == nat).cast(TS)

    def end_after(start: np.ndarray, *ends: np.ndarray) -> np.ndarray:
        """The first of ``ends`` known and not before ``start`` (unknown otherwise)."""
        out = np.full(len(start), nat, np.int64)
        for e in reversed(ends):
            out = np.where((e != nat) & (e >= start), e, out)
        return out

    parts = EventParts()
    rows = np.flatnonzero(m_init != nat)
    if len(rows):
        label = np.where(merged[rows], "Transfer", "Contact initiated").astype(object)
        parts.add(rows, 0, activity=pa.array(label, pa.string()), timestamp=ts(m_init[rows]),
                  end_timestamp=pa.nulls(len(rows), TS), owner=None, resource=None)
    outbound = np.isin(m, ["OUTBOUND", "CALLBACK"]) & (m_sys != nat) & (m_init != nat)
    rows = np.flatnonzero(outbound)
    if len(rows):
        parts.add(rows, 1, activity="Outbound call", timestamp=ts(m_init[rows]),
                  end_timestamp=ts(end_after(m_init[rows], m_sys[rows])), owner=None, resource=None)
    rows = np.flatnonzero(m_enq != nat)
    if len(rows):
        q = queue_name.take(pa.array(rows))
        parts.add(rows, 2, activity="Queue", timestamp=ts(m_enq[rows]),
                  end_timestamp=ts(end_after(m_enq[rows], m_agent[rows], m_disc[rows])), owner=q, resource=None)
    rows = np.flatnonzero(m_agent != nat)
    if len(rows):
        parts.add(rows, 3, activity="Agent answer", timestamp=ts(m_agent[rows]),
                  end_timestamp=ts(end_after(m_agent[rows], m_disc[rows])), owner=None,
                  resource=agent_name.take(pa.array(rows)))
    abandon = (m_enq != nat) & (m_agent == nat) & (m_disc != nat)
    for label, sel in (("Abandon", abandon), ("Disconnect", ~abandon & (m_disc != nat))):
        rows = np.flatnonzero(sel)
        if len(rows):
            parts.add(rows, 5, activity=label, timestamp=ts(m_disc[rows]), end_timestamp=pa.nulls(len(rows), TS),
                      owner=queue_name.take(pa.array(rows)) if label == "Abandon" else None, resource=None)
    # other event types (CONTACT_DATA_UPDATED, COMPLETED, ...) stay one event per message
    other = np.flatnonzero(~np.isin(etk, list(when)))
    if len(other):
        labels = pa.array([EVENT_LABELS.get(e, e.title().replace("_", " ")) for e in etk[other]], pa.string())
        parts.add(leg_codes[other], 4, activity=labels, timestamp=ts(atk[other]),
                  end_timestamp=pa.nulls(len(other), TS), owner=None, resource=None)
    ev_rows, events = parts.build()
    leg = {"case_id": case_id, "queue": queue_name, "channel": per_leg(pc.utf8_lower(col_or_null(kt, "channel"))),
           "contact_leg_id": leg_id, "previous_contact_id": previous, "initial_contact_id": initial,
           "initiation_method": method}
    customer = per_leg(_empty_to_null(col_or_null(kt, "customerEndpoint.address", "CustomerEndpoint.Address")))
    leg["customer_id"] = pseudonymise(customer, key)
    for name in ("disconnectReason", "connectedToSystemStatus", "relatedContactId", "instanceArn"):
        if name in kt.column_names:
            leg[name] = per_leg(scrub_column(kt.column(name), key))
    meta["contact_events"] = int(len(keep))
    return ReadResult(_join_leg_columns(events, ev_rows, leg), n + len(recs.rejects), rejects, warnings, meta)


register_reader("amazon-connect")(read_contact_records)
register_reader("amazon-connect-events")(read_contact_events)
