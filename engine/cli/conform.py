"""``cxmine conform``: the log against an SOP by token replay, deviations per step with evidence."""

from __future__ import annotations

import click

from engine.cli import (by_option, check_attribute_options, csv_option, echo_json, engine_options, json_option,
                        log_argument, main, progress, quiet_option, where_option)


@main.command()
@log_argument
@click.option("--sop", "sop_paths", required=True, multiple=True, type=click.Path(),
              help="SOP model (models/<name>.bpmn; its sidecar models/<name>.toml is read too), or a folder of "
                   "them: an SOP library, each contact replayed on the SOP whose applies_to matches it "
                   "(repeatable).")
@by_option("Also report fitness per segment of ATTR: intent, outcome, queue, ... (team, site, shift and "
           "channel are always reported).")
@where_option
@click.option("--alignments", "n_align", type=int, default=0, show_default=True,
              help="Optimal alignments (pm4py) for the K most frequent variants.")
@click.option("--time-budget", type=float, default=60.0, show_default=True,
              help="Seconds the alignments may take in all.")
@click.option("--unknown-as-deviation/--no-unknown-as-deviation", default=True, show_default=True,
              help="Count activities that are not in the SOP as deviations (audit fitness, deviation table).")
@click.option("--examples", type=int, default=5, show_default=True, help="Example contact ids per deviation row.")
@click.option("--top", type=int, default=20, show_default=True, help="Rows of the deviation table to print.")
@click.option("--worst", type=int, default=10, show_default=True,
              help="Worst variants to show (lowest audit fitness first); --csv writes every variant.")
@json_option
@csv_option
@engine_options
@quiet_option
def conform(log, sop_paths, by, where, n_align, time_budget, unknown_as_deviation, examples, top, worst, as_json,
            csv_dir, engine, scheduler, quiet):
    """Check every contact of LOG against an SOP by token-based replay.

    Prints pm4py's token-replay fitness for the log (and the audit fitness,
    which also counts activities the SOP does not know), fitness per team,
    site, shift and channel, the deviations per SOP step (skipped, inserted,
    unknown activity, out of order, ended early) ordered by impact with
    example contact ids, compliance consistency of the critical steps across
    teams, and the worst variants. With a folder of SOPs (or --sop repeated),
    each contact is checked against the SOP whose sidecar applies_to matches it.

    Example:

        cxmine conform log.parquet --sop models/lost_card.bpmn --where intent=lost_card --alignments 5 --csv reports/conform

        cxmine conform log.parquet --sop models/ --csv reports/conform
    """
    from pathlib import Path

    from engine.errors import UsageError

    if examples < 0 or top < 0 or worst < 0:
        raise UsageError("--examples, --top and --worst must be 0 or more")
    if n_align < 0:
        raise UsageError(f"--alignments must be 0 or more, got {n_align}")
    if time_budget <= 0:
        raise UsageError(f"--time-budget must be more than 0 seconds, got {time_budget}")
    check_attribute_options(log, by, where)
    if len(sop_paths) > 1 or Path(sop_paths[0]).is_dir():
        if n_align:
            raise UsageError("--alignments needs a single SOP file, not an SOP library")
        _conform_library(log, sop_paths, by, where, unknown_as_deviation, examples, top, worst, as_json, csv_dir,
                         engine, scheduler, quiet)
        return
    _conform_one(log, sop_paths[0], by, where, n_align, time_budget, unknown_as_deviation, examples, top, worst,
                 as_json, csv_dir, engine, scheduler, quiet)


def _encode(log, by, where, case_attributes=()):
    from engine.analyses.conformance import EVENT_ATTRIBUTES
    from engine.log.select import encode_where

    return encode_where(log, where, by=by, with_case_ids=True, case_attributes=case_attributes, case_starts_only=True,
                        attributes=EVENT_ATTRIBUTES + tuple(a for a in by if a not in EVENT_ATTRIBUTES + ("week",)))


