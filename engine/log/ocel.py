"""OCEL 2.0 export of the canonical log: JSON, XML and SQLite.

Object types and where they come from:

=========  ==========================================  =====================
type       column                                      event qualifier
=========  ==========================================  =====================
contact    ``case_id`` (contact log) or ``contact_id``  ``contact``
           (journey log, when present)
journey    ``case_id`` of a journey log                 ``journey``
customer   ``customer_id`` (pseudonymised)              ``customer``
agent      ``resource``                                 ``handled by``
queue      ``queue``                                    ``queue``
team       ``team``                                     ``team``
=========  ==========================================  =====================

Object-to-object relations that follow from the log: contact -> customer
``placed by``, agent -> team ``member of`` (each pair seen on one event),
contact -> journey ``part of``. Every other column (channel, site, shift,
owner, end_timestamp, adapter attributes) becomes a typed event attribute;
an empty value is left out of that event.

Object ids are ``<type>:<value>`` (``queue:Billing``, ``team:Billing``), so a
queue and a team of the same name stay two objects; cxmine's OCEL reader
removes the prefix again. Event ids are ``e1``, ``e2``, ... in the stored
log's order. Times are ISO 8601 in UTC (``Z``), with 6 fraction digits when
the time has microseconds and 9 when it has nanoseconds.

The writers stream: the log is read twice in record batches (first to
collect the distinct objects and the attributes of each activity, then to
write events), so memory holds the distinct objects, the object-to-object
pairs and one Parquet row group, not the log's events. Customer ids that are
not pseudonyms yet (a table that did not come through ingest) are
pseudonymised with the key passed in (``pseudonym_key``) before writing. A
file name ending in ``.gz`` is written gzip-compressed (JSON and XML).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.atomic import atomic_path
from engine.errors import InputError
from engine.log.schema import sort_log
from engine.log.store import open_log
from engine.log.timestamps import format_timestamps
from engine.log.values import value_kind

OcelFormat = Literal["json", "xml", "sqlite"]
FORMATS = ("json", "xml", "sqlite")
BATCH = 1 << 16
GZIP_LEVEL = 6

#: qualifier of the event-to-object relation, per object type
QUALIFIERS = {"contact": "contact", "journey": "journey", "customer": "customer", "agent": "handled by",
              "queue": "queue", "team": "team"}
#: object-to-object relations: (source type, target type, qualifier)
O2O_RELATIONS = (("contact", "customer", "placed by"), ("agent", "team", "member of"),
                 ("contact", "journey", "part of"))
#: columns that describe an earlier OCEL file (written by cxmine's OCEL reader), not the events
READER_COLUMNS = ("ocel_event_id", "ocel_qualifier")
SKIPPED = ("case_id", "activity", "timestamp", "case_index")

_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass
class ExportPlan:
    """What the first pass learnt: object columns, typed attributes, distinct objects and relations."""

    object_columns: list[tuple[str, str]]                      # (column, object type)
    attributes: list[tuple[str, str]]                          # (column, OCEL attribute type)
    attributes_of: dict[str, list[str]] = field(default_factory=dict)   # activity -> attribute columns
    objects: dict[str, dict[str, None]] = field(default_factory=dict)   # type -> ordered distinct values
    o2o: dict[tuple[str, str], dict[tuple[str, str], None]] = field(default_factory=dict)
    customer_pseudonyms: dict[str, str] = field(default_factory=dict)
    n_events: int = 0


def object_id(otype: str, value: str) -> str:
    return f"{otype}:{value}"


def ocel_type_of(t: pa.DataType) -> str:
    """OCEL 2.0 attribute type of an Arrow column type."""
    kind = value_kind(t)
    return "float" if kind == "decimal" else kind


def format_times(col: pa.Array | pa.ChunkedArray) -> list[str | None]:
    """ISO 8601 UTC strings (``Z``, 0, 6 or 9 fraction digits) for a timestamp column; None where empty."""
    return format_timestamps(col, fraction="auto", utc="Z").to_pylist()


def format_values(col: pa.Array, otype: str) -> list[str | None]:
    """Text of each value as OCEL 2.0 writes it for the attribute type; None where empty."""
    if otype == "time":
        return format_times(col)
    values = col.to_pylist()
    if otype == "boolean":
        return [None if v is None else ("true" if v else "false") for v in values]
    if otype == "float":
        return [None if v is None else repr(float(v)) for v in values]
    if otype == "integer":
        return [None if v is None else str(int(v)) for v in values]
    return [None if v is None else (v if isinstance(v, str) else str(v)) for v in values]


# ---------------------------------------------------------------- source and first pass

def _open_source(source: pa.Table | str | os.PathLike) -> tuple[pa.Schema, dict, Callable]:
    """Schema, cxmine metadata and a function yielding record batches of the given columns."""
    if isinstance(source, pa.Table):
        table = source
        if "case_index" not in table.column_names:
            table = sort_log(table)
        meta = json.loads((table.schema.metadata or {}).get(b"cxmine", b"{}"))

        def batches(columns: list[str]) -> Iterator[pa.RecordBatch]:
            yield from table.select(columns).to_batches(max_chunksize=BATCH)
        return table.schema, meta, batches
    path = Path(source)
    pf = open_log(path)
    raw = (pf.schema_arrow.metadata or {}).get(b"cxmine")
    meta = json.loads(raw) if raw else {}

    def batches(columns: list[str]) -> Iterator[pa.RecordBatch]:
        yield from pf.iter_batches(batch_size=BATCH, columns=columns)
    return pf.schema_arrow, meta, batches


def _strings(col: pa.Array) -> list[str | None]:
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        col = pc.cast(col, pa.string())
    return col.to_pylist()


def plan_export(schema: pa.Schema, meta: dict, batches: Callable, pseudonym_key: bytes | None = None) -> ExportPlan:
    """First pass: object columns, attribute types, attributes per activity, distinct objects, o2o pairs."""
    names = schema.names
    journey = meta.get("case_notion") == "journey"
    object_columns: list[tuple[str, str]] = []
    if journey:
        if "contact_id" in names:
            object_columns.append(("contact_id", "contact"))
        object_columns.append(("case_id", "journey"))
    else:
        object_columns.append(("case_id", "contact"))
    for col, otype in (("customer_id", "customer"), ("resource", "agent"), ("queue", "queue"), ("team", "team")):
        if col in names:
            object_columns.append((col, otype))
    used = {c for c, _ in object_columns}
    attr_names = [n for n in names if n not in used and n not in SKIPPED and n not in READER_COLUMNS]
    plan = ExportPlan(object_columns=object_columns, attributes=[])
    plan.objects = {otype: {} for _, otype in object_columns}
    types_present = set(plan.objects)
    for src, dst, _ in O2O_RELATIONS:
        if src in types_present and dst in types_present:
            plan.o2o[(src, dst)] = {}
    col_of = {otype: col for col, otype in object_columns}
    attr_types = {n: ocel_type_of(schema.field(n).type) for n in attr_names}
    seen: dict[str, dict[str, None]] = {}
    want = list(dict.fromkeys(["activity"] + [c for c, _ in object_columns] + attr_names))
    for batch in batches(want):
        plan.n_events += batch.num_rows
        acts = batch.column("activity")
        for a in _strings(pc.unique(acts)):
            seen.setdefault(a, {})
        for n in attr_names:
            col = batch.column(n)
            if col.null_count == len(col):
                continue
            for a in _strings(pc.unique(pc.filter(acts, col.is_valid()))):
                seen[a][n] = None
        for col, otype in object_columns:
            arr = batch.column(col)
            distinct = plan.objects[otype]
            for v in _strings(pc.unique(arr)):
                if v is not None:
                    distinct.setdefault(v, None)
        for (src, dst), pairs in plan.o2o.items():
            a, b = batch.column(col_of[src]), batch.column(col_of[dst])
            both = pc.and_(a.is_valid(), b.is_valid())
            if not pc.any(both).as_py():
                continue
            pairs_table = pa.table({"s": pc.filter(a, both), "t": pc.filter(b, both)})
            if pa.types.is_dictionary(pairs_table.schema.field("s").type):
                pairs_table = pairs_table.set_column(0, "s", pairs_table.column("s").cast(pa.string()))
            if pa.types.is_dictionary(pairs_table.schema.field("t").type):
                pairs_table = pairs_table.set_column(1, "t", pairs_table.column("t").cast(pa.string()))
            grouped = pairs_table.group_by(["s", "t"], use_threads=False).aggregate([])
            for s, t in zip(_strings(grouped.column("s").combine_chunks()),
                            _strings(grouped.column("t").combine_chunks())):
                pairs.setdefault((s, t), None)
    plan.attributes = [(n, attr_types[n]) for n in attr_names]
    plan.attributes_of = {a: [n for n in attr_names if n in present] for a, present in seen.items()}
    if "customer" in plan.objects:
        from engine.ingest.pseudonym import pseudonymise_value, run_key
        raw = [v for v in plan.objects["customer"] if not (v.startswith("cus_") and len(v) == 36)]
        if raw:
            key, _ = run_key(pseudonym_key)
            plan.customer_pseudonyms = {v: pseudonymise_value(v, key) for v in raw}
            plan.objects["customer"] = {plan.customer_pseudonyms.get(v, v): None for v in plan.objects["customer"]}
            for (src, dst), pairs in plan.o2o.items():
                if dst == "customer":
                    plan.o2o[(src, dst)] = {(s, plan.customer_pseudonyms.get(t, t)): None for s, t in pairs}
    return plan


@dataclass(frozen=True)
class EventBatch:
    """One record batch of events, column by column, ready to render."""

    first: int                                        # 0-based row of the first event in the log
    activity: pa.Array                                # string or dictionary
    times: list[str]
    objects: list[tuple[str, pa.Array]]               # (object type, raw values; customers pseudonymised)
    attributes: list[tuple[str, str, pa.Array]]       # (name, OCEL type, text of each value)

    @property
    def n(self) -> int:
        return len(self.activity)


def iter_event_batches(plan: ExportPlan, batches: Callable) -> Iterator[EventBatch]:
    """Second pass over the log: one EventBatch per record batch."""
    attr_names = [n for n, _ in plan.attributes]
    attr_type = dict(plan.attributes)
    want = list(dict.fromkeys(["activity", "timestamp"] + [c for c, _ in plan.object_columns] + attr_names))
    row = 0
    for batch in batches(want):
        objs = []
        for col, otype in plan.object_columns:
            values = batch.column(col)
            if otype == "customer" and plan.customer_pseudonyms:
                values = pa.array([None if v is None else plan.customer_pseudonyms.get(v, v)
                                   for v in _strings(values)], pa.string())
            objs.append((otype, values))
        attrs = [(n, attr_type[n], pa.array(format_values(batch.column(n), attr_type[n]), pa.string()))
                 for n in attr_names]
        yield EventBatch(first=row, activity=batch.column("activity"), times=format_times(batch.column("timestamp")),
                         objects=objs, attributes=attrs)
        row += batch.num_rows


def render_column(col: pa.Array, render: Callable[[str], str]) -> list[str | None]:
    """``render`` applied once per distinct value of a string column, spread over the rows; None where empty."""
    if pa.types.is_dictionary(col.type) and len(col.dictionary) > len(col):
        col = col.cast(col.type.value_type)
    if not pa.types.is_dictionary(col.type):
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            col = pc.cast(col, pa.string())
        col = pc.dictionary_encode(col)
    values = _strings(col.dictionary)
    table = np.empty(len(values) + 1, dtype=object)
    table[:-1] = [None if v is None else render(v) for v in values]
    idx = col.indices.fill_null(len(values)).to_numpy(zero_copy_only=False)
    return table[idx].tolist()


def iter_objects(plan: ExportPlan) -> Iterator[tuple[str, str, list[tuple[str, str]]]]:
    """(object id, type, [(target id, qualifier)]) for every object, types in plan order."""
    rel: dict[str, list[tuple[str, str]]] = {}
    quals = {(s, d): q for s, d, q in O2O_RELATIONS}
    for (src, dst), pairs in plan.o2o.items():
        for s, t in pairs:
            rel.setdefault(object_id(src, s), []).append((object_id(dst, t), quals[(src, dst)]))
    for otype, values in plan.objects.items():
        for v in values:
            oid = object_id(otype, v)
            yield oid, otype, rel.get(oid, [])


def _joined_rows(columns: list[list[str | None]], n: int, sep: str) -> list[str]:
    """Per row, the non-empty fragments of the columns joined by ``sep``."""
    if not columns:
        return [""] * n
    return [sep.join([f for f in row if f is not None]) for row in zip(*columns)]


# ---------------------------------------------------------------- writers

def _write_json(plan: ExportPlan, batches, tmp: Path | io.TextIOBase) -> None:
    attr_type = dict(plan.attributes)

    def dumps(x) -> str:
        return json.dumps(x, ensure_ascii=False)

    with _text_out(tmp) as fh:
        fh.write('{\n"objectTypes": ')
        fh.write(dumps([{"name": t, "attributes": []} for t in plan.objects]))
        fh.write(',\n"eventTypes": ')
        fh.write(dumps([{"name": a, "attributes": [{"name": n, "type": attr_type[n]} for n in names]}
                        for a, names in plan.attributes_of.items()]))
        fh.write(',\n"objects": [')
        first = True
        for oid, otype, rels in iter_objects(plan):
            obj = {"id": oid, "type": otype, "attributes": []}
            if rels:
                obj["relationships"] = [{"objectId": t, "qualifier": q} for t, q in rels]
            fh.write(("\n" if first else ",\n") + dumps(obj))
            first = False
        fh.write('\n],\n"events": [')
        first = True
        for b in iter_event_batches(plan, batches):
            acts = render_column(b.activity, dumps)
            attrs = [render_column(col, lambda v, n=name: f'{{"name": {dumps(n)}, "value": {dumps(v)}}}')
                     for name, _, col in b.attributes]
            rels = [render_column(col, lambda v, t=otype: f'{{"objectId": {dumps(object_id(t, v))}, '
                                                         f'"qualifier": {dumps(QUALIFIERS[t])}}}')
                    for otype, col in b.objects]
            attr_rows, rel_rows = _joined_rows(attrs, b.n, ", "), _joined_rows(rels, b.n, ", ")
            lines = [f'{{"id": "e{b.first + i + 1}", "type": {a}, "time": "{t}", "attributes": [{ar}], '
                     f'"relationships": [{rr}]}}'
                     for i, (a, t, ar, rr) in enumerate(zip(acts, b.times, attr_rows, rel_rows))]
            if lines:
                fh.write(("\n" if first else ",\n") + ",\n".join(lines))
                first = False
        fh.write("\n]\n}\n")


@contextmanager
def _text_out(target: Path | io.TextIOBase):
    """An open text stream: ``target`` itself, or the file at that path (closed afterwards)."""
    if isinstance(target, io.TextIOBase):
        yield target
        return
    with open(target, "w", encoding="utf-8") as fh:
        yield fh


_XML_ATTR = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\t": "&#9;", "\n": "&#10;",
                           "\r": "&#13;"})
_XML_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


def xml_attr(s: str) -> str:
    """Escaped attribute value; characters XML 1.0 cannot carry become U+FFFD."""
    return _XML_INVALID.sub("\ufffd", s).translate(_XML_ATTR)


def xml_text(s: str) -> str:
    """Escaped element text; characters XML 1.0 cannot carry become U+FFFD."""
    return _XML_INVALID.sub("\ufffd", s).translate(_XML_TEXT)


def _write_xml(plan: ExportPlan, batches, tmp: Path | io.TextIOBase) -> None:
    attr_type = dict(plan.attributes)
    a = xml_attr
    with _text_out(tmp) as fh:
        fh.write("<?xml version='1.0' encoding='UTF-8'?>\n<log>\n<object-types>\n")
        for t in plan.objects:
            fh.write(f'<object-type name="{a(t)}"><attributes/></object-type>\n')
        fh.write("</object-types>\n<event-types>\n")
        for act, names in plan.attributes_of.items():
            inner = "".join(f'<attribute name="{a(n)}" type="{attr_type[n]}"/>' for n in names)
            fh.write(f'<event-type name="{a(act)}"><attributes>{inner}</attributes></event-type>\n')
        fh.write("</event-types>\n<objects>\n")
        for oid, otype, rels in iter_objects(plan):
            inner = "".join(f'<relationship object-id="{a(t)}" qualifier="{a(q)}"/>' for t, q in rels)
            fh.write(f'<object id="{a(oid)}" type="{a(otype)}"><attributes/>'
                     + (f"<objects>{inner}</objects>" if inner else "") + "</object>\n")
        fh.write("</objects>\n<events>\n")
        for b in iter_event_batches(plan, batches):
            acts = render_column(b.activity, a)
            attrs = [render_column(col, lambda v, n=name: f'<attribute name="{a(n)}">{xml_text(v)}</attribute>')
                     for name, _, col in b.attributes]
            rels = [render_column(col, lambda v, t=otype: f'<relationship object-id="{a(object_id(t, v))}" '
                                                         f'qualifier="{a(QUALIFIERS[t])}"/>')
                    for otype, col in b.objects]
            attr_rows, rel_rows = _joined_rows(attrs, b.n, ""), _joined_rows(rels, b.n, "")
            fh.write("".join(
                f'<event id="e{b.first + i + 1}" type="{act}" time="{t}"><attributes>{ar}</attributes>'
                f'<objects>{rr}</objects></event>\n'
                for i, (act, t, ar, rr) in enumerate(zip(acts, b.times, attr_rows, rel_rows))))
        fh.write("</events>\n</log>\n")


_SQL_TYPES = {"string": "TEXT", "time": "TIMESTAMP", "integer": "INTEGER", "float": "REAL", "boolean": "BOOLEAN"}


def map_type_names(names: list[str]) -> dict[str, str]:
    """Table-name suffix of each type: its letters and digits, made unique ignoring case (SQLite's rule)."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = re.sub(r"[^0-9A-Za-z]", "", name) or "type"
        cand, k = base, 2
        while cand.lower() in taken:
            cand, k = f"{base}_{k}", k + 1
        taken.add(cand.lower())
        out[name] = cand
    return out


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _sql_values(col: pa.Array, otype: str) -> list:
    """Values to store in SQLite for a column of OCEL texts of the given type."""
    texts = col.to_pylist()
    if otype == "integer":
        return [None if v is None else int(v) for v in texts]
    if otype == "float":
        return [None if v is None else float(v) for v in texts]
    if otype == "boolean":
        return [None if v is None else int(v == "true") for v in texts]
    return texts


def _write_sqlite(plan: ExportPlan, batches, tmp: Path) -> None:
    attr_type = dict(plan.attributes)
    reserved = {"ocel_id", "ocel_time", "ocel_changed_field"}
    lower: dict[str, str] = {}
    for n, _ in plan.attributes:
        if n.lower() in reserved or n.lower() in lower:
            other = n if n.lower() in reserved else lower[n.lower()]
            raise InputError(
                f"Attributes '{other}' and '{n}' would be the same SQLite column (SQLite ignores case)",
                field=n, hint="Rename one of them before exporting, or export OCEL JSON or XML")
        lower[n.lower()] = n
    emap = map_type_names(list(plan.attributes_of))
    omap = map_type_names(list(plan.objects))
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp)
    try:
        cur = con.cursor()
        cur.executescript("""
            PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
            CREATE TABLE event_map_type (ocel_type TEXT PRIMARY KEY, ocel_type_map TEXT);
            CREATE TABLE object_map_type (ocel_type TEXT PRIMARY KEY, ocel_type_map TEXT);
            CREATE TABLE event (ocel_id TEXT PRIMARY KEY, ocel_type TEXT);
            CREATE TABLE object (ocel_id TEXT PRIMARY KEY, ocel_type TEXT);
            CREATE TABLE event_object (ocel_event_id TEXT, ocel_object_id TEXT, ocel_qualifier TEXT,
                PRIMARY KEY (ocel_event_id, ocel_object_id, ocel_qualifier));
            CREATE TABLE object_object (ocel_source_id TEXT, ocel_target_id TEXT, ocel_qualifier TEXT,
                PRIMARY KEY (ocel_source_id, ocel_target_id, ocel_qualifier));
        """)
        cur.executemany("INSERT INTO event_map_type VALUES (?, ?)", emap.items())
        cur.executemany("INSERT INTO object_map_type VALUES (?, ?)", omap.items())
        for act, names in plan.attributes_of.items():
            cols = "".join(f", {_q(n)} {_SQL_TYPES[attr_type[n]]}" for n in names)
            cur.execute(f"CREATE TABLE {_q('event_' + emap[act])} (ocel_id TEXT PRIMARY KEY, ocel_time TIMESTAMP{cols})")
        for t in plan.objects:
            cur.execute(f"CREATE TABLE {_q('object_' + omap[t])} "
                        "(ocel_id TEXT, ocel_time TIMESTAMP, ocel_changed_field TEXT)")
        for oid, otype, rels in iter_objects(plan):
            cur.execute("INSERT INTO object VALUES (?, ?)", (oid, otype))
            cur.execute(f"INSERT INTO {_q('object_' + omap[otype])} VALUES (?, ?, NULL)", (oid, "1970-01-01T00:00:00Z"))
            if rels:
                cur.executemany("INSERT INTO object_object VALUES (?, ?, ?)", [(oid, t, q) for t, q in rels])
        inserts = {act: f"INSERT INTO {_q('event_' + emap[act])} (ocel_id, ocel_time"
                        + "".join(", " + _q(n) for n in names) + ") VALUES (?, ?" + ", ?" * len(names) + ")"
                   for act, names in plan.attributes_of.items()}
        for b in iter_event_batches(plan, batches):
            ids = np.array([f"e{b.first + i + 1}" for i in range(b.n)], dtype=object)
            acts = np.array(_strings(b.activity), dtype=object)
            cur.executemany("INSERT INTO event VALUES (?, ?)", zip(ids.tolist(), acts.tolist()))
            for otype, col in b.objects:
                oids = render_column(col, lambda v, t=otype: object_id(t, v))
                q = QUALIFIERS[otype]
                cur.executemany("INSERT INTO event_object VALUES (?, ?, ?)",
                                [(e, o, q) for e, o in zip(ids.tolist(), oids) if o is not None])
            values = {name: np.array(_sql_values(col, otype), dtype=object) for name, otype, col in b.attributes}
            times = np.array(b.times, dtype=object)
            codes, labels = pc.dictionary_encode(b.activity.cast(pa.string())
                                                 if pa.types.is_dictionary(b.activity.type) else b.activity), None
            labels = _strings(codes.dictionary)
            idx = codes.indices.to_numpy(zero_copy_only=False)
            for k, act in enumerate(labels):
                rows = np.flatnonzero(idx == k)
                cols = [ids[rows].tolist(), times[rows].tolist()] + \
                    [values[n][rows].tolist() for n in plan.attributes_of[act]]
                cur.executemany(inserts[act], zip(*cols))
        con.commit()
    finally:
        con.close()


