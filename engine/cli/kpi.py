"""``cxmine kpi``: process-health KPIs overall and per segment."""

from __future__ import annotations

import click

from engine.cli import (by_option, check_attribute_options, csv_option, echo_json, engine_options, json_option,
                        log_argument, main, progress, quiet_option, where_option)


@main.command()
@log_argument
@click.option("--sop", "sop_paths", multiple=True, type=click.Path(),
              help="SOP model (BPMN with its .toml sidecar): label map and compliance-critical steps. A folder "
                   "of SOPs (or --sop repeated) is an SOP library: each contact's compliance is measured "
                   "against the SOP whose applies_to matches it, contacts no SOP or several apply to are counted.")
@by_option("KPIs per segment of ATTR: team, site, shift, channel, queue, owner, intent, outcome, week, ...")
@where_option
@click.option("--window-days", type=float, default=None, help="Repeat-contact and journey window (default 7).")
@json_option
@csv_option
@engine_options
@quiet_option
def kpi(log, sop_paths, by, where, window_days, as_json, csv_dir, engine, scheduler, quiet):
    """Process-health KPIs: AHT, repeat contacts, FCR, transfers, ping-pong,
    escalation, path length, SOP compliance and customer effort.

    Every rate comes with its numerator and denominator. Definitions:
    docs/definitions.md. With --where, repeat contacts and journeys are still found on
    the whole log; the KPIs count the selected contacts.

    Example:

        cxmine kpi log.parquet --sop models/lost_card.bpmn --by team,site,week

        cxmine kpi log.parquet --sop models/ --by team
    """
    from pathlib import Path

    from engine.analyses.kpis import compute_kpis, encode_for_kpis
    from engine.report.kpis import render_kpis, write_kpis_csv
    from engine.settings import Settings

    check_attribute_options(log, by, where)
    window = window_days if window_days is not None else Settings.from_env().journey_days
    if len(sop_paths) > 1 or (sop_paths and Path(sop_paths[0]).is_dir()):
        _kpi_library(log, sop_paths, by, where, window, as_json, csv_dir, engine, quiet)
        return
    sop_path = sop_paths[0] if sop_paths else None
    critical, label_map, scope = frozenset(), {}, frozenset()
    if sop_path:
        from engine.analyses.kpis import scope_of
        from engine.model import load_sop
        sop = load_sop(sop_path)
        critical, label_map = sop.critical, dict(sop.label_map)
        scope = scope_of(t.name for t in sop.tasks)
        for w in sop.warnings:
            progress(f"Warning: {w}", quiet)
    params = dict(by=by, where=where, critical=critical, label_map=label_map, window_days=window, scope=scope)
    if engine == "dask":
        from engine.distributed.analyses import distributed_kpis
        progress(f"computing KPIs of {log} on Dask ({scheduler or 'local cluster'})", quiet)
        result = distributed_kpis(log, scheduler=scheduler, **params)
    else:
        progress(f"encoding {log}", quiet)
        enc = encode_for_kpis(log, by, where)
        progress(f"{enc.n_cases:,} contacts, {enc.n_events:,} events; computing KPIs", quiet)
        result = compute_kpis(enc, **params)
    _show(result, lambda: render_kpis(result, result.overall.measure("contacts"), scope), write_kpis_csv, as_json,
          csv_dir, quiet)


def _show(result, render, write_csv, as_json, csv_dir, quiet) -> None:
    """Print the result as JSON or text, and write its CSV files when asked."""
    if as_json:
        echo_json(result.as_dict())
    else:
        click.echo(render())
    if csv_dir:
        written = write_csv(csv_dir, result)
        progress("wrote " + ", ".join(str(p) for p in written), quiet)


def _kpi_library(log, sop_paths, by, where, window, as_json, csv_dir, engine, quiet):
    from engine.analyses.kpis import encode_for_kpis
    from engine.analyses.library import applies_to_attributes, library_kpis
    from engine.errors import UsageError
    from engine.model import load_sop_library
    from engine.report.kpis import render_library_kpis, write_library_kpis_csv

    if engine == "dask":
        raise UsageError("--engine dask measures one SOP file for now, not an SOP library",
                         hint="Give one --sop FILE with --where, or measure the library with --engine local")
    sops = load_sop_library(sop_paths)
    for sop in sops:
        for w in sop.warnings:
            progress(f"Warning: {sop.name}: {w}", quiet)
    progress(f"encoding {log}", quiet)
    enc = encode_for_kpis(log, by, where, case_attributes=applies_to_attributes(sops), with_case_ids=True)
    progress(f"{enc.n_cases:,} contacts, {enc.n_events:,} events; computing KPIs, each contact's compliance "
             f"against the SOP that applies to it ({len(sops)} SOPs)", quiet)
    result = library_kpis(enc, sops, by=by, where=where, window_days=window)
    _show(result, lambda: render_library_kpis(result), write_library_kpis_csv, as_json, csv_dir, quiet)
