"""Variants, DFG, KPIs, conformance and discovery on Dask over a partitioned log, beside the single-machine path.

    flock /tmp/cxmine-bench.lock .venv/bin/python benchmarks/bench_distributed.py --contacts 1000000
    flock /tmp/cxmine-bench.lock .venv/bin/python benchmarks/bench_distributed.py --contacts 10000000 \\
        --partitions 32 --chunk 1000000 --data /work/big
    flock /tmp/cxmine-bench.lock .venv/bin/python benchmarks/bench_distributed.py --contacts 50000000 \\
        --partitions 128 --chunk 1000000 --data /work/big --no-local

The log is simulated (every SOP in models/, 5% deviations) in chunks of at
most ``--chunk`` contacts straight into a partitioned Parquet log (in
``--data``, default benchmarks/data/, git-ignored; reused when present), so
generating it needs one chunk's memory. The analyses run through
``engine.distributed`` on a LocalCluster of ``--workers`` worker processes
(one thread each): variants by team and week; DFG with performance; KPIs by
team, site and week against lost_card; conformance of the lost_card contacts
against lost_card; discovery (inductive miner, noise 0.2) of the whole log; drift (default
windows: blocks of contacts / 2,000) with fitness to lost_card. A warm-up run of each analysis on the contacts of the first partition file
alone (cut into 5 partitions, so that every worker runs some) first (worker
imports and numba cache), then one measured run on the whole log.
Peak memory per worker: the worker process's peak RSS (VmHWM). The
single-machine path (``--engine local`` on the same folder) runs in a fresh
process (the same warm-up on the first partition, then one measured run),
with its peak RSS, under an address-space limit of ``--local-limit-gib``
(a run that does not fit fails there instead of taking the machine's memory
from other work); both paths' JSON documents are compared.

Projection to more workers: from the measured compute time of every
partition task and every merge task (Dask's task stream), with P partitions
of equal cost spread over W workers, T(W) = K x (ceil(P / W) x mean
partition cost + ceil(log2 P) x mean merge cost) + the measured fixed
overhead (wall time minus that same estimate at W = 2), where K is the
number of passes over the partitions (1, drift up to 4). It assumes workers that do not
share cores and a file system that serves every worker at this machine's
speed; it is a projection, not a measurement.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from results import write_section  # noqa: E402

DATA = HERE / "data"
SOP = ROOT / "models" / "lost_card.bpmn"
SEED = 21
PY = sys.executable

LOCAL = r"""
import hashlib, json, resource, sys, time
from engine.analyses.cases import profile_cases
from engine.analyses.conformance import check_conformance
from engine.analyses.discovery import discover_model
from engine.analyses.drift import EXPLAIN_ATTRIBUTES, DriftSettings, detect_drift
from engine.log.store import log_metadata
from engine.analyses.dfg import discover_dfg, discover_performance_dfg
from engine.analyses.kpis import compute_kpis, encode_for_kpis
from engine.analyses.variants import count_variants, count_variants_by
from engine.log.schema import SEGMENT_COLUMNS
from engine.log.select import encode_where
from engine.model import load_sop
from engine.report.outputs import to_json
from engine.report.dfg import dfg_document
from engine.report.variants import variants_document
sys.path.insert(0, sys.argv[3])
from bench_distributed import kpi_params, peak_rss_mib
log, sop_path, first = sys.argv[1], sys.argv[2], sys.argv[4]
def run(log):
    times, docs = {}, {}
    t = time.perf_counter()
    enc = encode_where(log, None, by=("team", "week"), attributes=())
    v = count_variants(enc); segs = {a: count_variants_by(enc, a) for a in ("team", "week")}
    docs["variants"] = variants_document(v, segs, profile_cases(enc), 10 ** 9)
    times["variants"] = time.perf_counter() - t
    t = time.perf_counter()
    docs["dfg"] = dfg_document([(None, None, discover_dfg(enc), discover_performance_dfg(enc))], "start_to_start")
    times["dfg"] = time.perf_counter() - t
    del enc
    t = time.perf_counter()
    by = ("team", "site", "week")
    docs["kpi"] = compute_kpis(encode_for_kpis(log, by), by=by, **kpi_params(sop_path)).as_dict()
    times["kpi"] = time.perf_counter() - t
    t = time.perf_counter()
    where = {"intent": {"lost_card"}}
    enc = encode_where(log, where, with_case_ids=True, attributes=SEGMENT_COLUMNS)
    docs["conform"] = check_conformance(enc, load_sop(sop_path)).as_dict()
    times["conform"] = time.perf_counter() - t
    del enc
    t = time.perf_counter()
    docs["discover"] = discover_model(encode_where(log, None, attributes=()), "inductive", 0.2).as_dict()
    times["discover"] = time.perf_counter() - t
    t = time.perf_counter()
    enc = encode_where(log, None, case_attributes=EXPLAIN_ATTRIBUTES)
    docs["drift"] = detect_drift(enc, DriftSettings(), timezone=log_metadata(log).get("timezone"),
                                 sop=load_sop(sop_path)).as_dict()
    times["drift"] = time.perf_counter() - t
    return times, docs


