"""``cxmine kpi``: process-health KPIs overall and per segment."""

from __future__ import annotations

import click

from engine.cli import (by_option, check_attribute_options, csv_option, echo_json, engine_options, json_option,
                        log_argument, main, progress, quiet_option, where_option)


@main.command()
@log_argument
@click.option("--sop", "sop_path", type=click.Path(dir_okay=False),
              help="SOP model (BPMN with its .toml sidecar): label map and compliance-critical steps.")
@by_option("KPIs per segment of ATTR: team, site, shift, channel, queue, owner, intent, outcome, week, ...")
@where_option
@click.option("--window-days", type=float, default=None, help="Repeat-contact and journey window (default 7).")
@json_option
@csv_option
@engine_options
@quiet_option
def kpi(log, sop_path, by, where, window_days, as_json, csv_dir, engine, scheduler, quiet):
    """Process-health KPIs: AHT, repeat contacts, FCR, transfers, ping-pong,
    escalation, path length, SOP compliance and customer effort.

    Every rate comes with its numerator and denominator. Definitions:
    docs/definitions.md. With --where, repeat contacts and journeys are still found on
    the whole log; the KPIs count the selected contacts.

    Example:

        cxmine kpi log.parquet --sop models/lost_card.bpmn --by team,site,week
    """
    from engine.analyses.kpis import compute_kpis, encode_for_kpis
    from engine.report.kpis import render_kpis, write_kpis_csv
    from engine.settings import Settings

    check_attribute_options(log, by, where)
    critical, label_map, scope = frozenset(), {}, frozenset()
    if sop_path:
        from engine.analyses.kpis import scope_of
        from engine.model import load_sop
        sop = load_sop(sop_path)
        critical, label_map = sop.critical, dict(sop.label_map)
        scope = scope_of(t.name for t in sop.tasks)
        for w in sop.warnings:
            progress(f"Warning: {w}", quiet)
    window = window_days if window_days is not None else Settings.from_env().journey_days
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
    if as_json:
        echo_json(result.as_dict())
    else:
        click.echo(render_kpis(result, result.overall.measure("contacts"), scope))
    if csv_dir:
        written = write_kpis_csv(csv_dir, result)
        progress("wrote " + ", ".join(str(p) for p in written), quiet)
