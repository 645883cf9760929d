"""``cxmine conform``: the log against an SOP by token replay, deviations per step with evidence."""

from __future__ import annotations

import click

from engine.cli import csv_option, echo_json, json_option, main, progress, quiet_option, where_option
from engine.report.tables import render_table, write_csv


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


@main.command()
@click.argument("log", type=click.Path(dir_okay=False))
@click.option("--sop", "sop_path", required=True, type=click.Path(dir_okay=False),
              help="SOP model (models/<name>.bpmn; its sidecar models/<name>.toml is read too).")
@click.option("--by", "by", multiple=True, help="Also report fitness per value of this attribute (repeatable).")
@where_option
@click.option("--alignments", "n_align", type=int, default=0, show_default=True,
              help="Optimal alignments (pm4py) for the K most frequent variants.")
@click.option("--time-budget", type=float, default=60.0, show_default=True,
              help="Seconds the alignments may take in all.")
@click.option("--unknown-as-deviation/--no-unknown-as-deviation", default=True, show_default=True,
              help="Count activities that are not in the SOP as deviations (audit fitness, deviation table).")
@click.option("--examples", type=int, default=5, show_default=True, help="Example contact ids per deviation row.")
@click.option("--top", type=int, default=20, show_default=True, help="Rows of the deviation table to print.")
@json_option
@csv_option
@quiet_option
def conform(log, sop_path, by, where, n_align, time_budget, unknown_as_deviation, examples, top, as_json, csv_dir,
            quiet):
    """Check every contact of LOG against an SOP by token-based replay.

    Prints pm4py's token-replay fitness for the log (and the audit fitness,
    which also counts activities the SOP does not know), fitness per team,
    site, shift and channel, the deviations per SOP step (skipped, inserted,
    unknown activity, out of order) ordered by impact with example contact
    ids, compliance consistency of the critical steps across teams, and the
    worst variants.

    Example:

        cxmine conform log.parquet --sop models/lost_card.bpmn --where intent=lost_card --alignments 5 --csv reports/conform
    """
    from engine.analyses.conformance import check_conformance
    from engine.errors import UsageError
    from engine.log.select import encode_where, parse_where
    from engine.model import load_sop

    if examples < 0 or top < 0:
        raise UsageError("--examples and --top must be 0 or more")
    sop = load_sop(sop_path)
    progress(f"encoding {log}", quiet)
    encoded = encode_where(log, parse_where(where), with_case_ids=True)
    progress(f"replaying {encoded.n_cases:,} contacts on {sop.name}", quiet)
    result = check_conformance(encoded, sop, by=by, examples=examples, unknown_as_deviation=unknown_as_deviation)
    if n_align or time_budget != 60.0:
        from dataclasses import replace

        from engine.analyses.alignments import align_top_variants
        progress(f"aligning the {n_align} most frequent variants (budget {time_budget:g} s)", quiet)
        aligned, note = align_top_variants(result.replay, sop, n_align, time_budget)
        result = replace(result, alignments=aligned, alignment_note=note)
        if note:
            click.echo(f"Note: {note}", err=True)
    tables = _tables(result)
    if csv_dir:
        for name, (headers, rows) in tables.items():
            write_csv(csv_dir, f"{name}.csv", headers, rows)
        tt = result.replay.trace_table()
        ids = encoded.case_ids.to_pylist() if encoded.case_ids is not None else list(range(encoded.n_cases))
        cols = ["missing", "consumed", "remaining", "produced", "unknown", "is_fit", "fitness", "audit_fitness"]
        write_csv(csv_dir, "contacts.csv", ["contact_id"] + cols,
                  [[ids[i]] + [tt[c][i].item() for c in cols] for i in range(encoded.n_cases)])
        progress(f"wrote {len(tables) + 1} CSV files to {csv_dir}", quiet)
    if as_json:
        echo_json(result.as_dict())
        return
    click.echo(f"SOP                {result.sop} ({sop_path})")
    click.echo(f"contacts           {result.contacts:,}   events {result.events:,}   variants {result.variants:,}")
    click.echo(f"log fitness        {result.log_fitness:.4f}   (token replay, as pm4py)")
    how = "activities not in the SOP count as deviations" if unknown_as_deviation else "same as log fitness"
    click.echo(f"audit fitness      {result.audit_fitness:.4f}   ({how})")
    click.echo(f"fitting contacts   {_pct(result.fit_share)}   average trace fitness {result.average_trace_fitness:.4f}")
    t = result.tokens
    click.echo(f"tokens             missing {t['missing']:,}  consumed {t['consumed']:,}  "
               f"remaining {t['remaining']:,}  produced {t['produced']:,}")
    if result.unknown_activities:
        click.echo("not in the SOP     " + ", ".join(f"{a} ({n:,})" for a, n in
                                                    sorted(result.unknown_activities.items(), key=lambda x: -x[1])))
    headers, rows = tables["deviations"]
    click.echo("")
    click.echo(render_table(headers[:-1], [r[:-1] for r in rows[:top]],
                            title="Deviations by step, by impact (contacts x 2 if critical x (1 + cost/min of owner))"))
    if rows:
        click.echo("")
        click.echo("Evidence (example contacts)")
        for r in rows[:top]:
            click.echo(f"  {r[0]} / {r[1]}: {r[-1]}")
    for name, title in (("segment_fitness", "Fitness by segment"),
                        ("compliance", f"Compliance consistency (critical steps: "
                                       f"{', '.join(result.critical_steps) or 'none declared'})"),
                        ("worst_variants", "Worst variants")):
        headers, rows = tables[name]
        if rows:
            click.echo("")
            click.echo(render_table(headers, rows[:top], title=title))
    if result.compliance_spread:
        for attr, s in result.compliance_spread.items():
            click.echo(f"  spread across {attr}: {_pct(s['min'])} .. {_pct(s['max'])} "
                       f"(range {100 * s['range']:.1f} points, std {100 * s['std']:.1f})")
    if result.alignments:
        headers, rows = tables["alignments"]
        click.echo("")
        click.echo(render_table(headers, rows, title="Alignments of the most frequent variants (pm4py)"))


