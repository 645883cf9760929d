"""OCEL 2.0 readers (JSON, XML, SQLite), flattened on one object type.

``ReadOptions.case_object`` names the object type whose objects become cases.
Each event related to an object of that type becomes an event of that case;
an event related to two such objects appears in both cases (as
``pm4py.ocel_flattening`` does), and one related to none is refused with
that reason, so the accounting (read = accepted + rejected) is in OCEL
events. Columns of the flattened log:

- ``case_id`` (the object's id), ``activity`` (event type), ``timestamp``;
- ``ocel_event_id`` and ``ocel_qualifier`` (the event's id and the qualifier
  of its relation to the case object);
- every event attribute, typed by its declared OCEL type;
- one column per other related object type: ``customer_id`` (customer),
  ``resource`` (agent), ``queue``, ``team``, ``contact_id`` (contact),
  ``journey_id`` (journey), otherwise ``object:<type>``; several objects of
  one type on one event are joined with ``"; "``;
- ``case:<attribute>`` for the case object's attributes (their first value).

Times without a UTC offset are read in the mapping file's ``timezone`` when
one is given, otherwise as UTC, with a warning. Object ids written by cxmine
(``<type>:<value>``) lose the prefix again. Customer ids are pseudonymised
(values that are already pseudonyms are kept). XML is parsed without DTDs,
entities or network access, and a file with a DOCTYPE is refused.
"""

from __future__ import annotations

import gzip
import json
import re
import sqlite3
import sys
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.errors import InputError
from engine.ingest import ReadOptions, ReadResult, Reject, register_reader
from engine.ingest.timestamps import parse_timestamps

#: column of the flattened log for objects of a known type related to an event
OBJECT_COLUMNS = {"customer": "customer_id", "agent": "resource", "queue": "queue", "team": "team",
                  "contact": "contact_id", "journey": "journey_id"}
RESERVED = ("case_id", "activity", "timestamp", "case_index", "ocel_event_id", "ocel_qualifier")
RECORD_TEXT = 500
OBJECT_SEPARATOR = "; "
_TS = pa.timestamp("ns", tz="UTC")


@dataclass
class OcelContent:
    """What an OCEL 2.0 file holds, in plain columns, before flattening."""

    object_types: dict[str, dict[str, str]] = field(default_factory=dict)   # type -> attribute -> type
    event_types: dict[str, dict[str, str]] = field(default_factory=dict)
    object_type_of: dict[str, str] = field(default_factory=dict)            # object id -> type
    object_attributes: dict[str, dict[str, object]] = field(default_factory=dict)  # case objects only
    event_ids: list = field(default_factory=list)
    event_types_of: list = field(default_factory=list)
    event_times: list = field(default_factory=list)
    attr_event: dict[str, array] = field(default_factory=dict)              # attribute -> event indices
    attr_value: dict[str, list] = field(default_factory=dict)               # attribute -> values
    event_lines: array = field(default_factory=lambda: array("q"))          # line or record number, -1 unknown
    event_records: dict[int, str] = field(default_factory=dict)             # text of structurally broken events
    rel_event: array = field(default_factory=lambda: array("q"))            # relation -> event index
    rel_object: list[str] = field(default_factory=list)
    canon: dict[str, str] = field(default_factory=dict)                     # object id -> the one string kept
    rel_qualifier: list[str | None] = field(default_factory=list)
    rejects: list[tuple[int, str]] = field(default_factory=list)            # (event index, reason)
    warnings: list[str] = field(default_factory=list)


