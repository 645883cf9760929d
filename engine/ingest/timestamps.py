"""The one timestamp parser of cxmine: text (or typed) values to int64 nanoseconds UTC, with a reason per failure.

Every reader that turns written times into canonical ``timestamp`` values
calls :func:`parse_timestamps` on a whole column (a pyarrow array, a numpy
array or a list of strings), vectorised: pyarrow casts and ``strptime`` do the
work, Python's ``datetime.strptime`` reads only what pyarrow cannot.

Formats (``fmt``):

- ``"ISO8601"``: ``2026-03-01T09:30:00+01:00``, ``2026-03-01 09:30:00.250Z``,
  ``2026-03-01T09:30`` or a bare date; ``T`` or a space between date and time;
  offsets ``Z``, ``+01``, ``+0100``, ``+01:00``.
- ``"epoch_s"``, ``"epoch_ms"``, ``"epoch_us"``, ``"epoch_ns"``: a count since
  1970-01-01 UTC in that unit, with an optional fraction (read exactly, no
  float rounding).
- a ``strptime`` pattern such as ``"%d/%m/%Y %H:%M:%S"`` (``%z`` for an
  offset); impossible dates (31/02) are refused, never rolled over.

Time zones: a value with a UTC offset is converted to UTC. A value without one
is read as wall-clock time in ``timezone`` (an IANA name) with that zone's
daylight-saving rules: a local time that does not exist (the hour skipped when
clocks go forward) is refused, an ambiguous one (the hour repeated when clocks
go back) takes the earlier instant. Without a ``timezone``, a value without an
offset is refused with problem ``NO_OFFSET``; a caller whose data are UTC by
contract passes ``timezone="UTC"``.

Times of day only (exports that give the date elsewhere): ``dates=`` a day
for all values or a column of days, and ``fmt`` the pattern of the time of
day (``"%H:%M:%S"``); see :func:`parse_timestamps`.

Typed inputs: Arrow timestamps with a zone are taken as they are; zone-less
ones (pyarrow's JSON reader makes them from ``...Z`` strings) and dates are
wall-clock times in ``timezone``; integers and floats are epoch values when
``fmt`` is an epoch unit, refused otherwise.

Public API:

- :func:`parse_timestamps` -> :class:`ParsedTimes` (``values``, ``valid``,
  ``problem`` per value; ``to_arrow()`` gives ``timestamp[ns, UTC]`` with nulls);
- :func:`problem_reason`: the reject reason for one value's problem code;
- :func:`describe_format`: what a format expects, for messages;
- problem codes ``OK``, ``UNPARSEABLE``, ``NO_OFFSET``, ``NONEXISTENT``, ``BAD_DATE``;
  ``EPOCH_UNITS`` (name -> nanoseconds per unit); ``ISO_AWARE`` and
  ``ISO_NAIVE`` (the regular expressions ISO 8601 values are matched with).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.log.schema import TS_TYPE

OK, UNPARSEABLE, NO_OFFSET, NONEXISTENT, BAD_DATE = 0, 1, 2, 3, 4
EPOCH_UNITS = {"epoch_s": 10**9, "epoch_ms": 10**6, "epoch_us": 10**3, "epoch_ns": 1}

_DATE = r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
_TIME = r"[T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?"
_OFFSET = r"(Z|[+-]([01]\d|2[0-3])(:?[0-5]\d)?)"
ISO_AWARE = rf"^{_DATE}{_TIME}{_OFFSET}$"
ISO_NAIVE = rf"^{_DATE}({_TIME})?$"
_EXPECTED_FORMAT = {
    "ISO8601": "ISO 8601, e.g. 2026-03-01T09:30:00+01:00",
    "epoch_s": "seconds since 1970-01-01 UTC", "epoch_ms": "milliseconds since 1970-01-01 UTC",
    "epoch_us": "microseconds since 1970-01-01 UTC", "epoch_ns": "nanoseconds since 1970-01-01 UTC",
}


@dataclass
class ParsedTimes:
    """Parsed values, one slot per input value.

    ``values``: int64 ns UTC (0 where not valid); ``valid``: bool, parsed;
    ``problem``: int8, ``OK`` (parsed, or empty/missing), ``UNPARSEABLE``,
    ``NO_OFFSET`` (no UTC offset and no time zone given) or ``NONEXISTENT``
    (a local time skipped by a daylight-saving change) or ``BAD_DATE`` (a
    time of day whose date does not parse).
    """

    values: np.ndarray
    valid: np.ndarray
    problem: np.ndarray

    def to_arrow(self) -> pa.Array:
        """The values as ``timestamp[ns, UTC]``, null where not valid."""
        return pa.array(self.values, pa.int64(), mask=~self.valid).cast(TS_TYPE)


def describe_format(fmt: str) -> str:
    """What a value of format ``fmt`` looks like, for messages."""
    return _EXPECTED_FORMAT.get(fmt, f"the pattern {fmt}")


def problem_reason(problem: int, value: str, column: str, fmt: str, timezone: str | None) -> str:
    """The reject reason for a value whose problem code is ``problem`` (not ``OK``)."""
    if problem == NO_OFFSET:
        return (f"timestamp '{value}' in column '{column}' has no UTC offset and the mapping gives no timezone "
                f"(other values in this column carry offsets)")
    if problem == NONEXISTENT:
        return f"timestamp '{value}' in column '{column}' does not exist in {timezone} (the clocks skipped that hour)"
    if problem == BAD_DATE:
        return f"timestamp '{value}' in column '{column}' has no valid date"
    return f"unparseable timestamp '{value}' in column '{column}' (expected {describe_format(fmt)})"


def parse_timestamps(values: pa.Array | pa.ChunkedArray | np.ndarray | Sequence[str | None], fmt: str = "ISO8601",
                     timezone: str | None = None, *, dates=None, date_format: str = "%Y-%m-%d") -> ParsedTimes:
    """Parse a column of times to ns UTC, vectorised; report per value what failed (module docstring).

    Empty and missing values are neither valid nor a problem: the caller
    decides whether a time was required. With ``dates`` (one ``YYYY-MM-DD``
    day for every value, or a column of days written in ``date_format``) the
    values are times of day in the strptime pattern ``fmt`` (a single-digit
    hour such as ``0:10:10`` is read), on that day, in ``timezone``; a value
    whose day does not parse gets ``BAD_DATE``.
    """
    if dates is not None:
        return _parse_times_of_day(values, fmt, timezone, dates, date_format)
    col = _as_arrow(values)
    n = len(col)
    out = ParsedTimes(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int8))
    t = col.type
    if pa.types.is_dictionary(t):
        col = col.cast(t.value_type)
        t = col.type
    if pa.types.is_date(t):
        col = col.cast(pa.timestamp("ns"))
        t = col.type
    if pa.types.is_timestamp(t):
        _parse_typed(col, timezone, out)
        return out
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        if fmt not in EPOCH_UNITS:
            out.problem[col.is_valid().to_numpy(zero_copy_only=False)] = UNPARSEABLE
            return out
        col = pc.cast(col, pa.string())
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        col = pc.cast(col, pa.string())
    text = pc.utf8_trim_whitespace(col)
    present = pc.fill_null(pc.not_equal(text, ""), False).to_numpy(zero_copy_only=False)
    if fmt in EPOCH_UNITS:
        _parse_epoch(text, present, EPOCH_UNITS[fmt], out)
    elif fmt == "ISO8601":
        _parse_iso(text, timezone, out)
    else:
        _parse_pattern(text, present, fmt, timezone, out)
    out.problem[present & ~out.valid & (out.problem == OK)] = UNPARSEABLE
    return out


def _as_arrow(values) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    if isinstance(values, pa.Array):
        return values
    if isinstance(values, np.ndarray) and values.dtype.kind in "iuf":
        return pa.array(values)
    return pa.array([None if v is None else str(v) for v in values], pa.string())


def _cast_partial(arr: pa.Array, to: pa.DataType) -> pa.Array:
    """Cast, with nulls where a value cannot be cast (bisection: cost grows with the number of failures only)."""
    try:
        return arr.cast(to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if len(arr) <= 1:
            return pa.nulls(len(arr), to)
        mid = len(arr) // 2
        return pa.concat_arrays([_cast_partial(arr.slice(0, mid), to), _cast_partial(arr.slice(mid), to)])


def _localise(naive: pa.Array, tz: str) -> tuple[pa.Array, np.ndarray]:
    """Naive wall-clock times in ``tz`` to UTC; also the mask of local times that do not exist."""
    early = pc.assume_timezone(naive, timezone=tz, ambiguous="earliest", nonexistent="earliest")
    late = pc.assume_timezone(naive, timezone=tz, ambiguous="earliest", nonexistent="latest")
    gap = pc.fill_null(pc.not_equal(early, late), False).to_numpy(zero_copy_only=False)
    return early, gap


def _as_int(arr: pa.Array) -> np.ndarray:
    return arr.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)


def _set_local(out: ParsedTimes, where: np.ndarray, naive: pa.Array, tz: str | None) -> None:
    """Store wall-clock times ``naive`` (at positions ``where``) read in ``tz``; mark what cannot be."""
    if tz is None:
        out.problem[where] = NO_OFFSET
        return
    local, gap = _localise(naive, tz)
    ok = local.is_valid().to_numpy(zero_copy_only=False) & ~gap
    out.problem[where[gap]] = NONEXISTENT
    out.values[where[ok]] = _as_int(local)[ok]
    out.valid[where[ok]] = True


def _parse_typed(col: pa.Array, tz: str | None, out: ParsedTimes) -> None:
    present = col.is_valid().to_numpy(zero_copy_only=False)
    if col.type.tz is not None:
        conv = _cast_partial(col, TS_TYPE)
    elif tz is not None:
        conv, gap = _localise(_cast_partial(col, pa.timestamp("ns")), tz)
        out.problem[gap & present] = NONEXISTENT
    else:
        out.problem[present] = NO_OFFSET
        return
    ok = conv.is_valid().to_numpy(zero_copy_only=False) & (out.problem == OK)
    out.values[ok] = _as_int(conv)[ok]
    out.valid[:] = ok
    out.problem[present & ~ok & (out.problem == OK)] = UNPARSEABLE


def _parse_epoch(text: pa.Array, present: np.ndarray, scale: int, out: ParsedTimes) -> None:
    parts = pc.extract_regex(text, r"^(?P<sign>-?)(?P<whole>\d{1,18})\.?(?P<frac>\d*)$")
    m = parts.is_valid().to_numpy(zero_copy_only=False) & present
    if not m.any():
        return
    got = pc.filter(parts, pa.array(m))
    whole = got.field("whole").cast(pa.int64()).to_numpy(zero_copy_only=False)
    # fraction: first 9 digits, right-padded, as billionths of the unit (exact, no float rounding)
    frac = pc.utf8_rpad(pc.utf8_slice_codeunits(got.field("frac"), 0, 9), 9, "0")
    frac = frac.cast(pa.int64()).to_numpy(zero_copy_only=False)
    neg = pc.equal(got.field("sign"), "-").to_numpy(zero_copy_only=False)
    limit = np.iinfo(np.int64).max // scale - 1
    ok = whole < limit
    with np.errstate(over="ignore"):
        ns = whole * scale + (frac * scale) // 10**9
    ns = np.where(neg, -ns, ns)
    where = np.flatnonzero(m)
    out.values[where[ok]] = ns[ok]
    out.valid[where[ok]] = True


def _parse_iso(text: pa.Array, tz: str | None, out: ParsedTimes) -> None:
    aware = pc.fill_null(pc.match_substring_regex(text, ISO_AWARE), False)
    aware_np = aware.to_numpy(zero_copy_only=False)
    if aware_np.all():
        naive_np = np.zeros(len(text), dtype=bool)
    else:
        naive = pc.fill_null(pc.match_substring_regex(text, ISO_NAIVE), False)
        naive_np = naive.to_numpy(zero_copy_only=False)
    if aware_np.any():
        conv = _cast_partial(pc.filter(text, aware), TS_TYPE)
        where = np.flatnonzero(aware_np)
        ok = conv.is_valid().to_numpy(zero_copy_only=False)
        out.values[where[ok]] = _as_int(conv)[ok]
        out.valid[where[ok]] = True
    if naive_np.any():
        conv = None if tz is None else _cast_partial(pc.filter(text, naive), pa.timestamp("ns"))
        _set_local(out, np.flatnonzero(naive_np), conv, tz)


def _parse_pattern(text: pa.Array, present: np.ndarray, fmt: str, tz: str | None, out: ParsedTimes) -> None:
    """A strptime pattern: pyarrow first, Python's ``datetime.strptime`` for what pyarrow cannot read."""
    n = len(text)
    has_offset = "%z" in fmt or "%Z" in fmt
    try:
        conv = pc.strptime(text, format=fmt, unit="ns", error_is_null=True)
        got = conv.is_valid().to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        conv, got = None, np.zeros(n, dtype=bool)
    if conv is not None and got.any():
        # pyarrow's strptime rolls impossible days over (31/02 -> 03/03); Python's is strict, so
        # values that may have rolled over are read again by Python
        if not has_offset:
            back = pc.strftime(conv.cast(pa.timestamp("s"), safe=False), format=fmt)
            got &= pc.fill_null(pc.equal(back, text), False).to_numpy(zero_copy_only=False)
        else:
            day = pc.fill_null(pc.day(conv), 0).to_numpy(zero_copy_only=False)
            got &= ~np.isin(day, [1, 2, 3, 4, 28, 29, 30, 31])
    local_vals = np.zeros(n, dtype=np.int64)
    is_aware = np.zeros(n, dtype=bool)
    if conv is not None and got.any():
        local_vals[got] = _as_int(conv)[got]
        is_aware[got] = pa.types.is_timestamp(conv.type) and conv.type.tz is not None
    _strptime_rest(text, np.flatnonzero(present & ~got), fmt, got, local_vals, is_aware)
    out.values[got & is_aware] = local_vals[got & is_aware]
    out.valid[got & is_aware] = True
    naive_got = got & ~is_aware
    if naive_got.any():
        naive = None if tz is None else pa.array(local_vals[naive_got], pa.int64()).cast(pa.timestamp("ns"))
        _set_local(out, np.flatnonzero(naive_got), naive, tz)


