"""XES (IEEE 1849-2016) writer for the canonical log, streaming and atomic.

The log is read batch by batch (Parquet row groups are never loaded whole)
and each batch's XML is built with Arrow string kernels: every attribute
becomes one column of ready-made ``<string key=.. value=../>`` lines (built
once per dictionary entry for dictionary-encoded columns), the lines of an
event are joined element-wise, and the batch's bytes are the joined array's
data buffer. No Python loop runs per event and no pm4py object log is built.
``.gz`` output is compressed on a second thread while the next batch is built.

Mapping (read back by pm4py's ``read_xes`` as the same log):

- ``case_id`` -> trace ``concept:name``; ``case:<key>`` columns -> trace
  attribute ``<key>`` (value of the case's first event)
- ``activity`` -> ``concept:name``, ``timestamp`` -> ``time:timestamp``,
  ``resource`` -> ``org:resource``, ``lifecycle`` -> ``lifecycle:transition``
- every other column -> an event attribute keyed by the column name (``attr:<key>``,
  the reader's name for a key that clashed with a canonical column, goes back to
  ``<key>``); strings
  -> ``string``, timestamps -> ``date`` (UTC, to the microsecond), integers ->
  ``int``, floats -> ``float``, booleans -> ``boolean``; empty values are left
  out of the event, as XES has no null.
"""

from __future__ import annotations

import gzip
import os
import queue
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.atomic import atomic_path
from engine.errors import InputError
from engine.log.store import open_log
from engine.log.timestamps import format_timestamps
from engine.log.values import value_kind

BATCH_ROWS = 1 << 15
GZIP_LEVEL = 1
QUEUE_BLOCKS = 2
EVENT_KEYS = {"activity": "concept:name", "timestamp": "time:timestamp", "resource": "org:resource",
              "lifecycle": "lifecycle:transition"}
