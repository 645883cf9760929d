"""``cxmine discover``: pm4py's miners on the core's summaries, written as BPMN, PNML, PTML and a drawing."""

from __future__ import annotations

from pathlib import Path

import click

from engine.cli import echo_json, json_option, main, progress, quiet_option, where_option


@main.command()
@click.argument("log", type=click.Path(dir_okay=False))
@click.option("--method", type=click.Choice(["inductive", "heuristics", "dfg"]), default="inductive",
              show_default=True, help="pm4py's Inductive Miner, Heuristics Miner, or the directly-follows graph.")
@click.option("--noise", type=float, default=0.0, show_default=True,
              help="Inductive Miner noise threshold (pm4py's noise_threshold); above 0 runs the infrequent "
                   "variant (IMf), e.g. 0.2.")
@click.option("--dependency", type=float, default=0.5, show_default=True,
              help="Heuristics Miner dependency threshold (pm4py's dependency_threshold).")
@click.option("--by", "by", default=None,
              help="One model per segment: team, site, shift, channel, queue, owner, week (subfolders of DIR).")
@where_option
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for model.bpmn, model.pnml, model.ptml (inductive), model.svg and model.png.")
@json_option
@quiet_option
def discover(log, method, noise, dependency, by, where, out_dir, as_json, quiet):
    """Discover the process model of LOG with pm4py's miners, from the variants and DFG the core counts.

    Example:

        cxmine discover log.parquet --method inductive --noise 0.2 --where intent=lost_card -o reports/model
    """
    from engine.analyses.discovery import check_noise, discover_model, discover_models_by
    from engine.analyses.segments import check_segment_attributes
    from engine.errors import UsageError
    from engine.log.select import encode_where, parse_where
    from engine.report.model_render import write_models

    check_noise(noise)
    if noise and method != "inductive":
        raise UsageError(f"--noise applies to --method inductive only, not {method}")
    if dependency != 0.5 and method != "heuristics":
        raise UsageError(f"--dependency applies to --method heuristics only, not {method}")
    check_segment_attributes(log, [by] if by else [])
    progress(f"encoding {log}", quiet)
    encoded = encode_where(log, parse_where(where), attributes=(),
                           case_attributes=(by,) if by and by != "week" else ())
    progress(f"{encoded.n_cases:,} contacts, {encoded.n_events:,} events; discovering ({method})", quiet)
    heuristics = {"dependency_threshold": dependency}
    if by:
        models = discover_models_by(encoded, by, method, noise, heuristics)
    else:
        models = {None: discover_model(encoded, method, noise, heuristics)}
    report = write_models(models, out_dir, Path(log).name, by)
    for entry in report:
        if entry.get("bpmn_note"):
            click.echo(f"Note: {entry['bpmn_note']}", err=True)
        segment = "" if by is None else f"{by} = {entry['segment']}: "
        progress(f"{segment}{entry['n_cases']:,} contacts, {entry['n_variants']:,} variants -> {entry['folder']}",
                 quiet)
    if as_json:
        echo_json(report[0] if by is None else {"by": by, "segments": report})