def _open_text(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def _clip(text: str) -> str:
    return text if len(text) <= RECORD_TEXT else text[:RECORD_TEXT] + "..."


# ---------------------------------------------------------------- JSON

_JSON_WS = re.compile(r"[ \t\n\r]*")


def scan_json(text: str, handlers: dict[str, Callable[[object], None]]) -> dict | None:
    """Top-level members of a JSON object, or None when the document is not an object.

    Members named in ``handlers`` whose value is an array are not kept: each
    element is decoded and handed to the handler in turn (the member maps to
    ``[]``), so a large ``events`` array is never held as one parsed list.
    Raises json.JSONDecodeError like ``json.loads``.
    """
    dec = json.JSONDecoder()
    ws = _JSON_WS.match

    def fail(msg: str, i: int):
        raise json.JSONDecodeError(msg, text, i)

    i = ws(text, 0).end()
    if not text.startswith("{", i):
        return None
    i = ws(text, i + 1).end()
    out: dict = {}
    if text.startswith("}", i):
        i += 1
    else:
        while True:
            if not text.startswith('"', i):
                fail("Expecting property name enclosed in double quotes", i)
            key, i = dec.raw_decode(text, i)
            i = ws(text, i).end()
            if not text.startswith(":", i):
                fail("Expecting ':' delimiter", i)
            i = ws(text, i + 1).end()
            if key in handlers and text.startswith("[", i):
                i = ws(text, i + 1).end()
                if text.startswith("]", i):
                    i += 1
                else:
                    while True:
                        value, i = dec.raw_decode(text, i)
                        handlers[key](value)
                        i = ws(text, i).end()
                        if text.startswith(",", i):
                            i = ws(text, i + 1).end()
                        elif text.startswith("]", i):
                            i += 1
                            break
                        else:
                            fail("Expecting ',' delimiter", i)
                out[key] = []
            else:
                out[key], i = dec.raw_decode(text, i)
            i = ws(text, i).end()
            if text.startswith(",", i):
                i = ws(text, i + 1).end()
            elif text.startswith("}", i):
                i += 1
                break
            else:
                fail("Expecting ',' delimiter", i)
    if ws(text, i).end() != len(text):
        fail("Extra data", i)
    return out


def parse_json(path: Path, case_object: str | None) -> OcelContent:
    c = OcelContent()

    def on_object(obj) -> None:
        if not isinstance(obj, dict) or not isinstance(obj.get("id"), (str, int)) or not isinstance(obj.get("type"), str):
            c.warnings.append(f"object without id or type ignored: {_clip(json.dumps(obj))}")
            return
        oid = str(obj["id"])
        c.object_type_of[oid] = sys.intern(obj["type"])
        c.canon[oid] = oid
        if obj["type"] == case_object:
            attrs: dict[str, object] = {}
            for a in obj.get("attributes") or []:
                if isinstance(a, dict) and isinstance(a.get("name"), str):
                    attrs.setdefault(a["name"], a.get("value"))
            c.object_attributes[oid] = attrs

    def on_event(ev) -> None:
        k = len(c.event_ids)
        c.event_lines.append(k + 1)
        if not isinstance(ev, dict):
            c.event_records[k] = _clip(json.dumps(ev, ensure_ascii=False))
            _add_event(c, None, None, None, {})
            c.rejects.append((k, "event is not a JSON object"))
            return
        attrs = {}
        for a in ev.get("attributes") or []:
            if isinstance(a, dict) and isinstance(a.get("name"), str):
                attrs[a["name"]] = a.get("value")
        _add_event(c, ev.get("id"), ev.get("type"), ev.get("time"), attrs)
        for r in ev.get("relationships") or []:
            if isinstance(r, dict) and isinstance(r.get("objectId"), (str, int)):
                c.rel_event.append(k)
                oid = str(r["objectId"])
                c.rel_object.append(c.canon.get(oid, oid))
                q = r.get("qualifier")
                c.rel_qualifier.append(None if q is None else sys.intern(str(q)))

    hint = "Give an OCEL 2.0 JSON file (objectTypes, eventTypes, objects, events)"
    try:
        with _open_text(path) as fh:
            text = fh.read().decode("utf-8-sig")
        doc = scan_json(text, {"objects": on_object, "events": on_event})
        if doc is None:
            doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"Broken JSON: {exc.msg} at column {exc.colno}", path=str(path), line=exc.lineno,
                         hint=hint) from exc
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        raise InputError(f"Cannot read the file as JSON: {exc}", path=str(path)) from exc
    del text
    if isinstance(doc, dict) and "ocel:events" in doc:
        raise InputError("This is an OCEL 1.0 JSON file; cxmine reads OCEL 2.0", path=str(path),
                         hint="Convert it, e.g. pm4py.write_ocel2_json(pm4py.read_ocel(path), 'out.jsonocel')")
    if not isinstance(doc, dict) or not isinstance(doc.get("events"), list) \
            or not isinstance(doc.get("objects", []), list):
        keys = ", ".join(map(str, doc)) if isinstance(doc, dict) else type(doc).__name__
        raise InputError(f"Not an OCEL 2.0 JSON file: expected an object with 'events' and 'objects' (found {keys})",
                         path=str(path), hint="Give an OCEL 2.0 JSON file, or choose another format argument")
    c.object_types = _declared(doc.get("objectTypes"), path, "objectTypes")
    c.event_types = _declared(doc.get("eventTypes"), path, "eventTypes")
    return c


