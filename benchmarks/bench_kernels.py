"""Numba core at scale: variants, DFG, performance DFG and the KPI suite, cxmine against pm4py.

Run under the shared lock (one size per run keeps each run short):
    flock /tmp/cxmine-bench.lock .venv/bin/python benchmarks/bench_kernels.py --contacts 1000000
    flock /tmp/cxmine-bench.lock .venv/bin/python benchmarks/bench_kernels.py --contacts 10000000 --no-pm4py

Logs come from the simulator (every SOP in models/, 5% deviations), in
chunks of at most 1M contacts, each chunk 28 days later than the one before,
written as one cxmine Parquet log (benchmarks/data/, git-ignored; reused when
present). pm4py reads the same events from its own Parquet file (pandas
columns case:concept:name, concept:name, time:timestamp) written once.

Measured: encoding from Parquet; variants; DFG; performance DFG; the KPI
suite by team, site and week (in-process medians, numba cache warm); the
whole pipeline in a fresh process (wall time and peak RSS from
getrusage); compile time (fresh process with an empty numba cache against
one with a warm cache); the CLI start-to-finish with a cold and a warm cache;
pm4py's get_variants, discover_dfg and discover_performance_dfg on the same
events, and whether the results are identical.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from results import median_time, write_section  # noqa: E402

DATA = HERE / "data"
CHUNK = 1_000_000
SEED = 11
PY = sys.executable

PIPELINE = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from engine.analyses.variants import count_variants
from engine.analyses.dfg import discover_dfg, discover_performance_dfg
from engine.analyses.kpis import compute_kpis, encode_for_kpis
t_import = time.perf_counter() - t0
path = sys.argv[1]
t1 = time.perf_counter()
enc = encode_for_kpis(path, ("team", "site", "week"))
t2 = time.perf_counter()
v = count_variants(enc)
d = discover_dfg(enc)
p = discover_performance_dfg(enc)
k = compute_kpis(enc, by=("team", "site", "week"), critical={"Verify identity"})
t3 = time.perf_counter()
print(json.dumps({"import": t_import, "encode": t2 - t1, "analyses": t3 - t2, "total": t3 - t1,
                  "wall": t3 - t0, "variants": v.n_variants, "edges": len(d.edges),
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def canonical_table(sim, key: bytes):
    import pyarrow as pa
    from engine.ingest.pseudonym import pseudonymise
    ev = sim.events
    names = {"contact_id": "case_id", "start": "timestamp", "end": "end_timestamp", "agent": "resource",
             "customer": "customer_id"}
    cols, out_names = [], []
    for name in ev.column_names:
        col = ev.column(name)
        if name == "customer":
            col = pseudonymise(col, key)
        cols.append(col)
        out_names.append(names.get(name, name))
    return pa.table(cols, names=out_names)


def make_log(n: int) -> Path:
    """The simulated cxmine log of n contacts (built once, then reused)."""
    import datetime as dt
    import json as _json

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from engine.atomic import atomic_path
    from engine.log.schema import sort_log
    from engine.log.store import write_row_groups
    from engine.simulate import simulate_contacts
    from engine.model import load_sop

    path = DATA / f"kernels_{n}.parquet"
    if path.exists():
        return path
    sops = [load_sop(p) for p in sorted((ROOT / "models").glob("*.bpmn"))]
    if not sops:
        raise SystemExit("no SOP models in models/; cannot simulate the benchmark log")
    key = b"bench-kernels-key"
    writer = None
    n_cases = n_events = 0
    meta = {"schema_version": 1, "case_notion": "contact", "source": "benchmarks/bench_kernels.py",
            "bench_contacts": n, "bench_seed": SEED}
    with atomic_path(path) as tmp:
        for k, lo in enumerate(range(0, n, CHUNK)):
            size = min(CHUNK, n - lo)
            start = (dt.date(2026, 1, 5) + dt.timedelta(days=28 * k)).isoformat()
            t0 = time.perf_counter()
            sim = simulate_contacts(sops, size, seed=SEED + k, start=start, days=28, deviation_rate=0.05)
            table = canonical_table(sim, key)
            del sim
            # contact ids unique across chunks
            table = table.set_column(0, "case_id", pc.binary_join_element_wise(
                f"k{k}-", table.column("case_id").cast(pa.string()), ""))
            table = sort_log(table)
            case = table.column("case_id").combine_chunks()
            codes = case.indices.to_numpy(zero_copy_only=False)
            import numpy as np
            change = np.concatenate(([False], codes[1:] != codes[:-1]))
            idx = (np.cumsum(change) + n_cases).astype(np.int32)
            table = table.append_column("case_index", pa.array(idx))
            n_cases += int(change.sum()) + 1
            n_events += table.num_rows
            if writer is None:
                schema = table.schema.with_metadata({b"cxmine": _json.dumps(meta).encode()})
                writer = pq.ParquetWriter(tmp, schema, compression="zstd")
            write_row_groups(writer, table.cast(writer.schema))
            print(f"  chunk {k}: {size:,} contacts, {table.num_rows:,} events, "
                  f"{time.perf_counter() - t0:.1f} s", flush=True)
            del table
        writer.close()
    print(f"  wrote {path} ({n_cases:,} contacts, {n_events:,} events)", flush=True)
    return path


def pm4py_parquet(path: Path) -> Path:
    """The same events as a pandas/pm4py Parquet file (written once)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    out = path.with_name(path.stem + "_pm4py.parquet")
    if out.exists():
        return out
    t = pq.read_table(path, columns=["case_id", "activity", "timestamp"])
    t = pa.table({"case:concept:name": t.column("case_id").cast(pa.string()),
                  "concept:name": t.column("activity").cast(pa.string()),
                  "time:timestamp": t.column("timestamp")})
    pq.write_table(t, out, compression="zstd")
    return out


