"""Mapping files: how the columns of a tabular export become canonical log columns.

A mapping file is TOML or YAML with the same keys (README, "Ingest and mapping
files"). ``load_mapping`` parses and validates it and returns a plain dict with
every key present and defaults filled in; every problem is reported with the
mapping file, the line of the offending key and how to fix it.

Long form: ``[columns]`` maps canonical (or attribute) columns to source
columns, one input row = one event. Wide form: one or more ``[[events]]``
entries turn one input row into several events (a call-center "one row per
call" table into IVR, queue and agent events).
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from engine.errors import InputError

FORMATS = ("csv", "jsonl", "parquet")
EPOCH_FORMATS = ("epoch_s", "epoch_ms", "epoch_us", "epoch_ns")
TOP_KEYS = ("format", "timezone", "timestamp_format", "date", "date_column", "date_format", "delimiter", "encoding",
            "null_values", "columns", "constants", "keep_unmapped", "pseudonymise", "events")
EVENT_KEYS = ("activity", "activity_column", "timestamp", "end_timestamp", "when", "unless", "where",
              "columns", "constants")
TIME_COLUMNS = ("timestamp", "end_timestamp")


def _key_lines(text: str, is_yaml: bool) -> dict[tuple, int]:
    """Line (1-based) of each key, by path: ("columns", "case_id"), ("events", 0, "when"), ..."""
    lines: dict[tuple, int] = {}
    if is_yaml:
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            return lines

        def walk(n, prefix: tuple) -> None:
            if isinstance(n, yaml.MappingNode):
                for k, v in n.value:
                    key = prefix + (k.value,)
                    lines[key] = k.start_mark.line + 1
                    walk(v, key)
            elif isinstance(n, yaml.SequenceNode):
                for i, v in enumerate(n.value):
                    lines[prefix + (i,)] = v.start_mark.line + 1
                    walk(v, prefix + (i,))
        if node is not None:
            walk(node, ())
        return lines
    table: tuple = ()
    counts: dict[str, int] = {}
    for no, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        m = re.match(r"^\[\[\s*([\w.\-]+)\s*\]\]", s)
        if m:
            name = m.group(1)
            counts[name] = counts.get(name, -1) + 1
            table = (name, counts[name])
            lines[table] = no
            lines.setdefault((name,), no)
            continue
        m = re.match(r"^\[\s*([\w.\-]+)\s*\]", s)
        if m:
            table = tuple(m.group(1).split("."))
            lines[table] = no
            continue
        m = re.match(r'^("([^"]*)"|\'([^\']*)\'|[\w.\-]+)\s*=', s)
        if m:
            key = m.group(2) if m.group(2) is not None else m.group(3) if m.group(3) is not None else m.group(1)
            lines.setdefault(table + (key,), no)
    return lines


class _Checker:
    def __init__(self, path: Path, lines: dict[tuple, int]) -> None:
        self.path = path
        self.lines = lines

    def line(self, *key) -> int | None:
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return None

    def fail(self, message: str, *key, hint: str | None = None) -> InputError:
        field = ".".join(str(k) for k in key) if key else None
        return InputError(message + " in the mapping file", path=str(self.path), line=self.line(*key),
                          field=field, hint=hint)

    def text(self, value, *key, allow_empty: bool = False) -> str:
        if not isinstance(value, str) or (not allow_empty and not value.strip()):
            name = ".".join(str(k) for k in key)
            raise self.fail(f"'{name}' must be a non-empty text (a column name or value), got {value!r}", *key,
                            hint=f'Write it as {key[-1]} = "..."')
        return value

    def unknown(self, found, valid, *prefix) -> None:
        for k in found:
            if k not in valid:
                close = difflib.get_close_matches(str(k), valid, n=1)
                hint = f"Did you mean '{close[0]}'?" if close else f"Valid keys: {', '.join(valid)}"
                raise self.fail(f"Unknown key '{k}'", *prefix, k, hint=hint)

    def column_map(self, value, *key, sources: bool = False) -> dict[str, str | list[str]]:
        """A table of column = "source column"; with ``sources``, also column = ["source", "source", ...]."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(f"'{'.'.join(map(str, key))}' must be a table of column = \"source column\"", *key)
        out: dict[str, str | list[str]] = {}
        for k, v in value.items():
            if sources and (isinstance(v, list) or not isinstance(v, str)):
                if not (isinstance(v, list) and v and all(isinstance(c, str) and c.strip() for c in v)):
                    name = ".".join(str(x) for x in (*key, k))
                    raise self.fail(f"'{name}' must be a non-empty text or a list of source columns (joined with "
                                    f"'|'), got {v!r}", *key, k, hint=f'For example {k} = ["line", "call_id"]')
                out[str(k)] = v[0] if len(v) == 1 else list(v)
            else:
                out[str(k)] = self.text(v, *key, k)
        return out

    def constant_map(self, value, *key) -> dict[str, object]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(f"'{'.'.join(map(str, key))}' must be a table of column = value", *key)
        out = {}
        for k, v in value.items():
            if isinstance(v, (dict, list)) or v is None:
                raise self.fail(f"Constant '{k}' must be a single value (text, number or true/false), got {v!r}",
                                *key, k)
            out[str(k)] = v
        return out