def _declared(types, path: Path, key: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    if types is None:
        return out
    if not isinstance(types, list):
        raise InputError(f"'{key}' must be a list", path=str(path), hint="Give an OCEL 2.0 JSON file")
    for t in types:
        if isinstance(t, dict) and isinstance(t.get("name"), str):
            out[t["name"]] = {a["name"]: str(a.get("type", "string")) for a in t.get("attributes") or []
                              if isinstance(a, dict) and isinstance(a.get("name"), str)}
    return out


def _add_event(c: OcelContent, eid, etype, time, attrs: dict) -> None:
    c.event_ids.append(None if eid is None else str(eid))
    c.event_types_of.append(sys.intern(etype) if isinstance(etype, str) else None)
    c.event_times.append(time if isinstance(time, str) else None)
    k = len(c.event_ids) - 1
    for name, value in attrs.items():
        if name not in c.attr_event:
            name = sys.intern(name)
            c.attr_event[name] = array("q")
            c.attr_value[name] = []
        c.attr_event[name].append(k)
        c.attr_value[name].append(value)


# ---------------------------------------------------------------- XML

def parse_xml(path: Path, case_object: str | None) -> OcelContent:
    from lxml import etree

    c = OcelContent()
    sections: set[str] = set()
    try:
        with _open_text(path) as fh:
            ctx = etree.iterparse(fh, events=("start", "end"), resolve_entities=False, no_network=True,
                                  load_dtd=False, remove_comments=True, remove_pis=True, huge_tree=True)
            depth = 0
            root = None
            section = None
            for kind, el in ctx:
                if kind == "start":
                    depth += 1
                    if root is None:
                        root = el
                        if el.getroottree().docinfo.doctype:
                            raise InputError("XML with a DOCTYPE is refused (entities and DTDs are not read)",
                                             path=str(path), hint="Remove the DOCTYPE declaration")
                        if etree.QName(el).localname != "log":
                            raise InputError(f"Not an OCEL 2.0 XML file: the root element is "
                                             f"<{etree.QName(el).localname}>, expected <log>", path=str(path),
                                             hint="Give an OCEL 2.0 XML file, or choose another format argument")
                    elif depth == 2:
                        section = etree.QName(el).localname
                        sections.add(section)
                    continue
                depth -= 1
                if depth == 2:
                    if section in ("object-types", "event-types"):
                        _xml_type(c, el, section)
                    elif section == "objects":
                        _xml_object(c, el, case_object)
                    elif section == "events":
                        _xml_event(c, el)
                    if section in ("objects", "events"):
                        el.clear(keep_tail=False)
                        parent = el.getparent()
                        while parent is not None and el.getprevious() is not None:
                            del parent[0]
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if getattr(exc, "lineno", 0) and exc.lineno > 0 else None
        raise InputError(f"Broken XML: {exc.msg if hasattr(exc, 'msg') else exc}", path=str(path), line=line,
                         hint="Give a well-formed OCEL 2.0 XML file") from exc
    except (OSError, EOFError) as exc:
        raise InputError(f"Cannot read the file: {exc}", path=str(path)) from exc
    if not ({"events", "objects"} & sections):
        raise InputError("Not an OCEL 2.0 XML file: <log> has no <objects> or <events>", path=str(path),
                         hint='If this is an XES log, ingest it with format "xes"')
    return c


def _local(el) -> str:
    from lxml import etree
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _xml_type(c: OcelContent, el, section: str) -> None:
    name = el.get("name")
    if name is None:
        return
    attrs = {}
    for sub in el:
        if _local(sub) == "attributes":
            for a in sub:
                if _local(a) == "attribute" and a.get("name") is not None:
                    attrs[a.get("name")] = a.get("type") or "string"
    (c.object_types if section == "object-types" else c.event_types)[name] = attrs


def _xml_object(c: OcelContent, el, case_object: str | None) -> None:
    oid, otype = el.get("id"), el.get("type")
    if oid is None or otype is None:
        c.warnings.append(f"object at line {el.sourceline} has no id or type and was ignored")
        return
    c.object_type_of[oid] = sys.intern(otype)
    c.canon[oid] = oid
    if otype == case_object:
        attrs: dict[str, object] = {}
        for sub in el:
            if _local(sub) == "attributes":
                for a in sub:
                    if _local(a) == "attribute" and a.get("name") is not None:
                        attrs.setdefault(a.get("name"), a.text or "")
        c.object_attributes[oid] = attrs


def _xml_event(c: OcelContent, el) -> None:
    k = len(c.event_ids)
    c.event_lines.append(el.sourceline or -1)
    attrs: dict[str, object] = {}
    for sub in el:
        tag = _local(sub)
        if tag == "attributes":
            for a in sub:
                if _local(a) == "attribute" and a.get("name") is not None:
                    attrs[a.get("name")] = a.text or ""
        elif tag == "objects":
            for r in sub:
                if _local(r) in ("relationship", "object") and r.get("object-id") is not None:
                    c.rel_event.append(k)
                    oid, q = r.get("object-id"), r.get("qualifier")
                    c.rel_object.append(c.canon.get(oid, oid))
                    c.rel_qualifier.append(None if q is None else sys.intern(q))
    _add_event(c, el.get("id"), el.get("type"), el.get("time"), attrs)


# ---------------------------------------------------------------- SQLite

_SQLITE_TABLES = ("event", "object", "event_object", "event_map_type", "object_map_type")
_SQL_DECLARED = {"TEXT": "string", "TIMESTAMP": "time", "DATETIME": "time", "INTEGER": "integer", "INT": "integer",
                 "REAL": "float", "FLOAT": "float", "DOUBLE": "float", "BOOLEAN": "boolean"}


def _qi(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def parse_sqlite(path: Path, case_object: str | None) -> OcelContent:
    with open(path, "rb") as fh:
        if fh.read(16) != b"SQLite format 3\x00":
            raise InputError("Not an SQLite database", path=str(path),
                             hint="Give an OCEL 2.0 SQLite file, or choose another format argument")
    try:
        con = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise InputError(f"Cannot open the SQLite file: {exc}", path=str(path)) from exc
    try:
        return _read_sqlite(con, path, case_object)
    except sqlite3.Error as exc:
        raise InputError(f"Cannot read the OCEL 2.0 SQLite file: {exc}", path=str(path),
                         hint="Check that it follows the OCEL 2.0 relational schema") from exc
    finally:
        con.close()


def _read_sqlite(con: sqlite3.Connection, path: Path, case_object: str | None) -> OcelContent:
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    missing = [t for t in _SQLITE_TABLES if t not in tables]
    if missing:
        raise InputError(f"Not an OCEL 2.0 SQLite file: table(s) {', '.join(missing)} missing "
                         f"(found: {', '.join(sorted(tables)) or 'none'})", path=str(path),
                         hint="Give an OCEL 2.0 SQLite export (tables event, object, event_object, ...)")
    c = OcelContent()
    emap = dict(con.execute("SELECT ocel_type, ocel_type_map FROM event_map_type"))
    omap = dict(con.execute("SELECT ocel_type, ocel_type_map FROM object_map_type"))
    for otype, suffix in omap.items():
        table = "object_" + str(suffix)
        cols = _columns(con, table) if table in tables else []
        c.object_types[otype] = {n: t for n, t in cols if n not in ("ocel_id", "ocel_time", "ocel_changed_field")}
    for oid, otype in con.execute("SELECT ocel_id, ocel_type FROM object"):
        if oid is None or otype is None:
            c.warnings.append("an object row without id or type was ignored")
            continue
        oid = str(oid)
        c.object_type_of[oid] = sys.intern(str(otype))
        c.canon[oid] = oid
    if case_object in omap and "object_" + str(omap[case_object]) in tables:
        table = "object_" + str(omap[case_object])
        names = [n for n, _ in _columns(con, table)]
        attr_cols = [n for n in names if n not in ("ocel_id", "ocel_time", "ocel_changed_field")]
        if attr_cols:
            order = "ORDER BY ocel_changed_field IS NOT NULL" if "ocel_changed_field" in names else ""
            sql = f"SELECT ocel_id, {', '.join(map(_qi, attr_cols))} FROM {_qi(table)} {order}"
            for row in con.execute(sql):
                attrs = c.object_attributes.setdefault(str(row[0]), {})
                for n, v in zip(attr_cols, row[1:]):
                    if v is not None:
                        attrs.setdefault(n, v)
    # events: the event table is the list of records; times and attributes come from event_<type>
    per_type: dict[str, dict[str, tuple]] = {}
    for etype, suffix in emap.items():
        table = "event_" + str(suffix)
        if table not in tables:
            continue
        cols = _columns(con, table)
        attr_cols = [n for n, _ in cols if n not in ("ocel_id", "ocel_time")]
        c.event_types[etype] = {n: t for n, t in cols if n not in ("ocel_id", "ocel_time")}
        sel = ", ".join(["ocel_id", "ocel_time"] + [_qi(n) for n in attr_cols])
        rows = {}
        for row in con.execute(f"SELECT {sel} FROM {_qi(table)}"):
            rows.setdefault(str(row[0]), (row[1], {n: v for n, v in zip(attr_cols, row[2:]) if v is not None}))
        per_type[etype] = rows
    index: dict[str, int] = {}
    for k, (eid, etype) in enumerate(con.execute("SELECT ocel_id, ocel_type FROM event ORDER BY rowid")):
        eid = None if eid is None else str(eid)
        c.event_lines.append(k + 1)
        found = per_type.get(etype, {}).get(eid) if eid is not None else None
        if found is None:
            _add_event(c, eid, etype, None, {})
            if eid is not None and etype is not None:
                where = f"event_{emap[etype]}" if etype in emap else "event_map_type"
                c.rejects.append((k, f"no row for the event in table {where} (its time is unknown)"))
        else:
            time, attrs = found
            _add_event(c, eid, etype, None if time is None else str(time), attrs)
        if eid is not None:
            index.setdefault(eid, k)
    for eid, oid, q in con.execute("SELECT ocel_event_id, ocel_object_id, ocel_qualifier FROM event_object"):
        k = index.get(None if eid is None else str(eid))
        if k is None or oid is None:
            continue
        c.rel_event.append(k)
        oid = str(oid)
        c.rel_object.append(c.canon.get(oid, oid))
        c.rel_qualifier.append(None if q is None else sys.intern(str(q)))
    return c


def _columns(con: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
    out = []
    for _, name, decl, *_ in con.execute(f"PRAGMA table_info({_qi(table)})"):
        out.append((name, _SQL_DECLARED.get((decl or "TEXT").upper(), "string")))
    return out


# ---------------------------------------------------------------- flattening

def parse_times(values: list, timezone: str | None) -> tuple[np.ndarray, np.ndarray, int]:
    """(int64 ns UTC, parsed mask, count of times without offset) for ISO 8601 strings.

    A time without an offset is read in ``timezone``, or as UTC when none is given.
    """
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InputError(f"Unknown time zone '{timezone}'", field="timezone",
                             hint='Use an IANA name such as "Europe/Berlin" or "UTC"') from exc
    text = pc.utf8_trim_whitespace(pa.array([v if isinstance(v, str) else None for v in values], pa.string()))
    has_offset = pc.fill_null(pc.match_substring_regex(text, r"(?:Z|[+-]\d\d:?\d\d)$"), False)
    n_naive = len(text) - text.null_count - int(pc.sum(has_offset).as_py() or 0)
    parsed = parse_timestamps(text, "ISO8601", timezone or "UTC")
    return parsed.values, parsed.valid, n_naive


def _typed(values: list, declared: str, timezone: str | None) -> pa.Array:
    """An Arrow column of OCEL attribute values (None = missing) in their declared type; text if they do not fit."""
    d = declared.lower()
    present = [v for v in values if v is not None]
    try:
        if "time" in d or "date" in d:
            ns, ok, _ = parse_times(values, timezone)
            if ok.sum() == len(present):
                return pa.array(ns, pa.int64(), mask=~ok).cast(_TS)
        elif "int" in d:
            return pa.array([None if v is None else int(v) for v in values], pa.int64())
        elif "float" in d or "double" in d:
            return pa.array([None if v is None else float(v) for v in values], pa.float64())
        elif "bool" in d:
            return pa.array([None if v is None else _bool(v) for v in values], pa.bool_())
    except (TypeError, ValueError, OverflowError):
        pass
    return pa.array([None if v is None else (v if isinstance(v, str) else json.dumps(v) if isinstance(v, (dict, list))
                                             else str(v).lower() if isinstance(v, bool) else str(v))
                     for v in values], pa.string())


def _bool(v) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    t = str(v).strip().lower()
    if t in ("true", "1"):
        return True
    if t in ("false", "0"):
        return False
    raise ValueError(v)


def _strip_prefixes(c: OcelContent) -> dict[str, str]:
    """Object id -> id to show: cxmine's ``<type>:`` prefix removed where every object of the type has it."""
    by_type: dict[str, list[str]] = {}
    for oid, t in c.object_type_of.items():
        by_type.setdefault(t, []).append(oid)
    shown: dict[str, str] = {}
    for t, ids in by_type.items():
        p = t + ":"
        if all(i.startswith(p) for i in ids):
            shown.update({i: i[len(p):] for i in ids})
    return shown


def flatten(c: OcelContent, path: Path, options: ReadOptions) -> ReadResult:
    """The flattened log on ``options.case_object`` with one Reject per refused OCEL event."""
    counts = _case_object_counts(c, path, options.case_object)
    case_object = options.case_object
    timezone = (options.mapping or {}).get("timezone")
    n = len(c.event_ids)
    ns, ok, n_naive = parse_times(c.event_times, timezone)
    reasons = _event_reasons(c, ok, timezone)
    warnings = list(c.warnings)
    if n_naive:
        warnings.append(f"{n_naive} time(s) in {path.name} carry no UTC offset; read as "
                        + (f"local time in {timezone}" if timezone else
                           "UTC (give timezone in a mapping file to read them as local time)"))
    shown = _strip_prefixes(c)
    case_rows, others = _relations(c, case_object, reasons, shown, warnings)
    rows = np.asarray([r[0] for r in case_rows], dtype=np.int64)
    columns: dict[str, pa.Array] = {
        "case_id": pa.array([shown.get(r[1], r[1]) for r in case_rows], pa.string()),
        "activity": pa.array([c.event_types_of[k] for k in rows.tolist()], pa.string()),
        "timestamp": pa.array(ns[rows], pa.int64()).cast(_TS),
        "ocel_event_id": pa.array([c.event_ids[k] for k in rows.tolist()], pa.string()),
        "ocel_qualifier": pa.array([r[2] for r in case_rows], pa.string()),
    }
    columns.update(_event_attribute_columns(c, rows, timezone, warnings))
    for otype, per_event in others.items():
        target = OBJECT_COLUMNS.get(otype, "object:" + otype)
        if target in columns:
            target = "object:" + otype
        columns[target] = pa.array(per_event[rows].tolist(), pa.string())
    # the case object's attributes
    oattr_types = c.object_types.get(case_object, {})
    anames: dict[str, None] = {}
    for attrs in c.object_attributes.values():
        for name in attrs:
            anames.setdefault(name, None)
    for name in anames:
        values = [c.object_attributes.get(r[1], {}).get(name) for r in case_rows]
        columns["case:" + name] = _typed(values, oattr_types.get(name, "string"), timezone)
    table = pa.table(columns)
    table, key_warning = _pseudonymise(table, case_object, options)
    if key_warning:
        warnings.append(key_warning)
    rejects = [Reject(str(path), c.event_lines[k] if c.event_lines[k] >= 0 else None, reason,
                      c.event_records.get(k) or _clip(f"id={c.event_ids[k]!r} type={c.event_types_of[k]!r} "
                                                      f"time={c.event_times[k]!r}"))
               for k, reason in sorted(reasons.items())]
    metadata = {"ocel": {"case_object": case_object, "object_types": counts, "events": n,
                         "flattened_events": table.num_rows}}
    return ReadResult(table=table, records_read=n, rejects=rejects, warnings=warnings, metadata=metadata)


def _case_object_counts(c: OcelContent, path: Path, case_object: str | None) -> dict[str, int]:
    """Objects per type (declared types too); a missing or unknown case object type is refused, listing them."""
    counts: dict[str, int] = {t: 0 for t in c.object_types}       # declared types, even without objects
    for t in c.object_type_of.values():
        counts[t] = counts.get(t, 0) + 1
    available = ", ".join(f"{t} ({n} object{'' if n == 1 else 's'})" for t, n in sorted(counts.items())) or "none"
    if not case_object:
        raise InputError(f"OCEL input needs the object type whose objects become cases (available: {available})",
                         field="case_object", hint="Name it with the case_object argument")
    if case_object not in counts:
        raise InputError(f"Object type '{case_object}' is not in {path} (available: {available})",
                         field="case_object", hint="Name one of them with the case_object argument")
    return counts


def _event_reasons(c: OcelContent, ok: np.ndarray, timezone: str | None) -> dict[int, str]:
    """Why each refused event is refused (structure, id, type, time), by event index."""
    reasons: dict[int, str] = dict(c.rejects)
    seen_ids: set[str] = set()
    for k in range(len(c.event_ids)):
        if k in reasons:
            continue
        eid, etype, time = c.event_ids[k], c.event_types_of[k], c.event_times[k]
        if eid is None or eid == "":
            reasons[k] = "event has no id"
        elif etype is None:
            reasons[k] = "event has no type"
        elif eid in seen_ids:
            reasons[k] = f"duplicate event id '{eid}'"
        elif time is None:
            reasons[k] = "event has no time"
        elif not ok[k]:
            reasons[k] = f"time '{time}' is not an ISO 8601 date-time" + (f" in {timezone}" if timezone else "")
        if eid:
            seen_ids.add(eid)
    return reasons


def _relations(c: OcelContent, case_object: str, reasons: dict[int, str], shown: dict[str, str],
               warnings: list[str]) -> tuple[list[tuple[int, str, str | None]], dict[str, np.ndarray]]:
    """(case relations (event, object, qualifier), one per event and case object, sorted by event; per other
    object type, the related objects of each event joined). An event related to no case object is refused."""
    n = len(c.event_ids)
    rel_e = np.frombuffer(c.rel_event, dtype=np.int64) if len(c.rel_event) else np.zeros(0, np.int64)
    unknown = 0
    case_rows: list[tuple[int, str, str | None]] = []
    pair_seen: set[tuple[int, str]] = set()
    others: dict[str, np.ndarray] = {}                # other object type -> related ids per event
    for k, oid, q in zip(rel_e.tolist(), c.rel_object, c.rel_qualifier):
        otype = c.object_type_of.get(oid)
        if otype is None:
            unknown += 1
            continue
        if k in reasons:
            continue
        if otype == case_object:
            if (k, oid) not in pair_seen:
                pair_seen.add((k, oid))
                case_rows.append((k, oid, q))
        else:
            if otype not in others:
                others[otype] = np.full(n, None, dtype=object)
            col, name = others[otype], shown.get(oid, oid)
            if col[k] is None:
                col[k] = name
            elif name not in col[k].split(OBJECT_SEPARATOR):
                col[k] = col[k] + OBJECT_SEPARATOR + name
    if unknown:
        warnings.append(f"{unknown} event-to-object relation(s) name objects that are not in the file; ignored")
    related = {k for k, _, _ in case_rows}
    for k in range(n):
        if k not in reasons and k not in related:
            reasons[k] = f"event not related to any object of type '{case_object}'"
    case_rows.sort(key=lambda r: r[0])
    return case_rows, others


def _event_attribute_columns(c: OcelContent, rows: np.ndarray, timezone: str | None,
                             warnings: list[str]) -> dict[str, pa.Array]:
    """Event attributes of the flattened rows, typed by their declared type (one type per name; text where
    types disagree); a name that is a reserved column is kept as ``event:<name>``."""
    n = len(c.event_ids)
    declared: dict[str, str] = {}
    for attrs in c.event_types.values():
        for name, t in attrs.items():
            declared[name] = t if declared.get(name, t) == t else "string"
    columns: dict[str, pa.Array] = {}
    for name, idx in c.attr_event.items():
        full = np.full(n, None, dtype=object)
        full[np.frombuffer(idx, dtype=np.int64)] = c.attr_value[name]
        values = full[rows].tolist()
        if all(v is None for v in values):
            continue
        col = _typed(values, declared.get(name, "string"), timezone)
        target = name if name not in RESERVED else "event:" + name
        if name == "end_timestamp" and not pa.types.is_timestamp(col.type):
            target = "event:end_timestamp"
            warnings.append("attribute end_timestamp is not a time everywhere; kept as event:end_timestamp")
        if target != name and name in RESERVED:
            warnings.append(f"event attribute '{name}' is a reserved column name; kept as '{target}'")
        columns[target] = col
    return columns


def _pseudonymise(table: pa.Table, case_object: str, options: ReadOptions) -> tuple[pa.Table, str | None]:
    from engine.ingest.pseudonym import pseudonymise, run_key

    targets = [c for c in ("customer_id",) if c in table.column_names]
    if case_object == "customer":
        targets.append("case_id")
    warning = None
    for name in targets:
        col = table.column(name).combine_chunks()
        values = col.to_pylist()
        if all(v is None or (v.startswith("cus_") and len(v) == 36) for v in values):
            continue
        key, warning = run_key(options.pseudonym_key)
        hashed = pseudonymise(col, key).to_pylist()
        mixed = [v if (v is None or (v.startswith("cus_") and len(v) == 36)) else h for v, h in zip(values, hashed)]
        table = table.set_column(table.column_names.index(name), name, pa.array(mixed, pa.string()))
    return table, warning


@register_reader("ocel-json")
def read_ocel_json(path: Path, options: ReadOptions) -> ReadResult:
    """OCEL 2.0 JSON, flattened on ``options.case_object``."""
    return flatten(parse_json(Path(path), options.case_object), Path(path), options)


@register_reader("ocel-xml")
def read_ocel_xml(path: Path, options: ReadOptions) -> ReadResult:
    """OCEL 2.0 XML, flattened on ``options.case_object``."""
    return flatten(parse_xml(Path(path), options.case_object), Path(path), options)


@register_reader("ocel-sqlite")
def read_ocel_sqlite(path: Path, options: ReadOptions) -> ReadResult:
    """OCEL 2.0 SQLite, flattened on ``options.case_object``."""
    return flatten(parse_sqlite(Path(path), options.case_object), Path(path), options)
