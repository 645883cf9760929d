"""Drift results for people: text tables, CSV tables and the drift chart (SVG or PNG).

The chart follows ruptures' ``display``: the signal with its change points
marked. Top panel: the evidence of a change at each window's start (the
detection statistic, -log10 of the adjusted p-value of a split there) with the
false-alarm level; bottom panel: the shares of contacts with the edge that
moved most at each change point and with the activity that moved most. Change
points are vertical lines labelled with their number and date (or case
index). Drawn with matplotlib (Agg backend, no display needed).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from engine.analyses.drift import ChangePoint, DriftResult
from engine.errors import AnalysisError

CHANGE_POINT_HEADERS = ["change", "case_index", "timestamp", "confidence", "p_value", "contacts_before",
                        "contacts_after", "summary"]
CHANGE_HEADERS = ["change", "case_index", "kind", "label", "contacts_before", "share_before", "contacts_after",
                  "share_after", "effect_h", "p_value"]
WHERE_HEADERS = ["change", "case_index", "attribute", "value", "contacts_before", "contacts_after",
                 "contacts_moved", "share_of_change", "edge", "share_before", "share_after", "effect_h", "p_value"]
SEGMENT_HEADERS = ["attribute", "value", "contacts", "change", "case_index", "timestamp", "confidence", "summary"]
CHART_FORMATS = (".svg", ".png")


def change_point_rows(points: tuple[ChangePoint, ...]) -> list[list]:
    return [[i, p.case_index, p.timestamp, p.confidence, p.p_value, p.cases_before, p.cases_after, p.summary()]
            for i, p in enumerate(points, 1)]


def change_rows(points: tuple[ChangePoint, ...], width: int | None = None) -> list[list]:
    """One row per change of every change point; ``width`` shortens long labels (variants) for a terminal."""
    def cut(label: str) -> str:
        return label if width is None or len(label) <= width else label[:width - 3] + "..."
    return [[i, p.case_index, c.kind, cut(c.label), c.cases_before, c.share_before, c.cases_after, c.share_after,
             c.effect, c.p_value] for i, p in enumerate(points, 1) for c in p.changes]


def where_rows(points: tuple[ChangePoint, ...]) -> list[list]:
    return [[i, p.case_index, w.attribute, w.value, w.cases_before, w.cases_after, w.moved, w.share_of_change,
             w.edge, w.share_before, w.share_after, w.effect, w.p_value] for i, p in enumerate(points, 1)
            for w in p.where]


def segment_rows(result: DriftResult) -> list[list]:
    rows = []
    for s in result.segments:
        if not s.change_points:
            rows.append([s.attribute, s.value, s.n_cases, None, None, None, None, "no change"])
        for i, p in enumerate(s.change_points, 1):
            rows.append([s.attribute, s.value, s.n_cases, i, p.case_index, p.timestamp, p.confidence, p.summary()])
    return rows


KPI_HEADERS = ["change", "case_index", "kpi", "before", "after", "unit"]


def kpi_rows(points: tuple[ChangePoint, ...]) -> list[list]:
    return [[i, p.case_index, name, k["before"], k["after"], k["unit"]] for i, p in enumerate(points, 1)
            for name, k in (p.kpis or {}).items()]


COMPARISON_HEADERS = ["attribute", "value", "contacts", "rest", "differs", "q_value", "max_effect_h",
                      "variant_distance", "summary"]


def comparison_rows(result: DriftResult) -> list[list]:
    """Each value of each segment attribute against the rest, most different first."""
    comps = sorted((s.comparison for s in result.segments if s.comparison is not None),
                   key=lambda c: (not c.differs, -c.max_effect))
    return [[c.attribute, c.value, c.n_cases, c.n_rest, "yes" if c.differs else "no", c.q_value, c.max_effect,
             c.variant_distance, c.summary()] for c in comps]


def series_headers(result: DriftResult) -> list[str]:
    return (["window", "first_case", "contacts", "start", "evidence_log10"]
            + [f"share: {k}" for k in result.series.shares]
            + ([] if result.series.fitness is None else ["fitness_to_sop"]))


def _units(headers: list[str]) -> list[str | None]:
    """Text units of the drift tables: shares as percentages, counts with separators."""
    return ["share" if h.startswith("share") else "count" if h in ("case_index", "contacts_before",
                                                                     "contacts_after", "contacts") else None
            for h in headers]


def render_drift(result: DriftResult, by: tuple[str, ...] = ()) -> str:
    """The terminal report: change points with their summaries, what changed, where, KPIs, segments."""
    from engine.report.tables import render_table
    points = result.change_points
    out = [f"{result.n_cases:,} contacts, window {result.window}, alpha {result.settings.alpha:g}: "
           f"{len(points)} change point(s)"]
    if points:
        rows = change_point_rows(points)
        out.append(render_table(CHANGE_POINT_HEADERS[:-1], [r[:-1] for r in rows],
                                units=_units(CHANGE_POINT_HEADERS[:-1])))
        out += [f"  #{r[0]} {r[-1]}" for r in rows]
        out += ["", render_table(CHANGE_HEADERS, change_rows(points, width=70), units=_units(CHANGE_HEADERS),
                                 title="what changed (shares of contacts; effect = Cohen's h)")]
        out += ["", render_table(WHERE_HEADERS, where_rows(points), title="where the change lies",
                                 units=_units(WHERE_HEADERS))]
        if any(p.kpis for p in points):
            out += ["", render_table(KPI_HEADERS, kpi_rows(points), title="KPIs before and after (definitions: cxmine kpi)")]
    for attr in by:
        rows = [r for r in segment_rows(result) if r[0] == attr]
        out += ["", render_table(SEGMENT_HEADERS[:-1], [r[:-1] for r in rows], title=f"drift by {attr}")]
        out += [f"  {attr} {r[1]} #{r[3]} {r[-1]}" for r in rows if r[3] is not None]
        rows = [r for r in comparison_rows(result) if r[0] == attr]
        out += ["", render_table(COMPARISON_HEADERS[:-1], [r[:-1] for r in rows],
                                 title=f"each {attr} against the rest (Benjamini-Hochberg q; effect = Cohen's h)")]
        out += [f"  {r[-1]}" for r in rows]
    return "\n".join(out)


def write_drift_csv(result: DriftResult, folder: str | os.PathLike, by: tuple[str, ...] = ()) -> list[Path]:
    """Every drift table as a CSV file in ``folder`` (atomically); returns the paths written."""
    from engine.report.tables import write_csv
    points = result.change_points
    tables = [("change_points.csv", CHANGE_POINT_HEADERS, change_point_rows(points)),
              ("changes.csv", CHANGE_HEADERS, change_rows(points)),
              ("where.csv", WHERE_HEADERS, where_rows(points)),
              ("windows.csv", series_headers(result), result.series.as_rows())]
    if any(p.kpis for p in points):
        tables.append(("kpis.csv", KPI_HEADERS, kpi_rows(points)))
    for attr in by:
        tables += [(f"drift_by_{attr}.csv", SEGMENT_HEADERS, [r for r in segment_rows(result) if r[0] == attr]),
                   (f"compared_by_{attr}.csv", COMPARISON_HEADERS,
                    [r for r in comparison_rows(result) if r[0] == attr])]
    return [write_csv(folder, name, headers, rows) for name, headers, rows in tables]


def check_chart_path(path: str | os.PathLike) -> None:
    """Refuse a chart path whose extension matplotlib is not asked to write, before any work."""
    if Path(path).suffix.lower() not in CHART_FORMATS:
        raise AnalysisError(f"Cannot write a chart to '{path}'", field="chart",
                            hint="Give a file ending in .svg or .png")


def _x_axis(result: DriftResult) -> tuple[list, str, bool]:
    """Window starts as dates when every window has one and they ascend, else first case indices."""
    starts = result.series.starts
    if starts and all(starts):
        dates = [datetime.fromisoformat(s) for s in starts]
        if all(a <= b for a, b in zip(dates, dates[1:])) and dates[-1] > dates[0]:
            return dates, f"window start ({result.timezone})", True
    return [int(x) for x in result.series.first_case], "contact index (in order of first event)", False


def write_drift_chart(result: DriftResult, path: str | os.PathLike, title: str) -> Path:
    """Draw the drift chart to ``path`` (.svg or .png), atomically."""
    import matplotlib.pyplot as plt

    from engine.atomic import atomic_path
    check_chart_path(path)
    fig = drift_figure(result, title)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lower()[1:], dpi=110, metadata=_METADATA[path.suffix.lower()])
    plt.close(fig)
    return path


_METADATA = {".svg": {"Date": None, "Creator": "cxmine"}, ".png": {"Software": "cxmine"}}


def drift_chart_svg(result: DriftResult, title: str) -> str:
    """The drift chart as SVG text (for the HTML report); the same result gives the same bytes."""
    from engine.report.charts import figure_svg
    return figure_svg(drift_figure(result, title))


def drift_figure(result: DriftResult, title: str):
    """The drift chart as a matplotlib figure: evidence of change over time above, what moved most below."""
    from engine.report.charts import pyplot
    plt = pyplot()
    s = result.series
    x, x_label, dated = _x_axis(result)
    if len(x) >= 2:
        # one more point so the last window's step is drawn to its end
        x = x + [x[-1] + (x[-1] - x[-2])]

    def ext(values):
        values = list(values)
        return values + values[-1:] if len(values) < len(x) else values
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True,
                                      gridspec_kw={"height_ratios": [1, 1.2]})
    top.step(x, ext(s.statistic), where="post", color="#1f4e79", lw=1.2, label="evidence of change at window start")
    top.axhline(s.threshold, color="#888888", ls="--", lw=1,
                label=f"false-alarm level (alpha = {result.settings.alpha:g})")
    top.set_ylabel("evidence\n(-log10 adjusted p)")
    for label, share in s.shares.items():
        bottom.step(x, ext(100 * share), where="post", lw=1.3, label=label if len(label) < 60 else label[:57] + "...")
    if s.fitness is not None:
        bottom.step(x, ext(100 * s.fitness), where="post", lw=1.3, color="black", ls="--", label="fitness to the SOP")
    bottom.set_ylabel("share of contacts / fitness (%)" if s.fitness is not None else "share of contacts (%)")
    bottom.set_xlabel(x_label)
    if not s.shares and s.fitness is None:
        bottom.text(0.5, 0.5, "no change point: no edge to show", ha="center", va="center",
                    transform=bottom.transAxes, color="#666666")
    starts = [datetime.fromisoformat(p.timestamp) if dated and p.timestamp else p.case_index
              for p in result.change_points]
    for i, (p, at) in enumerate(zip(result.change_points, starts), 1):
        when = p.timestamp[:10] if dated and p.timestamp else f"case {p.case_index:,}"
        for ax in (top, bottom):
            ax.axvline(at, color="#c00000", lw=1.4, alpha=0.8,
                       label=("change point" if i == 1 and ax is top else None))
        top.annotate(f"#{i} {when}", xy=(at, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 3),
                     textcoords="offset points", color="#c00000", fontsize=9, ha="center", va="bottom")
    top.legend(loc="best", fontsize=8, framealpha=0.9)
    if s.shares or s.fitness is not None:
        bottom.legend(loc="best", fontsize=8, framealpha=0.9, title="what moved most", title_fontsize=8)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=12, y=0.995)
    fig.text(0.01, 0.005, f"{result.n_cases:,} contacts in {len(s.cases):,} windows (window: {result.window}); "
             f"shares shown: the edges and activity that moved most at the change points", fontsize=8, color="#555555")
    if dated:
        fig.autofmt_xdate()
    fig.tight_layout(rect=(0, 0.02, 1, 0.97))
    return fig
