"""``cxmine compare``: two teams (or sites, shifts, ...) or two periods side by side, with tests."""

from __future__ import annotations

import datetime as dt

import click

from engine.cli import csv_option, echo_json, json_option, log_argument, main, progress, quiet_option, where_option
from engine.errors import UsageError
from engine.report.tables import render_table, write_csv

_HEADERS = ["kind", "item", "contacts_a", "contacts_b", "share_a", "share_b", "change_pp", "cohens_h", "p_value",
            "q_value"]


def _rows(rows) -> list[list]:
    return [[r.kind, " > ".join(r.item), r.n_a, r.n_b, round(r.share_a, 6), round(r.share_b, 6),
             round(100 * r.change, 3), round(r.effect_h, 4), r.p_value, r.q_value] for r in rows]


def describe_sops(sops) -> str:
    """``Lost or stolen card``, or ``exactly one of the 5 SOPs`` for a library (as in "the contacts ... applies to")."""
    return sops[0].name if len(sops) == 1 else f"exactly one of the {len(sops)} SOPs"


def parse_groups(expression: str) -> tuple[str, str, str]:
    """``team=A,B`` -> ("team", "A", "B")."""
    name, sep, values = expression.partition("=")
    parts = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not name.strip() or len(parts) != 2:
        raise UsageError(f"--by '{expression}' is not ATTR=A,B", hint="For example: --by team=A,B")
    return name.strip(), parts[0], parts[1]


def parse_periods(expression: str) -> tuple[tuple[int, int], tuple[int, int], tuple[str, str]]:
    """``2026-01-01..2026-01-31,2026-02-01..2026-02-28`` -> two [start, end) ranges in ns UTC and their labels."""
    ranges, labels = [], []
    parts = [p.strip() for p in expression.split(",") if p.strip()]
    if len(parts) != 2:
        raise UsageError(f"--periods '{expression}' is not two ranges FROM..TO,FROM..TO",
                         hint="For example: --periods 2026-01-01..2026-01-31,2026-02-01..2026-02-28")
    for part in parts:
        start, sep, end = part.partition("..")
        try:
            a, b = dt.date.fromisoformat(start.strip()), dt.date.fromisoformat(end.strip())
        except ValueError as exc:
            raise UsageError(f"--periods range '{part}' is not FROM..TO with ISO dates (YYYY-MM-DD)") from exc
        if not sep or b < a:
            raise UsageError(f"--periods range '{part}' ends before it starts")
        epoch = dt.date(1970, 1, 1)
        day = 86_400 * 1_000_000_000
        ranges.append(((a - epoch).days * day, ((b - epoch).days + 1) * day))  # end date included
        labels.append(part)
    return ranges[0], ranges[1], (labels[0], labels[1])


@main.command()
@log_argument
@click.option("--by", "by", default=None, metavar="ATTR=A,B", help="Compare the contacts of two values, "
              "e.g. team=A,B (a contact belongs to its first non-empty value).")
@click.option("--periods", default=None, metavar="FROM..TO,FROM..TO",
              help="Compare two date ranges (first event of the contact, UTC, end dates included).")
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False),
              help="Map of the differences: .svg, .png, .pdf or .dot.")
@click.option("--top", type=click.IntRange(min=1), default=15, show_default=True, help="Rows of the table to print.")
@click.option("--sop", "sop_path", default=None, type=click.Path(),
              help="Only the contacts this SOP (models/<name>.bpmn) applies to, and add its steps: per task the "
                   "contacts that skipped it and that ran it out of order, tested like the other rows. A folder "
                   "of SOPs (a library): each contact on the one SOP that applies to it.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05, show_default=True,
              help="False discovery rate for calling a difference significant.")
@where_option
@json_option
@csv_option
@quiet_option
def compare(log, by, periods, output, top, sop_path, alpha, where, as_json, csv_dir, quiet):
    """Compare two groups of contacts: which paths, steps and variants differ most, with a test.

    Each row counts contacts (that took an edge, ran a step, or followed a
    variant) on both sides, the change in share, Cohen's h and a z-test
    corrected for multiple comparisons (Benjamini-Hochberg). With --sop, only
    the contacts the SOP applies to, plus a row per SOP task for the contacts
    that skipped it and that ran it out of order.

    Example:

        cxmine compare log.parquet --by team=A,B --where intent=lost_card -o compare.svg

        cxmine compare log.parquet --by team=A,B --sop models/lost_card.bpmn -o compare.svg
    """
    from engine.analyses.comparison import compare_logs, split_by_attribute, split_by_periods
    from engine.analyses.segments import check_segment_attributes
    from engine.log.select import encode_where

    if (by is None) == (periods is None):
        raise UsageError("Give exactly one of --by ATTR=A,B and --periods FROM..TO,FROM..TO")
    if output:
        from engine.report.drawing import check_format
        check_format(output)
    if by:
        attr, va, vb = parse_groups(by)
        check_segment_attributes(log, [attr])
        labels = (f"{attr} = {va}", f"{attr} = {vb}")
    else:
        range_a, range_b, labels = parse_periods(periods)
    sop, sop_attributes = None, ()
    if sop_path:
        from engine.analyses.library import applies_to_attributes
        from engine.model import load_sop_library
        sop = load_sop_library([sop_path])
        sop_attributes = applies_to_attributes(sop)
    progress(f"encoding {log}", quiet)
    encoded = encode_where(log, where, attributes=(), with_case_ids=bool(sop),
                           case_attributes=((attr,) if by else ()) + sop_attributes)
    groups = split_by_attribute(encoded, attr, va, vb) if by else split_by_periods(encoded, range_a, range_b)
    progress(f"comparing {groups[0].n_cases:,} with {groups[1].n_cases:,} contacts"
             + (f" (then only the contacts {describe_sops(sop)} applies to)" if sop else ""), quiet)
    result = compare_logs(*groups, *labels, alpha=alpha, sop=sop or None)
    if output:
        from engine.report.comparison_map import render_comparison
        render_comparison(result, output, f"What differs: {labels[0]} against {labels[1]}")
        progress(f"wrote {output}", quiet)
    if csv_dir:
        path = write_csv(csv_dir, "compare.csv", _HEADERS, _rows(result.rows))
        progress(f"wrote {path}", quiet)
    if as_json:
        echo_json(result.as_dict())
        return
    if sop:
        click.echo(f"Only the contacts {describe_sops(sop)} applies to; SOP steps compared as skipped and "
                   "out_of_order rows")
    click.echo(f"A: {labels[0]} ({result.n_a:,} contacts)   B: {labels[1]} ({result.n_b:,} contacts)   "
               f"{len(result.significant()):,} of {len(result.rows):,} differences significant "
               f"(Benjamini-Hochberg, q < {alpha:g})")
    click.echo(render_table(_HEADERS, _rows(result.rows[:top])))