def run_child(code: str, args: list[str], env: dict | None = None) -> tuple[float, str]:
    t0 = time.perf_counter()
    res = subprocess.run([PY, "-c", code] + args, capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, **(env or {})})
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"child failed: {res.stderr[-2000:]}")
    return wall, res.stdout


def run_cli(args: list[str], env: dict | None = None) -> float:
    t0 = time.perf_counter()
    res = subprocess.run([str(ROOT / ".venv" / "bin" / "cxmine")] + args, capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, **(env or {})})
    if res.returncode != 0:
        raise SystemExit(f"cxmine {' '.join(args)} failed: {res.stderr[-2000:]}")
    return time.perf_counter() - t0


def compile_times(small: Path) -> dict:
    """Fresh processes: empty numba cache vs warm cache, library pipeline and CLI."""
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        cold, _ = run_child(PIPELINE, [str(small)], env)
        warm, _ = run_child(PIPELINE, [str(small)], env)
        out["pipeline_cold"], out["pipeline_warm"] = cold, warm
    for name, args in (("variants", ["variants", str(small), "-q"]),
                       ("kpi", ["kpi", str(small), "--by", "team,site,week", "-q"])):
        with tempfile.TemporaryDirectory() as cache:
            env = {"NUMBA_CACHE_DIR": cache}
            out[f"cli_{name}_cold"] = run_cli(args, env)
            out[f"cli_{name}_warm"] = run_cli(args, env)
    return out


def compare_pm4py(path: Path, enc, variants, dfg, perf, repeats: int) -> dict:
    import math

    import pandas as pd
    import pm4py

    from engine.analyses.dfg import discover_dfg
    from engine.analyses.variants import count_variants
    from engine.log import encode_log

    ppath = pm4py_parquet(path)
    df = pd.read_parquet(ppath)
    out = {}
    out["pm4py_variants"], pv = median_time(lambda: pm4py.get_variants(df), repeats)
    out["pm4py_dfg"], pd_ = median_time(lambda: pm4py.discover_dfg(df), repeats)
    out["pm4py_perf_dfg"], pp = median_time(lambda: pm4py.discover_performance_dfg(df), repeats)
    pp = pp[0]

    def pm4py_whole():
        d = pd.read_parquet(ppath)
        return pm4py.get_variants(d), pm4py.discover_dfg(d)

    def cxmine_whole():
        e = encode_log(path, attributes=())
        return count_variants(e), discover_dfg(e)

    out["pm4py_whole"], _ = median_time(pm4py_whole, repeats)
    out["cxmine_whole"], _ = median_time(cxmine_whole, 3)
    out["same_variants"] = dict(variants.top()) == {tuple(k): v for k, v in pv.items()}
    out["same_dfg"] = (dfg.edges == dict(pd_[0]) and dfg.start_activities == dict(pd_[1])
                       and dfg.end_activities == dict(pd_[2]))
    same = set(perf.edges) == set(pp)
    for k, e in pp.items():
        g = perf.edges.get(k)
        same = same and g is not None and all(
            math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
            for a, b in ((g.mean_s, e["mean"]), (g.median_s, e["median"]), (g.min_s, e["min"]), (g.max_s, e["max"])))
    out["same_perf_dfg"] = same
    return out