_WRITERS = {"json": _write_json, "xml": _write_xml, "sqlite": _write_sqlite}


def write_ocel(log: pa.Table | str | os.PathLike, out_path: str | os.PathLike, fmt: OcelFormat = "json", *,
               pseudonym_key: bytes | None = None) -> int:
    """Write the log as OCEL 2.0 (``fmt``: json, xml or sqlite) atomically; return the number of events.

    A name ending in ``.gz`` is gzip-compressed (JSON and XML; a SQLite database cannot be read compressed,
    so such a name is refused). ``pseudonym_key`` pseudonymises customer ids that are not pseudonyms yet;
    without it, the run's key (see ``engine.ingest.pseudonym.run_key``) is used.
    """
    if fmt not in _WRITERS:
        raise InputError(f"Unknown OCEL format '{fmt}'", field="fmt", hint=f"Valid formats: {', '.join(FORMATS)}")
    compress = Path(out_path).name.lower().endswith(".gz")
    if compress and fmt == "sqlite":
        raise InputError("An OCEL SQLite database cannot be written gzip-compressed", path=str(out_path),
                         field="out_path", hint="Give a name without .gz (e.g. log.sqlite), or export OCEL JSON "
                                                "or XML, which can be compressed")
    schema, meta, batches = _open_source(log)
    plan = plan_export(schema, meta, batches, pseudonym_key=pseudonym_key)
    with atomic_path(out_path) as tmp:
        if compress:
            with _gzip_text(tmp) as fh:
                _WRITERS[fmt](plan, batches, fh)
        else:
            _WRITERS[fmt](plan, batches, tmp)
    return plan.n_events


@contextmanager
def _gzip_text(path: Path):
    """A text stream that writes gzip (no name or time in the header, so the same log gives the same bytes)."""
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                                compresslevel=GZIP_LEVEL) as gz, \
            io.TextIOWrapper(gz, encoding="utf-8", newline="") as fh:
        yield fh