def _tables(result) -> dict[str, tuple[list[str], list[list]]]:
    """The result's tables as (headers, rows), for the terminal and for --csv."""
    return {
        "deviations": (["step", "kind", "owner", "critical", "contacts", "share", "impact", "examples"],
                       [[s.step, s.kind, s.owner, "yes" if s.critical else "", s.contacts, s.share, s.impact,
                         " ".join(s.examples)] for s in result.steps]),
        "segment_deviations": (["attribute", "value", "step", "kind", "contacts", "examples"],
                               [[s.attribute, s.value, s.step, s.kind, s.contacts, " ".join(s.examples)]
                                for s in result.segment_deviations]),
        "segment_fitness": (["attribute", "value", "contacts", "fitness", "audit fitness", "fitting"],
                            [[s.attribute, s.value, s.contacts, s.fitness, s.audit_fitness, s.fit_share]
                             for s in result.segment_fitness]),
        "compliance": (["attribute", "value", "contacts", "compliant", "rate"],
                       [[c.attribute, c.value, c.contacts, c.compliant, c.rate] for c in result.compliance]),
        "worst_variants": (["rank", "contacts", "fitness", "audit", "deviations", "example", "activities"],
                           [[w.rank, w.contacts, w.fitness, w.audit_fitness, "; ".join(w.deviations), w.example,
                             " > ".join(w.activities)] for w in result.worst_variants]),
        "alignments": (["rank", "contacts", "cost", "fitness", "deviations", "activities"],
                       [[a.rank, a.contacts, a.cost, a.fitness, "; ".join(a.deviations) or "(fits)",
                         " > ".join(a.activities)] for a in result.alignments]),
    }
