"""Token-based replay: cxmine's numba kernel against pm4py's token replay, same net and log, one run.

Logs come from the simulator (``engine.simulate``) on one SOP, so the variants are what a contact
center produces: the SOP's paths plus skipped, inserted, swapped and unknown steps. Both tools get
the same traces (log labels mapped to the SOP's task names) and the same Petri net object; cxmine
runs with ``choice="pm4py"`` so every trace's consumed, produced, missing and remaining tokens and
fitness can be compared with pm4py's, trace by trace. cxmine is timed twice: pm4py's counts only
(``locate=False``) and with deviation location (the ``cxmine conform`` default). The largest size is
the biggest log tiled to 10x the contacts (same variants; what grows is the grouping of cases into
variants), replayed once compiled.

Second part, the whole process as a user runs it (``--part whole``): ``cxmine conform LOG --sop
MODEL --json`` in a fresh process (start-up, read the Parquet log, load the SOP, replay, locate
deviations, print JSON) against pm4py's path in a fresh process (read the same Parquet log with
pandas, map labels with the sidecar, import and convert the same BPMN with pm4py,
``pm4py.fitness_token_based_replay``). Logs: ``cxmine simulate`` on one SOP with ``--variety
standard`` and ``--variety realistic`` (the long tail), then ``cxmine ingest``; they are kept in
benchmarks/data/replay/ and reused. One untimed warm-up run of cxmine, then the median of
``--repeats`` runs; peak = highest RSS of the process tree, sampled every 20 ms.

``--part location``: ``replay_tokens`` on the whole part's logs in one process, counts only against
counts and deviation location (what location adds); ``--write`` puts its table in RESULTS.md.

Third part (``--part variants``): variants and events per contact of ``simulate_contacts`` over
every SOP in models/ (seed 7, deviation rate 0.05) at each size and variety, as quoted in
docs/simulate.md.

Run: flock /tmp/cxmine-bench.lock nice .venv/bin/python benchmarks/bench_replay.py --part whole \
     --contacts 100000 1000000 --variety standard realistic --write
pm4py gets no warm-up run (it has no compile cache). Nothing is written to RESULTS.md without ``--write``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from results import PeakMemory, median_time, write_section  # noqa: E402


def simulated_traces(sop, contacts: int, seed: int, rate: float, variety: str = "standard"):
    """(case_offsets, activity_codes, activities) of a simulated log, cases in arrival order."""
    import pyarrow.compute as pc

    from engine.log.encode import encode_strings, offsets_from_case_index
    from engine.simulate import simulate_contacts

    sim = simulate_contacts([sop], contacts, seed=seed, deviation_rate=rate, variety=variety)
    ev = sim.events
    case = pc.dictionary_encode(ev.column("contact_id")).combine_chunks()
    idx = case.indices.to_numpy(zero_copy_only=False)
    offsets = offsets_from_case_index(idx)
    codes, activities = encode_strings(ev.column("activity"))
    return offsets, codes, activities


def pm4py_frame(offsets, codes, activities, label_map):
    import pandas as pd
    n = len(offsets) - 1
    names = np.array([label_map.get(a, a) for a in activities], dtype=object)
    case = np.repeat(np.arange(n), np.diff(offsets))
    return pd.DataFrame({"case:concept:name": pd.Series(case).map("{:09d}".format),
                         "concept:name": names[codes],
                         "time:timestamp": pd.to_datetime(np.arange(len(codes)), unit="s", utc=True)})


def run(sizes: list[int], sop_name: str, rates: list[float], repeats: int, tile: int, pm4py_max: int,
        realistic: bool = False) -> str:
    import pm4py

    from engine.analyses.replay import replay_tokens
    from engine.model import compile_net, load_sop

    sop = load_sop(ROOT / "models" / f"{sop_name}.bpmn")
    net = compile_net(sop.net, sop.initial_marking, sop.final_marking, choice="pm4py")
    # compile the kernels once, outside the timings
    t0 = time.perf_counter()
    replay_tokens(np.array([0, 1]), np.array([0], dtype=np.int32), ("IVR menu",), net)
    warm = time.perf_counter() - t0
    rows = []
    last = last_fitness = None
    runs = [(r, n, "standard") for r in rates for n in sizes] + \
        ([(rates[0], n, "realistic") for n in sizes] if realistic else [])
    for rate, n, variety in runs:
        offsets, codes, activities = simulated_traces(sop, n, seed=7, rate=rate, variety=variety)
        if variety == "standard":
            last = (offsets, codes, activities)
        n_events = len(codes)
        with PeakMemory() as mem_counts:
            t_counts, res = median_time(lambda: replay_tokens(offsets, codes, activities, net,
                                                              label_map=sop.label_map, locate=False), repeats)
        with PeakMemory() as mem_locate:
            t_locate, res_loc = median_time(lambda: replay_tokens(offsets, codes, activities, net,
                                                                  label_map=sop.label_map), repeats)
        row = {"rate": rate if variety == "standard" else f"{rate} realistic", "contacts": n, "events": n_events, "variants": res.n_variants, "t_counts": t_counts,
               "mem_counts": mem_counts.peak_mb, "t_locate": t_locate, "mem_locate": mem_locate.peak_mb,
               "fitness": res.log_fitness, "pm4py": None}
        if n <= pm4py_max:
            df = pm4py_frame(offsets, codes, activities, sop.label_map)
            gc.collect()
            with PeakMemory() as mem_pm:
                t0 = time.perf_counter()
                diag = pm4py.conformance_diagnostics_token_based_replay(df, sop.net, sop.initial_marking,
                                                                        sop.final_marking)
                t_pm = time.perf_counter() - t0
            tt = res.trace_table()
            same = all(
                (d["missing_tokens"], d["consumed_tokens"], d["remaining_tokens"], d["produced_tokens"],
                 d["trace_fitness"]) ==
                (int(tt["missing"][i]), int(tt["consumed"][i]), int(tt["remaining"][i]), int(tt["produced"][i]),
                 float(tt["fitness"][i]))
                for i, d in enumerate(diag))
            row.update(pm4py=t_pm, mem_pm=mem_pm.peak_mb, same=same)
            del df, diag
        rows.append(row)
        if variety == "standard":
            last_fitness = res.log_fitness
        print(row, flush=True)
        gc.collect()
    # the last standard log tiled: same variants, tile x the contacts
    offsets, codes, activities = last
    n = len(offsets) - 1
    big_codes = np.tile(codes, tile)
    big_offsets = np.concatenate([offsets[:-1] + k * len(codes) for k in range(tile)] + [[tile * len(codes)]])
    with PeakMemory() as mem_big:
        t_big, res_big = median_time(lambda: replay_tokens(big_offsets, big_codes, activities, net,
                                                           label_map=sop.label_map), 1)
    big = {"contacts": n * tile, "events": len(big_codes), "variants": res_big.n_variants, "t": t_big,
           "mem": mem_big.peak_mb, "fitness_equal": res_big.log_fitness == last_fitness}
    print(big, flush=True)

    lines = [
        "Command: `flock /tmp/cxmine-bench.lock .venv/bin/python benchmarks/bench_replay.py "
        f"--part kernel --contacts {' '.join(str(s) for s in sizes)} --rate {' '.join(str(r) for r in rates)} "
        f"--variety standard{' realistic' if realistic else ''} --repeats {repeats} --write`",
        "",
        f"SOP `models/{sop_name}.bpmn` ({len(sop.net.places)} places, {len(sop.net.transitions)} transitions), "
        "logs from the simulator (seed 7, at each deviation rate: the base probability that a contact "
        "deviates, scaled per team, shift and agent; a higher rate gives more variants). pm4py = "
        "`pm4py.conformance_diagnostics_token_based_replay` on a pandas DataFrame of the same traces "
        "(pm4py 2.7.23; one run; it groups variants itself). cxmine = `replay_tokens` on the encoded arrays "
        f"(variant grouping + numba replay on 2 threads; median of {repeats}), kernels compiled beforehand "
        f"(first call incl. loading the cache: {warm:.1f} s). \"counts\" = pm4py's token counts only; "
        "\"+ location\" = also locating skipped / inserted / out-of-order steps (the `cxmine conform` default). "
        "\"identical\" = consumed, produced, missing, remaining tokens and fitness equal for every trace. "
        "Peak = highest RSS above the start of each measurement, sampled every 10 ms (cxmine's runs are "
        "about that short, so its peaks are lower bounds). Machine: 2 cores, 24 GiB, shared with other "
        "jobs while measuring, so times are noisy.",
        "",
        "| deviation rate | contacts | events | variants | pm4py s | pm4py peak MiB | cxmine counts s | "
        "cxmine + location s | cxmine peak MiB | speed-up (counts) | identical | log fitness |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in rows:
        pm = f"{r['pm4py']:.1f}" if r["pm4py"] is not None else "not run"
        pmm = f"{r['mem_pm']:.0f}" if r["pm4py"] is not None else "-"
        sp = f"{r['pm4py'] / r['t_counts']:.0f}x" if r["pm4py"] is not None else "-"
        same = ("yes" if r["same"] else "NO") if r["pm4py"] is not None else "-"
        lines.append(f"| {r['rate']} | {r['contacts']:,} | {r['events']:,} | {r['variants']:,} | {pm} | {pmm} | "
                     f"{r['t_counts']:.3f} | {r['t_locate']:.3f} | {max(r['mem_counts'], r['mem_locate']):.0f} | "
                     f"{sp} | {same} | {r['fitness']:.6f} |")
    lines += ["", f"{big['contacts']:,} contacts ({big['events']:,} events; the last {n:,}-contact log tiled {tile}x, "
                  f"{big['variants']:,} variants), with location, once compiled: {big['t']:.2f} s, "
                  f"RSS growth {big['mem']:.0f} MiB (memory freed by the earlier runs is reused, so a lower bound); log fitness equal to the {n:,}-contact log's: "
                  f"{'yes' if big['fitness_equal'] else 'NO'}.",
              "", "Targets: fitness identical; >= 20x faster than pm4py at 1M contacts; 10M contacts <= 60 s."]
    return "\n".join(lines)


DATA = ROOT / "benchmarks" / "data" / "replay"
CXMINE = Path(sys.executable).with_name("cxmine")

PM4PY_PATH = """
import json, sys, tomllib
from pathlib import Path
import pandas as pd
import pm4py
log, bpmn = sys.argv[1], Path(sys.argv[2])
side = bpmn.with_suffix(".toml")
label_map = tomllib.loads(side.read_text()).get("label_map", {}) if side.exists() else {}
df = pd.read_parquet(log, columns=["case_id", "activity", "timestamp"])
df["activity"] = df["activity"].astype(str).replace(label_map)
df = pm4py.format_dataframe(df, case_id="case_id", activity_key="activity", timestamp_key="timestamp")
net, im, fm = pm4py.convert_to_petri_net(pm4py.read_bpmn(str(bpmn)))
fit = pm4py.fitness_token_based_replay(df, net, im, fm)
print(json.dumps({"log_fitness": fit["log_fitness"], "traces": df["case:concept:name"].nunique()}))
"""


def simulated_log(sop_path: Path, contacts: int, variety: str, rate: float) -> Path:
    """A canonical Parquet log from ``cxmine simulate`` + ``cxmine ingest`` (made once, then reused)."""
    folder = DATA / f"{sop_path.stem}-{variety}-{rate}-{contacts}"
    log = folder / "log.parquet"
    if not log.exists():
        env = {**os.environ, "CXMINE_PSEUDONYM_KEY": os.environ.get("CXMINE_PSEUDONYM_KEY", "bench-replay")}
        subprocess.run([str(CXMINE), "simulate", "--sop", str(sop_path), "--contacts", str(contacts), "--seed", "7",
                        "--deviation-rate", str(rate), "--variety", variety, "-o", str(folder / "sim"), "--quiet"],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([str(CXMINE), "ingest", str(folder / "sim" / "contacts.csv"), "--mapping",
                        str(folder / "sim" / "mapping.toml"), "-o", str(log), "--quiet"], check=True,
                       stdout=subprocess.DEVNULL, env=env)
    return log


def run_process(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """(seconds, peak MiB of the process tree, stdout) of one run of a command."""
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    ps, peak = psutil.Process(proc.pid), 0
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)
    reader.start()
    while proc.poll() is None:
        try:
            rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.02)
    seconds = time.perf_counter() - t0
    reader.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} exited with {proc.returncode}")
    return seconds, peak / 2**20, "".join(out)


def timed_runs(cmd: list[str], repeats: int, warm_up: bool = True, env: dict | None = None
               ) -> tuple[float, float, str]:
    """An untimed warm-up run (numba's cache), then the median time and the highest peak of ``repeats`` runs."""
    if warm_up:
        run_process(cmd, env)
    runs = [run_process(cmd, env) for _ in range(repeats)]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs), runs[-1][2]