def load_mapping(path: str | os.PathLike) -> dict:
    """Parse and validate a TOML or YAML mapping file; return a dict with every key and its default.

    Returned keys: ``path``, ``format`` (or None), ``timezone`` (or None),
    ``timestamp_format``, ``date`` (a ``YYYY-MM-DD`` day or None),
    ``date_column`` (or None), ``date_format``, ``delimiter`` (or None: from
    the file), ``encoding``, ``null_values`` (list of values read as empty in
    every column), ``column_null_values`` (column -> such a list),
    ``columns`` (target -> source column, or a list of source columns joined
    with ``|``), ``constants``, ``keep_unmapped``, ``pseudonymise`` (extra PII
    columns), ``events`` (list, empty for the long form) and ``lines`` (line
    of each key, for messages).
    """
    path = Path(path)
    text, data, is_yaml = _read_mapping_file(path)
    check = _Checker(path, _key_lines(text, is_yaml))
    if not isinstance(data, dict):
        raise check.fail("The mapping must be a table of keys (columns, constants, events, ...)")
    check.unknown(list(data), TOP_KEYS)
    fmt = data.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise check.fail(f"Unknown format '{fmt}'", "format", hint=f"Valid formats: {', '.join(FORMATS)}")
    out = {"path": str(path), "format": fmt, **_time_keys(check, data), **_text_keys(check, data),
           **_null_values(check, data.get("null_values"))}
    columns = check.column_map(data.get("columns"), "columns", sources=True)
    raw_constants = data.get("constants")
    keep_unmapped = data.get("keep_unmapped", True)
    # `keep_unmapped` written under [constants] (TOML puts it there when it follows that header)
    if isinstance(raw_constants, dict) and "keep_unmapped" in raw_constants:
        raw_constants = dict(raw_constants)
        keep_unmapped = raw_constants.pop("keep_unmapped")
    if not isinstance(keep_unmapped, bool):
        raise check.fail(f"keep_unmapped must be true or false, got {keep_unmapped!r}", "keep_unmapped")
    constants = check.constant_map(raw_constants, "constants")
    pii = data.get("pseudonymise", [])
    if isinstance(pii, str):
        pii = [pii]
    if not isinstance(pii, list) or not all(isinstance(c, str) and c for c in pii):
        raise check.fail("pseudonymise must be a list of column names", "pseudonymise",
                         hint='For example pseudonymise = ["caller_number", "email"]')
    events = _events(check, data.get("events", []))
    if events:
        for c in ("activity", *TIME_COLUMNS):
            if c in columns:
                raise check.fail(f"[columns] maps '{c}' but the mapping has [[events]] entries (wide form)",
                                 "columns", c,
                                 hint=f"In the wide form give '{c}' in each [[events]] entry, not under [columns]")
    out.update({"columns": columns, "constants": constants,
                "keep_unmapped": keep_unmapped, "pseudonymise": list(pii), "events": events,
                "lines": {".".join(str(k) for k in key): no for key, no in check.lines.items()}})
    return out


def _read_mapping_file(path: Path) -> tuple[str, object, bool]:
    """The file's text, its parsed content (None for an empty file) and whether it is YAML."""
    if not path.exists():
        raise InputError("Mapping file not found", path=str(path))
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise InputError("Mapping file is not UTF-8 text", path=str(path), line=line,
                         hint="Save it as UTF-8") from exc
    except OSError as exc:
        raise InputError(f"Cannot read the mapping file: {exc.strerror}", path=str(path)) from exc
    is_yaml = path.suffix.lower() in (".yaml", ".yml")
    if is_yaml:
        try:
            data = yaml.safe_load(text)
            return text, {} if data is None else data, True
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise InputError(f"Mapping file is not valid YAML: {problem}", path=str(path),
                             line=None if mark is None else mark.line + 1,
                             hint="Fix the YAML syntax at that line") from exc
    try:
        return text, tomllib.loads(text), False
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        what = re.sub(r"\s*\(at line.*\)", "", str(exc))
        raise InputError(f"Mapping file is not valid TOML: {what}", path=str(path),
                         line=int(m.group(1)) if m else None,
                         hint='Fix the TOML syntax at that line (values in quotes: timestamp = "start")') from exc


