"""Progress of a long run on stderr: one line per stage with its time, and a summary at the end.

Drawn with rich when stderr is a terminal; silent with --quiet or when stderr
is not a terminal (a batch run's log then gets only the final summary, unless
quiet). Times are wall-clock seconds.
"""

from __future__ import annotations

import sys
import time


class Stages:
    """``stages.start("name")`` begins a stage (ending the one before); ``stages.finish()`` ends the last."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.times: dict[str, float] = {}
        self._current: str | None = None
        self._t0 = 0.0
        self._status = None
        if not quiet and sys.stderr.isatty():
            from rich.console import Console
            self._console = Console(stderr=True)
            self._status = self._console.status("starting")
            self._status.start()

    def start(self, name: str) -> None:
        self._end_current()
        self._current, self._t0 = name, time.perf_counter()
        if self._status is not None:
            self._status.update(f"{name} ...")

    def _end_current(self) -> None:
        if self._current is None:
            return
        elapsed = time.perf_counter() - self._t0
        self.times[self._current] = self.times.get(self._current, 0.0) + elapsed
        if self._status is not None:
            self._console.log(f"{self._current}: {elapsed:.1f} s")
        self._current = None

    def finish(self) -> None:
        self._end_current()
        if self._status is not None:
            self._status.stop()
            self._status = None

    def summary(self) -> str:
        total = sum(self.times.values())
        width = max((len(k) for k in self.times), default=5)
        lines = [f"  {name.ljust(width)}  {secs:7.1f} s" for name, secs in self.times.items()]
        return "\n".join(["stages:"] + lines + [f"  {'total'.ljust(width)}  {total:7.1f} s"])