def count_variants(log: Path) -> tuple[int, int, int]:
    """(contacts, events, distinct activity sequences) of a canonical log."""
    import pyarrow.parquet as pq

    t = pq.read_table(log, columns=["case_id", "activity"])
    case = t.column("case_id").combine_chunks().dictionary_encode().indices.to_numpy()
    act = t.column("activity").combine_chunks().dictionary_encode().indices.to_numpy()
    bounds = np.flatnonzero(np.diff(case)) + 1
    return int(case.max()) + 1, len(act), len({a.tobytes() for a in np.split(act, bounds)})


def run_variants(sizes: list[int], varieties: list[str]) -> str:
    from engine.model import load_sop
    from engine.simulate import simulate_contacts

    sops = [load_sop(p) for p in sorted((ROOT / "models").glob("*.bpmn"))]
    lines = ["| variety | contacts | events per contact | variants | contacts fitting their SOP |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for variety in varieties:
        for n in sizes:
            sim = simulate_contacts(sops, n, seed=7, deviation_rate=0.05, variety=variety)
            case = sim.events.column("contact_id").combine_chunks().indices.to_numpy()
            act = sim.events.column("activity").combine_chunks().indices.to_numpy()
            order = np.argsort(case, kind="stable")
            bounds = np.flatnonzero(np.diff(case[order])) + 1
            variants = len({a.tobytes() for a in np.split(act[order], bounds)})
            fit = float(np.mean(sim.contacts.column("fits_sop").to_numpy(zero_copy_only=False)))
            lines.append(f"| {variety} | {n:,} | {len(act) / n:.2f} | {variants:,} | {fit:.1%} |")
            print(lines[-1], flush=True)
            del sim
            gc.collect()
    return "\n".join(lines)


def run_whole(sizes: list[int], sop_name: str, varieties: list[str], rate: float, repeats: int,
              pm4py_repeats: int | None = None) -> str:
    sop_path = ROOT / "models" / f"{sop_name}.bpmn"
    rows = []
    for variety in varieties:
        for n in sizes:
            log = simulated_log(sop_path, n, variety, rate)
            contacts, events, variants = count_variants(log)
            # the cxmine script of the virtualenv, running this checkout's engine (a worktree's, not the
            # installed one's)
            t_cx, m_cx, out_cx = timed_runs([str(CXMINE), "conform", str(log), "--sop", str(sop_path), "--json",
                                             "--quiet"], repeats, env={**os.environ, "PYTHONPATH": str(ROOT)})
            t_pm, m_pm, out_pm = timed_runs([sys.executable, "-c", PM4PY_PATH, str(log), str(sop_path)],
                                            pm4py_repeats or repeats, warm_up=False)
            fit_cx = json.loads(out_cx)["log_fitness"]
            fit_pm = json.loads(out_pm)["log_fitness"]
            row = {"variety": variety, "contacts": contacts, "events": events, "variants": variants,
                   "cxmine": t_cx, "cxmine_mib": m_cx, "pm4py": t_pm, "pm4py_mib": m_pm, "fit_cx": fit_cx,
                   "fit_pm": fit_pm}
            print(row, flush=True)
            rows.append(row)
    load = os.getloadavg()
    lines = [
        "Command: `flock /tmp/cxmine-bench.lock nice .venv/bin/python benchmarks/bench_replay.py --part whole "
        f"--contacts {' '.join(str(s) for s in sizes)} --variety {' '.join(varieties)} --sop {sop_name} "
        f"--whole-rate {rate} --repeats {repeats}"
        + (f" --pm4py-repeats {pm4py_repeats}" if pm4py_repeats else "") + " --write`",
        "",
        f"Logs: `cxmine simulate --sop models/{sop_name}.bpmn --contacts N --seed 7 --deviation-rate {rate} "
        "--variety V`, then `cxmine ingest` (canonical Parquet log). cxmine = `cxmine conform LOG --sop "
        f"models/{sop_name}.bpmn --json --quiet` in a fresh process: start-up, read the log, load the SOP "
        "(cxmine's own BPMN conversion, no pm4py import), replay, locate deviations, print JSON. pm4py = a "
        "fresh Python process: import pm4py, `pandas.read_parquet` of the same log (3 columns), labels mapped "
        "with the sidecar, `pm4py.read_bpmn` + `pm4py.convert_to_petri_net` of the same BPMN, "
        "`pm4py.fitness_token_based_replay` (pm4py 2.7.23). One untimed warm-up run of cxmine (numba's "
        "cache; pm4py compiles nothing and reads the log cxmine has just read), then the median "
        f"of {repeats} runs of cxmine and of {pm4py_repeats or repeats} of pm4py; peak = highest RSS of the "
        "process, sampled every 20 ms. Load average at the end: "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min) on 2 cores shared with other jobs, so "
        "times are noisy.",
        "",
        "| variety | contacts | events | variants | pm4py s | pm4py peak MiB | cxmine conform s | "
        "cxmine peak MiB | speed-up | log fitness pm4py | log fitness cxmine |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(f"| {r['variety']} | {r['contacts']:,} | {r['events']:,} | {r['variants']:,} | "
                     f"{r['pm4py']:.1f} | {r['pm4py_mib']:.0f} | {r['cxmine']:.2f} | {r['cxmine_mib']:.0f} | "
                     f"{r['pm4py'] / r['cxmine']:.1f}x | {r['fit_pm']:.6f} | {r['fit_cx']:.6f} |")
    lines += ["", "Targets (issue 10): >= 10x at 100,000 contacts and >= 25x at 1M contacts on long-tailed logs "
                  "(25,000 or more variants at 1M)."]
    return "\n".join(lines)


