"""``cxmine friction``: friction points ranked by cost or risk, handoffs by owner, ownership."""

from __future__ import annotations

import re

import click

from engine.cli import (by_option, check_attribute_options, csv_option, echo_json, engine_options, json_option,
                        log_argument, main, progress, quiet_option, where_option)


def period_days(ctx, param, value: str) -> float:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dwmy]?)\s*", value or "")
    if not m or float(m.group(1)) <= 0:
        raise click.BadParameter(f"'{value}' is not a period; write a positive number of days, weeks, months or "
                                 "years, e.g. 90d, 12w, 3m, 1y")
    return float(m.group(1)) * {"": 1, "d": 1, "w": 7, "m": 30, "y": 365}[m.group(2)]


@main.command()
@log_argument
@click.option("--sop", "sop_path", required=True, type=click.Path(),
              help="SOP model (BPMN with its .toml sidecar), applied to every contact (select them with "
                   "--where), or a folder of them: each contact is measured against the SOP that applies to it.")
@click.option("--cost-config", type=click.Path(dir_okay=False),
              help="TOML table of owner = cost per minute; overrides the sidecars' costs (owners that own no "
                   "SOP step are accepted).")
@click.option("--period", default="90d", show_default=True, callback=period_days,
              help="Projection period for the cost if nothing changes: 90d, 12w, 3m (30 days), 1y (365 days).")
@by_option("Look for KPI outliers among the segments of ATTR (default: team).")
@where_option
@click.option("--rank-by", type=click.Choice(["cost", "risk"]), default="cost", show_default=True,
              help="Order of the list: projected cost over the period, or risk. Both ranks are always shown.")
@click.option("--top", type=click.IntRange(min=1), default=None, help="Show only the first N friction points.")
@click.option("--min-contacts", type=click.IntRange(min=1), default=10, show_default=True,
              help="Leave out friction points with fewer affected contacts.")
@json_option
@csv_option
@engine_options
@quiet_option
def friction(log, sop_path, cost_config, period, by, where, rank_by, top, min_contacts, as_json, csv_dir, engine,
             scheduler, quiet):
    """Friction points (SOP deviations, handoffs, drift, KPI outliers) on one scale:
    contacts per period, extra minutes x cost per minute, risk, projected cost.

    Also the handoff matrix by owner and the ownership of each SOP step.
    Definitions and the ranking rule: docs/friction.md. With --engine dask,
    each partition of LOG is measured on a worker (events, owners,
    handoffs, conformance, repeat contacts) and the findings are built in
    this process from the gathered per-contact and per-handoff rows, put
    back in log order: the output is the same as with --engine local
    (docs/scale.md).

    Example:

        cxmine friction log.parquet --sop models/ --period 90d --top 10 --csv reports/friction

        cxmine friction log.parts --sop models/ --top 10 --engine dask --scheduler tcp://10.0.0.5:8786
    """
    from pathlib import Path

    from engine.analyses.friction import encode_for_friction, rank_frictions, read_cost_config
    from engine.errors import ModelError
    from engine.model import load_sop
    from engine.report.friction import render_friction, write_friction_csv

    check_attribute_options(log, by, where)
    costs = read_cost_config(cost_config) if cost_config else None
    path = Path(sop_path)
    files = sorted(path.glob("*.bpmn")) if path.is_dir() else [path]
    if not files:
        raise ModelError("No .bpmn file in the SOP folder", path=path, hint="Give a folder of SOP models or one file")
    sops = [load_sop(f) for f in files]
    options = dict(cost_per_minute=costs, period_days=period, by=by, rank_by=rank_by, top=top,
                   min_contacts=min_contacts, library=path.is_dir())
    if engine == "dask":
        from engine.distributed.friction import distributed_friction
        progress(f"measuring frictions of {log} against {len(sops)} SOP(s) on Dask ({scheduler or 'local cluster'})",
                 quiet)
        result = distributed_friction(log, sops, where=where, scheduler=scheduler, **options)
    else:
        progress(f"encoding {log}", quiet)
        enc = encode_for_friction(log, by, where, sops)
        progress(f"{enc.n_cases:,} contacts, {enc.n_events:,} events; measuring frictions against {len(sops)} "
                 "SOP(s)", quiet)
        result = rank_frictions(enc, sops, **options)
    if as_json:
        echo_json(result.as_dict())
    else:
        click.echo(render_friction(result))
    if csv_dir:
        written = write_friction_csv(csv_dir, result)
        progress("wrote " + ", ".join(str(p) for p in written), quiet)
