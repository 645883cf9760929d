"""Text tables and CSV files: the shared output of every analysis command and report.

Results become ``(headers, rows)``; ``render_table`` prints them aligned for a
terminal, numbers formatted by their unit (see ``engine.report.numbers``), and
``write_csv`` writes them atomically in canonical units.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

from engine.report.numbers import Number, csv_value, format_value


def text_header(name: str, unit: str | None) -> str:
    """The header a person reads: ``aht_s`` with durations in human units is ``aht``."""
    return name[:-2] if unit == "s" and name.endswith("_s") else name


def render_table(headers: list[str], rows: list[list], title: str | None = None,
                 units: Sequence[str | None] | None = None) -> str:
    """A plain aligned text table; numbers right-aligned and formatted by ``units`` (one per column:
    ``share``, ``s``, ``count`` or None)."""
    units = list(units) if units is not None else [None] * len(headers)
    text = [[format_value(v, units[i]) for i, v in enumerate(r)] for r in rows]
    shown = [text_header(h, units[i]) for i, h in enumerate(headers)]
    widths = [max([len(h)] + [len(r[i]) for r in text]) for i, h in enumerate(shown)]
    numeric = [bool(rows) and all(isinstance(r[i], (int, float, Number)) or r[i] is None for r in rows)
               for i in range(len(headers))]

    def line(values):
        return "  ".join(v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths)))
    out = [title] if title else []
    out += [line(shown), line(["-" * w for w in widths])] + [line(r) for r in text]
    return "\n".join(s.rstrip() for s in out)


def write_csv(folder: str | Path, name: str, headers: list[str], rows: list[list]) -> Path:
    """Write one table as folder/name atomically; floats without binary noise (``csv_value``)."""
    from engine.atomic import atomic_path
    target = Path(folder) / name
    with atomic_path(target) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(headers)
            w.writerows([csv_value(v) for v in r] for r in rows)
    return target