def measure(n: int, repeats: int, with_pm4py: bool) -> dict:
    import numba

    from engine.analyses.dfg import discover_dfg, discover_performance_dfg
    from engine.analyses.kpis import compute_kpis, encode_for_kpis
    from engine.analyses.variants import count_variants

    print(f"== {n:,} contacts", flush=True)
    path = DATA / f"kernels_{n}.parquet"
    if not path.exists():  # simulate in a child process, so its memory is gone before measuring
        subprocess.run([PY, str(Path(__file__).resolve()), "--make", str(n)], check=True, cwd=ROOT)
    small = encode_for_kpis(make_log(1000), ("team", "site", "week"))
    count_variants(small), discover_dfg(small), discover_performance_dfg(small)  # load the cached kernels
    compute_kpis(small, by=("team", "site", "week"), critical={"Verify identity"})
    del small
    r = {"contacts": n, "threads": numba.get_num_threads(), "load": os.getloadavg()[0], "repeats": repeats}
    wall, out = run_child(PIPELINE, [str(path)])
    r["pipeline"] = json.loads(out)
    print(f"  fresh-process pipeline: {r['pipeline']}", flush=True)
    r["encode"], enc = median_time(lambda: encode_for_kpis(path, ("team", "site", "week")), repeats)
    r["events"] = enc.n_events
    r["variants_t"], variants = median_time(lambda: count_variants(enc), repeats)
    r["dfg_t"], dfg = median_time(lambda: discover_dfg(enc), repeats)
    r["perf_t"], perf = median_time(lambda: discover_performance_dfg(enc), repeats)
    r["kpi_t"], _ = median_time(lambda: compute_kpis(enc, by=("team", "site", "week"),
                                                     critical={"Verify identity"}), repeats)
    r["n_variants"], r["n_edges"] = variants.n_variants, len(dfg.edges)
    print(f"  in-process: encode {r['encode']:.2f} s, variants {r['variants_t']:.3f} s, dfg {r['dfg_t']:.3f} s, "
          f"perf dfg {r['perf_t']:.3f} s, kpis {r['kpi_t']:.3f} s", flush=True)
    if with_pm4py:
        del enc
        r.update(compare_pm4py(path, None, variants, dfg, perf, 1))
        print(f"  pm4py: variants {r['pm4py_variants']:.2f} s, dfg {r['pm4py_dfg']:.2f} s, "
              f"perf dfg {r['pm4py_perf_dfg']:.2f} s, whole {r['pm4py_whole']:.2f} s vs cxmine "
              f"{r['cxmine_whole']:.2f} s; identical: variants {r['same_variants']}, dfg {r['same_dfg']}, "
              f"perf {r['same_perf_dfg']}", flush=True)
    return r


