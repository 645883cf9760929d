"""Timestamps as ISO 8601 text: the one formatter every writer uses.

XES (``2026-03-02T09:15:02.000000+00:00``), OCEL 2.0 (``2026-03-02T09:15:02Z``,
with 6 or 9 fraction digits when the time has them) and the simulator's
exports (local time with its offset, ``2026-03-02T10:15:02+01:00``) are all
written by ``format_timestamps``. Text is assembled with numpy into a byte
matrix from lookup tables (one row per calendar day and per second of the
day), not with string formatting per value: formatting is otherwise the
slowest step of writing ten million events.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Fraction = Literal["none", "milli", "micro", "auto"]

_UNIT = {"none": ("s", 1), "milli": ("ms", 1000), "micro": ("us", 1_000_000), "auto": ("ns", 1_000_000_000)}
_DIGITS = {"none": 0, "milli": 3, "micro": 6}
_DATE, _CLOCK, _FRAC, _ZONE = 10, 9, 10, 6   # widths: date, Thh:mm:ss, .fffffffff, +hh:mm


def format_timestamps(values: pa.Array | pa.ChunkedArray, *, zone: str = "UTC", fraction: Fraction = "none",
                      utc: Literal["Z", "+00:00"] = "+00:00") -> pa.StringArray:
    """ISO 8601 text of a timestamp (or date) array; nulls stay null.

    zone: IANA name of the time zone the text is written in, with its offset.
    fraction: ``none`` (whole seconds, truncated), ``milli`` or ``micro`` (always 3 or 6 digits) or
    ``auto`` (none, 6 or 9 digits, as few as the value needs).
    utc: how a zero offset is written. Times without a zone are read as UTC.
    """
    if fraction not in _UNIT:
        raise ValueError(f"fraction must be one of {', '.join(_UNIT)}, got {fraction!r}")
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_date(values.type):
        values = values.cast(pa.timestamp("s"))
    if values.type.tz is None:
        values = values.cast(pa.timestamp(values.type.unit, tz="UTC"))
    unit, scale = _UNIT[fraction]
    ticks = values.cast(pa.timestamp(unit, tz="UTC"), safe=False).cast(pa.int64()).fill_null(0).to_numpy()
    secs, frac = np.divmod(ticks, scale)
    offset = _offsets(values, secs, zone)
    n = len(secs)
    at = _DATE + _CLOCK
    out = np.empty((n, at + _FRAC + _ZONE), np.uint8)
    if n:
        days, sod = np.divmod(secs + offset, 86_400)
        first = int(days.min())
        out[:, :_DATE] = _dates(first, int(days.max()))[days - first]
        out[:, _DATE:at] = _clock()[sod]
        if fraction != "none":
            out[:, at] = ord(".")
            out[:, at + 1:at + _FRAC] = _digits(frac * (1_000_000_000 // scale), 9)
        out[:, at + _FRAC:] = _zones()[(offset < 0).astype(np.int64), np.minimum(np.abs(offset) // 60, 1440)]
    zulu = (offset == 0) if utc == "Z" else np.zeros(n, bool)
    out[zulu, at + _FRAC] = ord("Z")
    if fraction != "auto" and (zulu.all() or not zulu.any()):
        # one width for every value: whole columns of the matrix
        digits = _DIGITS[fraction]
        zone_width = 1 if n and zulu[0] else _ZONE
        cols = np.r_[0:at + (digits + 1 if digits else 0), at + _FRAC:at + _FRAC + zone_width]
        data = np.ascontiguousarray(out[:, cols])
        offsets = np.arange(0, len(cols) * n + 1, len(cols), dtype=np.int64)
    else:
        data, offsets = _compact(out, frac, fraction, zulu)
    validity = None
    if values.null_count:
        validity = pa.py_buffer(np.packbits(values.is_valid().to_numpy(zero_copy_only=False), bitorder="little"))
    if offsets[-1] >= 2**31:
        return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data), validity,
                                                values.null_count)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data), validity,
                                       values.null_count)


def _compact(out: np.ndarray, frac: np.ndarray, fraction: Fraction, zulu: np.ndarray):
    """(bytes, offsets) of rows of different widths: as many fraction digits as needed, ``Z`` or an offset."""
    n = len(out)
    at = _DATE + _CLOCK
    digits = np.full(n, _DIGITS.get(fraction, 0), np.int64)
    if fraction == "auto":
        digits = np.where(frac == 0, 0, np.where(frac % 1000 == 0, 6, 9))
    keep = np.zeros(out.shape, bool)
    keep[:, :at] = True
    keep[:, at] = digits > 0
    keep[:, at + 1:at + _FRAC] = np.arange(9) < digits[:, None]
    keep[:, at + _FRAC] = True
    keep[:, at + _FRAC + 1:] = ~zulu[:, None]
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(keep.sum(axis=1), out=offsets[1:])
    return out[keep], offsets


def _offsets(values: pa.Array, secs: np.ndarray, zone: str) -> np.ndarray:
    """Seconds to add to UTC to get the local time of ``zone``, per value."""
    if zone == "UTC" or not len(secs):
        return np.zeros(len(secs), np.int64)
    utc = pa.array(secs, pa.int64()).cast(pa.timestamp("s", tz="UTC"))
    local = pc.local_timestamp(utc.cast(pa.timestamp("s", tz=zone)))
    return local.cast(pa.int64()).to_numpy() - secs


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative ints as a uint8 matrix (len(values), width)."""
    out = np.empty((len(values), width), dtype=np.uint8)
    v = values.astype(np.int64)
    for k in range(width - 1, -1, -1):
        out[:, k] = ord("0") + v % 10
        v = v // 10
    return out


def civil_dates(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month, day of days since 1970-01-01 (proleptic Gregorian; H. Hinnant's algorithm)."""
    z = days + 719_468
    era = np.floor_divide(z, 146_097)
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    return year, month, day


def _dates(first: int, last: int) -> np.ndarray:
    """``YYYY-MM-DD`` of every day from first to last (days since 1970-01-01), as a uint8 matrix."""
    year, month, day = civil_dates(np.arange(first, last + 1))
    dates = np.empty((last - first + 1, _DATE), dtype=np.uint8)
    dates[:, 0:4], dates[:, 5:7], dates[:, 8:10] = _digits(year, 4), _digits(month, 2), _digits(day, 2)
    dates[:, 4] = dates[:, 7] = ord("-")
    return dates


@lru_cache(maxsize=1)
def _clock() -> np.ndarray:
    """``Thh:mm:ss`` of every second of a day."""
    sod = np.arange(86_400)
    clock = np.empty((86_400, _CLOCK), dtype=np.uint8)
    clock[:, 0] = ord("T")
    clock[:, 1:3], clock[:, 4:6], clock[:, 7:9] = _digits(sod // 3600, 2), _digits(sod % 3600 // 60, 2), \
        _digits(sod % 60, 2)
    clock[:, 3] = clock[:, 6] = ord(":")
    return clock


@lru_cache(maxsize=1)
def _zones() -> np.ndarray:
    """``+hh:mm`` / ``-hh:mm`` of every offset in minutes, indexed [negative, minutes]."""
    minutes = np.arange(1441)
    offs = np.empty((2, 1441, _ZONE), dtype=np.uint8)
    offs[0, :, 0], offs[1, :, 0] = ord("+"), ord("-")
    offs[:, :, 1:3] = _digits(minutes // 60, 2)
    offs[:, :, 4:6] = _digits(minutes % 60, 2)
    offs[:, :, 3] = ord(":")
    return offs
