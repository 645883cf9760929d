"""Events from a raw source through a mapping: which columns make which events, and which records are refused.

The phases: plan (resolve every mapped column against the source), check
(per record: empty case id, activity or time, a time that does not parse, an
end before its start, a wide-form row that makes no event, an exact duplicate;
the first reason wins), assemble (one piece of events per ``[[events]]``
entry, in input order), then canonical text columns and pseudonymised PII.
Python touches only refused records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.errors import InputError
from engine.ingest import ReadOptions, ReadResult, Reject
from engine.ingest.columns import CANONICAL, as_text, constant_array, missing_column, nonempty, prepare_columns
from engine.ingest.duplicates import find_duplicates
from engine.ingest.pseudonym import pseudonymise, run_key
from engine.ingest.source import RawSource
from engine.ingest.timestamps import BAD_DATE, NO_OFFSET, ParsedTimes, parse_timestamps, problem_reason
from engine.log.schema import REQUIRED_COLUMNS


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


@dataclass
class _Plan:
    """The mapping resolved against one source: row-level columns, constants, event specs, source columns used."""

    columns: dict[str, str]
    constants: dict
    specs: list[_EventSpec]
    used: set[str]
    wide: bool
    joined: dict[str, list[str]] = field(default_factory=dict)


def _plan(src: RawSource, mapping: dict | None) -> _Plan:
    """Resolve the mapping's columns against the source; a missing one is refused with the mapping line."""
    m = mapping or {}
    available = src.table.column_names
    columns = dict(m.get("columns", {}))
    constants = dict(m.get("constants", {}))
    used: set[str] = set(columns.values())

    def need(target: str) -> None:
        source = columns.get(target)
        if source is None:
            if target in available and target not in used:
                columns[target] = target
                used.add(target)
                return
            if target in constants:
                return
            raise missing_column(target, src, mapping, used)
        if source not in available:
            raise missing_column(target, src, mapping, used, source_col=source, key=f"columns.{target}")

    events_cfg = m.get("events", [])
    if not events_cfg:
        for target in REQUIRED_COLUMNS:
            need(target)
        if "end_timestamp" in available and "end_timestamp" not in columns and "end_timestamp" not in used:
            columns["end_timestamp"] = "end_timestamp"
        for target in list(columns):
            need(target)
        for c in CANONICAL:
            if c in available and c not in columns and c not in used and c not in constants:
                columns[c] = c
        spec = _EventSpec(None, columns.pop("activity"), columns.pop("timestamp"), columns.pop("end_timestamp", None),
                          None)
        used = set(columns.values()) | {spec.activity_column, spec.timestamp} | \
            ({spec.end_timestamp} if spec.end_timestamp else set())
        return _Plan(columns, constants, [spec], used, wide=False)
    need("case_id")
    for target in list(columns):
        need(target)
    specs = [_wide_spec(i, ev, src, mapping, used) for i, ev in enumerate(events_cfg)]
    return _Plan(columns, constants, specs, used, wide=True)


def _wide_spec(i: int, ev: dict, src: RawSource, mapping: dict | None, used: set[str]) -> _EventSpec:
    """One ``[[events]]`` entry checked against the source; its columns are added to ``used``."""
    available = src.table.column_names
    for key in ("activity_column", "timestamp", "end_timestamp", "when", "unless"):
        col = ev.get(key)
        if col is not None and col not in available:
            raise missing_column(key, src, mapping, used, source_col=col, key=f"events.{i}.{key}")
    for key, col in list(ev.get("columns", {}).items()) + [(c, c) for c in ev.get("where", {})]:
        if col not in available:
            raise missing_column(key, src, mapping, used, source_col=col, key=f"events.{i}.columns.{key}")
    used |= {c for c in (ev.get("activity_column"), ev["timestamp"], ev.get("end_timestamp"), ev.get("when"),
                         ev.get("unless")) if c} | set(ev.get("columns", {}).values())
    return _EventSpec(ev.get("activity"), ev.get("activity_column"), ev["timestamp"], ev.get("end_timestamp"),
                      ev.get("when"), ev.get("unless"), ev.get("where", {}), ev.get("columns", {}),
                      ev.get("constants", {}), key=f"events.{i}")