def _time_keys(check: _Checker, data: dict) -> dict:
    """timezone, timestamp_format, and for exports with times of day only: date, date_column, date_format."""
    tz = data.get("timezone")
    if tz is not None:
        check.text(tz, "timezone")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise check.fail(f"Unknown time zone '{tz}'", "timezone",
                             hint='Use an IANA name such as "Europe/Berlin", "America/New_York" or "UTC"') from exc
    date = data.get("date")
    if date is not None:
        check.text(date, "date")
        try:
            ok = bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", date)) and dt.date.fromisoformat(date) is not None
        except ValueError:
            ok = False
        if not ok:
            raise check.fail(f"date must be a day written YYYY-MM-DD, got '{date}'", "date",
                             hint='For example date = "2026-03-01"')
    date_column = data.get("date_column")
    if date_column is not None:
        check.text(date_column, "date_column")
        if date is not None:
            raise check.fail("give either date or date_column, not both", "date_column",
                             hint="date is one day for the whole file; date_column names the column holding each "
                                  "record's day")
    date_format = data.get("date_format", "%Y-%m-%d")
    check.text(date_format, "date_format")
    if "%" not in date_format:
        raise check.fail(f"date_format '{date_format}' is not a strptime pattern", "date_format",
                         hint='For example date_format = "%d/%m/%Y" or "%y%m%d"')
    if "date_format" in data and date_column is None:
        raise check.fail("date_format is used only with date_column", "date_format",
                         hint='Name the column holding the day: date_column = "date"')
    of_day = date is not None or date_column is not None
    ts_format = _timestamp_format(check, data.get("timestamp_format", "%H:%M:%S" if of_day else "ISO8601"))
    if of_day and "%" not in ts_format:
        raise check.fail(f"timestamp_format must be a strptime pattern for times of day when "
                         f"{'date' if date is not None else 'date_column'} is given, got '{ts_format}'",
                         "timestamp_format", hint='For example timestamp_format = "%H:%M:%S"')
    return {"timezone": tz, "timestamp_format": ts_format, "date": date, "date_column": date_column,
            "date_format": date_format}


def _timestamp_format(check: _Checker, ts_format) -> str:
    check.text(ts_format, "timestamp_format")
    if ts_format.upper() == "ISO8601":
        return "ISO8601"
    if ts_format.lower() in EPOCH_FORMATS:
        return ts_format.lower()
    if "%" not in ts_format:
        raise check.fail(f"timestamp_format '{ts_format}' is neither ISO8601, an epoch unit nor a strptime pattern",
                         "timestamp_format",
                         hint='Use "ISO8601", "epoch_s", "epoch_ms" or a pattern such as "%d/%m/%Y %H:%M:%S"')
    return ts_format


def _text_keys(check: _Checker, data: dict) -> dict:
    """delimiter and encoding."""
    delimiter = data.get("delimiter")
    if delimiter is not None:
        check.text(delimiter, "delimiter", allow_empty=True)
        if delimiter.lower() in ("tab", "\\t"):
            delimiter = "\t"
        if len(delimiter) != 1:
            raise check.fail(f"delimiter must be one character, got {delimiter!r}", "delimiter",
                             hint='For example delimiter = ";" or delimiter = "\\t"')
    encoding = data.get("encoding", "utf-8")
    check.text(encoding, "encoding")
    try:
        "".encode(encoding)
    except LookupError as exc:
        raise check.fail(f"Unknown encoding '{encoding}'", "encoding",
                         hint='For example encoding = "utf-8", "cp1252" or "latin-1"') from exc
    return {"delimiter": delimiter, "encoding": encoding}


