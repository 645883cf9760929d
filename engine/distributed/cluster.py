"""Running a per-partition function on Dask workers and merging the summaries exactly.

``run_partitions(log, summarise, ...)`` sends one task per partition file of
a partitioned log (a single-file log is one partition) to the workers of a
dask.distributed cluster: each task gets the partition's *path*, reads the
file itself and returns a summary. Summaries merge pairwise with ``a + b``
on the workers, neighbours first, in partition order, so the client only
receives the final summary. ``None`` (a partition holding none of the
selected contacts) is the identity of the merge.

Failures: a task whose worker dies is run again elsewhere (Dask reschedules
it; ``retries`` more attempts for a task that raised an OSError-like failure).
When a task keeps killing its workers, or the scheduler goes away, the run
stops with an AnalysisError naming the partition: there is never a partial
result. An EngineError raised in a task (bad input found in a partition)
reaches the caller as itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any, Callable, Iterator

from engine.errors import AnalysisError, EngineError, InputError

ENGINES = ("local", "dask")
LOCAL_WORKERS = 2


def check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise AnalysisError(f"Unknown engine '{engine}' (valid: {', '.join(ENGINES)})", field="engine")


def _dask():
    try:
        import distributed
    except ImportError as exc:
        raise AnalysisError("The dask engine needs dask.distributed, which is not installed", field="engine",
                            hint="Install it: pip install 'cxmine[distributed]'") from exc
    return distributed


@contextlib.contextmanager
def open_client(scheduler: str | None = None, workers: int = LOCAL_WORKERS) -> Iterator[Any]:
    """A dask.distributed Client: of the scheduler at ``scheduler`` (e.g. ``tcp://10.0.0.5:8786``), or
    of a LocalCluster of ``workers`` worker processes (one thread each) on this machine."""
    distributed = _dask()
    if scheduler:
        try:
            client = distributed.Client(scheduler, timeout="15s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"Cannot reach the Dask scheduler at {scheduler} ({exc})", field="scheduler",
                             hint="Check the address (tcp://HOST:8786) and that the scheduler is running") from exc
        try:
            yield client
        finally:
            client.close()
        return
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster, distributed.Client(cluster) as client:
        yield client


def _merge(a, b):
    """``a + b``, with None (nothing selected in a partition) as the identity."""
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def partition_sources(log: str | os.PathLike) -> list[str]:
    """The files the tasks read: each partition of a partitioned log, or the single-file log itself."""
    path = Path(log)
    if path.is_dir():
        from engine.log.partitions import partition_paths
        return [str(p.resolve()) for p in partition_paths(path)]
    from engine.log.store import open_log
    open_log(path)  # refuse a missing or foreign file here, with the usual message
    return [str(path.resolve())]


def _failure(exc: BaseException, keys: dict[str, str]) -> AnalysisError:
    key = getattr(exc, "task", None) or (exc.args[0] if exc.args else "")
    where = next((f"partition {p}" for k, p in keys.items() if k in str(key)), "a merge of partition summaries")
    return AnalysisError(f"The distributed run stopped: a Dask worker died while computing {where}, "
                         f"again on every retry ({type(exc).__name__}); no result was produced",
                         hint="Check the workers' memory and logs (a partition must fit in one worker), or write "
                              "the log in more, smaller partitions")


def run_partitions(log: str | os.PathLike, summarise: Callable, *, client=None, scheduler: str | None = None,
                   retries: int = 2, **params):
    """Run ``summarise(path, **params)`` on every partition of ``log`` and merge the summaries with ``+``.

    ``client``: an open dask.distributed Client (else one is opened on ``scheduler``, or on a
    LocalCluster). Returns the merged summary (None when every partition returned None).
    """
    sources = partition_sources(log)
    if client is None:
        with open_client(scheduler) as own:
            return run_partitions(log, summarise, client=own, retries=retries, **params)
    distributed = _dask()
    futures = client.map(summarise, sources, retries=retries, pure=False, **params)
    keys = {f.key if isinstance(f.key, str) else str(f.key): Path(s).name for f, s in zip(futures, sources)}
    level = list(futures)
    while len(level) > 1:
        nxt = [client.submit(_merge, level[i], level[i + 1], retries=retries, pure=False)
               for i in range(0, len(level) - 1, 2)]
        level = nxt + ([level[-1]] if len(level) % 2 else [])
    try:
        return level[0].result()
    except EngineError:
        raise
    except distributed.KilledWorker as exc:
        raise _failure(exc, keys) from exc
    except (OSError, TimeoutError, distributed.comm.CommClosedError) as exc:
        raise AnalysisError(f"The distributed run stopped: the connection to the Dask cluster was lost ({exc}); "
                            "no result was produced", hint="Check that the scheduler and its workers are running") \
            from exc