class _Refusals:
    """Per-record problems; the first reason given for a record wins."""

    def __init__(self) -> None:
        self.reason_of: dict[int, str] = {}

    def refuse(self, rows: np.ndarray, reason: Callable[[int], str]) -> None:
        for r in rows:
            r = int(r)
            if r not in self.reason_of:
                self.reason_of[r] = reason(r)

    def mask(self, n: int) -> np.ndarray:
        """True for records not refused."""
        ok = np.ones(n, dtype=bool)
        if self.reason_of:
            ok[np.fromiter(self.reason_of, dtype=np.int64)] = False
        return ok


class _Times:
    """Parsed time columns of a source, each parsed once, in the mapping's format and zone (and on its dates)."""

    def __init__(self, src: RawSource, mapping: dict) -> None:
        self.src = src
        self.fmt = mapping.get("timestamp_format", "ISO8601")
        self.tz = mapping.get("timezone")
        self.date_column = mapping.get("date_column")
        self.date_format = mapping.get("date_format", "%Y-%m-%d")
        self.dates = src.table.column(self.date_column) if self.date_column else mapping.get("date")
        self.parsed: dict[str, ParsedTimes] = {}

    def __call__(self, col: str) -> ParsedTimes:
        if col not in self.parsed:
            raw = self.src.table.column(col)
            p = parse_timestamps(raw, self.fmt, self.tz, dates=self.dates, date_format=self.date_format)
            present = nonempty(raw)
            if self.tz is None and present.any() and np.all(p.problem[present] == NO_OFFSET):
                first = int(np.flatnonzero(present)[0])
                raise InputError(
                    f"Timestamps in column '{col}' of {self.src.name} carry no UTC offset (e.g. "
                    f"'{raw[first].as_py()}' on line {int(self.src.lines[first])}) and no time zone is given",
                    field=col,
                    hint="Add the zone of these local times to the mapping file: timezone = \"Europe/Berlin\" "
                         "(or write the offsets, e.g. 2026-03-01T09:30:00+01:00)")
            self.parsed[col] = p
        return self.parsed[col]

    def reason(self, problem: int, row: int, column: str) -> str:
        """Why the time in ``column`` of record ``row`` was refused."""
        if problem == BAD_DATE and self.date_column is not None:
            return (f"unparseable date '{str(self.dates[row].as_py()).strip()}' in column '{self.date_column}' "
                    f"(expected the pattern {self.date_format})")
        return problem_reason(problem, str(self.src.table.column(column)[row].as_py()).strip(), column, self.fmt,
                              self.tz)