def _conform_one(log, sop_path, by, where, n_align, time_budget, unknown_as_deviation, examples, top, worst, as_json,
                 csv_dir, engine, scheduler, quiet):
    from pathlib import Path

    from engine.analyses.conformance import check_conformance
    from engine.errors import UsageError
    from engine.model import load_sop
    from engine.report.conformance import render_conformance, write_conformance_csv

    sop = load_sop(sop_path)
    if engine == "dask":
        if n_align:
            raise UsageError("--alignments needs the per-contact replay, which --engine dask does not gather",
                             hint="Align with --engine local, on a selection that fits one machine (--where)")
        from engine.distributed.analyses import distributed_conformance
        progress(f"replaying {log} on {sop.name} on Dask ({scheduler or 'local cluster'})", quiet)
        run = distributed_conformance(log, sop_path, by=by, where=where, examples=examples,
                                      unknown_as_deviation=unknown_as_deviation, scheduler=scheduler,
                                      per_contact=bool(csv_dir), worst=worst)
        result, contacts = run if csv_dir else (run, None)
    else:
        from concurrent.futures import ThreadPoolExecutor

        from engine.analyses.conformance import load_kernels

        contacts = None
        progress(f"encoding {log}", quiet)
        with ThreadPoolExecutor(max_workers=1) as loading:
            loaded = loading.submit(load_kernels, sop, unknown_as_deviation)  # while Arrow reads the log
            encoded = _encode(log, by, where)
            loaded.result()
        progress(f"replaying {encoded.n_cases:,} contacts on {sop.name}", quiet)
        result = check_conformance(encoded, sop, by=by, examples=examples, unknown_as_deviation=unknown_as_deviation,
                                   worst=worst)
    if n_align:
        from engine.analyses.alignments import align_conformance
        progress(f"aligning the {n_align} most frequent variants (budget {time_budget:g} s)", quiet)
        result = align_conformance(result, sop, n_align, time_budget)
        if result.alignment_note:
            click.echo(f"Note: {result.alignment_note}; raise --time-budget to align the rest", err=True)
    warning = ""
    if result.mixed_log and not where:
        select = " ".join(f"--where {k}={','.join(v)}" for k, v in sop.applies_to.items()) or "--where intent=..."
        warning = (f"{result.foreign_contact_share:.0%} of the contacts run steps that {sop.name} does not know "
                   f"and do not fit it: the log seems to hold contacts of other procedures. Select this SOP's contacts with {select}, "
                   f"or check every SOP at once with --sop {Path(sop_path).parent}/ (an SOP library, "
                   f"see applies_to in docs/sop.md)")
        click.echo(f"Warning: {warning}", err=True)
    if csv_dir:
        written = write_conformance_csv(result, csv_dir, alignments=n_align > 0, contacts=contacts)
        progress(f"wrote {len(written)} CSV files to {csv_dir}", quiet)
    if as_json:
        echo_json({**result.as_dict(), "warning": warning or None})
        return
    click.echo(render_conformance(result, source=sop_path, top=top))


def _conform_library(log, sop_paths, by, where, unknown_as_deviation, examples, top, worst, as_json, csv_dir,
                     engine, scheduler, quiet):
    """Each contact on the SOP that applies to it; with --engine dask from per-partition partials, printed and
    written the same way."""
    from engine.analyses.library import applies_to_attributes, check_library
    from engine.model import load_sop_library
    from engine.report.conformance import render_library, write_library_csv

    sops = load_sop_library(sop_paths)
    contacts = None
    if engine == "dask":
        from engine.distributed.analyses import distributed_library
        progress(f"replaying {log} on the SOP that applies to each contact ({len(sops)} SOPs) on Dask "
                 f"({scheduler or 'local cluster'})", quiet)
        run = distributed_library(log, sops, by=by, where=where, examples=examples,
                                  unknown_as_deviation=unknown_as_deviation, worst=worst, per_contact=bool(csv_dir),
                                  scheduler=scheduler)
        library, contacts = run if csv_dir else (run, None)
    else:
        progress(f"encoding {log}", quiet)
        encoded = _encode(log, by, where, case_attributes=applies_to_attributes(sops))
        progress(f"replaying {encoded.n_cases:,} contacts on the SOP that applies to each ({len(sops)} SOPs)", quiet)
        library = check_library(encoded, sops, by=by, examples=examples, unknown_as_deviation=unknown_as_deviation,
                                worst=worst)
    if csv_dir:
        written = write_library_csv(library, csv_dir, contacts=contacts)
        progress(f"wrote {len(written)} CSV files to {csv_dir}", quiet)
    if as_json:
        echo_json(library.as_dict())
        return
    click.echo(render_library(library, top=top))
