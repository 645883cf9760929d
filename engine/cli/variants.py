"""``cxmine variants`` and ``cxmine dfg``."""

from __future__ import annotations

import click

from engine.cli import csv_option, echo_json, json_option, main, progress, quiet_option, where_option
from engine.report.tables import render_table, write_csv


def _variant_rows(v, top: int) -> list[list]:
    rows, cum = [], 0
    for rank, (seq, count) in enumerate(v.top(top), 1):
        cum += count
        rows.append([rank, count, count / v.n_cases, cum / v.n_cases, len(seq), " > ".join(seq)])
    return rows


_VARIANT_HEADERS = ["rank", "cases", "share", "cumulative", "steps", "activities"]


@main.command()
@click.argument("log", type=click.Path(dir_okay=False))
@click.option("--top", "top", type=click.IntRange(min=1), default=10, show_default=True,
              help="Show the K most frequent variants.")
@click.option("--by", "by", default=None, help="Variants per segment: team, site, shift, channel, queue, owner, week.")
@where_option
@json_option
@csv_option
@quiet_option
def variants(log, top, by, where, as_json, csv_dir, quiet):
    """Variants of a log: distinct step sequences, most frequent first.

    Ties in count are ordered by first occurrence (cases are stored in order of
    their first event). Shows coverage of the top K and the long-tail share.

    Example:

        cxmine variants log.parquet --top 5 --by team
    """
    from engine.analyses.cases import profile_cases
    from engine.analyses.segments import check_segment_attributes
    from engine.analyses.variants import count_variants, count_variants_by
    from engine.log.select import encode_where, parse_where

    check_segment_attributes(log, [by] if by else [])
    progress(f"encoding {log}", quiet)
    enc = encode_where(log, parse_where(where), attributes=(),
                       case_attributes=(by,) if by and by != "week" else ())
    progress(f"{enc.n_cases:,} cases, {enc.n_events:,} events; counting variants", quiet)
    overall = count_variants(enc)
    segments = count_variants_by(enc, by) if by else {}
    profile = profile_cases(enc)
    if as_json:
        data = {**overall.as_dict(top), "top": top, "coverage_top": overall.coverage(top),
                "long_tail_share": overall.long_tail_share(top), "cases": profile.as_dict()}
        if by:
            data["by"] = by
            data["segments"] = {k: {**v.as_dict(top), "coverage_top": v.coverage(top)} for k, v in segments.items()}
        echo_json(data)
    else:
        click.echo(f"cases {overall.n_cases:,}   variants {overall.n_variants:,}   "
                   f"top {top} cover {overall.coverage(top):.1%}   long tail {overall.long_tail_share(top):.1%}   "
                   f"variants for 80% of cases: {overall.variants_for_coverage(0.8):,}")
        ev, du = profile.event_stats(), profile.duration_stats()
        if profile.n_cases:
            click.echo(f"events per case: median {ev['median']:g}, mean {ev['mean']:.2f}, max {ev['max']:g}   "
                       f"case duration: median {du['median']:,.0f} s, p90 {du['p90']:,.0f} s")
        click.echo(render_table(_VARIANT_HEADERS, _variant_rows(overall, top)))
        for label, v in segments.items():
            click.echo("")
            click.echo(render_table(_VARIANT_HEADERS, _variant_rows(v, top),
                                    title=f"{by} = {label}: {v.n_cases:,} cases, {v.n_variants:,} variants, "
                                          f"top {top} cover {v.coverage(top):.1%}"))
    if csv_dir:
        written = [write_csv(csv_dir, "variants.csv", _VARIANT_HEADERS, _variant_rows(overall, overall.n_variants))]
        if by:
            rows = [[label] + r for label, v in segments.items() for r in _variant_rows(v, v.n_variants)]
            written.append(write_csv(csv_dir, f"variants_by_{by}.csv", [by] + _VARIANT_HEADERS, rows))
        progress("wrote " + ", ".join(str(p) for p in written), quiet)