def _check_spec(spec: _EventSpec, table: pa.Table, times: _Times, refusals: _Refusals) -> np.ndarray:
    """The records this spec makes an event of; refuse those among them with an empty or bad value."""
    n = table.num_rows
    emit = np.ones(n, dtype=bool) if spec.when is None else nonempty(table.column(spec.when))
    if spec.unless is not None:
        emit &= ~nonempty(table.column(spec.unless))
    for col, vals in spec.where.items():
        text = as_text(table.column(col))
        hit = pc.fill_null(pc.is_in(pc.utf8_trim_whitespace(text), value_set=pa.array(vals, pa.string())), False)
        emit &= hit.to_numpy(zero_copy_only=False)
    if spec.activity_column is not None:
        empty_act = emit & ~nonempty(table.column(spec.activity_column))
        refusals.refuse(np.flatnonzero(empty_act), lambda r, c=spec.activity_column: f"empty activity (column '{c}')")
    present_ts = nonempty(table.column(spec.timestamp))
    refusals.refuse(np.flatnonzero(emit & ~present_ts), lambda r, c=spec.timestamp: f"empty timestamp (column '{c}')")
    for col in (spec.timestamp, spec.end_timestamp):
        if col is None:
            continue
        p = times(col)
        bad = emit & (p.problem > 0)
        if bad.any():
            refusals.refuse(np.flatnonzero(bad), lambda r, c=col, p=p: times.reason(int(p.problem[r]), r, c))
    if spec.end_timestamp is not None:
        s, e = times(spec.timestamp), times(spec.end_timestamp)
        before = emit & s.valid & e.valid & (e.values < s.values)
        if before.any():
            a, b = spec.timestamp, spec.end_timestamp
            raw_s, raw_e = table.column(a), table.column(b)
            refusals.refuse(np.flatnonzero(before), lambda r, a=a, b=b, rs=raw_s, re_=raw_e:
                            f"end '{str(re_[r].as_py()).strip()}' (column '{b}') is before start "
                            f"'{str(rs[r].as_py()).strip()}' (column '{a}')")
    return emit


def _check_records(src: RawSource, plan: _Plan, times: _Times, refusals: _Refusals) -> list[np.ndarray]:
    """Every per-record check; the emit mask of each spec."""
    table = src.table
    case_col = plan.columns.get("case_id")
    if case_col is not None:
        empty_case = ~nonempty(table.column(case_col))
        named = (f"columns {', '.join(repr(c) for c in plan.joined[case_col])}" if case_col in plan.joined
                 else f"column '{case_col}'")
        refusals.refuse(np.flatnonzero(empty_case), lambda r: f"empty case_id ({named})")
    emitted = [_check_spec(spec, table, times, refusals) for spec in plan.specs]
    if plan.wide:
        any_event = np.logical_or.reduce(emitted) if emitted else np.zeros(table.num_rows, dtype=bool)
        whens = ", ".join(sorted({s.when or s.timestamp for s in plan.specs}))
        refusals.refuse(np.flatnonzero(~any_event), lambda r: f"no event: every [[events]] entry's condition is empty "
                                                              f"(columns {whens})")
    # duplicates among records otherwise good
    if plan.wide:
        dup_cols = [table.column(c) for c in table.column_names]
    else:
        spec, case = plan.specs[0], plan.columns["case_id"]
        dup_cols = [table.column(case), table.column(spec.activity_column), times(spec.timestamp).to_arrow()] + \
            [table.column(c) for c in table.column_names if c not in (case, spec.activity_column, spec.timestamp)]
    first = find_duplicates(dup_cols, refusals.mask(table.num_rows))
    refusals.refuse(np.flatnonzero(first >= 0), lambda r: f"duplicate of line {int(src.lines[first[r]])}")
    return emitted


def _row_columns(src: RawSource, plan: _Plan, keep_unmapped: bool, warnings: list[str]) -> dict[str, pa.Array]:
    """Row-level attribute columns: mapped ones, constants, and (if kept) the unmapped source columns."""
    table = src.table
    row_cols: dict[str, pa.Array] = {}
    for target, source in plan.columns.items():
        row_cols[target] = table.column(source).combine_chunks()
    for target, value in plan.constants.items():
        if target not in row_cols:
            row_cols[target] = constant_array(value, table.num_rows)
    if keep_unmapped:
        for c in table.column_names:
            if c in plan.used or c in plan.columns.values():
                continue
            if c in row_cols or c in CANONICAL or c in ("activity", "timestamp", "end_timestamp", "case_index"):
                warnings.append(f"{src.name}: column '{c}' is not mapped and its name is taken by a canonical "
                                f"column; it was left out (map it under another name to keep it)")
                continue
            row_cols[c] = table.column(c).combine_chunks()
    return row_cols


