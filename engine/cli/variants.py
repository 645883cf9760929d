"""``cxmine variants`` and ``cxmine dfg``."""

from __future__ import annotations

import click

from engine.cli import (by_option, check_attribute_options, csv_option, echo_json, engine_options, json_option,
                        log_argument, main, progress, quiet_option, where_option)


@main.command()
@log_argument
@click.option("--top", "top", type=click.IntRange(min=1), default=10, show_default=True,
              help="Show the K most frequent variants.")
@by_option("Variants per segment of ATTR: team, site, shift, channel, queue, owner, intent, outcome, week, ...")
@where_option
@json_option
@csv_option
@engine_options
@quiet_option
def variants(log, top, by, where, as_json, csv_dir, engine, scheduler, quiet):
    """Variants of a log: distinct step sequences, most frequent first.

    Ties in count are ordered by first occurrence (cases are stored in order of
    their first event). Shows coverage of the top K and the long-tail share.

    Example:

        cxmine variants log.parquet --top 5 --by team,week
    """
    from engine.analyses.cases import profile_cases
    from engine.analyses.variants import count_variants, count_variants_by
    from engine.log.select import encode_where
    from engine.report.variants import render_variants, variants_document, write_variants_csv

    check_attribute_options(log, by, where)
    if engine == "dask":
        from engine.distributed.analyses import distributed_variants
        progress(f"counting variants of {log} on Dask ({scheduler or 'local cluster'})", quiet)
        overall, segments, profile = distributed_variants(log, by=by, where=where, scheduler=scheduler)
    else:
        progress(f"encoding {log}", quiet)
        enc = encode_where(log, where, by=by, attributes=())
        progress(f"{enc.n_cases:,} cases, {enc.n_events:,} events; counting variants", quiet)
        overall = count_variants(enc)
        segments = {attr: count_variants_by(enc, attr) for attr in by}
        profile = profile_cases(enc)
    if as_json:
        echo_json(variants_document(overall, segments, profile, top))
    else:
        click.echo(render_variants(overall, segments, profile, top))
    if csv_dir:
        written = write_variants_csv(csv_dir, overall, segments)
        progress("wrote " + ", ".join(str(p) for p in written), quiet)


@main.command()
@log_argument
@by_option("One graph per segment of ATTR: team, site, shift, channel, queue, owner, intent, outcome, week, ...")
@click.option("--measure", type=click.Choice(["start_to_start", "end_to_start"]), default="start_to_start",
              show_default=True, help="Edge time: between the two starts, or from the first's end to the second's start.")
@click.option("--top", "top", type=click.IntRange(min=1), default=20, show_default=True,
              help="Show the K most frequent edges.")
@where_option
@json_option
@csv_option
@engine_options
@quiet_option
def dfg(log, by, measure, top, where, as_json, csv_dir, engine, scheduler, quiet):
    """Directly-follows graph with edge counts and times (mean, median, p90, min, max).

    Example:

        cxmine dfg log.parquet --measure end_to_start --csv reports/dfg
    """
    from engine.analyses.dfg import discover_dfg, discover_performance_dfg
    from engine.log.select import encode_where
    from engine.report.dfg import dfg_document, render_dfg, write_dfg_csv

    check_attribute_options(log, by, where)
    if engine == "dask":
        from engine.distributed.analyses import distributed_dfg
        progress(f"directly-follows graph of {log} on Dask ({scheduler or 'local cluster'})", quiet)
        graphs = distributed_dfg(log, by=by, where=where, measure=measure, scheduler=scheduler)
    else:
        progress(f"encoding {log}", quiet)
        enc = encode_where(log, where, by=by, attributes=())
        progress(f"{enc.n_cases:,} cases, {enc.n_events:,} events; directly-follows graph", quiet)
        graphs = [(None, None, discover_dfg(enc), discover_performance_dfg(enc, measure=measure))]
        for attr in by:
            freq_by, perf_by = discover_dfg(enc, by=attr), discover_performance_dfg(enc, by=attr, measure=measure)
            graphs += [(attr, label, freq_by[label], perf_by[label]) for label in freq_by]
    if as_json:
        echo_json(dfg_document(graphs, measure, by))
    else:
        click.echo(render_dfg(graphs, measure, top))
    if csv_dir:
        written = write_dfg_csv(csv_dir, graphs)
        progress("wrote " + ", ".join(str(p) for p in written), quiet)
