"""``cxmine report``: every analysis in one run, written as one HTML file, report.json and CSV tables."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from engine.cli import engine_options, main, quiet_option
from engine.cli.friction import period_days as _period_days

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "eventlogs" / "sample"
DEFAULT_OUT = Path("reports") / "latest"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _sop_files(paths) -> list[Path]:
    from engine.errors import InputError
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.glob("*.bpmn"))
            if not found:
                raise InputError("No SOP model (.bpmn) in the folder", path=str(p),
                                 hint="Give a folder of BPMN files with their .toml sidecars, or one .bpmn file")
            files += found
        else:
            files.append(p)
    return files


def _is_log(path: Path) -> bool:
    from engine.errors import InputError
    from engine.log.store import open_log
    if not path.is_dir() and path.suffix.lower() not in (".parquet", ".pq"):
        return False
    try:
        open_log(path)
    except InputError:
        return False
    return True


def _log_from_inputs(inputs, mapping, fmt, out: Path, stages):
    """(log path, record counts) from a stored log, or by ingesting the exports into OUT/log.parquet."""
    from engine.log.store import log_metadata
    if len(inputs) == 1 and _is_log(Path(inputs[0])):
        meta = log_metadata(inputs[0])
        return inputs[0], {"contacts": meta.get("n_cases", 0), "events": meta.get("n_events", 0)}
    from engine.cli.ingest import run_ingest
    stages.start("ingest")
    summary = run_ingest(inputs, mapping, fmt, None, "contact", None, None, False, out / "log.parquet", quiet=True)
    for w in summary.warnings:
        click.echo(f"Warning: {w}", err=True)
    return str(out / "log.parquet"), {"records_read": summary.records_read,
                                      "records_accepted": summary.records_accepted,
                                      "records_rejected": summary.records_rejected,
                                      "contacts": summary.cases, "events": summary.events}


@main.command()
@click.argument("inputs", nargs=-1, type=click.Path(exists=True))
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False),
              help="Mapping file for exports (as cxmine ingest); not needed for a stored log.")
@click.option("--format", "fmt", default=None, help="Input format of the exports (as cxmine ingest).")
@click.option("--sop", "sops", multiple=True, type=click.Path(exists=True),
              help="SOP model (.bpmn with its .toml sidecar) or a folder of them; repeatable.")
@click.option("--period", default="90d", show_default=True, callback=_period_days,
              help="Projection period of friction costs if nothing changes: 90d, 12w, 3m, 1y.")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Report folder (default: reports/latest).")
@engine_options
@quiet_option
def report(inputs, mapping, fmt, sops, period, out_dir, engine, scheduler, quiet):
    """One report for process teams and auditors: index.html, report.json, CSV tables.

    INPUT is a log made by cxmine ingest (a .parquet file or a partitioned folder), or exports to ingest first (with
    --mapping / --format, as cxmine ingest). Runs KPIs, variants, the process
    map, conformance of each SOP's contacts, drift, handoffs and friction, and writes OUT/index.html
    (one self-contained file), OUT/report.json (schema cxmine.report, version 1;
    byte-identical for the same inputs and parameters), OUT/timing.json and
    OUT/tables/. Without INPUT: the bundled sample and the SOPs in models/.
    With --engine dask every section runs per partition of INPUT on one Dask
    cluster and report.json and the tables are the same as with --engine local
    (docs/scale.md).

    Example:

    \b
        cxmine report
        cxmine report log.parquet --sop models/ -o reports/march
        cxmine report calls.csv --mapping mapping.toml --sop models/lost_card.bpmn -o reports/calls
        cxmine report log.parts --sop models/ --engine dask --scheduler tcp://10.0.0.5:8786 -o reports/march
    """
    from engine import __version__
    from engine.analyses.overview import build_overview
    from engine.cli.stages import Stages
    from engine.model import load_sop
    from engine.report.audit import AuditTrail, hash_inputs
    from engine.report.bundle import write_report
    from engine.report.outputs import check_output_folder

    started = _now()
    if not inputs:
        inputs, mapping = (str(SAMPLE / "contacts.csv.gz"),), mapping or str(SAMPLE / "mapping.toml")
        sops = sops or (str(REPO / "models"),)
    out = check_output_folder(out_dir or DEFAULT_OUT, "report folder")
    stages = Stages(quiet)
    try:
        log, counts = _log_from_inputs(inputs, mapping, fmt, out, stages)
        stages.start("SOP models")
        sop_files = _sop_files(sops)
        models = [load_sop(p) for p in sop_files]
        ov = build_overview(log, sops=models, period_days=period, progress=stages.start, engine=engine,
                            scheduler=scheduler)
        stages.start("writing the report")
        from engine.log.store import log_metadata
        audit = AuditTrail(
            version=__version__, inputs=tuple(hash_inputs(inputs)),
            models=tuple(hash_inputs([q for p in sop_files for q in (p, p.with_suffix(".toml")) if q.exists()])),
            parameters={"inputs": list(inputs), "mapping": mapping, "format": fmt,
                        "sop": [str(p) for p in sops], "window_days": ov.kpis.window_days,
                        "period_days": period},
            counts=counts, pseudonym_key_id=log_metadata(log).get("pseudonym_key_id"),
            timing={"started": started, "finished": _now()})
        subtitle = (f"{', '.join(Path(i).name for i in inputs)}: {ov.n_contacts:,} contacts, "
                    f"{ov.n_events:,} events" + (f", {ov.first_event[:10]} to {ov.last_event[:10]}"
                                                 if ov.first_event and ov.last_event else ""))
        paths = write_report(ov, audit, out, title="Contact-center process report", subtitle=subtitle)
    finally:
        stages.finish()
    from engine.report.outputs import write_json
    write_json(paths["timing"], {"started": started, "finished": _now(), "stages_s": stages.times})
    if not quiet:
        click.echo(stages.summary(), err=True)
    click.echo(f"Report written to {out}/ (report.json, timing.json, tables/). Open {paths['html']}")