def _assemble(table: pa.Table, plan: _Plan, emitted: list[np.ndarray], ok: np.ndarray, times: _Times,
              row_cols: dict[str, pa.Array]) -> pa.Table:
    """The events of the accepted records, one piece per spec, in input order."""
    pieces = []
    for spec, emit in zip(plan.specs, emitted):
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
            cols[name] = constant_array(value, len(rows))
        pieces.append(pa.table(cols))
    out = pa.concat_tables(pieces, promote_options="permissive") if len(pieces) > 1 else pieces[0]
    if len(pieces) > 1:
        order = np.argsort(out.column("__row").to_numpy(), kind="stable")
        out = out.take(pa.array(order))
    return out.drop_columns(["__row"])


def _canonical_text(out: pa.Table) -> pa.Table:
    """Canonical columns as trimmed text; empty -> null for the optional ones."""
    cols, names = [], []
    for name in out.column_names:
        col = out.column(name)
        if name in CANONICAL and name not in ("timestamp", "end_timestamp"):
            col = as_text(col)
            if name not in ("case_id", "activity"):
                col = pc.if_else(pc.equal(pc.utf8_trim_whitespace(col), ""), pa.scalar(None, pa.string()), col)
            else:
                col = pc.utf8_trim_whitespace(col)
        cols.append(col)
        names.append(name)
    return pa.table(cols, names=names)


def _pseudonymise_pii(out: pa.Table, src: RawSource, plan: _Plan, listed: list[str], options: ReadOptions,
                      warnings: list[str]) -> pa.Table:
    """Pseudonymise customer_id and the columns listed, named as output or as source columns."""
    targets_of: dict[str, list[str]] = {}
    for target, source in list(plan.columns.items()) + [kv for spec in plan.specs for kv in spec.columns.items()]:
        targets_of.setdefault(source, []).append(target)
    pii: dict[str, None] = {}
    for c in ["customer_id", *listed]:
        found = [t for t in [c, *targets_of.get(c, [])] if t in out.column_names]
        if not found and c != "customer_id":
            warnings.append(f"{src.name}: column '{c}' listed under pseudonymise is neither in the input nor mapped")
        pii.update(dict.fromkeys(found))
    if not pii:
        return out
    key, warning = run_key(options.pseudonym_key)
    for c in pii:
        col = as_text(out.column(c))
        col = pc.if_else(pc.equal(pc.utf8_trim_whitespace(col), ""), pa.scalar(None, pa.string()), col)
        out = out.set_column(out.column_names.index(c), c, pseudonymise(col, key))
    if warning and warning not in warnings:
        warnings.append(warning)
    return out


def build_events(src: RawSource, mapping: dict | None, options: ReadOptions) -> ReadResult:
    """Turn a raw source into canonical events; refuse bad records with their reason."""
    src, mapping, joined = prepare_columns(src, mapping)
    m = mapping or {}
    plan = _plan(src, mapping)
    plan.joined = joined
    plan.used |= {part for parts in joined.values() for part in parts}
    if m.get("date_column"):
        plan.used.add(m["date_column"])
    times = _Times(src, m)
    refusals = _Refusals()
    emitted = _check_records(src, plan, times, refusals)
    rejects = list(src.rejects) + [Reject(src.name, int(src.lines[r]), reason, src.record_text(r))
                                   for r, reason in refusals.reason_of.items()]
    rejects.sort(key=lambda j: (j.line is None, j.line or 0))
    warnings = list(src.warnings)
    row_cols = _row_columns(src, plan, m.get("keep_unmapped", True), warnings)
    out = _assemble(src.table, plan, emitted, refusals.mask(src.table.num_rows), times, row_cols)
    out = _pseudonymise_pii(_canonical_text(out), src, plan, m.get("pseudonymise", []), options, warnings)
    metadata = {"mapping": m["path"]} if mapping and m.get("path") else {}
    if times.tz:
        metadata["timezone"] = times.tz
    return ReadResult(table=out, records_read=src.records_read, rejects=rejects, warnings=warnings,
                      metadata=metadata)
