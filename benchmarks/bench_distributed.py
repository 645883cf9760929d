"""Variants, DFG, KPIs, conformance, discovery and drift on Dask over a partitioned log, beside the single-machine path.

    flock /tmp/cxmine-bench.lock .venv/bin/python benchmarks/bench_distributed.py --contacts 1000000
    flock /tmp/cxmine-bench.lock nice .venv/bin/python benchmarks/bench_distributed.py --contacts 10000000 \\
        --partitions 32 --chunk 1000000 --data /work/big --analyses variants --no-local
    flock /tmp/cxmine-bench.lock nice .venv/bin/python benchmarks/bench_distributed.py --contacts 10000000 \\
        --partitions 32 --chunk 1000000 --data /work/big --analyses variants --no-dask
    flock /tmp/cxmine-bench.lock .venv/bin/python benchmarks/bench_distributed.py --contacts 50000000 \\
        --partitions 160 --chunk 1000000 --data /work/big --copies 5 --no-local

The log is simulated (every SOP in models/, 5% deviations) in chunks of at
most ``--chunk`` contacts straight into a partitioned Parquet log (in
``--data``, default benchmarks/data/, git-ignored; reused when present), so
generating it needs one chunk's memory. The analyses (``--analyses``, default
all six) run through ``engine.distributed`` on a LocalCluster of
``--workers`` worker processes (one thread each): variants by team and week;
DFG with performance; KPIs by team, site and week against lost_card;
conformance of the lost_card contacts against lost_card; discovery
(inductive miner, noise 0.2) of the whole log; drift (default windows: blocks
of contacts / 2,000) with fitness to lost_card. A warm-up run of each
analysis on the contacts of the first partition file alone (cut into 5
partitions, so that every worker runs some) first (worker imports and numba
cache), then one measured run on the whole log. Peak memory per worker: the
worker process's peak RSS (VmHWM). The single-machine path (``--engine
local`` on the same folder) runs the same analyses in a fresh process (a
warm-up on the first partition file, then one measured run; each analysis
reads and encodes the log itself, as on Dask), with its peak RSS, under an
address-space limit of ``--local-limit-gib`` (a run that does not fit fails
there instead of taking the machine's memory from other work); both paths'
JSON documents are compared (SHA-256 of engine.report.outputs.to_json).

Every command adds its measurements to a record (``--record``, default
``distributed_CONTACTS_PARTITIONS.bench.json`` beside the log folder): per
analysis, the newest Dask and the newest single-machine measurement, with the
time, load average, commit and command of each. The RESULTS.md section is
written from the whole record, so a large log can be measured one analysis
and one path at a time (``--analyses NAME`` with ``--no-local`` or
``--no-dask``), each command short enough to hold the benchmark lock alone,
and the partial runs make one section; ``--render`` writes it again from
the record without measuring.

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
import hashlib, json, sys, time
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
from bench_distributed import kpi_params, peak_rss_mib, peak_vm_mib
log, sop_path, first, analyses = sys.argv[1], sys.argv[2], sys.argv[4], sys.argv[5].split(",")


def variants(log):
    enc = encode_where(log, None, by=("team", "week"), attributes=())
    segs = {a: count_variants_by(enc, a) for a in ("team", "week")}
    return variants_document(count_variants(enc), segs, profile_cases(enc), 10 ** 9)


def dfg(log):
    enc = encode_where(log, None, attributes=())
    return dfg_document([(None, None, discover_dfg(enc), discover_performance_dfg(enc))], "start_to_start")


def kpi(log):
    by = ("team", "site", "week")
    return compute_kpis(encode_for_kpis(log, by), by=by, **kpi_params(sop_path)).as_dict()


def conform(log):
    enc = encode_where(log, {"intent": {"lost_card"}}, with_case_ids=True, attributes=SEGMENT_COLUMNS)
    return check_conformance(enc, load_sop(sop_path)).as_dict()


def discover(log):
    return discover_model(encode_where(log, None, attributes=()), "inductive", 0.2).as_dict()


def drift(log):
    enc = encode_where(log, None, case_attributes=EXPLAIN_ATTRIBUTES)
    return detect_drift(enc, DriftSettings(), timezone=log_metadata(log).get("timezone"),
                        sop=load_sop(sop_path)).as_dict()


RUNS = {"variants": variants, "dfg": dfg, "kpi": kpi, "conform": conform, "discover": discover, "drift": drift}


def run(log, phase):
    times, docs = {}, {}
    for name in analyses:  # each reads and encodes the log itself, as each Dask analysis does
        print(f"cxmine-bench: {phase} {name}", file=sys.stderr, flush=True)
        t = time.perf_counter()
        docs[name] = RUNS[name](log)
        times[name] = time.perf_counter() - t
    return times, docs


run(first, "warm-up")  # on the first partition: imports and numba caches, as for the Dask workers
times, docs = run(log, "measured run")
print(json.dumps({"times": times, "peak_rss_mib": peak_rss_mib(), "peak_vm_mib": peak_vm_mib(),
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


def peak_vm_mib() -> float | None:
    """This process's peak address-space size (VmPeak), which the single-machine cap (RLIMIT_AS) bounds."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmPeak:"):
                return int(line.split()[1]) / 1024
    return None


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


