"""Ingest of the same 1M-event log from CSV and from Parquet: cxmine vs pandas + pm4py.format_dataframe.

cxmine: `ingest_to_log` (parse, check every record, pseudonymise customer ids,
sort, write the canonical Parquet log). pm4py: `pandas.read_csv` /
`pandas.read_parquet`, then `pm4py.format_dataframe` (which parses the
timestamps and sorts by case and time; it writes nothing and checks nothing
per record). The log is generated here with numpy into benchmarks/data/
(git-ignored). Run it with:

    flock /tmp/cxmine-bench.lock .venv/bin/python benchmarks/bench_ingest.py [--events N] [--repeats R]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from results import median_time, write_section  # noqa: E402

ACTIVITIES = np.array(["IVR menu", "Bot intent", "Queue", "Agent answer", "Verify identity", "Hold", "Transfer",
                       "Escalate", "Resolve", "Wrap-up"])


def generate(n_events: int, folder: Path, seed: int = 7) -> tuple[Path, Path]:
    """A contact-center long-form log: ~10 events per contact, ISO 8601 times with offsets, raw phone numbers."""
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, pq_path = folder / f"events_{n_events}.csv", folder / f"events_{n_events}.parquet"
    if csv_path.exists() and pq_path.exists():
        return csv_path, pq_path
    rng = np.random.default_rng(seed)
    per_case = rng.integers(4, 17, size=n_events // 6)
    ends = np.cumsum(per_case)
    per_case = per_case[: np.searchsorted(ends, n_events) + 1]
    per_case[-1] -= per_case.sum() - n_events
    n_cases = len(per_case)
    case = np.repeat(np.arange(n_cases), per_case)
    start = np.datetime64("2026-01-01T00:00:00", "s") + np.sort(rng.integers(0, 90 * 86400, n_cases)).astype(
        "timedelta64[s]")
    step = rng.integers(5, 600, n_events).astype("timedelta64[s]")
    first = np.concatenate(([0], np.cumsum(per_case)[:-1]))
    offs = np.cumsum(step.astype(np.int64))
    offs = offs - np.repeat(offs[first] - step.astype(np.int64)[first], per_case)
    ts = np.repeat(start, per_case) + offs.astype("timedelta64[s]")
    dur = rng.integers(1, 300, n_events).astype("timedelta64[s]")
    iso = np.char.add(np.datetime_as_string(ts, unit="s"), "+00:00")
    iso_end = np.char.add(np.datetime_as_string(ts + dur, unit="s"), "+00:00")
    phone = np.char.add("+44 7700 9", np.char.zfill(rng.integers(0, 99999, n_cases).astype(str), 5))
    table = pa.table({
        "case_id": pa.array(np.char.add("C", case.astype(str))),
        "activity": pa.array(ACTIVITIES[rng.integers(0, len(ACTIVITIES), n_events)]),
        "timestamp": pa.array(iso),
        "end_timestamp": pa.array(iso_end),
        "resource": pa.array(np.char.add("agent", rng.integers(0, 400, n_events).astype(str))),
        "channel": pa.array(np.array(["voice", "chat", "email"])[rng.integers(0, 3, n_events)]),
        "queue": pa.array(np.array(["Billing", "Cards", "Technical", "General"])[rng.integers(0, 4, n_events)]),
        "customer_id": pa.array(phone[case]),
    })
    pcsv.write_csv(table, csv_path)
    typed = table.set_column(2, "timestamp", pa.array(ts.astype("datetime64[ns]")).cast(pa.timestamp("ns", "UTC")))
    typed = typed.set_column(3, "end_timestamp",
                             pa.array((ts + dur).astype("datetime64[ns]")).cast(pa.timestamp("ns", "UTC")))
    pq.write_table(typed, pq_path)
    return csv_path, pq_path


def run_cxmine(path: Path, out: Path):
    from engine.ingest import ReadOptions
    from engine.ingest.job import ingest_to_log
    return ingest_to_log([path], out, options=ReadOptions(pseudonym_key=b"bench"))


def run_pm4py(path: Path):
    import pandas as pd
    import pm4py
    df = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    return pm4py.format_dataframe(df, case_id="case_id", activity_key="activity", timestamp_key="timestamp")


def measure_here(tool: str, path: Path, repeats: int) -> dict:
    """Run in a fresh process: imports first, then one warm-up and ``repeats`` timed runs; peak RSS above the
    RSS after the imports (ru_maxrss covers every run, so memory the allocator kept does not hide a peak)."""
    import resource
    import psutil
    import pm4py  # noqa: F401  (import time not counted, for both tools)
    from engine.ingest import job  # noqa: F401
    base = psutil.Process().memory_info().rss
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "log.parquet"
        fn = (lambda: run_cxmine(path, out)) if tool == "cxmine" else (lambda: run_pm4py(path))
        first = fn()
        t, result = median_time(fn, repeats)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if tool == "cxmine":
        assert first.records_rejected == 0 and result.events == first.events
        rows, cases = result.events, result.cases
    else:
        rows, cases = len(result), int(result["case_id"].nunique())
    return {"seconds": t, "peak_mb": (peak - base) / 2**20, "rows": rows, "cases": cases}


def measure(tool: str, path: Path, repeats: int) -> dict:
    cmd = [sys.executable, __file__, "--one", tool, str(path), "--repeats", str(repeats)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--one", nargs=2, metavar=("TOOL", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure_here(args.one[0], Path(args.one[1]), args.repeats)))
        return 0
    csv_path, pq_path = generate(args.events, HERE / "data")
    rows = []
    for label, path in (("CSV", csv_path), ("Parquet", pq_path)):
        cx = measure("cxmine", path, args.repeats)
        pm = measure("pm4py", path, args.repeats)
        assert cx["rows"] == pm["rows"] == args.events and cx["cases"] == pm["cases"], (cx, pm)
        rows.append((label, path.stat().st_size / 2**20, cx, pm))
        print(f"{label}: cxmine {cx['seconds']:.2f}s {cx['peak_mb']:.0f} MiB | "
              f"pm4py {pm['seconds']:.2f}s {pm['peak_mb']:.0f} MiB", flush=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE.parent).stdout.strip() or "unknown"
    body = [
        f"Command: `flock /tmp/cxmine-bench.lock .venv/bin/python benchmarks/bench_ingest.py --events {args.events} "
        f"--repeats {args.repeats}` (at commit {commit})",
        "",
        f"The same generated log ({args.events:,} events, {rows[0][2]['cases']:,} contacts, 8 columns: ISO 8601 "
        f"times with offsets, raw phone numbers) as CSV and as Parquet. cxmine = `ingest_to_log`: parse, check every "
        f"record (fields, UTF-8, timestamps, duplicates), pseudonymise customer ids (HMAC), sort, write the canonical "
        f"Parquet log. pandas+pm4py = `pandas.read_csv`/`read_parquet` + `pm4py.format_dataframe` (pm4py "
        f"{_pm4py_version()}; in memory only: no per-record checks, no pseudonymisation, nothing written). Each "
        f"tool and input runs in its own process: imports, one warm-up, then the median of {args.repeats} timed "
        f"runs; peak = highest RSS of the process (ru_maxrss) above its RSS after the imports. Machine: 2 cores, "
        f"24 GiB, shared with other jobs while measuring, so times are noisy.",
        "",
        "| input | size MiB | cxmine s | cxmine peak MiB | pandas+pm4py s | pandas+pm4py peak MiB |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, size, cx, pm in rows:
        body.append(f"| {label} | {size:.0f} | {cx['seconds']:.2f} | {cx['peak_mb']:.0f} | {pm['seconds']:.2f} | "
                    f"{pm['peak_mb']:.0f} |")
    write_section("Ingest (bench_ingest.py)", "\n".join(body))
    return 0


def _pm4py_version() -> str:
    from importlib.metadata import version
    return version("pm4py")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
