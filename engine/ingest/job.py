"""One ingest run: read inputs, write the canonical log and its rejects file, summarise.

The rejects file (``LOG.rejects.csv``, next to the log) has one row per refused
input record: source file, line (or record number), reason, and the record's
text. It is written only when something was refused; a stale one from an
earlier run is removed, so what sits next to a log always belongs to it.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.atomic import atomic_path
from engine.errors import InputError
from engine.ingest import ReadOptions, ReadResult, Reject, read_input
from engine.log.schema import normalise_table, sort_log
from engine.log.store import write_log


@dataclass(frozen=True)
class IngestSummary:
    records_read: int
    records_accepted: int
    records_rejected: int
    cases: int
    events: int
    activities: int
    first_event: str | None
    last_event: str | None
    output: str
    rejects_file: str | None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def rejects_path(log_path: str | os.PathLike) -> Path:
    p = Path(log_path)
    name = p.name[:-len(".parquet")] if p.name.endswith(".parquet") else p.name
    return p.with_name(name + ".rejects.csv")


def write_rejects(rejects: list[Reject], path: Path) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["source", "line", "reason", "record"])
            for r in rejects:
                w.writerow([r.source, "" if r.line is None else r.line, r.reason, r.record])


def combine_results(results: list[ReadResult]) -> pa.Table:
    tables = [normalise_table(r.table) for r in results if r.table.num_rows]
    if not tables:
        return pa.table({"case_id": pa.array([], pa.string()), "activity": pa.array([], pa.string()),
                         "timestamp": pa.array([], pa.timestamp("ns", tz="UTC"))})
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="permissive")


def summarise(table: pa.Table, results: list[ReadResult], output: Path, rejects_file: Path | None) -> IngestSummary:
    """Counts of a sorted log (as ``sort_log`` returns it) and of the records behind it."""
    read = sum(r.records_read for r in results)
    rejected = sum(r.records_rejected for r in results)
    n = table.num_rows
    if n:
        ts = table.column("timestamp").cast(pa.int64()).to_numpy()
        first, last = _iso(int(ts.min())), _iso(int(ts.max()))
        case = table.column("case_id").combine_chunks()
        cases = len(case.dictionary) if pa.types.is_dictionary(case.type) else len(pc.unique(case))
        activities = len(pc.unique(table.column("activity").combine_chunks().cast(pa.string())))
    else:
        first = last = None
        cases = activities = 0
    warnings = list(dict.fromkeys(w for r in results for w in r.warnings))
    return IngestSummary(read, read - rejected, rejected, cases, n, activities, first, last, str(output),
                         None if rejects_file is None else str(rejects_file), warnings)


def _iso(ns: int) -> str:
    """ISO 8601 UTC, to the second unless the time has a fraction."""
    unit = "s" if ns % 10**9 == 0 else "ms" if ns % 10**6 == 0 else "us" if ns % 10**3 == 0 else "ns"
    return np.datetime_as_string(np.datetime64(ns, "ns"), unit=unit) + "Z"


def _first_reject(res: ReadResult) -> Reject:
    return min(res.rejects, key=lambda r: (r.line is None, r.line or 0))


def _nothing_accepted(results: list[ReadResult], inputs: list) -> InputError:
    reasons: dict[str, tuple[int, Reject]] = {}
    for res in results:
        for r in res.rejects:
            kind = r.reason.split("'")[0].split(":")[0].strip()
            count, example = reasons.get(kind, (0, r))
            reasons[kind] = (count + 1, example)
    top = sorted(reasons.values(), key=lambda x: -x[0])[:3]
    listing = "; ".join(f"{count} x {ex.reason} (e.g. {ex.source}, line {ex.line})" for count, ex in top)
    return InputError(f"No record of {', '.join(str(p) for p in inputs)} was accepted: {listing}",
                      hint="Fix the mapping or the data; nothing was written")


def ingest_to_log(inputs: list[str | os.PathLike], output: str | os.PathLike, *, fmt: str | None = None,
                  options: ReadOptions | None = None, case_notion: str = "contact",
                  journey_days: float = 7.0, partitions: int | None = None) -> IngestSummary:
    """Read every input, write the sorted log and its rejects file atomically, return the summary.

    ``partitions``: write a partitioned log (a folder, engine.log.partitions) of that many
    partitions instead of one file.

    Nothing is written unless every input was read: a refused file (or, with
    ``options.strict``, a refused record) leaves an existing log and rejects
    file as they were.
    """
    options = options or ReadOptions()
    if fmt is None and options.mapping and options.mapping.get("format"):
        fmt = options.mapping["format"]
    results: list[ReadResult] = []
    for path in inputs:
        res = read_input(path, fmt, options)
        if options.strict and res.rejects:
            r = _first_reject(res)
            raise InputError(f"Refused record: {r.reason}", path=r.source, line=r.line,
                             hint="Fix the record, or run without the strict argument to write refused records to "
                                  "the rejects file")
        results.append(res)
    if not any(r.table.num_rows for r in results):
        raise _nothing_accepted(results, inputs)
    table = combine_results(results)
    metadata = {"sources": [str(p) for p in inputs], "case_notion": case_notion}
    if options.pseudonym_key_id:
        metadata["pseudonym_key_id"] = options.pseudonym_key_id
    for r in results:
        metadata.update(r.metadata)
    if case_notion == "journey":
        from engine.ingest.journeys import to_journeys
        table = to_journeys(table, window_days=journey_days)
        metadata["journey_days"] = journey_days
    output = Path(output)
    table = sort_log(table)
    rpath = rejects_path(output)
    rejects = [r for res in results for r in res.rejects]
    if partitions:
        from engine.log.partitions import write_partitioned_log
        write_partitioned_log(table, output, partitions, metadata=metadata, presorted=True)
        if rejects:
            write_rejects(rejects, rpath)
    else:
        with atomic_path(output) as tmp_log:
            write_log(table, tmp_log, metadata=metadata, presorted=True)
            if rejects:
                write_rejects(rejects, rpath)
    if not rejects and rpath.exists():
        rpath.unlink()
    return summarise(table, results, output, rpath if rejects else None)
