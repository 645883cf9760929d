"""Run every benchmark script (benchmarks/bench_*.py) in turn; `make bench` calls this.

Each script runs cxmine and its peers on the same data in one process run and
rewrites its own section of benchmarks/RESULTS.md. Pass names to run a subset:
`python benchmarks/run.py xes kernels`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WRITE_ARGS = {"bench_replay": ["--write"]}  # scripts that write RESULTS.md only when asked


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if any(s.stem == f"bench_{a}" for a in argv)]
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        if subprocess.call([sys.executable, str(script)] + WRITE_ARGS.get(script.stem, []), cwd=HERE.parent) != 0:
            failed.append(script.name)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
