"""Building blocks shared by the contact-center vendor adapters (Amazon Connect, Genesys Cloud).

PII scrubbing of free text and attribute columns, column access by name,
ISO 8601 times of vendor fields, event rows collected per kind and sorted
(``EventParts``), the ``cxmine_steps`` step trail that carries procedure
steps a vendor record has no field for, and contact attributes that fill
the team, site, shift and queue columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.ingest import ReadOptions, ReadResult, Reject
from engine.ingest.json_records import JsonRecords, load_json_records
from engine.ingest.timestamps import parse_timestamps
from engine.ingest.pseudonym import pseudonymise, pseudonymise_value, run_key

TS = pa.timestamp("ns", tz="UTC")
NAT = np.iinfo(np.int64).min
CANONICAL_STRINGS = ("case_id", "activity", "resource", "owner", "channel", "queue", "site", "shift", "team",
                     "customer_id")
SELF_SERVICE = "Self-service"
STEP_ATTRIBUTE = "cxmine_steps"

# ---------------------------------------------------------------------------
# PII scrubbing

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


def parse_times(table: pa.Table, *names: str) -> tuple[pa.Array, pa.Array]:
    """(timestamps ns UTC, bad mask): bad where a value is present but not an ISO 8601 time with zone.

    Text goes through ``engine.ingest.timestamps``; pyarrow.json already turns ``...Z`` strings
    into zone-less timestamps (UTC), which are taken as UTC; numbers are epoch seconds or milliseconds.
    """
    lower = {n.lower(): n for n in table.column_names}
    real = next((n if n in table.column_names else lower.get(n.lower()) for n in names
                 if n in table.column_names or n.lower() in lower), None)
    n = table.num_rows
    if real is None:
        return pa.nulls(n, TS), pa.array(np.zeros(n, bool))
    col = table.column(real).combine_chunks()
    t = col.type
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        # epoch milliseconds (Lambda media streams) when large, else seconds
        vals = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
        scale = np.where(np.abs(vals) > 1e11, 1e6, 1e9)
        ns = pa.array(np.nan_to_num(vals * scale).astype(np.int64), mask=np.isnan(vals))
        return ns.cast(TS), pa.array(np.zeros(n, bool))
    if not (pa.types.is_timestamp(t) or pa.types.is_string(t) or pa.types.is_large_string(t)):
        col = pc.cast(col, pa.string())
    parsed = parse_timestamps(col, "ISO8601", "UTC" if pa.types.is_timestamp(t) else None)
    bad = col.is_valid().to_numpy(zero_copy_only=False) & ~parsed.valid
    return parsed.to_arrow(), pa.array(bad)


def as_bool_mask(arr: pa.Array) -> np.ndarray:
    return pc.fill_null(arr, False).to_numpy(zero_copy_only=False).astype(bool)


def empty_to_null(col: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(col, ""), pa.nulls(len(col), col.type), col)


def as_int64(arr: pa.Array) -> np.ndarray:
    return pc.fill_null(arr.cast(pa.int64()), np.iinfo(np.int64).min).to_numpy(zero_copy_only=False)


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
    parents = parents[as_bool_mask(keep)]
    parts = pc.split_pattern(flat, "|")
    nparts = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    bad_entry = nparts != 5
    safe = pc.if_else(pa.array(bad_entry), pa.scalar(["", "0", "", "", ""], pa.list_(pa.string())), parts)

    def field_(i):
        v = pc.list_element(safe, i)
        for enc, dec in (("%7C", "|"), ("%3B", ";"), ("%25", "%")):
            v = pc.replace_substring(v, enc, dec)
        return empty_to_null(v)

    start_s, end_s = pc.list_element(safe, 1), pc.list_element(safe, 2)
    start_ok = pc.match_substring_regex(start_s, r"^-?\d+$")
    end_ok = pc.or_(pc.equal(end_s, ""), pc.match_substring_regex(end_s, r"^-?\d+$"))
    bad_entry |= ~as_bool_mask(start_ok) | ~as_bool_mask(end_ok)
    start = pc.multiply(pc.cast(pc.if_else(start_ok, start_s, "0"), pa.int64()), 1_000_000)
    end = pc.multiply(pc.cast(empty_to_null(pc.if_else(end_ok, end_s, "")), pa.int64()), 1_000_000)
    bad_rows = np.unique(row_ids[parents[bad_entry]])
    good = ~bad_entry & ~np.isin(row_ids[parents], bad_rows)
    gm = pa.array(good)
    cols = {"activity": field_(0).filter(gm), "timestamp": start.filter(gm).cast(TS),
            "end_timestamp": end.filter(gm).cast(TS), "owner": field_(3).filter(gm),
            "resource": field_(4).filter(gm)}
    return row_ids[parents[good]], cols, bad_rows


def join_leg_columns(events: pa.Table, rows: np.ndarray, leg: dict[str, pa.Array]) -> pa.Table:
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


def empty_events() -> pa.Table:
    return pa.table({"case_id": pa.array([], pa.string()), "activity": pa.array([], pa.string()),
                     "timestamp": pa.array([], TS)})


@dataclass
class VendorExport:
    """A vendor's JSON export being read: its records, the run's pseudonym key, and the rejects and warnings
    so far; ``result`` accounts for every record (read = accepted + rejected)."""

    source: str
    key: bytes
    records: JsonRecords
    rejects: list[Reject]
    warnings: list[str]
    meta: dict

    @property
    def table(self) -> pa.Table:
        return self.records.table

    def refuse(self, reasons: list[str | None], first: int = 0) -> np.ndarray:
        """Reject records ``first ..`` that have a reason (texts scrubbed); the accepted mask."""
        rejects, ok = reject_records(reasons, self.records, self.key, self.source, first)
        self.rejects += rejects
        return ok

    def result(self, events: pa.Table | None = None) -> ReadResult:
        """The events read (none when None), with every record of the file accounted for."""
        return ReadResult(empty_events() if events is None else events,
                          self.table.num_rows + len(self.records.rejects), self.rejects, self.warnings, self.meta)


def open_export(path: Path, options: ReadOptions, what: str, source_format: str, **load) -> VendorExport:
    """Read a vendor's JSON export (``load``: arguments of ``load_json_records``) and the run's key."""
    key, warning = run_key(options.pseudonym_key)
    recs = load_json_records(path, what=what, **load)
    return VendorExport(str(path), key, recs, list(recs.rejects), list(recs.warnings) + ([warning] if warning else []),
                        {"source_format": source_format})


def reject_records(reasons: list[str | None], recs: JsonRecords, key: bytes, source: str,
                   first: int = 0) -> tuple[list[Reject], np.ndarray]:
    """(rejects, accepted mask) of records ``first ..`` given one reason or None per record; texts scrubbed."""
    rejects = [Reject(source, int(recs.lines[first + i]), r, scrub_record_text(recs.text_of(first + i), key))
               for i, r in enumerate(reasons) if r is not None]
    return rejects, np.array([r is None for r in reasons], bool)


def latest_copies(ids: pa.Array, updated: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """True for every candidate row but the latest copy of its id (``updated`` largest; ties: the later row)."""
    dup = np.zeros(len(ids), bool)
    idx = np.flatnonzero(candidates)
    if len(idx):
        enc = pc.dictionary_encode(ids.take(pa.array(idx))).indices.to_numpy(zero_copy_only=False)
        order = np.lexsort((idx, updated[idx], enc))
        last = np.ones(len(order), bool)
        last[:-1] = enc[order][1:] != enc[order][:-1]
        dup[idx[order[~last]]] = True
    return dup