run(first)  # warm-up on the first partition: imports and numba caches, as for the Dask workers
times, docs = run(log)
print(json.dumps({"times": times, "peak_rss_mib": peak_rss_mib(),
                  "digests": {k: hashlib.sha256(to_json(d).encode()).hexdigest() for k, d in docs.items()}}))
"""


def kpi_params(sop_path) -> dict:
    from engine.analyses.kpis import scope_of
    from engine.model import load_sop
    sop = load_sop(sop_path)
    return dict(critical=sop.critical, label_map=dict(sop.label_map), window_days=7.0,
                scope=scope_of(t.name for t in sop.tasks))


def make_log(n: int, partitions: int, chunk: int, data: Path = DATA) -> Path:
    from engine.model import load_sop
    from engine.simulate.log import simulate_partitioned_log
    folder = data / f"distributed_{n}_{partitions}"
    if (folder / "cxmine.json").exists():
        return folder
    sops = [load_sop(p) for p in sorted((ROOT / "models").glob("*.bpmn"))]
    t0 = time.perf_counter()

    def report(k, contacts, events):
        print(f"  chunk {k}: {contacts:,} contacts, {events:,} events, {time.perf_counter() - t0:.0f} s", flush=True)
    simulate_partitioned_log(sops, n, folder, partitions, key=b"bench-distributed-key", chunk=chunk, seed=SEED,
                             on_chunk=report)
    print(f"  wrote {folder} in {time.perf_counter() - t0:.0f} s", flush=True)
    return folder


def _compose_file(job: tuple) -> None:
    """Write copy ``c`` of one partition file: ids prefixed ``c<c>-``, times and global positions shifted."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    source, target, c, shift_ns, n_cases, n_partitions = job
    table = pq.read_table(source)
    columns = {}
    for name in ("case_id", "customer_id"):
        chunks = [pa.DictionaryArray.from_arrays(ch.indices, pc.binary_join_element_wise(f"c{c}-", ch.dictionary, ""))
                  for ch in table.column(name).chunks]
        columns[name] = pa.chunked_array(chunks, table.schema.field(name).type)
    for name in ("timestamp", "end_timestamp"):
        col = table.column(name)
        columns[name] = pc.add(col, pa.scalar(shift_ns, pa.duration("ns"))).cast(col.type)
    columns["global_case_index"] = pc.add(table.column("global_case_index"), c * n_cases)
    for name, col in columns.items():
        table = table.set_column(table.schema.get_field_index(name), name, col)
    meta = {b"cxmine": json.dumps({"schema_version": 1, "partition_of": n_partitions}).encode()}
    pq.write_table(table.replace_schema_metadata(meta), target, compression="zstd", row_group_size=1 << 18)


