"""Text tables and CSV files: the shared output of every analysis command and report.

Results become ``(headers, rows)``; ``render_table`` prints them aligned for a
terminal and ``write_csv`` writes them atomically.
"""

from __future__ import annotations

import csv
from pathlib import Path


def render_table(headers: list[str], rows: list[list], title: str | None = None) -> str:
    """A plain aligned text table; numbers right-aligned."""
    def cell(v) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)
    text = [[cell(v) for v in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in text]) for i, h in enumerate(headers)]
    numeric = [all(isinstance(r[i], (int, float)) or r[i] is None for r in rows) and rows for i in range(len(headers))]
    def line(values):
        return "  ".join(v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths)))
    out = [title] if title else []
    out += [line(headers), line(["-" * w for w in widths])] + [line(r) for r in text]
    return "\n".join(s.rstrip() for s in out)


def write_csv(folder: str | Path, name: str, headers: list[str], rows: list[list]) -> Path:
    """Write one table as folder/name atomically."""
    from engine.atomic import atomic_path
    target = Path(folder) / name
    with atomic_path(target) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(headers)
            w.writerows(rows)
    return target
