"""``cxmine map``: the process map (Disco/Celonis style) drawn with Graphviz."""

from __future__ import annotations

from pathlib import Path

import click

from engine.cli import echo_json, json_option, log_argument, main, progress, quiet_option, where_option


@main.command("map")
@log_argument
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Picture to write: .svg, .png, .pdf or .dot (Graphviz source).")
@click.option("--measure", type=click.Choice(["frequency", "median", "p90"]), default="frequency",
              show_default=True, help="What arrows show, and what sets their thickness and colour: how often, "
                                      "or the median / 90th percentile time between the two steps.")
@click.option("--coverage", type=click.FloatRange(0.0, 1.0, min_open=True), default=0.8, show_default=True,
              help="Show only the most frequent variants that together cover this share of the contacts.")
@click.option("--min-edge", type=click.IntRange(min=1), default=1, show_default=True,
              help="Hide arrows seen fewer than N times among the contacts shown.")
@click.option("--max-edges", type=click.IntRange(min=0), default=60, show_default=True,
              help="Raise the minimum edge count until at most N arrows remain (0: no limit); the picture "
                   "states the count used.")
@click.option("--title", default=None, help="Title of the picture (default: the log's file name).")
@where_option
@json_option
@quiet_option
def map_command(log, output, measure, coverage, min_edge, max_edges, title, where, as_json, quiet):
    """Draw the process map of LOG: activities with counts, arrows with counts or times, lanes by owner.

    The picture states what it leaves out (variants, activities and arrows
    hidden, share of contacts shown). --json prints the map's numbers.

    Example:

        cxmine map log.parquet -o map.svg --measure median --coverage 0.9 --min-edge 20
    """
    from engine.analyses.process_map import build_process_map
    from engine.cli import check_attribute_options
    from engine.log.select import encode_where
    from engine.report.drawing import check_format
    from engine.report.process_map import map_notes, render_map

    check_format(output)
    progress(f"encoding {log}", quiet)
    check_attribute_options(log, (), where)
    encoded = encode_where(log, where, attributes=("owner",))
    progress(f"{encoded.n_cases:,} contacts, {encoded.n_events:,} events; building the map", quiet)
    pmap = build_process_map(encoded, measure=measure, coverage=coverage, min_edge=min_edge,
                             max_edges=max_edges or None)
    name = title or f"Process map: {Path(log).name}" + ("  (" + "; ".join(f"{k} = {', '.join(sorted(v))}" for k, v in where.items()) + ")"
                                                    if where else "")
    render_map(pmap, output, name)
    if as_json:
        echo_json({**pmap.as_dict(), "output": str(output)})
    else:
        for line in map_notes(pmap):
            progress(line, quiet)
        progress(f"wrote {output}", quiet)