def run_location(sizes: list[int], sop_name: str, varieties: list[str], rate: float, repeats: int) -> str:
    """replay_tokens with counts only and with deviation location on the whole-process logs, in-process."""
    from engine.analyses.replay import replay_tokens
    from engine.log.encode import encode_log
    from engine.model import compile_net, load_sop

    sop_path = ROOT / "models" / f"{sop_name}.bpmn"
    sop = load_sop(sop_path)
    net = compile_net(sop.net, sop.initial_marking, sop.final_marking)
    replay_tokens(np.array([0, 1]), np.array([0], dtype=np.int32), ("IVR menu",), net)   # load the kernels
    rows = []
    for variety in varieties:
        for n in sizes:
            log = encode_log(simulated_log(sop_path, n, variety, rate), attributes=())
            times = {}
            for locate in (False, True):
                times[locate], res = median_time(lambda: replay_tokens(
                    log.case_offsets, log.activity_codes, log.activities, net, label_map=sop.label_map,
                    locate=locate), repeats)
            rows.append((variety, n, len(log.activity_codes), res.n_variants, times[False], times[True]))
            print(rows[-1], flush=True)
    load = os.getloadavg()
    lines = [
        "Command: `flock /tmp/cxmine-bench.lock nice .venv/bin/python benchmarks/bench_replay.py --part location "
        f"--contacts {' '.join(str(s) for s in sizes)} --variety {' '.join(varieties)} --sop {sop_name} "
        f"--whole-rate {rate} --repeats {repeats} --write`",
        "",
        "`replay_tokens` in one process on the whole-process logs (encoded beforehand; kernels loaded "
        "beforehand): variant grouping and replay with pm4py's counts only, and the same with deviation "
        f"location (the `cxmine conform` default); median of {repeats}, each variant's distinct sequence of "
        "model activities replayed once, on 2 threads. Load average at the end: "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min) on 2 cores shared with other jobs.",
        "",
        "| variety | contacts | events | variants | counts only s | with location s | location adds |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for variety, n, events, variants, t_counts, t_locate in rows:
        lines.append(f"| {variety} | {n:,} | {events:,} | {variants:,} | {t_counts:.3f} | {t_locate:.3f} | "
                     f"{t_locate - t_counts:.3f} s ({(t_locate - t_counts) / t_counts:.0%} of counts only) |")
    lines += ["", "Target (issue 10): deviation location adds at most as much time as the counts-only replay takes "
                  "(at most 100%)."]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=["kernel", "whole", "location", "variants", "all"], default="all",
                    help="kernel: replay_tokens against pm4py's token replay in one process; whole: the "
                         "cxmine conform command against pm4py's path, each in a fresh process; location: "
                         "replay_tokens with counts only and with deviation location on the whole part's logs "
                         "(not part of all); variants: "
                         "variants per size and variety of the simulator (not part of all)")
    ap.add_argument("--contacts", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--sop", default="lost_card")
    ap.add_argument("--rate", type=float, nargs="+", default=[0.1, 0.4], help="deviation rates (kernel part)")
    ap.add_argument("--variety", nargs="+", default=["standard", "realistic"], choices=["standard", "realistic"],
                    help="simulator settings of the logs (whole part; the kernel part runs standard, and "
                         "realistic at the first rate when given)")
    ap.add_argument("--whole-rate", type=float, default=0.05, help="deviation rate of the whole-process logs")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pm4py-repeats", type=int, default=None,
                    help="timed runs of pm4py's path in the whole part (default --repeats)")
    ap.add_argument("--tile", type=int, default=10)
    ap.add_argument("--pm4py-max", type=int, default=1_000_000, help="largest size pm4py is run on")
    ap.add_argument("--write", action="store_true", help="replace this benchmark's sections of RESULTS.md")
    args = ap.parse_args(argv)
    if args.part in ("kernel", "all"):
        body = run(args.contacts, args.sop, args.rate, args.repeats, args.tile, args.pm4py_max,
                   "realistic" in args.variety)
        print(body)
        if args.write:
            write_section("Token replay (bench_replay.py)", body)
    if args.part == "variants":
        print(run_variants(args.contacts, args.variety))
    if args.part == "location":
        body = run_location(args.contacts, args.sop, args.variety, args.whole_rate, args.repeats)
        print(body)
        if args.write:
            write_section("Deviation location: counts only against with location (bench_replay.py)", body)
    if args.part in ("whole", "all"):
        body = run_whole(args.contacts, args.sop, args.variety, args.whole_rate, args.repeats, args.pm4py_repeats)
        print(body)
        if args.write:
            write_section("Whole process: cxmine conform against pm4py (bench_replay.py)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
