"""Discovery and process maps: ``cxmine discover`` / ``cxmine map`` against pm4py's own path, same log, one run.

The log is long-tailed on purpose, as real contact-center logs are: three
base paths over 18 activities, each contact with random skips, insertions and
swaps of adjacent steps (about 9.4 events per contact, tens of thousands of
variants at 1M contacts). The simulator's SOP paths give far fewer variants
(773 in the 20,000-contact sample), so the log is generated here.

Both sides run as a user runs them, each in its own process, timed from the
outside (start-up, imports, reading, computing, writing):

- cxmine: ``cxmine discover LOG --method M -o DIR`` (writes BPMN, PNML, PTML,
  SVG and PNG) and ``cxmine map LOG -o map.svg``;
- pm4py: ``pandas.read_parquet`` of the same file, then
  ``pm4py.discover_petri_net_inductive`` / ``discover_petri_net_heuristics`` /
  ``discover_dfg`` (nothing written), and for the map ``discover_dfg`` plus
  ``save_vis_dfg`` to SVG.

Time: median of the repeats (wall clock and CPU); memory: peak resident set
of the process (``/usr/bin/time -f %M``). Above ``--pm4py-max`` contacts,
pm4py's path is tried once (inductive) under an address-space cap and a
timeout, and the outcome is recorded as it is.

The generated logs are kept in benchmarks/data/ (git-ignored) and reused.

Run: flock /tmp/cxmine-bench.lock .venv/bin/python benchmarks/bench_discovery.py --contacts 1000000 10000000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from results import write_section  # noqa: E402

ACTIVITIES = ["IVR menu", "Bot intent", "Bot answer", "Bot handoff", "Queue", "Agent answer", "Verify identity",
              "Check account", "Review invoice", "Hold", "Transfer", "Escalate", "Back office review",
              "Issue credit", "Callback scheduled", "Resolve", "Notify customer", "Wrap-up"]
BASE_PATHS = [[0, 4, 5, 6, 7, 8, 15, 16, 17],
              [1, 2, 3, 4, 5, 6, 7, 15, 17],
              [0, 4, 5, 6, 11, 12, 13, 15, 16, 17]]
METHODS = ("inductive", "heuristics", "dfg")
PM4PY = {
    "inductive": "pm4py.discover_petri_net_inductive(df)",
    "heuristics": "pm4py.discover_petri_net_heuristics(df)",
    "dfg": "pm4py.discover_dfg(df)",
    "map": "pm4py.save_vis_dfg(*pm4py.discover_dfg(df), OUT + '/map.svg')",
}


def _delete(m: np.ndarray, lengths: np.ndarray, rows: np.ndarray, rng) -> None:
    """Delete one random step of each of ``rows`` (steps stored left-aligned, -1 after the last)."""
    at = (rng.random(len(rows)) * lengths[rows]).astype(np.int64)
    cols = np.arange(m.shape[1] - 1)
    src = cols[None, :] + (cols[None, :] >= at[:, None])
    m[rows, :-1] = np.take_along_axis(m[rows], src, axis=1)
    lengths[rows] -= 1


def _insert(m: np.ndarray, lengths: np.ndarray, rows: np.ndarray, rng) -> None:
    """Insert a random activity at a random place (before the first step .. after the last) of each row."""
    at = (rng.random(len(rows)) * (lengths[rows] + 1)).astype(np.int64)
    what = rng.integers(len(ACTIVITIES), size=len(rows)).astype(m.dtype)
    cols = np.arange(m.shape[1])
    src = cols[None, :] - (cols[None, :] > at[:, None])
    sub = np.take_along_axis(m[rows], src, axis=1)
    sub[cols[None, :] == at[:, None]] = what  # one place per row, rows in order
    m[rows] = sub
    lengths[rows] += 1


def long_tailed_sequences(contacts: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(lengths int64[contacts], activity codes int8 of every event, contact after contact).

    Each contact takes a base path (probabilities 0.5, 0.3, 0.2), then with probability 0.35 loses one step,
    with 0.35 gains a random activity at a random place, with 0.25 has two neighbouring steps swapped and with
    0.15 gains a second random activity: the long tail. Vectorised over contacts (10M contacts in seconds).
    """
    rng = np.random.default_rng(seed)
    width = max(len(p) for p in BASE_PATHS) + 3  # two insertions and a spare empty column
    base = np.full((len(BASE_PATHS), width), -1, dtype=np.int8)
    for i, path in enumerate(BASE_PATHS):
        base[i, :len(path)] = path
    which = rng.choice(len(BASE_PATHS), size=contacts, p=[0.5, 0.3, 0.2])
    m = base[which]
    lengths = np.array([len(p) for p in BASE_PATHS], dtype=np.int64)[which]
    r = rng.random((contacts, 4))
    _delete(m, lengths, np.flatnonzero(r[:, 0] < 0.35), rng)
    _insert(m, lengths, np.flatnonzero(r[:, 1] < 0.35), rng)
    rows = np.flatnonzero(r[:, 2] < 0.25)
    j = (rng.random(len(rows)) * (lengths[rows] - 1)).astype(np.int64)
    m[rows, j], m[rows, j + 1] = m[rows, j + 1], m[rows, j].copy()
    _insert(m, lengths, np.flatnonzero(r[:, 3] < 0.15), rng)
    return lengths, m[m >= 0]