SKIP = {"case_id", "case_index"}

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1849.2016" xes.features="nested-attributes">
\t<extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
\t<extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>
\t<extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>
\t<extension name="Lifecycle" prefix="lifecycle" uri="http://www.xes-standard.org/lifecycle.xesext"/>
\t<global scope="trace">
\t\t<string key="concept:name" value="__INVALID__"/>
\t</global>
\t<global scope="event">
\t\t<string key="concept:name" value="__INVALID__"/>
\t\t<date key="time:timestamp" value="1970-01-01T00:00:00.000000+00:00"/>
\t</global>
\t<classifier name="Activity" keys="concept:name"/>
\t<string key="concept:name" value="{name}"/>
"""

_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"),
            ("\n", "&#10;"), ("\r", "&#13;"), ("\t", "&#9;"))
_NEEDS_ESCAPE = '[&<>"\n\r\t]'
_NOT_XML = "[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"


def escape_xml(values: pa.Array) -> pa.Array:
    """XML-escape a string array for an attribute value (characters XML 1.0 forbids become U+FFFD)."""
    if len(values) == 0:
        return values
    if pc.any(pc.match_substring_regex(values, _NOT_XML)).as_py():
        values = pc.replace_substring_regex(values, _NOT_XML, "\ufffd")
    if not pc.any(pc.match_substring_regex(values, _NEEDS_ESCAPE)).as_py():
        return values
    for raw, esc in _ESCAPES:
        values = pc.replace_substring(values, raw, esc)
    return values


def _escape_text(text: str) -> str:
    for raw, esc in _ESCAPES:
        text = text.replace(raw, esc)
    return text


XES_TYPES = {"time": "date", "boolean": "boolean", "integer": "int", "float": "float", "decimal": "string",
             "string": "string"}


def _xes_type(t: pa.DataType) -> str:
    return XES_TYPES[value_kind(t)]


def _as_plain_string(col: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if pa.types.is_large_string(col.type):
        return col.cast(pa.string())
    if pa.types.is_string(col.type):
        return col
    try:
        return pc.cast(col, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InputError(f"A column of type {col.type} cannot be written to XES") from exc


def _value_text(col: pa.Array, xes_type: str) -> pa.Array:
    """The XES text of each value (escaped where it is free text); nulls stay null."""
    if xes_type == "date":
        return format_dates(col)
    if xes_type == "boolean":
        return pc.if_else(col, pa.scalar("true"), pa.scalar("false"))
    if xes_type in ("int", "float"):
        text = pc.cast(col, pa.string())
        if xes_type == "float":
            text = pc.replace_substring(pc.replace_substring(text, "nan", "NaN"), "inf", "INF")
        return text
    return escape_xml(_as_plain_string(col))


def format_dates(col: pa.Array) -> pa.Array:
    """``YYYY-MM-DDThh:mm:ss.ffffff+00:00`` (UTC, microseconds) of a timestamp array."""
    return format_timestamps(col, fraction="micro")


def _lines(col: pa.Array, key: str, indent: str) -> pa.Array:
    """One ``<type key="key" value="..."/>`` line per value; null where the value is null."""
    xes_type = _xes_type(col.type)
    head = pa.scalar(f'{indent}<{xes_type} key="{_escape_text(key)}" value="')
    tail = pa.scalar('"/>\n')
    if pa.types.is_dictionary(col.type) and len(col.dictionary) <= len(col):
        # build each distinct line once, then pick by index
        lines = pc.binary_join_element_wise(head, _value_text(col.dictionary, xes_type), tail, "")
        return pc.take(lines, col.indices)
    return pc.binary_join_element_wise(head, _value_text(col, xes_type), tail, "")


class _Sink:
    """Writes byte blocks to a file, gzip-compressed on a second thread when asked."""

    def __init__(self, path: Path, compress: bool) -> None:
        self._raw = open(path, "wb")
        self._fh = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) if compress \
            else self._raw
        self._q: queue.Queue = queue.Queue(maxsize=QUEUE_BLOCKS)
        self._error: BaseException | None = None
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            if self._error is None:
                try:
                    self._fh.write(item)
                except BaseException as exc:  # re-raised in the caller's thread
                    self._error = exc

    def write(self, data) -> None:
        if self._error is not None:
            raise self._error
        self._q.put(data)

    def close(self) -> None:
        self._q.put(None)
        self._t.join()
        try:
            if self._fh is not self._raw:
                self._fh.close()
        finally:
            self._raw.close()
        if self._error is not None:
            raise self._error


def _batches(source: pa.Table | str | os.PathLike):
    """(schema, iterator of record batches) of a stored log or a table."""
    if isinstance(source, pa.Table):
        table = source
        if "case_index" not in table.column_names:
            from engine.log.schema import sort_log
            table = sort_log(table)
        return table.schema, iter(table.to_batches(max_chunksize=BATCH_ROWS))
    pf = open_log(source)
    schema = pf.schema_arrow
    return schema, pf.iter_batches(batch_size=BATCH_ROWS)


def _case_starts(case: pa.Array, previous_last):
    """Row positions where a new case starts, given the last case id of the previous batch."""
    if pa.types.is_dictionary(case.type):
        codes = case.indices.to_numpy(zero_copy_only=False)
        dictionary = case.dictionary
        change = np.empty(len(codes), bool)
        change[1:] = codes[1:] != codes[:-1]
        first = dictionary[int(codes[0])].as_py() if len(codes) else None
    else:
        plain = _as_plain_string(case)
        change = np.empty(len(plain), bool)
        if len(plain) > 1:
            change[1:] = pc.not_equal(plain.slice(1), plain.slice(0, len(plain) - 1)).to_numpy(zero_copy_only=False)
        first = plain[0].as_py() if len(plain) else None
    if len(change):
        change[0] = first != previous_last
    return np.flatnonzero(change)


def write_xes(source: pa.Table | str | os.PathLike, out_path: str | os.PathLike, *, name: str | None = None) -> int:
    """Write the log (a stored log's path or a table) as XES; ``.gz`` names are gzip-compressed.

    Returns the number of events written. The file appears only when complete.
    """
    out_path = Path(out_path)
    schema, batches = _batches(source)
    log_name = name or (Path(source).stem if not isinstance(source, pa.Table) else "cxmine log")
    event_cols = [c for c in schema.names if c not in SKIP and not c.startswith("case:")]
    event_cols.sort(key=lambda c: (c not in EVENT_KEYS, list(EVENT_KEYS).index(c) if c in EVENT_KEYS else 0))
    trace_cols = [c for c in schema.names if c.startswith("case:")]
    n_events = 0
    last_case = None
    open_trace = False
    with atomic_path(out_path) as tmp:
        sink = _Sink(tmp, out_path.name.lower().endswith(".gz"))
        try:
            sink.write(HEADER.format(name=_escape_text(log_name)).encode())
            for batch in batches:
                n = batch.num_rows
                if n == 0:
                    continue
                case = batch.column("case_id")
                starts = _case_starts(case, last_case)
                pieces = []
                if len(starts):
                    idx = pa.array(starts)
                    case_text = escape_xml(_as_plain_string(pc.take(case, idx)))
                    opening = [pa.scalar('\t<trace>\n\t\t<string key="concept:name" value="'), case_text,
                               pa.scalar('"/>\n')]
                    for c in trace_cols:
                        opening.append(_lines(pc.take(batch.column(c), idx), c[len("case:"):], "\t\t"))
                    trace_open = pc.binary_join_element_wise(*opening, "", null_handling="skip")
                    close = np.ones(len(starts), bool)
                    close[0] = open_trace
                    trace_open = pc.if_else(pa.array(close),
                                            pc.binary_join_element_wise(pa.scalar("\t</trace>\n"), trace_open, ""),
                                            trace_open)
                    slot = np.full(n, -1, np.int64)
                    slot[starts] = np.arange(len(starts))
                    pieces.append(pc.take(trace_open, pa.array(slot, mask=slot < 0)))
                pieces.append(pa.scalar("\t\t<event>\n"))
                for c in event_cols:
                    pieces.append(_lines(batch.column(c), _event_key(c), "\t\t\t"))
                pieces.append(pa.scalar("\t\t</event>\n"))
                xml = pc.binary_join_element_wise(*pieces, "", null_handling="skip")
                sink.write(_buffer_of(xml))
                n_events += n
                open_trace = True
                last_case = _last_case(case)
            sink.write(b"\t</trace>\n</log>\n" if open_trace else b"</log>\n")
        finally:
            sink.close()
    return n_events


def _event_key(column: str) -> str:
    """XES key of an event column; ``attr:<key>`` is how the reader kept a key that clashed with a canonical name."""
    if column in EVENT_KEYS:
        return EVENT_KEYS[column]
    return column[len("attr:"):] if column.startswith("attr:") else column


def _last_case(case: pa.Array):
    v = case[len(case) - 1]
    return v.as_py() if not isinstance(v, pa.DictionaryScalar) else v.value.as_py()


def _buffer_of(xml: pa.Array):
    """The concatenated bytes of a string array without nulls (its data buffer, no copy)."""
    xml = xml.combine_chunks() if isinstance(xml, pa.ChunkedArray) else xml
    offsets = np.frombuffer(xml.buffers()[1], dtype=np.int64 if pa.types.is_large_string(xml.type) else np.int32,
                            count=len(xml) + 1, offset=xml.offset * (8 if pa.types.is_large_string(xml.type) else 4))
    data = xml.buffers()[2]
    return memoryview(data)[int(offsets[0]):int(offsets[-1])]