def run_local(folder: Path, limit_gib: float, analyses=ANALYSES) -> dict:
    """The single-machine path on ``analyses`` in a fresh process under an address-space limit: its times,
    peak RSS and JSON digests, or the error it stopped on (and the end of its stderr)."""
    from engine.log.partitions import partition_paths
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    limit = int(limit_gib * 2**30)

    def bounded() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    t0 = time.perf_counter()
    out = subprocess.run([PY, "-c", LOCAL, str(folder), str(SOP), str(HERE), str(partition_paths(folder)[0]),
                          ",".join(analyses)],
                         capture_output=True, text=True, env=env, check=False, preexec_fn=bounded)
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        steps = [line.removeprefix("cxmine-bench: ") for line in lines if line.startswith("cxmine-bench: ")]
        error = (lines[-1] if lines and not lines[-1].startswith("cxmine-bench: ") else
                 f"killed by signal {-out.returncode}" if out.returncode < 0 else f"exit {out.returncode}")
        return {"error": f"{error} (in the {steps[-1]})" if steps else error, "returncode": out.returncode,
                "stderr_tail": lines[-40:], "elapsed": time.perf_counter() - t0}
    return json.loads(out.stdout.strip().splitlines()[-1])


def project(tasks: dict, wall: float, partitions: int, workers_now: int) -> dict[int, float]:
    """Projected wall seconds for W workers (module docstring)."""
    parts, merges = tasks["partitions"], tasks["merges"]
    mean_part = sum(parts) / len(parts) if parts else 0.0
    mean_merge = sum(merges) / len(merges) if merges else 0.0
    levels = math.ceil(math.log2(partitions)) if partitions > 1 else 0
    k = passes(tasks, partitions)

    def estimate(w: int) -> float:
        return k * (math.ceil(partitions / w) * mean_part + levels * mean_merge)

    overhead = max(0.0, wall - estimate(workers_now))
    return {w: estimate(w) + overhead for w in (2, 4, 8, 16, 32) if w <= partitions}


def passes(tasks: dict, partitions: int) -> int:
    """K: how many times the analysis read the partitions (drift reads them in several passes)."""
    return max(1, round(len(tasks["partitions"]) / partitions))


def code_state() -> dict:
    """The commit measured: HEAD, where it left main, whether engine/ or models/ differ from main there
    (committed or not), and the last commit that changed them."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True).stdout.strip()
    base = git("merge-base", "HEAD", "main")
    return {"head": git("rev-parse", "--short=7", "HEAD"), "main": base[:7],
            "engine": git("log", "-1", "--format=%h", "--", "engine", "models"),
            "modified": bool(git("diff", "--name-only", base, "--", "engine", "models")) if base else True}


def load_record(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {"analyses": {}}


def save_record(path: Path, record: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)


def keep(record: dict, analysis: str, path: str, measurement: dict) -> None:
    """Make ``measurement`` the newest of ``analysis`` on ``path`` ("dask" or "local"); the one it replaces
    goes to the analysis's "earlier" list (the section names earlier failures)."""
    entry = record["analyses"].setdefault(analysis, {})
    if path in entry:
        entry.setdefault("earlier", []).append({"path": path, **entry[path]})
    entry[path] = measurement