def _log_table(lengths: np.ndarray, codes: np.ndarray, first_case: int, contacts: int, rng):
    """The events of contacts first_case.. as a sorted canonical table with its case_index column."""
    import pyarrow as pa

    from engine.log.schema import TS_TYPE

    n = len(lengths)
    case = np.repeat(np.arange(n, dtype=np.int32), lengths)
    gaps = rng.integers(20, 600, size=len(codes)) * 1_000_000_000
    # contacts 30 s apart at 1M, closer in bigger logs, so every log spans about a year
    starts = (np.arange(first_case, first_case + n, dtype=np.int64) * 30_000_000_000
              // max(1, contacts // 1_000_000) + 1_767_225_600_000_000_000)
    first = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    within = np.cumsum(gaps)
    within -= np.repeat(within[first] - gaps[first], lengths)
    ts = np.repeat(starts, lengths) + within
    owners = ["Digital Experience", "AI Automation", "Support Ops", "Finance"]
    owner_of = np.array([0, 1, 1, 1] + [2] * 8 + [2, 3, 3, 2, 2, 2], dtype=np.int32)
    names = pa.array(np.char.add("c", np.arange(first_case, first_case + n).astype(str)))
    return pa.table({"case_id": pa.DictionaryArray.from_arrays(pa.array(case), names),
                     "activity": pa.DictionaryArray.from_arrays(codes.astype(np.int32), ACTIVITIES),
                     "timestamp": pa.array(ts).cast(TS_TYPE),
                     "owner": pa.DictionaryArray.from_arrays(owner_of[codes], owners),
                     "case_index": pa.array(case + np.int32(first_case))})


def long_tailed_log(contacts: int, seed: int, path: Path, chunk: int = 1_000_000) -> tuple[int, int]:
    """Write the generated log as a canonical cxmine Parquet log, 1M contacts at a time; return (events,
    variants). The log is written as ``engine.log.write_log`` writes a sorted table (same schema, row groups
    and metadata), chunk by chunk, so 10M contacts need about 2 GiB."""
    import json

    import pyarrow.parquet as pq

    from engine.atomic import atomic_path
    from engine.log.schema import validate_log
    from engine.log.store import SCHEMA_VERSION, write_row_groups

    lengths, codes = long_tailed_sequences(contacts, seed)
    ends = np.concatenate(([0], np.cumsum(lengths)))
    meta = {"schema_version": SCHEMA_VERSION, "case_notion": "contact", "generator": "bench_discovery.py",
            "seed": seed, "n_events": int(ends[-1]), "n_cases": contacts}
    rng = np.random.default_rng(seed + 1)
    with atomic_path(path) as tmp:
        writer = None
        for a in range(0, contacts, chunk):
            b = min(contacts, a + chunk)
            table = _log_table(lengths[a:b], codes[ends[a]:ends[b]], a, contacts, rng)
            validate_log(table.drop_columns(["case_index"]))
            if writer is None:
                schema = table.schema.with_metadata({b"cxmine": json.dumps(meta).encode()})
                writer = pq.ParquetWriter(tmp, schema, compression="zstd")
            write_row_groups(writer, table.replace_schema_metadata(schema.metadata))
        writer.close()
    n_variants = len({codes[a:b].tobytes() for a, b in zip(ends[:-1], ends[1:])}) if contacts <= 2_000_000 else -1
    return int(ends[-1]), n_variants


def timed(cmd: list[str], env: dict, timeout: float | None = None) -> dict:
    """Wall seconds, CPU seconds, peak RSS (MiB) and exit status of one process, from /usr/bin/time."""
    import time

    t0 = time.perf_counter()
    try:
        out = subprocess.run(["/usr/bin/time", "-f", "%e %M %U %S"] + cmd, env=env, capture_output=True, text=True,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"wall": time.perf_counter() - t0, "cpu": float("nan"), "peak": float("nan"), "ok": False,
                "error": f"stopped after the {timeout:.0f} s timeout"}
    last = out.stderr.strip().splitlines()[-1].split()
    wall, peak, user, sys_ = float(last[-4]), int(last[-3]), float(last[-2]), float(last[-1])
    error = ""
    if out.returncode != 0:
        lines = [ln for ln in out.stderr.strip().splitlines()[:-1]
                 if ln.strip() and not ln.startswith("Command exited")]  # /usr/bin/time's own line
        error = next((ln for ln in reversed(lines) if "Error" in ln), lines[-1] if lines else "")[:200]
    return {"wall": wall, "cpu": user + sys_, "peak": peak / 1024, "ok": out.returncode == 0, "error": error}


def median_run(cmd: list[str], env: dict, repeats: int) -> dict:
    runs = [timed(cmd, env) for _ in range(repeats)]
    for r in runs:
        if not r["ok"]:
            raise RuntimeError(f"{' '.join(cmd)} failed: {r['error']}")
    return {"wall": statistics.median(r["wall"] for r in runs), "cpu": statistics.median(r["cpu"] for r in runs),
            "peak": max(r["peak"] for r in runs), "runs": len(runs)}


def pm4py_command(kind: str, log: Path, out: Path, cap_bytes: int | None = None) -> list[str]:
    script = (f"import pandas as pd, pm4py\nOUT = {str(out)!r}\n"
              f"df = pd.read_parquet({str(log)!r}, columns=['case_id', 'activity', 'timestamp'])\n"
              "df = pm4py.format_dataframe(df, case_id='case_id', activity_key='activity', timestamp_key='timestamp')\n"
              f"{PM4PY[kind]}\n")
    cap = ["prlimit", f"--as={cap_bytes}"] if cap_bytes else []
    return cap + [sys.executable, "-c", script]


def cxmine_command(kind: str, log: Path, out: Path) -> list[str]:
    cx = str(Path(sys.executable).with_name("cxmine"))
    if kind == "map":
        return [cx, "map", str(log), "-o", str(out / "map.svg"), "-q"]
    return [cx, "discover", str(log), "--method", kind, "-o", str(out / kind), "-q"]


PHASES = """
import sys, time
from concurrent.futures import ThreadPoolExecutor
t0 = time.perf_counter()
from engine.analyses.pm4py_parts import import_parts
import_parts()
from engine.analyses.dfg import discover_dfg
from engine.analyses.discovery import build_model, encode_for_discovery, import_miner_modules
from engine.analyses.variants import count_variants
from engine.report.model_render import write_model
marks = [("start-up", time.perf_counter())]
with ThreadPoolExecutor(max_workers=1) as pool:
    imported = pool.submit(import_miner_modules, sys.argv[2])
    log = encode_for_discovery(sys.argv[1])
    imported.result()
marks.append(("read the log (kernels and pm4py modules loading meanwhile)", time.perf_counter()))
variants, dfg = count_variants(log), discover_dfg(log)
marks.append(("variants and DFG (numba)", time.perf_counter()))
model = build_model(sys.argv[2], variants, dfg)
marks.append(("pm4py miner and conversions", time.perf_counter()))
write_model(model, sys.argv[3], "bench")
marks.append(("files and drawings", time.perf_counter()))
prev = t0
for name, t in marks:
    print(f"{name}\t{t - prev:.2f}")
    prev = t
"""


def phases(log: Path, method: str, out: Path, env: dict) -> list[tuple[str, float]]:
    """Where one cxmine discovery spends its time: one process, the same steps as the command."""
    run = subprocess.run([sys.executable, "-c", PHASES, str(log), method, str(out)], env=env, capture_output=True,
                         text=True, check=True)
    return [(name, float(t)) for name, t in (line.split("\t") for line in run.stdout.strip().splitlines())]


def stored_log(n: int, seed: int, data: Path) -> tuple[Path, int, int]:
    """The generated log of n contacts in DATA (made once, then reused), its events and variants."""
    import pyarrow.parquet as pq

    path = data / f"longtail_{n}_s{seed}.parquet"
    if not path.exists():
        data.mkdir(parents=True, exist_ok=True)
        long_tailed_log(n, seed, path)
    meta = json.loads(pq.read_schema(path).metadata[b"cxmine"])
    return path, int(meta["n_events"]), meta.get("n_variants", -1)


def run(sizes: list[int], repeats: int, big_repeats: int, pm4py_max: int, seed: int, data: Path,
        cap_gib: int, pm4py_timeout: float) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rows, breakdown, attempts = [], [], []
    loads = [os.getloadavg()[0]]
    work = Path(tempfile.mkdtemp(prefix="cxmine-bench-discovery-"))
    try:
        for n in sizes:
            log, events, _ = stored_log(n, seed, data)
            reps = repeats if n <= pm4py_max else big_repeats
            subprocess.run(cxmine_command("dfg", log, work / "warm"), env=env, check=True)  # numba cache
            n_variants = json.loads(subprocess.run(
                cxmine_command("dfg", log, work / "warm")[:-1] + ["--json", "-q"], env=env, check=True,
                capture_output=True, text=True).stdout)["n_variants"]
            print(f"{n:,} contacts, {events:,} events, {n_variants:,} variants", flush=True)
            for kind in METHODS + ("map",):
                cx = median_run(cxmine_command(kind, log, work), env, reps)
                pm = median_run(pm4py_command(kind, log, work), env, reps) if n <= pm4py_max else None
                print(f"  {kind}: cxmine {cx}   pm4py {pm}", flush=True)
                rows.append((n, events, n_variants, kind, cx, pm))
            if n > pm4py_max:
                tried = timed(pm4py_command("inductive", log, work, cap_gib << 30), env, pm4py_timeout)
                print(f"  pm4py inductive under a {cap_gib} GiB cap: {tried}", flush=True)
                attempts.append((n, tried))
            split = phases(log, "inductive", work / "phases", env)
            print("  inductive phases: " + ", ".join(f"{k} {v:.2f} s" for k, v in split), flush=True)
            breakdown.append((n, split))
            loads.append(os.getloadavg()[0])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tables(rows, breakdown, attempts, cap_gib) + (
        f"\n\nLoad average (1 minute) at the start and after each size: {', '.join(f'{x:.1f}' for x in loads)}.")


def tables(rows, breakdown, attempts, cap_gib) -> str:
    lines = ["| contacts | events | variants | task | runs | cxmine s | cxmine CPU s | cxmine peak MiB | pm4py s | "
             "pm4py CPU s | pm4py peak MiB | pm4py / cxmine |",
             "| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for n, events, nv, kind, cx, pm in rows:
        pm_cells = ("not run", "-", "-", "-") if pm is None else (
            f"{pm['wall']:.2f}", f"{pm['cpu']:.2f}", f"{pm['peak']:.0f}", f"{pm['wall'] / cx['wall']:.1f}x")
        lines.append(f"| {n:,} | {events:,} | {nv:,} | {kind} | {cx['runs']} | {cx['wall']:.2f} | {cx['cpu']:.2f} | "
                     f"{cx['peak']:.0f} | " + " | ".join(pm_cells) + " |")
    for n, tried in attempts:
        outcome = (f"completed in {tried['wall']:.1f} s, peak {tried['peak']:.0f} MiB" if tried["ok"] else
                   f"failed after {tried['wall']:.1f} s: {tried['error'] or 'no message'}")
        lines += ["", f"pm4py's path (inductive) on the {n:,}-contact log, address space capped at {cap_gib} GiB "
                      f"(`prlimit --as`): {outcome}."]
    lines += ["", "Where `cxmine discover --method inductive` spends its time (one process, the command's steps, "
                  "seconds):", "",
              "| contacts | " + " | ".join(name for name, _ in breakdown[0][1]) + " |",
              "| ---: |" + " ---: |" * len(breakdown[0][1])]
    lines += [f"| {n:,} | " + " | ".join(f"{t:.2f}" for _, t in split) + " |" for n, split in breakdown]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--contacts", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--big-repeats", type=int, default=1, help="Repeats for logs above --pm4py-max.")
    ap.add_argument("--pm4py-max", type=int, default=1_000_000,
                    help="Largest log pm4py is timed on; above it, one inductive attempt under the memory cap.")
    ap.add_argument("--cap-gib", type=int, default=16, help="Address-space cap of that attempt (GiB).")
    ap.add_argument("--pm4py-timeout", type=float, default=900.0, help="Seconds before that attempt is stopped.")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--data", type=Path, default=ROOT / "benchmarks" / "data",
                    help="Where the generated logs are kept and reused (git-ignored).")
    args = ap.parse_args()
    table = run(args.contacts, args.repeats, args.big_repeats, args.pm4py_max, args.seed, args.data, args.cap_gib,
                args.pm4py_timeout)
    cmd = (f"flock /tmp/cxmine-bench.lock .venv/bin/python benchmarks/bench_discovery.py --contacts "
           f"{' '.join(map(str, args.contacts))} --repeats {args.repeats} --big-repeats {args.big_repeats}")
    write_section("Discovery and process maps (bench_discovery.py)", f"""
Command: `{cmd}`

{DESCRIPTION}

{table}
""")
    print(table)


DESCRIPTION = """A long-tailed log generated by the script (18 activities, three base paths with random skips,
insertions and swaps; about 9.35 events per contact), written once as a canonical cxmine Parquet log into
benchmarks/data/ and reused. Each cell is a whole process as a user runs it (start-up, imports, read, compute,
write), timed from outside with `/usr/bin/time`: wall clock (median of the runs), CPU (user + system, median) and
peak resident set (largest of the runs). cxmine = `cxmine discover LOG --method M -o DIR` (writes model.bpmn,
model.pnml, model.ptml for inductive, model.svg and model.png) and `cxmine map LOG -o map.svg`. pm4py =
`pandas.read_parquet` + `pm4py.format_dataframe` + `pm4py.discover_petri_net_inductive` /
`discover_petri_net_heuristics` / `discover_dfg` (nothing written), and for the map `discover_dfg` + `save_vis_dfg`
to SVG; cxmine and pm4py alternate within one run. Machine: 2 cores, 24 GiB, shared with other jobs while
measuring (see the load noted below), so wall clock moves with the load; CPU seconds move less."""


if __name__ == "__main__":
    main()
