"""Numbers for people and numbers for machines.

Text output shows shares as percentages (``9.5%``), durations in human units
(``16m 31s``, ``2h 05m``, ``1d 3h``) and counts with thousands separators.
CSV and JSON keep canonical units named in the column (``aht_s`` in seconds,
``share`` as a fraction); CSV rounds floats to ``CSV_DIGITS`` significant
digits so a file never shows binary noise such as ``0.09545454545454546``,
and JSON keeps every digit.

``format_value`` picks the format from a unit: ``"share"``, ``"s"`` (seconds),
``"count"``; anything else is a plain number.
"""

from __future__ import annotations

import math

CSV_DIGITS = 10

_MINUTE, _HOUR, _DAY = 60, 3600, 86400


class Number(str):
    """A number already formatted for text (a unit per row, say): tables right-align it like a number."""


def format_count(n) -> str:
    """``1234567`` -> ``1,234,567``; ``None`` -> ``-``."""
    if n is None:
        return "-"
    if isinstance(n, float) and not n.is_integer():
        return format_number(n)
    return f"{int(n):,}"


def format_share(x) -> str:
    """A fraction as a percentage: ``0.09545`` -> ``9.5%``; tiny non-zero shares keep two digits (``0.012%``)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    pct = 100.0 * x
    if pct != 0 and abs(pct) < 0.05:
        return f"{pct:.2g}%"
    return f"{pct:.1f}%"


def format_duration(seconds) -> str:
    """Seconds in human units: ``4.2s``, ``45s``, ``16m 31s``, ``2h 05m``, ``1d 3h``."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "-"
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 10:
        text = f"{seconds:.2g}" if seconds < 1 else f"{seconds:.1f}"
        return (text.rstrip("0").rstrip(".") if "." in text and "e" not in text else text) + "s"
    whole = int(round(seconds))
    if whole < _MINUTE:
        return f"{whole}s"
    if whole < _HOUR:
        return f"{whole // _MINUTE}m {whole % _MINUTE:02d}s"
    if whole < _DAY:
        minutes = int(round(seconds / _MINUTE))
        return f"{minutes // 60}h {minutes % 60:02d}m"
    hours = int(round(seconds / _HOUR))
    return f"{hours // 24:,}d {hours % 24}h"


def format_number(x) -> str:
    """A plain number for text: four significant digits, thousands separators above 10,000."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:,.4g}" if abs(x) < 1e4 else f"{x:,.0f}"


def format_value(value, unit: str | None = None) -> str:
    """One value for a terminal, by its unit (``share``, ``s``, ``count`` or another unit: a plain number)."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if unit == "share":
        return format_share(value)
    if unit == "s":
        return format_duration(value)
    if unit == "count" or isinstance(value, int):
        return format_count(value)
    return format_number(value)


def csv_value(value):
    """A value as written to CSV: floats rounded to CSV_DIGITS significant digits, the rest unchanged."""
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.{CSV_DIGITS}g}")
    return value
