"""``cxmine partition``: a stored log as a partitioned log (a folder of Parquet files) for --engine dask."""

from __future__ import annotations

import click

from engine.cli import echo_json, json_option, main, progress, quiet_option


@main.command()
@click.argument("log", type=click.Path(dir_okay=False))
@click.option("--partitions", type=click.IntRange(1, 4096), required=True,
              help="Number of partitions (Parquet files); each case goes to one by the hash of its customer, "
                   "else of its id.")
@click.option("-o", "--output", required=True, type=click.Path(),
              help="Output folder (new, empty, or a partitioned log to replace).")
@json_option
@quiet_option
def partition(log, partitions, output, as_json, quiet):
    """Write a single-file log as a partitioned log, for --engine dask.

    Reads the log one row group at a time. Every command that takes LOG
    reads the folder as it reads the file, with the same results
    (docs/scale.md).

    Example:

        cxmine partition log.parquet --partitions 16 -o log.parts
    """
    from engine.log.partitions import partition_log
    from engine.log.store import log_metadata

    progress(f"partitioning {log} into {partitions} partitions", quiet)
    folder = partition_log(log, output, partitions)
    meta = log_metadata(folder)
    summary = {"log": str(folder), "partitions": meta["partitions"], "cases": meta["n_cases"],
               "events": meta["n_events"], "files": meta["files"]}
    if as_json:
        echo_json(summary)
        return
    click.echo(f"wrote {folder}: {summary['cases']:,} cases, {summary['events']:,} events in "
               f"{summary['partitions']} partitions")
