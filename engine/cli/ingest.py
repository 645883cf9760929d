"""``cxmine ingest`` and ``cxmine export``."""

from __future__ import annotations

import re

import click

from engine.cli import echo_json, json_option, main, output_option, progress, quiet_option
from engine.errors import EngineError, InputError, UsageError

# library arguments named in error hints ('format "csv"', "the strict argument") -> this command's flags
_FLAGS = {"format": "--format", "mapping": "--mapping FILE", "strict": "--strict", "timezone": "--timezone",
          "journey_days": "--journey-days", "case_object": "--case-object"}
# an InputError about one of these arguments (not about a file) is a usage error of the command line
_ARGUMENT_FIELDS = ("format", "timezone", "journey_days", "case_object")


def _with_flags(exc: EngineError) -> EngineError:
    """The library's error with its argument names as flags; a bad argument value becomes a usage error."""
    hint = exc.hint
    if hint:
        for name, flag in _FLAGS.items():
            hint = re.sub(rf'\b{name} "([^"]*)"', lambda m, f=flag.split()[0]: f"{f} {m.group(1)}", hint)
            hint = re.sub(rf"\b(?:the |a )?{name} argument\b", flag, hint)
    kind = type(exc)
    if isinstance(exc, InputError) and exc.field in _ARGUMENT_FIELDS and exc.path is None:
        kind = UsageError
        if exc.field == "journey_days":
            hint = f"{hint} (or set CXMINE_JOURNEY_DAYS)"
    return kind(exc.message, path=exc.path, line=exc.line, field=exc.field, hint=hint)


def _check_log_output(ctx, param, value):
    """A log file to write, or a partitioned log's folder (new, empty, or a partitioned log to replace)."""
    from pathlib import Path
    if value is not None and not (Path(value) / "cxmine.json").is_file() and not \
            (Path(value).is_dir() and not any(Path(value).iterdir())):
        from engine.report.outputs import check_output_file
        check_output_file(value, "--output file")
    return value


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False),
              help="Mapping file (TOML or YAML) from source columns to canonical columns.")
@click.option("--format", "fmt", default=None, help="Input format; default: from the file extension.")
@click.option("--case-object", default=None, help="OCEL input: the object type whose objects become cases.")
@click.option("--case", "case_notion", type=click.Choice(["contact", "journey"]), default="contact",
              show_default=True, help="Case notion: one contact, or a customer's journey of contacts.")
@click.option("--journey-days", type=float, default=None, help="Journey window in days (default 7).")
@click.option("--timezone", default=None,
              help="IANA time zone of timestamps written without a UTC offset (overrides the mapping's timezone).")
@click.option("--strict", is_flag=True, help="Stop at the first bad record instead of writing it to the rejects file.")
@click.option("--partitions", type=click.IntRange(1, 4096), default=None,
              help="Write a partitioned log: a folder (-o) of N Parquet files, each case in one of them by the hash of "
                   "its customer, else its id (for --engine dask; docs/scale.md).")
@click.option("-o", "--output", required=True, type=click.Path(), callback=_check_log_output,
              help="Output log (.parquet), or its folder with --partitions.")
@json_option
@quiet_option
def ingest(inputs, mapping, fmt, case_object, case_notion, journey_days, timezone, strict, partitions, output,
           as_json, quiet):
    """Ingest interaction exports or event logs into a canonical Parquet log.

    CSV (also .tsv, .gz), JSON Lines and Parquet go through a mapping file
    (TOML or YAML); without one, the columns must already be named case_id,
    activity, timestamp. Every input record is accepted or written to
    LOG.rejects.csv with its line and reason; the summary shows
    read = accepted + rejected.

    Example:

    \b
        cxmine ingest eventlogs/callcenter/calls.csv \\
            --mapping eventlogs/callcenter/mapping.toml -o calls.parquet
    """
    try:
        summary = run_ingest(inputs, mapping, fmt, case_object, case_notion, journey_days, timezone, strict, output,
                              quiet, partitions)
    except EngineError as exc:
        raise _with_flags(exc) from exc
    for w in summary.warnings:
        click.echo(f"Warning: {w}", err=True)
    if as_json:
        echo_json(summary.as_dict())
        return
    from engine.report.summaries import render_ingest_summary
    click.echo(render_ingest_summary(summary))


def run_ingest(inputs, mapping, fmt, case_object, case_notion, journey_days, timezone, strict, output, quiet,
               partitions=None):
    """Ingest INPUTS into OUTPUT as cxmine ingest does (mapping, time zone, pseudonym key); returns the summary."""
    from engine.ingest import ReadOptions
    from engine.ingest.job import ingest_to_log
    from engine.ingest.mapping import load_mapping, with_timezone
    from engine.settings import Settings

    settings = Settings.from_env()
    key = pseudonym_key(settings)
    loaded = load_mapping(mapping) if mapping else None
    if timezone:
        loaded = with_timezone(loaded, timezone)
    options = ReadOptions(mapping=loaded, strict=strict,
                          case_object=case_object,
                          pseudonym_key=key.key, pseudonym_key_id=key.key_id)
    progress(f"ingesting {len(inputs)} file(s)", quiet)
    return ingest_to_log(list(inputs), output, fmt=fmt, options=options, case_notion=case_notion,
                         journey_days=journey_days or settings.journey_days, partitions=partitions)


@main.command()
@click.argument("log", type=click.Path())
@click.option("--to", "target", required=True,
              type=click.Choice(["xes", "ocel-json", "ocel-xml", "ocel-sqlite"]), help="Export format.")
@output_option("Output file.")
@quiet_option
def export(log, target, output, quiet):
    """Export a canonical log as XES (IEEE 1849-2016) or OCEL 2.0.

    Example:

        cxmine export log.parquet --to xes -o log.xes.gz
    """
    progress(f"exporting {log} as {target}", quiet)
    if target == "xes":
        from engine.log.xes import write_xes
        n = write_xes(log, output)
        click.echo(f"wrote {output} ({n} events)")
    else:
        from engine.log.ocel import write_ocel
        from engine.settings import Settings
        key = pseudonym_key(Settings.from_env())
        n = write_ocel(log, output, fmt=target.split("-", 1)[1], pseudonym_key=key.key)
        click.echo(f"wrote {output} ({n} events)")


def pseudonym_key(settings):
    """The key in force (environment, else the installation key), warning when it holds for this run only."""
    from engine.ingest.pseudonym import RANDOM_KEY_WARNING
    from engine.settings import resolve_pseudonym_key
    key = resolve_pseudonym_key(settings)
    if key.source == "run":
        click.echo(f"Warning: {RANDOM_KEY_WARNING}", err=True)
    return key
