"""Drawing of a comparison: the process map of two groups, coloured by the change in share of contacts.

Red: more common in the second group; blue: less common; grey: no
significant difference (Benjamini-Hochberg corrected). Thickness follows the
larger of the two shares. Labels give the change in percentage points and
both shares. With an SOP, an activity box also names the significant changes
in the contacts that skipped the step or ran it out of order, and takes their
colour when they are larger than the activity's own change.
"""

from __future__ import annotations

from pathlib import Path

from engine.report.drawing import dot_text, render_graph

UP = ("#f4c7c3", "#e8877f", "#c0392b")
DOWN = ("#c6dbef", "#6baed6", "#2166ac")
SAME = "#b3b6b7"


def _colour(row, alpha: float) -> str:
    if row.q_value >= alpha:
        return SAME
    scale = UP if row.change > 0 else DOWN
    return scale[min(2, int(abs(row.effect_h) / 0.2))]


def _sop_rule(sops: tuple[str, ...]) -> str:
    return f"the SOP {sops[0]}" if len(sops) == 1 else f"exactly one of the {len(sops)} SOPs"


def _shares(row) -> str:
    return f"{100 * row.change:+.1f} pp ({row.share_a:.1%} → {row.share_b:.1%})"


def build_comparison_graph(comparison, title: str, max_edges: int = 40, min_share: float = 0.02):
    """A graphviz.Digraph of the compared groups' edges and activities, coloured by change.

    Drawn: the ``max_edges`` most common paths among those taken by at least
    ``min_share`` of either group's contacts or significantly different.
    """
    import graphviz

    alpha = comparison.alpha
    edges = sorted(comparison.of_kind("edge"), key=lambda r: -max(r.share_a, r.share_b))
    shown = [r for r in edges if max(r.share_a, r.share_b) >= min_share or r.q_value < alpha][:max_edges]
    hidden = len(edges) - len(shown)
    acts = {r.item[0]: r for r in comparison.of_kind("activity")}
    used = {a for r in shown for a in r.item}
    notes = [title, f"{comparison.label_a}: {comparison.n_a:,} contacts   {comparison.label_b}: {comparison.n_b:,} "
                    f"contacts   (shares are of each group's contacts"
                    + (f" that {_sop_rule(comparison.sops)} applies to)" if comparison.sops else ")"),
             f"Showing the {len(shown):,} most common of {len(edges):,} paths" + (
                 f"; {hidden:,} paths hidden (taken by under {min_share:.0%} of the contacts of both groups "
                 f"and not significantly different, or beyond the {max_edges})" if hidden else "")]
    graph = graphviz.Digraph(graph_attr={"rankdir": "TB", "fontname": "Helvetica", "fontsize": "14",
                                         "label": dot_text("\n".join(notes)), "labelloc": "t", "nodesep": "0.35"},
                             node_attr={"fontname": "Helvetica", "fontsize": "10", "shape": "box",
                                        "style": "rounded,filled"},
                             edge_attr={"fontname": "Helvetica", "fontsize": "8", "arrowsize": "0.7"})
    ids = {a: f"a{i}" for i, a in enumerate(sorted(used))}
    steps = {}
    for kind in ("skipped", "out_of_order"):
        for r in comparison.of_kind(kind):
            if r.q_value < alpha:
                steps.setdefault(r.item[0], []).append(r)
    for a, ident in ids.items():
        row = acts[a]
        changes = steps.get(comparison.step_of.get(a, a), [])
        lines = [a, _shares(row)] + [f"{r.kind.replace('_', ' ')} {_shares(r)}" for r in changes]
        strongest = max([row] + changes, key=lambda r: (r.q_value < alpha, abs(r.effect_h)))
        colour = _colour(strongest, alpha)
        graph.node(ident, dot_text("\n".join(lines)), fillcolor=colour,
                   fontcolor="#ffffff" if colour in (UP[2], DOWN[2]) else "#1b2631")
    top = max([max(r.share_a, r.share_b) for r in shown] + [1e-9])
    for r in shown:
        width = 0.6 + 5 * (max(r.share_a, r.share_b) / top) ** 0.5
        graph.edge(ids[r.item[0]], ids[r.item[1]], label=dot_text(_shares(r)), color=_colour(r, alpha),
                   fontcolor="#333333", penwidth=f"{width:.2f}", weight=str(1 + int(100 * max(r.share_a, r.share_b))))
    graph.node("legend", dot_text(
        f"How to read this map\nRed: more common in {comparison.label_b} than in {comparison.label_a}; "
        f"blue: less common; grey: no significant difference\n(two-proportion z-test, Benjamini-Hochberg "
        f"corrected, q < {alpha:g}); deeper colour = larger effect (Cohen's h 0.2 / 0.4)\n"
        "pp: change in percentage points of contacts; thickness: the larger of the two shares"
        + ("\nskipped / out of order: contacts that skipped the SOP step or ran it out of order "
           f"({_sop_rule(comparison.sops)})" if comparison.sops else "")),
        shape="note", fontsize="9", fillcolor="#fbfbf3", color="#bbbbaa", style="filled")
    return graph


def render_comparison(comparison, output: str | Path, title: str, max_edges: int = 40) -> Path:
    return render_graph(build_comparison_graph(comparison, title, max_edges), output)