def _null_values(check: _Checker, value) -> dict:
    """null_values: a list of values read as empty in every column, or a table of column -> such a list."""
    hint = 'For example null_values = ["0:00:00", "NO_SERVER", "-", "N/A"], or per column: [null_values] ' \
           'q_start = ["0:00:00"]'

    def values(v, *key) -> list[str]:
        if not isinstance(v, list) or any(isinstance(x, (list, dict)) or x is None for x in v):
            name = ".".join(map(str, key))
            table = " (or a table of column = list)" if len(key) == 1 else ""
            raise check.fail(f"{name} must be a list of values{table}, got {v!r}", *key, hint=hint)
        return [str(x).lower() if isinstance(x, bool) else str(x) for x in v]

    if value is None:
        return {"null_values": [], "column_null_values": {}}
    if isinstance(value, dict):
        return {"null_values": [], "column_null_values": {str(c): values(v, "null_values", c)
                                                          for c, v in value.items()}}
    return {"null_values": values(value, "null_values"), "column_null_values": {}}


def _events(check: _Checker, events_raw) -> list[dict]:
    """The wide form's [[events]] entries, checked."""
    if isinstance(events_raw, dict):
        events_raw = [events_raw]
    if not isinstance(events_raw, list):
        raise check.fail("events must be a list of [[events]] entries", "events")
    return [_event(check, i, ev) for i, ev in enumerate(events_raw)]


def _event(check: _Checker, i: int, ev) -> dict:
    if not isinstance(ev, dict):
        raise check.fail(f"events entry {i + 1} must be a table", "events", i)
    check.unknown(list(ev), EVENT_KEYS, "events", i)
    has_fixed, has_col = "activity" in ev, "activity_column" in ev
    if has_fixed == has_col:
        raise check.fail(f"events entry {i + 1} needs exactly one of 'activity' (a fixed label) or "
                         f"'activity_column' (a source column)", "events", i,
                         hint='For example activity = "IVR menu"')
    if "timestamp" not in ev:
        raise check.fail(f"events entry {i + 1} has no 'timestamp'", "events", i,
                         hint='Name the source column of its time, e.g. timestamp = "ivr_entry"')

    def optional(key: str) -> str | None:
        return check.text(ev[key], "events", i, key) if ev.get(key) is not None else None

    spec = {
        "activity": check.text(ev["activity"], "events", i, "activity") if has_fixed else None,
        "activity_column": check.text(ev["activity_column"], "events", i, "activity_column") if has_col else None,
        "timestamp": check.text(ev["timestamp"], "events", i, "timestamp"),
        "end_timestamp": optional("end_timestamp"),
        "unless": optional("unless"),
        "columns": check.column_map(ev.get("columns"), "events", i, "columns", sources=True),
        "constants": check.constant_map(ev.get("constants"), "events", i, "constants"),
        "line": check.line("events", i),
    }
    spec["when"] = optional("when") or spec["timestamp"]
    where = ev.get("where") or {}
    if not isinstance(where, dict):
        raise check.fail("where must be a table of column = value (or list of values)", "events", i, "where",
                         hint='For example where = { outcome = "abandoned" }')
    spec["where"] = {}
    for col, val in where.items():
        vals = val if isinstance(val, list) else [val]
        if not vals or any(isinstance(v, (dict, list)) or v is None for v in vals):
            raise check.fail(f"where.{col} must be a value or a list of values", "events", i, "where", col)
        spec["where"][str(col)] = [str(v).lower() if isinstance(v, bool) else str(v) for v in vals]
    for c in ("activity", *TIME_COLUMNS):
        if c in spec["columns"]:
            raise check.fail(f"events entry {i + 1} maps '{c}' under columns", "events", i, "columns", c,
                             hint=f"Give it as {c} = \"...\" in the [[events]] entry itself")
    return spec


def default_mapping() -> dict:
    """The mapping used when none is given: canonical column names, ISO 8601 times."""
    return {"path": "(no mapping file)", "format": None, "timezone": None, "timestamp_format": "ISO8601",
            "date": None, "date_column": None, "date_format": "%Y-%m-%d", "delimiter": None, "encoding": "utf-8",
            "null_values": [], "column_null_values": {}, "columns": {}, "constants": {}, "keep_unmapped": True,
            "pseudonymise": [], "events": [], "lines": {}}


def with_timezone(mapping: dict | None, timezone: str) -> dict:
    """A copy of ``mapping`` (or the default) whose timezone is ``timezone``, validated."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(f"Unknown time zone '{timezone}'", field="timezone",
                         hint='Use an IANA name such as "Europe/Berlin", "America/New_York" or "UTC"') from exc
    out = dict(mapping or default_mapping())
    out["timezone"] = timezone
    return out