def _mib(x) -> str:
    return f"{x:,.0f}"


def render(record: dict) -> str:
    """The RESULTS.md section of every measurement in ``record``: one row per analysis, each path as last
    measured (an analysis measured in several invocations keeps its newest figures of each path)."""
    setup, log = record["setup"], record["log"]
    n, p, workers = setup["contacts"], setup["partitions"], setup["workers"]
    names = [a for a in ANALYSES if a in record["analyses"]]
    runs = [(a, path, record["analyses"][a][path]) for a in names for path in ("dask", "local")
            if path in record["analyses"][a]]
    every = sorted([m for _, _, m in runs] + [m for a in names for m in record["analyses"][a].get("earlier", [])],
                   key=lambda m: m["at"])
    commands = list(dict.fromkeys(m["command"] for m in every))
    codes = {(m["code"]["engine"], m["code"]["modified"]) for _, _, m in runs}
    heads = list(dict.fromkeys(m["code"]["head"] for m in sorted((m for _, _, m in runs), key=lambda m: m["at"])))
    rows, proj_rows, failures, times = [], [], [], []
    for a in names:
        d, loc = record["analyses"][a].get("dask"), record["analyses"][a].get("local")
        together = lambda m: "" if m is None or m["with"] == [a] else " *"  # noqa: E731
        dask_cells = ("not run", "", "") if d is None else (
            f"{d['time']:.1f}", " / ".join(_mib(x) for x in d["worker_peaks_mib"]) + together(d),
            _mib(d["client_peak_mib"]) + together(d))
        if loc is None:
            local_cells = ("not run", "")
        elif "error" in loc:
            local_cells = (f"failed at the {loc['limit_gib']:g} GiB cap", "")
        else:
            local_cells = (f"{loc['time']:.1f}", _mib(loc["peak_rss_mib"]) + together(loc))
        for m in [*record["analyses"][a].get("earlier", []), *([loc] if loc else [])]:
            if "error" in m:
                failures.append(f"- {a}, single machine ({m['at']}, address space capped at {m['limit_gib']:g} GiB): "
                                f"`{m['error']}`, after {m.get('elapsed', float('nan')):.0f} s in the process"
                                + ("" if m is loc else "; measured again later (table)"))
        same = ("yes" if d["digest"] == loc["digest"] else "NO") if d and loc and "digest" in loc else "not compared"
        rows.append(f"| {a} | " + " | ".join((*dask_cells, *local_cells, same)) + " |")
        if d is not None:
            parts, merges = d["tasks"]["partitions"], d["tasks"]["merges"]
            proj = project(d["tasks"], d["time"], p, workers)
            proj_rows.append(f"| {a} | {len(parts)} | {passes(d['tasks'], p)} | "
                             f"{sum(parts) / max(len(parts), 1):.2f} | {max(parts, default=0.0):.2f} | "
                             f"{sum(merges) / max(len(merges), 1):.2f} | {d['time']:.1f} | "
                             + " | ".join(f"{proj[w]:.1f}" if w in proj else "" for w in (4, 8, 16, 32)) + " |")
        times.append(f"{a}: " + "; ".join(
            f"{'Dask' if path == 'dask' else 'single machine'} at {m['at']}, load {m['load']:.1f}"
            + (f", cap {m['limit_gib']:g} GiB" if path == "local" else "")
            + (f" (peak address space {m['peak_vm_mib'] / 1024:.1f} GiB)" if m.get("peak_vm_mib") else "")
            + ("" if len(codes) == 1 else f", engine/ at {m['code']['engine']}"
               + (" with changes" if m["code"]["modified"] else ""))
            for path, m in (("dask", d), ("local", loc)) if m is not None))
    (engine, modified), = codes if len(codes) == 1 else ((None, None),)
    mains = sorted({m["code"].get("main", "") for _, _, m in runs})
    code = (f"main at {', '.join(mains)} (engine/ and models/ last changed in {engine}"
            f"{'; this branch changes them' if modified else ', unchanged on this branch'}), benchmark script at "
            f"{', '.join(heads)}" if engine else "the commits named per run below")
    star = any("*" in r for r in rows)
    source = (f"the simulated log of {n // setup['copies']:,} contacts (generated in chunks of "
              f"{setup['chunk']:,} contacts) and {setup['copies'] - 1} copies of it, each shifted in time after "
              f"the one before, with its own contact and customer ids (compose_log)" if setup["copies"] > 1
              else f"generated in chunks of {setup['chunk']:,} contacts (seed {SEED})")
    body = "Commands (run in this order, superseded ones included; the log was generated before them):\n\n" + "\n".join(
        f"    {c}" for c in commands) + f"""

Code measured: {code}.

{log['n_cases']:,} simulated contacts, {log['n_events']:,} events, in {p} partitions (Parquet, zstd, {log['bytes'] / 1e9:.1f} GB), {source}. Dask: LocalCluster of {workers} worker processes, one thread each, a fresh cluster for each command, on this machine (2 cores, 24 GiB, shared with other work). Times are one measured run after a warm-up run on the contacts of the first partition file (cut into 5 partitions for Dask, so that every worker is warmed; the single-machine path warms up on that file). Each time, Dask or single machine, covers reading and encoding the log for that analysis. Analyses: variants by team and week; DFG with performance; KPIs by team, site and week (lost_card SOP); conformance of the lost_card contacts against lost_card; discovery (inductive miner, noise 0.2) of the whole log; drift (default windows, blocks of contacts / 2,000) with fitness to lost_card (every contact replayed on it). Single machine: the `--engine local` analyses on the same folder in a fresh process, address space limited (RLIMIT_AS) to the cap named per run. Peak RSS: VmHWM of each Dask worker process and of the client process (the script: merged results, the miners, the drift search) over the command's warm-up and measured run, and of the single-machine process. Identical JSON: SHA-256 of both documents (engine.report.outputs.to_json) equal.

| analysis | Dask s | Dask peak RSS per worker, MiB | Dask client peak RSS, MiB | single machine s | single machine peak RSS, MiB | identical JSON |
| --- | --- | --- | --- | --- | --- | --- |
""" + "\n".join(rows) + "\n"
    if star:
        body += "\n\\* measured in a command that ran several analyses: the peak covers them all.\n"
    if failures:
        body += "\nFailures:\n\n" + "\n".join(failures) + "\n"
    body += "\nWhen and at what load (1-minute load average at the start of each path):\n\n" + "\n".join(
        f"- {t}" for t in times) + "\n"
    if proj_rows:
        body += f"""
Projection to more workers, not measured: from the measured compute time of each task of the Dask run (Dask's task stream), T(W) = K x (ceil(P / W) x mean partition task + ceil(log2 P) x mean merge task) + the fixed overhead measured here (Dask wall minus that estimate at W = {workers}), for P = {p} partitions and K passes over them (a column is empty when W > P: more workers need more partitions). It assumes one core per worker and storage that serves every worker as fast as this machine's disk.

| analysis | partition tasks | K | mean partition task s | max partition task s | mean merge task s | Dask s, {workers} workers (measured) | projected s, 4 workers | 8 | 16 | 32 |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
""" + "\n".join(proj_rows) + "\n"
    return body


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--contacts", type=int, default=1_000_000)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--chunk", type=int, default=500_000, help="contacts simulated at a time")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-local", action="store_true", help="skip the single-machine path (log too large)")
    ap.add_argument("--no-dask", action="store_true", help="skip the Dask path (measure the single machine only)")
    ap.add_argument("--local-limit-gib", type=float, default=14.0,
                    help="address-space limit of the single-machine run")
    ap.add_argument("--analyses", default=",".join(ANALYSES), help="comma-separated subset of " + ", ".join(ANALYSES))
    ap.add_argument("--data", type=Path, default=DATA, help="folder of the generated logs")
    ap.add_argument("--copies", type=int, default=1,
                    help="compose the log of COPIES time-shifted copies of the simulated log of contacts / COPIES "
                         "contacts in partitions / COPIES partitions (compose_log), instead of simulating it all")
    ap.add_argument("--record", type=Path, default=None,
                    help="JSON file of the measurements, merged over commands (default: beside the log folder, "
                         "distributed_CONTACTS_PARTITIONS.bench.json)")
    ap.add_argument("--render", action="store_true",
                    help="measure nothing: write the RESULTS.md section again from the record")
    args = ap.parse_args(argv)
    analyses = tuple(dict.fromkeys(a.strip() for a in args.analyses.split(",") if a.strip()))
    unknown = [a for a in analyses if a not in ANALYSES]
    if unknown or not analyses:
        ap.error(f"unknown analysis {', '.join(unknown) or '(none given)'} in --analyses "
                 f"(valid: {', '.join(ANALYSES)})")
    folder = args.data / f"distributed_{args.contacts}_{args.partitions}"
    record_path = args.record or folder.with_name(folder.name + ".bench.json")
    record = load_record(record_path)
    title = f"Dask: the analyses over a partitioned log, {args.contacts:,} contacts (bench_distributed.py)"
    if args.render:
        if not record["analyses"]:
            ap.error(f"no measurements recorded in {record_path}")
        body = render(record)
        write_section(title, body)
        print(body)
        return 0

    if args.copies > 1:
        source = make_log(args.contacts // args.copies, args.partitions // args.copies, args.chunk, args.data)
        folder = compose_log(source, args.copies, folder)
    else:
        folder = make_log(args.contacts, args.partitions, args.chunk, args.data)
    meta = json.loads((folder / "cxmine.json").read_text())
    record["setup"] = {"contacts": args.contacts, "partitions": args.partitions, "chunk": args.chunk,
                       "workers": args.workers, "copies": args.copies}
    record["log"] = {"n_cases": meta["n_cases"], "n_events": meta["n_events"],
                     "bytes": sum(f.stat().st_size for f in folder.iterdir() if f.is_file())}
    nice = os.nice(0)
    command = (("" if nice == 0 else f"nice -n {nice} ") + ".venv/bin/python benchmarks/bench_distributed.py "
               + " ".join(argv if argv is not None else sys.argv[1:]))
    code = code_state()

    def entry(**figures) -> dict:
        return {"at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load": os.getloadavg()[0],
                "code": code, "command": command, "with": list(analyses), **figures}

    if not args.no_dask:
        import distributed
        started = entry()
        with distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                      dashboard_address=None, silence_logs=40) as cluster, \
                distributed.Client(cluster) as client:
            times, digests, tasks = run_dask(folder, client, analyses)
            worker_peaks = sorted(client.run(peak_rss_mib).values())
        for a in analyses:
            keep(record, a, "dask", {**started, "time": times[a], "digest": digests[a], "tasks": tasks[a],
                                     "worker_peaks_mib": worker_peaks, "client_peak_mib": peak_rss_mib()})
        save_record(record_path, record)
    if not args.no_local:
        started = entry(limit_gib=args.local_limit_gib)
        local = run_local(folder, args.local_limit_gib, analyses)
        for a in analyses:
            if "error" in local:
                figures = {k: local[k] for k in ("error", "returncode", "stderr_tail", "elapsed")}
                print(f"  local {a}: failed: {local['error']}", flush=True)
            else:
                figures = {"time": local["times"][a], "peak_rss_mib": local["peak_rss_mib"],
                           "peak_vm_mib": local.get("peak_vm_mib"), "digest": local["digests"][a]}
                print(f"  local {a}: {figures['time']:.1f} s, peak RSS {figures['peak_rss_mib']:,.0f} MiB", flush=True)
            keep(record, a, "local", {**started, **figures})
        save_record(record_path, record)
    body = render(record)
    write_section(title, body)
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
