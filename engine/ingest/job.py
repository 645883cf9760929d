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
    read = sum(r.records_read for r in results)
    rejected = sum(r.records_rejected for r in results)
    n = table.num_rows
    if n:
        ts = table.column("timestamp").cast(pa.int64()).to_numpy()
        lo, hi = np.datetime64(int(ts.min()), "ns"), np.datetime64(int(ts.max()), "ns")
        first, last = str(lo) + "Z", str(hi) + "Z"
        cases = int(table.column("case_index")[-1].as_py()) + 1 if "case_index" in table.column_names else \
            len(pa.compute.unique(table.column("case_id")))
        activities = len(pa.compute.unique(table.column("activity").combine_chunks().cast(pa.string())))
    else:
        first = last = None
        cases = activities = 0
    warnings = [w for r in results for w in r.warnings]
    return IngestSummary(read, read - rejected, rejected, cases, n, activities, first, last, str(output),
                         None if rejects_file is None else str(rejects_file), warnings)


def ingest_to_log(inputs: list[str | os.PathLike], output: str | os.PathLike, *, fmt: str | None = None,
                  options: ReadOptions | None = None, case_notion: str = "contact",
                  journey_days: float = 7.0) -> IngestSummary:
    """Read every input, write the sorted log atomically, write rejects, return the summary."""
    options = options or ReadOptions()
    results: list[ReadResult] = []
    for path in inputs:
        res = read_input(path, fmt, options)
        if options.strict and res.rejects:
            r = res.rejects[0]
            raise InputError(f"Refused record: {r.reason}", path=r.source, line=r.line,
                             hint="Fix the record, or run without --strict to write refused records to the rejects file")
        results.append(res)
    table = combine_results(results)
    metadata = {"sources": [str(p) for p in inputs], "case_notion": case_notion}
    for r in results:
        metadata.update(r.metadata)
    if case_notion == "journey":
        from engine.ingest.journeys import to_journeys
        table = to_journeys(table, window_days=journey_days)
        metadata["journey_days"] = journey_days
    output = Path(output)
    write_log(sort_log(table), output, metadata=metadata, presorted=True)
    rpath = rejects_path(output)
    rejects = [r for res in results for r in res.rejects]
    if rejects:
        write_rejects(rejects, rpath)
    elif rpath.exists():
        rpath.unlink()
    from engine.log.store import read_log
    stored = read_log(output, columns=["activity", "timestamp"])
    return summarise(stored, results, output, rpath if rejects else None)