_EDGE_HEADERS = ["source", "target", "count", "mean_s", "median_s", "p90_s", "min_s", "max_s"]


def _edge_rows(freq, perf) -> list[list]:
    rows = []
    for (a, b), c in sorted(freq.edges.items(), key=lambda kv: (-kv[1], kv[0])):
        t = perf.edges[(a, b)]
        rows.append([a, b, c, t.mean_s, t.median_s, t.p90_s, t.min_s, t.max_s])
    return rows


@main.command()
@click.argument("log", type=click.Path(dir_okay=False))
@click.option("--by", "by", default=None, help="One graph per segment: team, site, shift, channel, queue, owner, week.")
@click.option("--measure", type=click.Choice(["start_to_start", "end_to_start"]), default="start_to_start",
              show_default=True, help="Edge time: between the two starts, or from the first's end to the second's start.")
@click.option("--top", "top", type=click.IntRange(min=1), default=20, show_default=True,
              help="Show the K most frequent edges.")
@where_option
@json_option
@csv_option
@quiet_option
def dfg(log, by, measure, top, where, as_json, csv_dir, quiet):
    """Directly-follows graph with edge counts and times (mean, median, p90, min, max).

    Example:

        cxmine dfg log.parquet --measure end_to_start --csv reports/dfg
    """
    from engine.analyses.dfg import discover_dfg, discover_performance_dfg
    from engine.analyses.segments import check_segment_attributes
    from engine.log.select import encode_where, parse_where

    check_segment_attributes(log, [by] if by else [])
    progress(f"encoding {log}", quiet)
    enc = encode_where(log, parse_where(where), attributes=(),
                       case_attributes=(by,) if by and by != "week" else ())
    progress(f"{enc.n_cases:,} cases, {enc.n_events:,} events; directly-follows graph", quiet)
    graphs = [(None, discover_dfg(enc), discover_performance_dfg(enc, measure=measure))]
    if by:
        freq_by, perf_by = discover_dfg(enc, by=by), discover_performance_dfg(enc, by=by, measure=measure)
        graphs += [(label, freq_by[label], perf_by[label]) for label in freq_by]
    if as_json:
        out = []
        for label, f, p in graphs:
            d = f.as_dict()
            d["edges"] = [{**e, **p.edges[(e["source"], e["target"])].as_dict()} for e in d["edges"]]
            d["measure"] = measure
            out.append((label, d))
        echo_json(out[0][1] if not by else {"overall": out[0][1], "by": by, "segments": dict(out[1:])})
    else:
        for label, f, p in graphs:
            title = (f"{by} = {label}: " if label is not None else "") + \
                f"{f.n_cases:,} cases, {len(f.edges):,} edges ({measure}, times in seconds)"
            click.echo(render_table(_EDGE_HEADERS, _edge_rows(f, p)[:top], title=title))
            starts = ", ".join(f"{a} ({c:,})" for a, c in sorted(f.start_activities.items(), key=lambda kv: -kv[1]))
            ends = ", ".join(f"{a} ({c:,})" for a, c in sorted(f.end_activities.items(), key=lambda kv: -kv[1]))
            click.echo(f"start: {starts}\nend:   {ends}\n")
    if csv_dir:
        rows = [["all" if label is None else label] + r for label, f, p in graphs for r in _edge_rows(f, p)]
        written = [write_csv(csv_dir, "dfg_edges.csv", ["segment"] + _EDGE_HEADERS, rows)]
        rows = [["all" if label is None else label, kind, a, c] for label, f, _ in graphs
                for kind, d in (("start", f.start_activities), ("end", f.end_activities), ("all", f.activity_counts))
                for a, c in sorted(d.items())]
        written.append(write_csv(csv_dir, "dfg_activities.csv", ["segment", "kind", "activity", "count"], rows))
        progress("wrote " + ", ".join(str(p) for p in written), quiet)
