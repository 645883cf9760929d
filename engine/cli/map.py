"""``cxmine map``: the process map (Disco/Celonis style), or an SOP with execution laid on it, drawn with Graphviz."""

from __future__ import annotations

from pathlib import Path

import click

from engine.cli import (csv_option, echo_json, json_option, log_argument, main, progress, quiet_option,
                        where_option)
from engine.errors import UsageError

SOP_MAX_EDGES = 15   # flows outside the SOP drawn by default


def _selection_text(where) -> str:
    return "; ".join(f"{k} = {', '.join(sorted(v))}" for k, v in where.items())


@main.command("map")
@log_argument
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False),
              help="Picture to write: .svg, .png, .pdf or .dot (Graphviz source). Required, except with --sop "
                   "and --json or --csv.")
@click.option("--sop", "sop_path", default=None, type=click.Path(),
              help="Draw this SOP (models/<name>.bpmn) in its own layout with execution laid on it: each step "
                   "by the share of the contacts it applies to that ran it as designed, skipped it or ran it "
                   "out of order; flows outside the SOP dashed.")
@click.option("--measure", type=click.Choice(["frequency", "median", "p90"]), default="frequency",
              show_default=True, help="What arrows show, and what sets their thickness and colour: how often, "
                                      "or the median / 90th percentile time between the two steps.")
@click.option("--coverage", type=click.FloatRange(0.0, 1.0, min_open=True), default=0.8, show_default=True,
              help="Show only the most frequent variants that together cover this share of the contacts.")
@click.option("--min-edge", type=click.IntRange(min=1), default=1, show_default=True,
              help="Hide arrows seen fewer than N times among the contacts shown (with --sop: flows outside "
                   "the SOP taken by fewer than N contacts).")
@click.option("--max-edges", type=click.IntRange(min=0), default=60, show_default=True,
              help="Raise the minimum edge count until at most N arrows remain (0: no limit); the picture "
                   f"states the count used. With --sop: the N most common flows outside the SOP (default "
                   f"{SOP_MAX_EDGES}).")
@click.option("--title", default=None, help="Title of the picture (default: the log's file name, or the SOP's).")
@where_option
@json_option
@csv_option
@quiet_option
@click.pass_context
def map_command(ctx, log, output, sop_path, measure, coverage, min_edge, max_edges, title, where, as_json,
                csv_dir, quiet):
    """Draw the process map of LOG: activities with counts, arrows with counts or times, lanes by owner.

    The picture states what it leaves out (variants, activities and arrows
    hidden, share of contacts shown). --json prints the map's numbers.

    With --sop, draws the SOP instead, with what the contacts it applies to
    (its sidecar's applies_to, narrowed by --where) really did: per step ran
    as designed / skipped / out of order, per flow the contacts that took it,
    and the flows outside the SOP; --csv writes tasks.csv and flows.csv.

    Example:

        cxmine map log.parquet -o map.svg --measure median --coverage 0.9 --min-edge 20

        cxmine map log.parquet --sop models/lost_card.bpmn -o lost_card.png --csv reports/lost_card
    """
    from engine.report.drawing import check_format

    if output:
        check_format(output)
    if sop_path:
        for name in ("measure", "coverage"):
            if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT:
                raise UsageError(f"--{name} applies to the process map, not to --sop",
                                 hint="Leave it out, or draw the process map without --sop")
        if not (output or as_json or csv_dir):
            raise UsageError("Nothing to write: give -o FILE, --json or --csv DIR with --sop")
        if ctx.get_parameter_source("max_edges") == click.core.ParameterSource.DEFAULT:
            max_edges = SOP_MAX_EDGES
        _map_sop(log, sop_path, output, min_edge, max_edges, title, where, as_json, csv_dir, quiet)
        return
    if output is None:
        raise UsageError("Missing option -o / --output: the picture to write (.svg, .png, .pdf or .dot)")
    if csv_dir:
        raise UsageError("--csv goes with --sop (tasks.csv, flows.csv)", hint="Use --json for the map's numbers")
    _map_log(log, output, measure, coverage, min_edge, max_edges, title, where, as_json, quiet)


def _map_log(log, output, measure, coverage, min_edge, max_edges, title, where, as_json, quiet):
    from engine.analyses.process_map import build_process_map
    from engine.cli import check_attribute_options
    from engine.log.select import encode_where
    from engine.report.process_map import map_notes, render_map

    progress(f"encoding {log}", quiet)
    check_attribute_options(log, (), where)
    encoded = encode_where(log, where, attributes=("owner",))
    progress(f"{encoded.n_cases:,} contacts, {encoded.n_events:,} events; building the map", quiet)
    pmap = build_process_map(encoded, measure=measure, coverage=coverage, min_edge=min_edge,
                             max_edges=max_edges or None)
    name = title or f"Process map: {Path(log).name}" + (f"  ({_selection_text(where)})" if where else "")
    render_map(pmap, output, name)
    if as_json:
        echo_json({**pmap.as_dict(), "output": str(output)})
    else:
        for line in map_notes(pmap):
            progress(line, quiet)
        progress(f"wrote {output}", quiet)


def _map_sop(log, sop_path, output, min_edge, max_edges, title, where, as_json, csv_dir, quiet):
    from engine.analyses.library import applies_to_attributes
    from engine.analyses.sop_execution import measure_sop_execution
    from engine.cli import check_attribute_options
    from engine.log.select import encode_where
    from engine.model import load_sop
    from engine.report.sop_execution import render_execution, write_execution_csv

    if Path(sop_path).is_dir():
        raise UsageError(f"--sop takes one SOP file, not a folder ({sop_path})",
                         hint="Give one model of the library, e.g. --sop models/lost_card.bpmn")
    sop = load_sop(sop_path)
    check_attribute_options(log, (), where)
    progress(f"encoding {log}", quiet)
    encoded = encode_where(log, where, attributes=(), with_case_ids=True,
                           case_attributes=applies_to_attributes([sop]))
    progress(f"replaying the contacts {sop.name} applies to", quiet)
    execution = measure_sop_execution(encoded, sop)
    progress(f"{execution.contacts:,} of {encoded.n_cases:,} contacts counted", quiet)
    if output:
        render_execution(execution, output, title, _selection_text(where), min_edge, max_edges or None)
        progress(f"wrote {output}", quiet)
    if csv_dir:
        written = write_execution_csv(execution, csv_dir)
        progress(f"wrote {', '.join(str(p) for p in written)}", quiet)
    if as_json:
        echo_json({**execution.as_dict(), **({"output": str(output)} if output else {})})
