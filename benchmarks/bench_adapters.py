"""Ingest of 1M simulated contacts exported as Amazon Connect contact records and as Genesys Cloud conversations.

The simulator (``engine.simulate``) draws the contacts over the SOP library;
``engine.simulate.vendor`` writes them as Amazon Connect contact records (one
JSON record per line, one record per transfer leg) and as Genesys Cloud
conversation details (one conversation per line) into benchmarks/data/adapters
(git-ignored; reused when present). Each ingest (``ingest_to_log``: parse,
check and account every record, link transfer legs, pseudonymise customers and
scrub attributes, sort, write the Parquet log) runs in a fresh process; the
figures are the median wall time of the repeats and the largest peak resident
memory of those processes (ru_maxrss). No process-mining library reads these
vendor formats, so there is no peer in this section. Run it with:

    flock /tmp/cxmine-bench.lock .venv/bin/python benchmarks/bench_adapters.py [--contacts N] [--repeats R]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

FORMATS = {"amazon-connect": "connect.jsonl", "genesys": "genesys.jsonl"}


def generate(n: int, folder: Path) -> dict:
    from engine.simulate import simulate_contacts
    from engine.simulate.vendor import write_connect_records, write_genesys_conversations
    from engine.model import load_sop

    folder.mkdir(parents=True, exist_ok=True)
    info_path = folder / "info.json"
    if info_path.exists() and all((folder / f).exists() for f in FORMATS.values()):
        info = json.loads(info_path.read_text())
        if info.get("contacts") == n:
            return info
    sops = [load_sop(p) for p in sorted(glob.glob(str(ROOT / "models" / "*.bpmn")))]
    t0 = time.perf_counter()
    sim = simulate_contacts(sops, n, seed=2026, start="2026-01-05", days=90, deviation_rate=0.05)
    t1 = time.perf_counter()
    records = write_connect_records(sim.events, folder / FORMATS["amazon-connect"], contacts=sim.contacts)
    t2 = time.perf_counter()
    conversations = write_genesys_conversations(sim.events, folder / FORMATS["genesys"])
    t3 = time.perf_counter()
    info = {"contacts": n, "events": sim.events.num_rows, "connect_records": records,
            "genesys_conversations": conversations, "simulate_s": round(t1 - t0, 1),
            "write_connect_s": round(t2 - t1, 1), "write_genesys_s": round(t3 - t2, 1),
            "bytes": {f: (folder / name).stat().st_size for f, name in FORMATS.items()}}
    info_path.write_text(json.dumps(info, indent=2))
    return info


def ingest_once(fmt: str, src: str, out: str) -> None:
    """Child process: one ingest, its wall time and peak memory as JSON on stdout."""
    from engine.ingest import ReadOptions
    from engine.ingest.job import ingest_to_log

    t0 = time.perf_counter()
    s = ingest_to_log([src], out, fmt=fmt, options=ReadOptions(pseudonym_key=b"bench-key"))
    dt = time.perf_counter() - t0
    print(json.dumps({"seconds": dt, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "records_read": s.records_read, "records_rejected": s.records_rejected,
                      "cases": s.cases, "events": s.events}))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contacts", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ingest", nargs=3, metavar=("FORMAT", "SRC", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.ingest:
        ingest_once(*args.ingest)
        return 0
    from results import write_section

    folder = HERE / "data" / "adapters"
    info = generate(args.contacts, folder)
    print(json.dumps(info), flush=True)
    rows = []
    for fmt, name in FORMATS.items():
        runs = []
        for _ in range(args.repeats):
            out = HERE / "out" / f"adapters-{fmt}.parquet"
            out.parent.mkdir(parents=True, exist_ok=True)
            proc = subprocess.run([sys.executable, __file__, "--ingest", fmt, str(folder / name), str(out)],
                                  capture_output=True, text=True, cwd=ROOT)
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return 1
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(fmt, runs[-1], flush=True)
        med = statistics.median(r["seconds"] for r in runs)
        peak = max(r["peak_mib"] for r in runs)
        r0 = runs[0]
        rows.append(f"| {fmt} | {info['bytes'][fmt] / 2**20:,.0f} MiB | {r0['records_read']:,} | "
                    f"{r0['records_rejected']:,} | {r0['cases']:,} | {r0['events']:,} | {med:.1f} s | "
                    f"{peak / 1024:.2f} GiB | {'yes' if med <= 90 and peak <= 6 * 1024 else 'no'} |")
    body = f"""Command: `flock /tmp/cxmine-bench.lock .venv/bin/python benchmarks/bench_adapters.py --contacts {args.contacts} --repeats {args.repeats}`

{info['contacts']:,} simulated contacts ({info['events']:,} events) over the SOP library, exported by
`engine.simulate.vendor` as Amazon Connect contact records ({info['connect_records']:,} records: one per
transfer leg) and Genesys Cloud conversation details ({info['genesys_conversations']:,} conversations), JSON
Lines. Each ingest runs `ingest_to_log` in a fresh process (parse, account every record, link transfer legs,
pseudonymise customers, scrub attributes, sort, write the Parquet log). Time: median of {args.repeats} runs;
memory: largest peak resident set of those processes. Target: <= 90 s and <= 6 GiB each. Machine:
{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}, shared with other
jobs while measured (timings are noisy). Generating the data took {info['simulate_s']} s (simulation),
{info['write_connect_s']} s (Connect writer) and {info['write_genesys_s']} s (Genesys writer).

| format | file | records read | rejected | cases | events | time | peak memory | within target |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |
""" + "\n".join(rows)
    write_section("Vendor adapters: Amazon Connect and Genesys Cloud, 1M contacts", body)
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
