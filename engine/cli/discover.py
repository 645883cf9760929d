"""``cxmine discover``: pm4py's miners on the core's summaries, written as BPMN, PNML, PTML and a drawing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click

from engine.cli import (by_option, check_attribute_options, echo_json, engine_options, json_option, log_argument,
                        main, progress, quiet_option, where_option)


@main.command()
@log_argument
@click.option("--method", type=click.Choice(["inductive", "heuristics", "dfg"]), default="inductive",
              show_default=True, help="pm4py's Inductive Miner, Heuristics Miner, or the directly-follows graph.")
@click.option("--noise", type=float, default=0.0, show_default=True,
              help="Inductive Miner noise threshold (pm4py's noise_threshold); above 0 runs the infrequent "
                   "variant (IMf), e.g. 0.2.")
@click.option("--dependency", type=float, default=0.5, show_default=True,
              help="Heuristics Miner dependency threshold (pm4py's dependency_threshold).")
@by_option("One model per value of ATTR: team, site, shift, channel, queue, intent, week, ... "
           "(subfolders DIR/ATTR/VALUE).")
@where_option
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for model.bpmn, model.pnml, model.ptml (inductive), model.svg and model.png.")
@json_option
@engine_options
@quiet_option
def discover(log, method, noise, dependency, by, where, out_dir, as_json, engine, scheduler, quiet):
    """Discover the process model of LOG with pm4py's miners, from the variants and DFG the core counts.

    Example:

        cxmine discover log.parquet --method inductive --noise 0.2 --where intent=lost_card -o reports/model
    """
    from engine.analyses.pm4py_parts import import_parts

    import_parts()  # this process ends with the command: pm4py's modules without its package-wide imports
    from engine.analyses.discovery import (check_noise, discover_model, discover_models_by, encode_for_discovery,
                                           import_miner_modules)
    from engine.errors import UsageError
    from engine.report.model_render import write_models

    check_noise(noise)
    if noise and method != "inductive":
        raise UsageError(f"--noise applies to --method inductive only, not {method}")
    if dependency != 0.5 and method != "heuristics":
        raise UsageError(f"--dependency applies to --method heuristics only, not {method}")
    check_attribute_options(log, by, where)
    heuristics = {"dependency_threshold": dependency}
    if engine == "dask":
        from engine.distributed.analyses import distributed_models
        progress(f"counting variants and DFG of {log} on Dask ({scheduler or 'local cluster'}); "
                 f"discovering ({method})", quiet)
        found = distributed_models(log, method, noise, heuristics, by=by, where=where, scheduler=scheduler)
    else:
        progress(f"encoding {log}", quiet)
        with ThreadPoolExecutor(max_workers=1) as loading:
            imported = loading.submit(import_miner_modules, method)  # while Arrow reads the log
            encoded = encode_for_discovery(log, where, by)
            imported.result()
        progress(f"{encoded.n_cases:,} contacts, {encoded.n_events:,} events; discovering ({method})", quiet)
        found = ({attr: discover_models_by(encoded, attr, method, noise, heuristics) for attr in by} if by else
                 {None: discover_model(encoded, method, noise, heuristics)})
    if not by:
        report = write_models(found, out_dir, Path(log).name)
    else:
        report = []
        for attr in by:
            models = found[attr]
            report += [{"attribute": attr, **entry}
                       for entry in write_models(models, Path(out_dir) / attr, Path(log).name, attr)]
    for entry in report:
        if entry.get("bpmn_note"):
            click.echo(f"Note: {entry['bpmn_note']}", err=True)
        segment = "" if not by else f"{entry['attribute']} = {entry['segment']}: "
        progress(f"{segment}{entry['n_cases']:,} contacts, {entry['n_variants']:,} variants -> {entry['folder']}",
                 quiet)
    if as_json:
        echo_json(report[0] if not by else {"by": list(by), "segments": report})
