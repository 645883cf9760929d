"""Simulator at scale: cxmine simulate (1M contacts, written to disk) against pm4py's Petri-net playout.

Run under the shared lock:
    flock /tmp/cxmine-bench.lock .venv/bin/python benchmarks/bench_simulate.py --contacts 1000000 --repeats 3

cxmine: ``simulate_contacts`` + ``write_simulation`` over every SOP in models/
(paths, people, times, deviations, a drift point, ground truth, CSV export).
pm4py: ``pm4py.play_out`` (basic playout: activity sequences with fake
timestamps only, kept in memory) of the same SOP nets, at a smaller size
because it is much slower; the table gives its measured size and time.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from results import PeakMemory, median_time, write_section  # noqa: E402

DRIFT = "2026-01-19:team=B:skip=Verify identity:p=0.3"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--contacts", type=int, nargs="+", default=[1_000_000, 1_500_000],
                    help="sizes to measure (1.5M contacts make about 10M events with the bundled SOPs)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--peer-traces", type=int, default=20_000, help="traces pm4py plays out (over all SOPs)")
    ap.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    args = ap.parse_args(argv)

    from engine.simulate import load_drifts, simulate_contacts, write_simulation
    from engine.model import load_sop

    models = sorted((ROOT / "models").glob("*.bpmn"))
    if not models:
        print("no SOP models in models/; nothing to measure", file=sys.stderr)
        return 1
    sops = [load_sop(p) for p in models]
    drifts = load_drifts([DRIFT], "Europe/Lisbon")
    out = ROOT / "benchmarks" / "out" / "simulate"

    rows = []
    for n in args.contacts:
        def run_cxmine(n=n):
            sim = simulate_contacts(sops, n, seed=1, start="2026-01-05", days=28, deviation_rate=0.05,
                                    drifts=drifts)
            write_simulation(sim, out)
            return sim.events.num_rows

        with PeakMemory() as mem:
            t_cx, events = median_time(run_cxmine, args.repeats)
        size_mib = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
        rows.append((n, events, t_cx, mem.peak_mb, size_mib))
        print(f"cxmine: {n} contacts, {events} events in {t_cx:.2f} s (median of {args.repeats}), "
              f"peak +{mem.peak_mb:.0f} MiB, {size_mib:.0f} MiB written", flush=True)
        shutil.rmtree(out, ignore_errors=True)

    import pm4py
    from pm4py.algo.simulation.playout.petri_net.variants.basic_playout import Parameters

    per_sop = max(1, args.peer_traces // len(sops))

    def run_pm4py():
        n = 0
        for sop in sops:
            log = pm4py.play_out(sop.net, sop.initial_marking, sop.final_marking,
                                 parameters={Parameters.NO_TRACES: per_sop, Parameters.MAX_TRACE_LENGTH: 60})
            n += sum(len(t) for t in log)
        return n

    with PeakMemory() as mem_pm:
        t_pm, pm_events = median_time(run_pm4py, args.repeats)
    traces = per_sop * len(sops)
    print(f"pm4py play_out: {traces} traces, {pm_events} events in {t_pm:.2f} s, peak +{mem_pm.peak_mb:.0f} MiB",
          flush=True)
    if args.no_write:
        return 0
    sizes = " ".join(str(n) for n in args.contacts)
    cmd = (f"flock /tmp/cxmine-bench.lock .venv/bin/python benchmarks/bench_simulate.py --contacts {sizes} "
           f"--repeats {args.repeats} --peer-traces {args.peer_traces}")
    table = "\n".join(f"| cxmine simulate | {n:,} | {ev:,} | {t:.2f} | {1000 * t / n:.4f} | {mb:.0f} | {sz:.0f} |"
                      for n, ev, t, mb, sz in rows)
    body = f"""
Command: `{cmd}`

cxmine = `simulate_contacts` + `write_simulation` over the {len(sops)} SOPs in `models/` (28 days, deviation
rate 0.05, one drift point `{DRIFT}`): arrivals, routing to sites/teams/agents, SOP paths, deviations,
context loss, ping-pong, drift, handle times, then the CSV export, mapping and ground
truth written to disk (MiB written in the last column). pm4py = `pm4py.play_out` (basic playout) of the same nets: activity sequences only,
in memory, nothing written; run at {traces} traces because it is far slower (a rate per trace is given
for comparison, not an extrapolated run). Median of {args.repeats} runs; peak memory = highest RSS above
the process's RSS before the runs. Machine: 2 cores, 24 GiB, shared with other jobs while measuring, so
times are noisy.

| tool | contacts / traces | events | median s | s per 1k contacts / traces | peak MiB | written MiB |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
{table}
| pm4py play_out | {traces:,} | {pm_events:,} | {t_pm:.2f} | {1000 * t_pm / traces:.4f} | {mem_pm.peak_mb:.0f} | 0 |

Target: 1M contacts in <= 60 s and <= 4 GiB.
"""
    write_section("Simulator (bench_simulate.py)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
