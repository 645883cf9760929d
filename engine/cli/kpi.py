"""``cxmine kpi``: process-health KPIs overall and per segment."""

from __future__ import annotations

import click

from engine.cli import csv_option, echo_json, json_option, main, progress, quiet_option
from engine.report.tables import render_table, write_csv

# KPIs shown per segment in the terminal (all of them go to JSON and CSV)
_SEGMENT_COLUMNS = ["aht_s", "fcr", "repeat_contact_rate", "transfer_rate", "ping_pong_rate", "escalation_rate",
                    "compliance_rate", "reidentification_rate", "queue_wait_s"]


@main.command()
@click.argument("log", type=click.Path(dir_okay=False))
@click.option("--sop", "sop_path", type=click.Path(dir_okay=False),
              help="SOP model (BPMN with its .toml sidecar): label map and compliance-critical steps.")
@click.option("--by", "by", default="", help="Comma-separated segment attributes, e.g. team,site,shift,week.")
@click.option("--window-days", type=float, default=None, help="Repeat-contact and journey window (default 7).")
@json_option
@csv_option
@quiet_option
def kpi(log, sop_path, by, window_days, as_json, csv_dir, quiet):
    """Process-health KPIs: AHT, repeat contacts, FCR, transfers, ping-pong,
    escalation, path length, SOP compliance and customer effort.

    Every rate comes with its numerator and denominator. Definitions: README,
    section KPIs.

    Example:

        cxmine kpi log.parquet --sop models/lost_card.bpmn --by team,site,week
    """
    from engine.analyses.kpis import compute_kpis, encode_for_kpis
    from engine.settings import Settings

    from engine.analyses.segments import check_segment_attributes

    attrs = tuple(a.strip() for a in by.split(",") if a.strip())
    check_segment_attributes(log, attrs)
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
    progress(f"encoding {log}", quiet)
    enc = encode_for_kpis(log, attrs)
    progress(f"{enc.n_cases:,} contacts, {enc.n_events:,} events; computing KPIs", quiet)
    result = compute_kpis(enc, by=attrs, critical=critical, label_map=label_map, window_days=window, scope=scope)
    with_compliance = bool(critical)
    if as_json:
        echo_json(result.as_dict())
    else:
        rows = [[name, r.value, r.numerator, r.denominator, r.unit]
                for name, r in result.overall.kpis(with_compliance).items()]
        click.echo(render_table(["kpi", "value", "numerator", "denominator", "unit"], rows,
                                title=f"{enc.n_cases:,} contacts; repeat window {window:g} days"
                                      + (f"; critical steps: {', '.join(sorted(critical))}" if critical else "")
                                      + (f"; compliance scope: contacts with {', '.join(sorted(scope))}"
                                         if scope else "")))
        cols = [c for c in _SEGMENT_COLUMNS if with_compliance or c != "compliance_rate"]
        for attr, segs in result.segments.items():
            click.echo("")
            rows = [[label, s.measure("contacts")] + [s.kpis(with_compliance)[c].value for c in cols]
                    for label, s in segs.items()]
            click.echo(render_table([attr, "contacts"] + cols, rows))
        for attr, sp in result.compliance_spread().items():
            click.echo(f"compliance spread across {attr}: max-min {sp['max_minus_min']:.3f}, std {sp['std']:.3f} "
                       f"(lowest {sp['lowest']} {sp['min']:.1%}, highest {sp['highest']} {sp['max']:.1%})")
    if csv_dir:
        headers = ["attribute", "segment", "kpi", "value", "numerator", "denominator", "unit"]
        rows = [["all", "all", n, r.value, r.numerator, r.denominator, r.unit]
                for n, r in result.overall.kpis(with_compliance).items()]
        rows += [[attr, label, n, r.value, r.numerator, r.denominator, r.unit]
                 for attr, segs in result.segments.items() for label, s in segs.items()
                 for n, r in s.kpis(with_compliance).items()]
        written = [write_csv(csv_dir, "kpis.csv", headers, rows)]
        spread = result.compliance_spread()
        if spread:
            written.append(write_csv(csv_dir, "compliance_spread.csv",
                                     ["attribute", "segments", "min", "max", "max_minus_min", "std", "lowest", "highest"],
                                     [[a, s["segments"], s["min"], s["max"], s["max_minus_min"], s["std"], s["lowest"],
                                       s["highest"]] for a, s in spread.items()]))
        progress("wrote " + ", ".join(str(p) for p in written), quiet)
