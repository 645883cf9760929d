"""Friction ranking: wall time of ``cxmine friction``'s work on a simulated log, against the 60 s target at 1M.

Also times the whole command on the bundled sample (20,000 contacts; ingested
once into benchmarks/data/), as a user runs it: ``cxmine friction LOG --sop
models/ --json``, a fresh process with a warm numba cache, against the 10 s
target.

Run under the shared lock:
    flock /tmp/cxmine-bench.lock .venv/bin/python benchmarks/bench_friction.py --contacts 1000000

The log is bench_drift.py's (every SOP in models/, 52 weeks, team B skipping
Verify identity in 30% of its contacts from week 27; built once in
benchmarks/data/, git-ignored). Timed with a warm numba cache, median of the
repeats: encoding from Parquet, and ``rank_frictions`` with the SOP folder
(SOP matching, ownership, handoffs, conformance per SOP, drift per SOP, the
comparisons and the ranking).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from results import median_time, write_section  # noqa: E402


def time_sample(repeats: int) -> float:
    """Median wall time of ``cxmine friction`` on the ingested sample, in a fresh process each time."""
    import os
    import subprocess
    cxmine = [str(Path(sys.executable).parent / "cxmine")]
    log = HERE / "data" / "sample.parquet"
    env = dict(os.environ, PYTHONPATH=str(ROOT), CXMINE_PSEUDONYM_KEY="bench")
    if not log.exists():
        sample = ROOT / "eventlogs" / "sample"
        subprocess.run(cxmine + ["ingest", str(sample / "contacts.csv.gz"), "--mapping", str(sample / "mapping.toml"),
                                 "-o", str(log), "-q"], check=True, env=env)
    cmd = cxmine + ["friction", str(log), "--sop", str(ROOT / "models"), "--json", "-q"]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)  # warm the cache
    return median_time(lambda: subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL), repeats)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="Record the figures in benchmarks/RESULTS.md.")
    args = parser.parse_args(argv)
    from bench_drift import make_log

    from engine.analyses.friction import encode_for_friction, rank_frictions
    from engine.model import load_sop

    path = make_log(args.contacts)
    sops = [load_sop(p) for p in sorted((ROOT / "models").glob("*.bpmn"))]
    log = encode_for_friction(path)
    rank_frictions(log, sops, top=1)  # compile and warm the cache
    t_enc, log = median_time(lambda: encode_for_friction(path), args.repeats)
    t_rank, result = median_time(lambda: rank_frictions(log, sops), args.repeats)
    top = result.frictions[:3]
    t_sample = time_sample(max(3, args.repeats))
    text = (f"Command: `.venv/bin/python benchmarks/bench_friction.py --contacts {args.contacts}`"
            f" ({time.strftime('%Y-%m-%d')}, 2-core shared machine, warm numba cache, median of {args.repeats}).\n\n"
            f"| contacts | events | encode (s) | rank_frictions (s) | total (s) | target |\n"
            f"| --- | --- | --- | --- | --- | --- |\n"
            f"| {log.n_cases:,} | {log.n_events:,} | {t_enc:.1f} | {t_rank:.1f} | {t_enc + t_rank:.1f} | "
            f"60 s at 1M |\n\n"
            f"{len(result.frictions)} friction points; the first three by cost: "
            + "; ".join(f"{f.where} ({f.contacts:,} contacts)" for f in top) + ".\n\n"
            f"The bundled sample (20,000 contacts, 133,005 events): `cxmine friction LOG --sop models/ --json` "
            f"takes {t_sample:.1f} s, the whole process (median of {max(3, args.repeats)}; target 10 s).")
    print(text)
    if args.write:
        write_section("Friction ranking (bench_friction.py)", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
