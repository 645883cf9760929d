"""XES export and import: cxmine against pm4py and r4pm on generated contact-center logs.

Run: ``flock /tmp/cxmine-bench.lock .venv/bin/python benchmarks/bench_xes.py [--sizes 1M,10M] [--repeats 3]``

Generates (once) a realistic log of 1M and 10M events into benchmarks/data/
(about 10 events per contact, 9 attributes besides case, activity and time),
writes it as XES with each peer, reads the cxmine-written XES back with each
peer, and records wall time and peak memory. Every measured run is its own
subprocess, so peaks do not mix; the figure is the process's peak RSS
(``ru_maxrss``), and "before" is its RSS once the input was in memory.
Peers: pm4py's Python writer (``variant_str="line_by_line"``), pm4py's
default reader (backed by r4pm when it is installed, as here) and its Python
``iterparse`` reader, and r4pm's own ``df.export_xes`` / ``df.import_xes``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
sys.path.insert(0, str(HERE.parent))

SIZES = {"1M": 1_000_000, "10M": 10_000_000}
ACTIVITIES = ["IVR menu", "Bot intent", "Queue", "Agent answer", "Verify identity", "Hold", "Transfer",
              "Escalate", "Resolve", "Wrap-up", "Callback scheduled", "Survey sent"]
CHANNELS = ["voice", "chat", "email", "sms", "web", "social"]
SITES = ["Lisbon", "Manila", "Krakow", "Austin", "Cape Town"]
TEAMS = ["Support Ops", "Digital Experience", "AI Automation", "Finance/Logistics", "Workforce & Quality"]


def generate_log(n_events: int, path: Path) -> None:
    """A sorted canonical log of about n_events events (numpy, seeded), written with write_log."""
    import pyarrow as pa

    from engine.log.store import write_log

    rng = np.random.default_rng(42)
    lengths = rng.integers(5, 16, n_events // 5 + 1)
    cs = np.cumsum(lengths)
    n_cases = int(np.searchsorted(cs, n_events)) + 1
    lengths = lengths[:n_cases]
    lengths[-1] -= cs[n_cases - 1] - n_events
    n = int(lengths.sum())
    case_of = np.repeat(np.arange(n_cases), lengths)
    start = np.int64(1_704_067_200) * 10**9 + np.sort(rng.integers(0, 365 * 86400, n_cases)).astype(np.int64) * 10**9
    step = rng.integers(5_000_000, 300_000_000_000, n).astype(np.int64)
    first = np.r_[0, np.cumsum(lengths)[:-1]]
    csum = np.cumsum(step)
    ts = start[case_of] + csum - np.repeat(csum[first] - step[first], lengths)
    ts = ts // 1000 * 1000  # microseconds, as XES carries them
    dur = rng.integers(1, 900, n).astype(np.int64) * 10**9
    act = rng.integers(0, len(ACTIVITIES), n).astype(np.int32)
    agents = np.array([f"agent-{i:04d}" for i in range(800)] + ["bot-nova", "bot-atlas", "ivr"], dtype=object)
    queues = np.array([f"Q{i:02d} {name}" for i, name in enumerate(["billing", "cards", "loans", "tech & devices",
                                                                        "moves", "fraud", "retention", "general"])],
                      dtype=object)

    def dict_col(codes, labels):
        return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(list(labels), pa.string()))

    case_ids = pa.array([f"C{i:09d}" for i in range(n_cases)], pa.string())
    customers = pa.array([f"cus_{x:032x}" for x in rng.integers(0, 2**62, n_cases // 2)], pa.string())
    table = pa.table({
        "case_id": pa.DictionaryArray.from_arrays(pa.array(case_of.astype(np.int32)), case_ids),
        "activity": dict_col(act, ACTIVITIES),
        "timestamp": pa.array(ts, pa.timestamp("ns", tz="UTC")),
        "end_timestamp": pa.array(ts + dur, pa.timestamp("ns", tz="UTC")),
        "resource": dict_col(rng.integers(0, len(agents), n), agents),
        "channel": dict_col(np.repeat(rng.integers(0, len(CHANNELS), n_cases), lengths), CHANNELS),
        "queue": dict_col(rng.integers(0, len(queues), n), queues),
        "site": dict_col(np.repeat(rng.integers(0, len(SITES), n_cases), lengths), SITES),
        "team": dict_col(rng.integers(0, len(TEAMS), n), TEAMS),
        "customer_id": pa.DictionaryArray.from_arrays(
            pa.array(np.repeat(rng.integers(0, len(customers), n_cases), lengths).astype(np.int32)), customers),
        "handle_seconds": pa.array(dur // 10**9),
        "sentiment": pa.array(np.round(rng.normal(0.1, 0.4, n), 3)),
        "transferred": pa.array(act == ACTIVITIES.index("Transfer")),
    })
    write_log(table, path, metadata={"generated_by": "benchmarks/bench_xes.py"}, presorted=True)


def to_pm4py_frame(log: Path):
    """The log as the pandas frame pm4py expects (column names of its XES importer)."""
    import pyarrow.parquet as pq

    t = pq.read_table(log).drop_columns(["case_index"])
    names = {"case_id": "case:concept:name", "activity": "concept:name", "timestamp": "time:timestamp",
             "resource": "org:resource"}
    t = t.rename_columns([names.get(c, c) for c in t.column_names])
    import pyarrow as pa
    cols = [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in t.columns]
    return pa.table(cols, names=t.column_names)


# --------------------------------------------------------------------------- one measured run (child process)

def child(task: str, size: str) -> dict:
    import warnings
    warnings.filterwarnings("ignore")
    log = DATA / f"xes_{size}.parquet"
    xes = DATA / f"xes_{size}.xes"
    out = DATA / f"out_{task}_{size}.xes"
    import psutil
    proc = psutil.Process()
    if task == "cxmine-export":
        from engine.log.xes import write_xes
        before = proc.memory_info().rss
        t0 = time.perf_counter()
        n = write_xes(log, out)
    elif task == "cxmine-export-gz":
        from engine.log.xes import write_xes
        before = proc.memory_info().rss
        t0 = time.perf_counter()
        n = write_xes(log, str(out) + ".gz")
        out = Path(str(out) + ".gz")
    elif task == "pm4py-export":
        import pm4py
        df = to_pm4py_frame(log).to_pandas()
        before = proc.memory_info().rss
        t0 = time.perf_counter()
        pm4py.write_xes(df, str(out), variant_str="line_by_line")
        n = len(df)
    elif task == "r4pm-export":
        import polars as pl
        import r4pm
        df = pl.from_arrow(to_pm4py_frame(log))
        before = proc.memory_info().rss
        t0 = time.perf_counter()
        r4pm.df.export_xes(df, str(out))
        n = df.height
    elif task == "cxmine-import":
        from engine.ingest.xes import read_xes
        before = proc.memory_info().rss
        t0 = time.perf_counter()
        n = read_xes(xes).table.num_rows
    elif task == "cxmine-ingest":
        from engine.ingest.job import ingest_to_log
        before = proc.memory_info().rss
        t0 = time.perf_counter()
        n = ingest_to_log([xes], out.with_suffix(".parquet")).events
        out = out.with_suffix(".parquet")
    elif task == "pm4py-import":
        import pm4py
        before = proc.memory_info().rss
        t0 = time.perf_counter()
        n = len(pm4py.read_xes(str(xes)))
    elif task == "pm4py-iterparse-import":
        import pm4py
        before = proc.memory_info().rss
        t0 = time.perf_counter()
        n = len(pm4py.read_xes(str(xes), variant="iterparse"))
    elif task == "r4pm-import":
        import r4pm
        before = proc.memory_info().rss
        t0 = time.perf_counter()
        n = r4pm.df.import_xes(str(xes))[0].height
    else:
        raise SystemExit(f"unknown task {task}")
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    size_out = out.stat().st_size if out.exists() else None
    if out.exists():
        out.unlink()
    return {"task": task, "size": size, "seconds": seconds, "events": n, "peak_mb": peak / 2**20,
            "before_mb": before / 2**20, "bytes": size_out}


def run_child(task: str, size: str, timeout: float) -> dict | None:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", task, size]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=HERE.parent)
    except subprocess.TimeoutExpired:
        print(f"  {task} {size}: timed out after {timeout:.0f} s", flush=True)
        return {"task": task, "size": size, "timeout": timeout}
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    if res.returncode != 0 or not lines:
        print(f"  {task} {size}: failed\n{res.stderr[-2000:]}", flush=True)
        return {"task": task, "size": size, "failed": res.stderr.strip().splitlines()[-1:] or ["?"]}
    return json.loads(lines[-1])


PEERS_EXPORT = ["cxmine-export", "cxmine-export-gz", "r4pm-export", "pm4py-export"]
PEERS_IMPORT = ["cxmine-import", "cxmine-ingest", "r4pm-import", "pm4py-import", "pm4py-iterparse-import"]
SKIP_REASONS = {
    "pm4py-export": "needs about 16 GB and over 600 s at 10M (figures quoted in the issue); 2.6 GB peak at 1M "
                    "here; not run on the shared 24 GiB machine",
    "pm4py-import": "r4pm plus a pandas conversion: 2.3 GB peak at 1M here, about 23 GB projected at 10M, over "
                    "the 18 GiB budget of the shared machine",
    "pm4py-iterparse-import": "3.1 GB peak and 80 s at 1M here, about 31 GB projected at 10M; not run",
    "r4pm-export": "3.2 GB peak at 1M here (18.5 GB quoted in the issue for 10M); over the 18 GiB budget of "
                   "the shared machine",
    "r4pm-import": "2.0 GB peak at 1M here, about 20 GB projected at 10M (14.5 GB quoted in the issue for its "
                   "log); over the 18 GiB budget of the shared machine",
}
LABELS = {
    "cxmine-export": "cxmine `write_xes` (.xes)",
    "cxmine-export-gz": "cxmine `write_xes` (.xes.gz, level 1)",
    "r4pm-export": "r4pm `df.export_xes` (Rust)",
    "pm4py-export": "pm4py `write_xes(variant_str='line_by_line')` (Python writer)",
    "cxmine-import": "cxmine `read_xes` (XES -> Arrow table)",
    "cxmine-ingest": "cxmine `ingest_to_log` (XES -> sorted Parquet log)",
    "r4pm-import": "r4pm `df.import_xes` (Rust, polars)",
    "pm4py-import": "pm4py `read_xes` default (r4pm backend, pandas)",
    "pm4py-iterparse-import": "pm4py `read_xes(variant='iterparse')` (Python lxml)",
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=2)
    ap.add_argument("--sizes", default="1M,10M")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip", default="", help="comma-separated task@size to skip, e.g. pm4py-export@10M")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--no-write", action="store_true", help="print, do not update RESULTS.md")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    DATA.mkdir(parents=True, exist_ok=True)
    skip = {s for s in args.skip.split(",") if s}
    rows = []
    for size in args.sizes.split(","):
        log = DATA / f"xes_{size}.parquet"
        if not log.exists():
            print(f"generating {log}", flush=True)
            generate_log(SIZES[size], log)
        xes = DATA / f"xes_{size}.xes"
        if not xes.exists():
            from engine.log.xes import write_xes
            write_xes(log, xes)
        repeats = args.repeats if size == "1M" else 1
        for task in PEERS_EXPORT + PEERS_IMPORT:
            if f"{task}@{size}" in skip:
                rows.append({"task": task, "size": size, "skipped": True})
                print(f"  {task} {size}: skipped", flush=True)
                continue
            runs = []
            for _ in range(repeats):
                r = run_child(task, size, args.timeout)
                runs.append(r)
                if "seconds" not in r:
                    break
            good = [r for r in runs if "seconds" in r]
            if good:
                row = dict(good[0])
                row["seconds"] = statistics.median(r["seconds"] for r in good)
                row["peak_mb"] = max(r["peak_mb"] for r in good)
                row["runs"] = len(good)
            else:
                row = runs[-1]
            rows.append(row)
            print(f"  {task} {size}: {row}", flush=True)
    # each size is measured in one run; sizes run separately (1M early, 10M later) are kept side by side
    store = DATA / "xes_results.json"
    saved = json.loads(store.read_text()) if store.exists() else {}
    command = _command(args)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for size in args.sizes.split(","):
        saved[size] = {"rows": [r for r in rows if r["size"] == size], "command": command, "when": when}
    store.write_text(json.dumps(saved, indent=1))
    body = render(saved)
    print(body)
    if not args.no_write:
        from benchmarks.results import write_section
        write_section("XES export and import", body)
    return 0


def _command(args) -> str:
    return (f"flock /tmp/cxmine-bench.lock .venv/bin/python benchmarks/bench_xes.py --sizes {args.sizes}"
            f" --repeats {args.repeats}" + (f" --skip {args.skip}" if args.skip else ""))


def render(saved: dict) -> str:
    import psutil
    out = ["Commands (one run per size; every measured run in its own subprocess):", ""]
    for size in sorted(saved, key=lambda k: SIZES.get(k, 0)):
        out.append(f"- {size}: `{saved[size]['command']}` ({saved[size]['when']})")
    out += ["",
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
            f"{psutil.virtual_memory().total / 2**30:.0f} GiB, shared with other jobs while measuring (timings are "
            f"noisy). Data: generated contact-center logs (about 10 events per contact, 13 columns), written once "
            f"as XES by cxmine and read back by every reader. Time: median of the runs (3 at 1M, 1 at 10M); "
            f"memory: peak RSS of the run's own process, and its RSS once the input was loaded (\"before\"). "
            f"pm4py {_version('pm4py')}, r4pm {_version('r4pm')}.",
            "",
            "| size | task | runs | seconds | events | peak RSS MB | before MB | file MB |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for size in sorted(saved, key=lambda k: SIZES.get(k, 0)):
        for r in saved[size]["rows"]:
            label = LABELS.get(r["task"], r["task"])
            if "seconds" in r:
                fb = f"{r['bytes'] / 2**20:.0f}" if r.get("bytes") else ""
                out.append(f"| {r['size']} | {label} | {r['runs']} | {r['seconds']:.1f} | {r['events']:,} | "
                           f"{r['peak_mb']:,.0f} | {r['before_mb']:,.0f} | {fb} |")
            elif r.get("skipped"):
                out.append(f"| {r['size']} | {label} | 0 | skipped: {SKIP_REASONS.get(r['task'], 'not run')} "
                           "| | | | |")
            elif "timeout" in r:
                out.append(f"| {r['size']} | {label} | 0 | > {r['timeout']:.0f} (stopped) | | | | |")
            else:
                out.append(f"| {r['size']} | {label} | 0 | failed: {' '.join(r.get('failed', []))[:80]} "
                           "| | | | |")
    return "\n".join(out)


def _version(name: str) -> str:
    from importlib.metadata import version
    try:
        return version(name)
    except Exception:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