def report(rows: list[dict], comp: dict, cmd: str) -> str:
    lines = [f"Commands: {cmd}", "",
             "Simulated logs (every SOP in models/, 5% deviations), about "
             f"{rows[0]['events'] / rows[0]['contacts']:.1f} events per contact. Machine: 2 cores, shared with "
             "other work during the run (1-minute load average shown); in-process figures are medians of the "
             "stated repeats (of 2: their mean) with the numba cache warm; the fresh-process column is one run of "
             "encoding plus variants, DFG, performance DFG and KPIs by team, site and week, with its peak RSS; pm4py ran once per step (pm4py "
             "2.7, pandas DataFrame read from its own Parquet file).", ""]
    lines += ["| contacts | events | load | repeats | encode s | variants s | DFG s | perf DFG s | "
              "KPIs by team, site, week s | fresh process: encode + all s | peak RSS MiB |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        p = r["pipeline"]
        lines.append(f"| {r['contacts']:,} | {r['events']:,} | {r['load']:.1f} | {r.get('repeats', 3)} | {r['encode']:.2f} | "
                     f"{r['variants_t']:.3f} | {r['dfg_t']:.3f} | {r['perf_t']:.3f} | {r['kpi_t']:.3f} | "
                     f"{p['total']:.1f} | {p['peak_rss_mib']:,.0f} |")
    peers = [r for r in rows if "pm4py_variants" in r]
    if peers:
        lines += ["", "Against pm4py on the same events:", "",
                  "| contacts | step | pm4py s | cxmine s | speed-up | identical |", "| --- | --- | --- | --- | --- | --- |"]
        for r in peers:
            for label, pk, ck, same in (("variants", "pm4py_variants", "variants_t", r["same_variants"]),
                                        ("DFG", "pm4py_dfg", "dfg_t", r["same_dfg"]),
                                        ("performance DFG", "pm4py_perf_dfg", "perf_t", r["same_perf_dfg"]),
                                        ("Parquet to variants + DFG", "pm4py_whole", "cxmine_whole", "")):
                lines.append(f"| {r['contacts']:,} | {label} | {r[pk]:.2f} | {r[ck]:.3f} | "
                             f"{r[pk] / r[ck]:,.0f}x | {same} |")
    skipped = [r["contacts"] for r in rows if "pm4py_variants" not in r]
    if skipped:
        lines += ["", "pm4py was not run at " + ", ".join(f"{c:,}" for c in skipped) + " contacts (`--no-pm4py`, "
                  "to keep the run under the shared lock short), so there is no measured pm4py figure at that size."]
    if comp:
        lines += ["", "Compile time (fresh processes on a 1,000-contact log; cold = empty numba cache):", "",
                  "| run | cold cache s | warm cache s |", "| --- | --- | --- |",
                  f"| library pipeline (import, encode, all analyses) | {comp['pipeline_cold']:.2f} | "
                  f"{comp['pipeline_warm']:.2f} |",
                  f"| `cxmine variants LOG` | {comp['cli_variants_cold']:.2f} | {comp['cli_variants_warm']:.2f} |",
                  f"| `cxmine kpi LOG --by team,site,week` | {comp['cli_kpi_cold']:.2f} | {comp['cli_kpi_warm']:.2f} |"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--contacts", type=int, action="append", help="log size(s); default 1000000")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-pm4py", action="store_true", help="skip the pm4py comparison")
    ap.add_argument("--pm4py-max", type=int, default=1_000_000, help="largest log pm4py is run on")
    ap.add_argument("--no-compile", action="store_true", help="skip the compile-time measurement")
    ap.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    ap.add_argument("--make", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.make:
        make_log(args.make)
        return 0
    sizes = args.contacts or [1_000_000]
    DATA.mkdir(parents=True, exist_ok=True)
    rows = [measure(n, args.repeats, not args.no_pm4py and n <= args.pm4py_max) for n in sizes]
    comp = {}
    if not args.no_compile:
        comp = compile_times(make_log(1000))
        print(f"  compile: {comp}", flush=True)
    if not args.no_write:
        # runs of different sizes accumulate (one size per run keeps each run short under the lock)
        cmd = "flock /tmp/cxmine-bench.lock .venv/bin/python benchmarks/bench_kernels.py " + " ".join(argv or sys.argv[1:])
        store = HERE / "out" / "bench_kernels.json"
        saved = json.loads(store.read_text()) if store.exists() else {"rows": {}, "compile": {}, "commands": {}}
        for r in rows:
            saved["rows"][str(r["contacts"])] = r
            saved["commands"][str(r["contacts"])] = cmd.strip()
        if comp:
            saved["compile"] = comp
        store.parent.mkdir(parents=True, exist_ok=True)
        store.write_text(json.dumps(saved, indent=1))
        all_rows = [saved["rows"][k] for k in sorted(saved["rows"], key=int)]
        commands = "; ".join(f"`{saved['commands'][k]}`" for k in sorted(saved["commands"], key=int))
        write_section("Numba core: variants, DFG, KPIs (bench_kernels.py)",
                      report(all_rows, saved["compile"], commands))
    return 0


if __name__ == "__main__":
    sys.exit(main())