def compose_log(source: Path, copies: int, folder: Path) -> Path:
    """A log of ``copies`` copies of the partitioned log ``source``, one after the other in time.

    Copy c (0-based) has its contact and customer ids prefixed ``c<c>-`` (so no contact or customer is
    shared between copies), its times shifted by c x the source's whole time span rounded up to whole weeks
    (weekdays are kept), and its global positions by c x the source's contacts; its partition files follow
    those of copy c - 1. Each partition file is rewritten on its own (two processes), so this needs far less
    time than simulating the contacts again. The partitions are the source's, so a partition is a copy's
    hash partition, not a hash of the whole log's keys (no analysis depends on which hash placed a case)."""
    import multiprocessing
    import shutil

    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from engine.log.partitions import META_FILE, partition_file_name, partition_paths
    if (folder / META_FILE).exists():
        return folder
    meta = json.loads((source / META_FILE).read_text())
    files = partition_paths(source)
    lo, hi = None, None
    for f in files:
        ts = pq.read_table(f, columns=["timestamp"]).column(0)
        first, last = pc.min(ts).value, pc.max(ts).value
        lo, hi = (first, last) if lo is None else (min(lo, first), max(hi, last))
    week = 7 * 86_400 * 10**9
    shift = -(-(hi - lo + 1) // week) * week
    n, parts = meta["n_cases"], len(files) * copies
    tmp = folder.with_name(folder.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    jobs = [(str(f), str(tmp / partition_file_name(c * len(files) + p)), c, c * shift, n, parts)
            for c in range(copies) for p, f in enumerate(files)]
    t0 = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        for k, _ in enumerate(pool.imap(_compose_file, jobs), 1):
            if k % 16 == 0:
                print(f"  {k}/{len(jobs)} files, {time.perf_counter() - t0:.0f} s", flush=True)
    meta.update(n_cases=n * copies, n_events=meta["n_events"] * copies, partitions=parts,
                files=[partition_file_name(p) for p in range(parts)],
                composed_of={"source": source.name, "copies": copies, "shift_ns": shift})
    (tmp / META_FILE).write_text(json.dumps(meta, indent=1))
    tmp.rename(folder)
    print(f"  wrote {folder} in {time.perf_counter() - t0:.0f} s", flush=True)
    return folder


def peak_rss_mib() -> float:
    """This process's peak RSS (VmHWM: of its own address space, unlike getrusage's ru_maxrss, which a
    process started by fork and exec inherits from its parent)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


ANALYSES = ("variants", "dfg", "kpi", "conform", "discover", "drift")


def run_dask(folder: Path, client, analyses=ANALYSES) -> tuple[dict, dict, dict]:
    """Times, JSON digests and per-task compute seconds (partition tasks, merge tasks) of each analysis."""
    from distributed import get_task_stream

    from engine.distributed.analyses import (distributed_conformance, distributed_dfg, distributed_kpis,
                                             distributed_models, distributed_variants)
    from engine.analyses.drift import DriftSettings
    from engine.distributed.drift import distributed_drift
    from engine.log.partitions import partition_paths
    from engine.log.store import log_metadata
    from engine.report.dfg import dfg_document
    from engine.report.outputs import to_json
    from engine.report.variants import variants_document
    by = ("team", "site", "week")
    runs = {
        "variants": lambda log: variants_document(*distributed_variants(log, by=("team", "week"), client=client),
                                                  10 ** 9),
        "dfg": lambda log: dfg_document(distributed_dfg(log, client=client), "start_to_start"),
        "kpi": lambda log: distributed_kpis(log, by=by, client=client, **kpi_params(SOP)).as_dict(),
        "conform": lambda log: distributed_conformance(log, SOP, where={"intent": {"lost_card"}},
                                                       client=client).as_dict(),
        "discover": lambda log: distributed_models(log, "inductive", 0.2, client=client)[None].as_dict(),
        "drift": lambda log: distributed_drift(log, DriftSettings(), sop_path=SOP, client=client,
                                               timezone=log_metadata(log).get("timezone")).as_dict(),
    }
    warm = folder.parent / f".warmup_{folder.name}"
    if not (warm / "cxmine.json").exists():  # the first partition file, cut in 5 so that every worker gets some
        from engine.log.partitions import partition_log  # (5, not a power of 2: the hash spreads them again)
        partition_log(partition_paths(folder)[0], warm, 5)
    times, digests, tasks = {}, {}, {}
    for name, run in ((k, v) for k, v in runs.items() if k in analyses):
        run(warm)  # warm-up: imports and numba caches in the workers
        with get_task_stream(client) as stream:
            t0 = time.perf_counter()
            doc = run(folder)
            times[name] = time.perf_counter() - t0
        parts, merges = [], []
        for task in stream.data:
            compute = sum(s["stop"] - s["start"] for s in task["startstops"] if s["action"] == "compute")
            (merges if str(task["key"]).startswith(("_merge", "('_merge")) else parts).append(compute)
        tasks[name] = {"partitions": parts, "merges": merges}
        digests[name] = hashlib.sha256(to_json(doc).encode()).hexdigest()
        print(f"  dask {name}: {times[name]:.1f} s ({len(parts)} partition tasks, {len(merges)} merges)", flush=True)
    return times, digests, tasks


def run_local(folder: Path, limit_gib: float) -> dict:
    from engine.log.partitions import partition_paths
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    limit = int(limit_gib * 2**30)

    def bounded() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    out = subprocess.run([PY, "-c", LOCAL, str(folder), str(SOP), str(HERE), str(partition_paths(folder)[0])],
                         capture_output=True, text=True, env=env, check=False, preexec_fn=bounded)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def project(tasks: dict, wall: float, partitions: int, workers_now: int) -> dict[int, float]:
    """Projected wall seconds for W workers (module docstring)."""
    parts, merges = tasks["partitions"], tasks["merges"]
    passes = max(1, round(len(parts) / partitions))  # drift reads the partitions in several passes
    mean_part = sum(parts) / len(parts) if parts else 0.0
    mean_merge = sum(merges) / len(merges) if merges else 0.0
    levels = math.ceil(math.log2(partitions)) if partitions > 1 else 0

    def estimate(w: int) -> float:
        return passes * (math.ceil(partitions / w) * mean_part + levels * mean_merge)

    overhead = max(0.0, wall - estimate(workers_now))
    return {w: estimate(w) + overhead for w in (2, 4, 8, 16, 32) if w <= partitions}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--contacts", type=int, default=1_000_000)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--chunk", type=int, default=500_000, help="contacts simulated at a time")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-local", action="store_true", help="skip the single-machine path (log too large)")
    ap.add_argument("--local-limit-gib", type=float, default=14.0,
                    help="address-space limit of the single-machine run")
    ap.add_argument("--analyses", default=",".join(ANALYSES), help="comma-separated subset of " + ", ".join(ANALYSES))
    ap.add_argument("--data", type=Path, default=DATA, help="folder of the generated logs")
    ap.add_argument("--copies", type=int, default=1,
                    help="compose the log of COPIES time-shifted copies of the simulated log of contacts / COPIES "
                         "contacts in partitions / COPIES partitions (compose_log), instead of simulating it all")
    args = ap.parse_args(argv)

    import distributed
    if args.copies > 1:
        source = make_log(args.contacts // args.copies, args.partitions // args.copies, args.chunk, args.data)
        folder = compose_log(source, args.copies, args.data / f"distributed_{args.contacts}_{args.partitions}")
    else:
        folder = make_log(args.contacts, args.partitions, args.chunk, args.data)
    meta = json.loads((folder / "cxmine.json").read_text())
    load = os.getloadavg()[0]
    with distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40) as cluster, \
            distributed.Client(cluster) as client:
        t0 = time.perf_counter()
        times, digests, tasks = run_dask(folder, client, tuple(args.analyses.split(",")))
        total = time.perf_counter() - t0
        worker_peaks = sorted(client.run(peak_rss_mib).values())
    local = {} if args.no_local else run_local(folder, args.local_limit_gib)
    same = {k: local.get("digests", {}).get(k) == d for k, d in digests.items()} if "digests" in local else {}

    rows = []
    for name in times:
        lt = local.get("times", {}).get(name)
        proj = project(tasks[name], times[name], args.partitions, args.workers)
        parts = tasks[name]["partitions"]
        rows.append(f"| {name} | {times[name]:.1f} | {sum(parts) / max(len(parts), 1):.2f} | "
                    f"{max(parts, default=0.0):.2f} | "
                    f"{'' if lt is None else f'{lt:.1f}'} | {same.get(name, 'not run')} | "
                    + " | ".join(f"{proj[w]:.1f}" if w in proj else "" for w in (4, 8, 16, 32)) + " |")
    body = f"""Command: `flock /tmp/cxmine-bench.lock .venv/bin/python benchmarks/bench_distributed.py --contacts {args.contacts} --partitions {args.partitions} --chunk {args.chunk} --workers {args.workers}{'' if args.data == DATA else f' --data {args.data}'}{f' --copies {args.copies}' if args.copies > 1 else ''}{'' if args.analyses == ','.join(ANALYSES) else f' --analyses {args.analyses}'}{' --no-local' if args.no_local else f' --local-limit-gib {args.local_limit_gib:g}'}`

{meta['n_cases']:,} simulated contacts, {meta['n_events']:,} events, in {args.partitions} partitions (Parquet, zstd), {f"the simulated log of {args.contacts // args.copies:,} contacts (generated in chunks of {args.chunk:,} contacts) and {args.copies - 1} copies of it, each shifted in time after the one before, with its own contact and customer ids (compose_log)" if args.copies > 1 else f"generated in chunks of {args.chunk:,} contacts"}. Dask: LocalCluster of {args.workers} worker processes, one thread each, on this machine (2 cores, 24 GiB, shared with other work: 1-minute load average {load:.1f} at the start). Times are one measured run after a warm-up run on the first partition file's contacts alone; each Dask time covers reading and encoding the partitions, on the single machine the variants time includes encoding the log once for variants and DFG. Analyses: variants by team and week; DFG with performance; KPIs by team, site and week (lost_card SOP); conformance of the lost_card contacts against lost_card; discovery (inductive miner, noise 0.2) of the whole log; drift (default windows, blocks of contacts / 2,000) with fitness to lost_card (every contact replayed on it).{'' if args.analyses == ','.join(ANALYSES) else f' This run: {args.analyses}.'}

Peak RSS per Dask worker (whole run, all {len(times)} analyses): {', '.join(f'{p:,.0f} MiB' for p in worker_peaks)}. Peak RSS of the client process (this script: merged results, the miners, the drift search): {peak_rss_mib():,.0f} MiB. Dask wall for the {len(times)}, warm-up runs included: {total:.1f} s. Single-machine path (`--engine local` on the same folder, fresh process, same warm-up, address space limited to {args.local_limit_gib:g} GiB): {'not run' if not local else ('failed: ' + local['error'] if 'error' in local else f"peak RSS {local['peak_rss_mib']:,.0f} MiB")}.

| analysis | Dask s | mean partition task s | max partition task s | single machine s | identical JSON | projected s, 4 workers | 8 | 16 | 32 |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
""" + "\n".join(rows) + f"""

Projected columns: not measured. From the measured per-task compute times: T(W) = K x (ceil(P / W) x mean partition task + ceil(log2 P) x mean merge task) + the fixed overhead measured here (wall minus that estimate at W = {args.workers}), for P = {args.partitions} partitions and K passes over them (1; drift: {max(1, round(len(tasks['drift']['partitions']) / args.partitions)) if 'drift' in tasks else 1}) (a column is empty when W > P: more workers need more partitions). It assumes one core per worker and storage that serves every worker as fast as this machine's disk.
"""
    write_section(f"Dask: the analyses over a partitioned log, {args.contacts:,} contacts (bench_distributed.py)",
                  body)
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
