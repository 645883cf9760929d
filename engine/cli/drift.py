"""``cxmine drift``: when and where execution changed, and what changed."""

from __future__ import annotations

import click

from engine.cli import (by_option, check_attribute_options, csv_option, echo_json, engine_options, json_option,
                        log_argument, main, progress, quiet_option, where_option)

_FLAGS = {"window": "--window", "timezone": "--timezone", "alpha": "--alpha", "min_cases": "--min-cases",
          "min_effect": "--min-effect"}


@main.command()
@log_argument
@click.option("--window", default="auto", show_default=True, metavar="N|day|week|month",
              help="Windows of N contacts, or calendar days, weeks or months of the contact's start; "
                   "auto: N = contacts / 2,000 rounded up.")
@click.option("--sop", "sop_path", type=click.Path(dir_okay=False),
              help="SOP model (BPMN with its .toml sidecar): fitness to it per window and before and after "
                   "each change.")
@by_option("Also detect drift within each value of ATTR (team, site, shift, channel, queue, intent, ...), "
           "and compare each value with the rest.")
@where_option
@click.option("-o", "--output", "chart", type=click.Path(dir_okay=False),
              help="Write a chart of the drift statistic with the change points marked (.svg or .png).")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.001,
              show_default=True, help="Probability of any change point on a log without change.")
@click.option("--min-cases", type=click.IntRange(min=1), default=100, show_default=True,
              help="Contacts needed on each side of a change.")
@click.option("--min-effect", type=click.FloatRange(0, 3), default=0.1, show_default=True,
              help="Smallest change of an edge's share reported, as Cohen's h.")
@click.option("--kpis", "with_kpis", is_flag=True,
              help="Also compute the KPIs (as cxmine kpi) of the contacts before and after each change.")
@click.option("--timezone", default=None, help="IANA time zone of calendar windows and reported times "
                                               "(default: the log's, from its mapping, else UTC).")
@json_option
@csv_option
@engine_options
@quiet_option
def drift(log, sop_path, window, by, where, chart, alpha, min_cases, min_effect, with_kpis, timezone, as_json, csv_dir,
          engine, scheduler, quiet):
    """Change points: when execution changed, what changed and where.

    Contacts, in order of their first event, are tested for a change in the
    share of contacts with each directly-follows edge (seeded binary
    segmentation, G-test, Bonferroni over every test made: on a log without
    change, the probability of any change point is at most ALPHA). Each change
    point gives the first contact after it, its time, a confidence (1 -
    adjusted p), the edges, activities and variants whose shares moved most,
    and the team, site, shift, channel or queue holding most of the change.
    Method and parameters: docs/drift.md. With --engine dask the windows (and
    with --kpis the KPI sums) are counted per partition and merged, for the
    whole log and for each value of --by (docs/scale.md).

    Example:

    \b
        cxmine drift log.parquet --window day --by team -o drift.png --csv out/drift
        cxmine drift log.parquet --where intent=lost_card --sop models/lost_card.bpmn --window week
    """
    from engine.analyses.drift import EXPLAIN_ATTRIBUTES, DriftSettings, detect_drift
    from engine.errors import AnalysisError, UsageError
    from engine.log.select import encode_where
    from engine.log.store import log_metadata
    from engine.report import drift as report

    if chart:
        report.check_chart_path(chart)
    if "week" in by:
        raise UsageError("--by week: drift is already found over time", hint="Use --window week for weekly windows")
    check_attribute_options(log, by, where)
    settings = DriftSettings(window=window, alpha=alpha, min_cases=min_cases, min_effect=min_effect)
    sop = None
    if sop_path:
        from engine.model import load_sop
        sop = load_sop(sop_path)
    zone = timezone or log_metadata(log).get("timezone")
    try:
        if engine == "dask":
            from engine.distributed.drift import distributed_drift
            progress(f"counting windows of {log} on Dask ({scheduler or 'local cluster'}); detecting drift", quiet)
            result = distributed_drift(log, settings, where=where, timezone=zone, sop_path=sop_path, by=by,
                                       kpis=with_kpis, scheduler=scheduler)
        else:
            progress(f"encoding {log}", quiet)
            per_case = EXPLAIN_ATTRIBUTES + tuple(by) + (("customer_id",) if with_kpis else ())
            enc = encode_where(log, where, attributes=("owner", "queue", "channel") if with_kpis else (),
                               case_attributes=tuple(dict.fromkeys(per_case)))
            progress(f"{enc.n_cases:,} contacts, {enc.n_events:,} events; detecting drift", quiet)
            result = detect_drift(enc, settings, by=by, timezone=zone, sop=sop, kpis=with_kpis)
    except AnalysisError as exc:
        if exc.field in _FLAGS:  # a bad option value: a usage error naming the option
            raise UsageError(f"{_FLAGS[exc.field]}: {exc.message}", hint=exc.hint) from exc
        raise
    if chart:
        title = f"Drift in {click.format_filename(log)}: {len(result.change_points)} change point(s)"
        progress(f"wrote {report.write_drift_chart(result, chart, title)}", quiet)
    if as_json:
        echo_json(result.as_dict())
    else:
        click.echo(report.render_drift(result, by))
    if csv_dir:
        written = report.write_drift_csv(result, csv_dir, by)
        progress("wrote " + ", ".join(str(p) for p in written), quiet)
