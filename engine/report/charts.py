"""Charts for people: SVG line charts, Pareto charts and bars, drawn with matplotlib.

Every chart has a title, labelled axes with units and a legend where there is
more than one series; what a chart leaves out is said in its caption by the
caller. Output is SVG text with text kept as text (searchable, small) and
fixed element ids, so the same data gives the same bytes.
"""

from __future__ import annotations

import io
from typing import Mapping, Sequence

# Colour-blind-safe palette (Okabe-Ito)
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "cxmine", "font.size": 10,
                         "axes.spines.top": False, "axes.spines.right": False, "axes.titlesize": 12,
                         "axes.titleweight": "bold", "axes.grid": True, "grid.alpha": 0.3})
    return plt


def figure_svg(fig) -> str:
    """A figure as SVG text (text kept as text, fixed ids, no date), and the figure closed."""
    plt = pyplot()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": "cxmine"})
    plt.close(fig)
    return buf.getvalue()


def line_chart(series: Mapping[str, tuple[Sequence[str], Sequence[float]]], *, title: str, y_label: str,
               x_label: str, percent: bool = False, size: tuple[float, float] = (8.0, 3.2)) -> str:
    """One line per series over shared categorical x values (e.g. ISO weeks)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=size)
    for i, (name, (xs, ys)) in enumerate(series.items()):
        ax.plot(list(xs), [100 * y if percent and y is not None else y for y in ys], marker="o", markersize=3,
                linewidth=1.6, color=PALETTE[i % len(PALETTE)], label=str(name))
    ax.set_title(title)
    ax.set_ylabel(y_label)
    ax.set_xlabel(x_label)
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    if len(series) > 1:
        ax.legend(frameon=False, fontsize=8, ncol=1, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return figure_svg(fig)


def pareto_chart(labels: Sequence[str], counts: Sequence[int], total: int, *, title: str, x_label: str,
                 y_label: str = "contacts", size: tuple[float, float] = (8.0, 3.4)) -> str:
    """Bars of counts, most first, with the cumulative share of ``total`` on a second axis."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=size)
    xs = list(range(len(counts)))
    ax.bar(xs, counts, color=PALETTE[0], label=y_label)
    ax.set_xticks(xs, [str(x) for x in labels], fontsize=8)
    ax.set_title(title)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    share = ax.twinx()
    running, cumulative = 0, []
    for c in counts:
        running += c
        cumulative.append(100.0 * running / total if total else 0.0)
    share.plot(xs, cumulative, color=PALETTE[3], marker="o", markersize=3, label="cumulative share (%)")
    share.set_ylim(0, 100)
    share.set_ylabel("cumulative share of contacts (%)")
    share.grid(False)
    share.spines["right"].set_visible(True)
    handles = ax.get_legend_handles_labels()[0] + share.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], frameon=False, fontsize=8, loc="center right")
    return figure_svg(fig)


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str, x_label: str,
              percent: bool = False, highlight: Sequence[bool] | None = None,
              size: tuple[float, float] = (8.0, 3.0)) -> str:
    """Horizontal bars, one per label, top to bottom in the order given."""
    plt = pyplot()
    height = max(size[1], 0.32 * len(labels) + 1.0)
    fig, ax = plt.subplots(figsize=(size[0], height))
    ys = list(range(len(labels)))[::-1]
    colours = [PALETTE[3] if highlight and highlight[i] else PALETTE[0] for i in range(len(labels))]
    shown = [100 * v if percent else v for v in values]
    ax.barh(ys, shown, color=colours)
    ax.set_yticks(ys, [str(x) for x in labels], fontsize=8)
    ax.set_title(title)
    ax.set_xlabel(x_label)
    ax.grid(axis="y", visible=False)
    return figure_svg(fig)
