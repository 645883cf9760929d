"""Shared measuring and reporting for the benchmark scripts.

``measure`` runs a callable in a fresh subprocess-free way and reports wall
time and peak RSS growth; ``write_section`` replaces one named section of
RESULTS.md so scripts can run in any order.
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from pathlib import Path

import psutil

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


class PeakMemory:
    """Samples this process's RSS every 10 ms; ``peak_mb`` is the highest seen above the start."""

    def __init__(self) -> None:
        self._proc = psutil.Process()
        self._stop = threading.Event()
        self.start = self.peak = self._proc.memory_info().rss

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = self._proc.memory_info().rss
            if rss > self.peak:
                self.peak = rss
            time.sleep(0.01)

    def __enter__(self) -> "PeakMemory":
        self.start = self.peak = self._proc.memory_info().rss
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()
        rss = self._proc.memory_info().rss
        self.peak = max(self.peak, rss)

    @property
    def peak_mb(self) -> float:
        return (self.peak - self.start) / 2**20


def median_time(fn, repeats: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def write_section(title: str, body: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda m: section + "\n", text)
    else:
        text = text.rstrip() + "\n\n" + section
    RESULTS.write_text(text)