def _strptime_rest(text: pa.Array, retry: np.ndarray, fmt: str, got: np.ndarray, local_vals: np.ndarray,
                   is_aware: np.ndarray) -> None:
    """Read the values at ``retry`` with Python's strptime, in place (strict about impossible dates)."""
    if not len(retry):
        return
    strings = pc.take(text, pa.array(retry)).to_pylist()
    for i, s in zip(retry, strings):
        try:
            d = dt.datetime.strptime(s, fmt)
        except ValueError:
            continue
        if d.tzinfo is not None:
            d = d.astimezone(dt.timezone.utc).replace(tzinfo=None)
            is_aware[i] = True
        try:
            local_vals[i] = int(np.datetime64(d, "ns").astype(np.int64))
        except (OverflowError, ValueError):
            continue
        got[i] = True


def _parse_times_of_day(values, fmt: str, tz: str | None, dates, date_format: str) -> ParsedTimes:
    """Times of day (pattern ``fmt``) on the given days, as wall-clock times in ``tz``.

    Each distinct time and day is parsed once (a day has at most 86,400
    distinct seconds), so a whole column costs a dictionary encoding.
    """
    text = pc.utf8_trim_whitespace(_text(_as_arrow(values)))
    n = len(text)
    out = ParsedTimes(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int8))
    if fmt.startswith(("%H", "%I")):
        text = pc.replace_substring_regex(text, r"^(\d)(\D)", r"0\1\2")
    tod = _parse_distinct(pc.binary_join_element_wise("1970-01-01 ", text, ""), f"%Y-%m-%d {fmt}")
    if isinstance(dates, str):
        day = _parse_distinct(pa.repeat(pa.scalar(dates, pa.string()), n), "%Y-%m-%d")
    else:
        day = _parse_distinct(pc.utf8_trim_whitespace(_text(_as_arrow(dates))), date_format)
    present = pc.fill_null(pc.not_equal(text, ""), False).to_numpy(zero_copy_only=False)
    out.problem[present & ~tod.valid] = UNPARSEABLE
    out.problem[present & tod.valid & ~day.valid] = BAD_DATE
    both = np.flatnonzero(present & tod.valid & day.valid)
    if len(both):
        wall = pa.array(day.values[both] + tod.values[both], pa.int64()).cast(pa.timestamp("ns"))
        _set_local(out, both, wall if tz is not None else None, tz)
    return out


def _parse_distinct(text: pa.Array, fmt: str) -> ParsedTimes:
    """Parse the distinct values of ``text`` as UTC wall-clock times; spread the results to every value."""
    enc = pc.dictionary_encode(text)
    uniq = parse_timestamps(enc.dictionary, fmt, "UTC")
    idx = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    has = idx >= 0
    out = ParsedTimes(np.zeros(len(text), dtype=np.int64), np.zeros(len(text), dtype=bool),
                      np.zeros(len(text), dtype=np.int8))
    out.values[has] = uniq.values[idx[has]]
    out.valid[has] = uniq.valid[idx[has]]
    out.problem[has] = uniq.problem[idx[has]]
    return out


def _text(col: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    return col if pa.types.is_string(col.type) else pc.cast(col, pa.string())
