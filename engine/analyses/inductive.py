"""pm4py's Inductive Miner on a variant log, with its two costly steps done in one pass each.

On a long-tailed log (tens of thousands of variants) pm4py's IM spends most
of its time in two places: the directly-follows graph of every sub-log
(``discover_dfg_uvcl``: one ``Counter.update`` per pair, and one pass over
the log per activity for start and end counts), and the projection of the
log on the groups of a concurrency cut (one filter over every trace per
group). Both are recomputed here in one pass over the variants, with the
same keys, counts and insertion order, so the miner takes the same
decisions and returns the same tree; everything else is pm4py's own code
(cut detection, fall-throughs, base cases, IMf's filtering).
"""

from __future__ import annotations

import threading
from collections import Counter
from contextlib import contextmanager

_PATCH_LOCK = threading.Lock()


def dfg_of_variants(log: Counter):
    """pm4py's ``discover_dfg_uvcl``: pairs in order of first occurrence, start and end activities sorted."""
    from pm4py.objects.dfg.obj import DFG

    graph: dict = {}
    starts: dict = {}
    ends: dict = {}
    for trace, n in log.items():
        if not trace:
            continue
        for pair in zip(trace, trace[1:]):
            graph[pair] = graph.get(pair, 0) + n
        starts[trace[0]] = starts.get(trace[0], 0) + n
        ends[trace[-1]] = ends.get(trace[-1], 0) + n
    return DFG(graph, {a: starts[a] for a in sorted(starts)}, {a: ends[a] for a in sorted(ends)})


def _project_on_one(traces: list, counts, activity) -> Counter:
    """Every trace restricted to one activity: ``(a,) * occurrences``, keys in order of first occurrence."""
    import numpy as np

    reps = np.fromiter((t.count(activity) for t in traces), dtype=np.int64, count=len(traces))
    values, first = np.unique(reps, return_index=True)
    sums = np.bincount(reps, weights=counts)  # float64 sums of counts: exact below 2**53
    return Counter({(activity,) * int(values[i]): int(sums[values[i]]) for i in np.argsort(first)})


def project_concurrent(log: Counter, groups) -> list[Counter]:
    """Each trace restricted to each group (pm4py's ``ConcurrencyCutUVCL.project``), keys in pm4py's order.

    A group of one activity (most groups of a wide concurrency cut) is counted
    with numpy on the number of times each trace holds it; larger groups in one
    pass per trace.
    """
    import numpy as np

    traces = list(log)
    counts = np.fromiter(log.values(), dtype=np.float64, count=len(traces))
    where = {a: i for i, group in enumerate(groups) if len(group) > 1 for a in group}
    wide = sorted(set(where.values()))
    out: dict[int, dict] = {i: {} for i in wide}
    if wide:
        for trace, n in log.items():
            parts: dict[int, list] = {i: [] for i in wide}
            for e in trace:
                i = where.get(e)
                if i is not None:
                    parts[i].append(e)
            for i, part in parts.items():
                key = tuple(part)
                out[i][key] = out[i].get(key, 0) + n
    return [Counter(out[i]) if i in out else _project_on_one(traces, counts, next(iter(group)))
            for i, group in enumerate(groups)]


def _miner_classes():
    """pm4py's IM and IMf on variant logs, their concurrency projection replaced by ``project_concurrent``."""
    from pm4py.algo.discovery.inductive.cuts.concurrency import ConcurrencyCutUVCL
    from pm4py.algo.discovery.inductive.cuts.factory import CutFactory
    from pm4py.algo.discovery.inductive.dtypes.im_ds import IMDataStructureUVCL
    from pm4py.algo.discovery.inductive.variants.im import IMUVCL
    from pm4py.algo.discovery.inductive.variants.imf import IMFUVCL

    class ConcurrencyCut(ConcurrencyCutUVCL):
        @classmethod
        def project(cls, obj, groups, parameters=None):
            groups = list(groups)
            if sum(len(g) for g in groups) != len(set().union(*groups)):  # overlapping groups: pm4py's own way
                return super().project(obj, groups, parameters)
            return [IMDataStructureUVCL(sub, dfg_of_variants(sub))
                    for sub in project_concurrent(obj.data_structure, groups)]

    class FasterCuts:
        def find_cut(self, obj, parameters=None):
            for cut in CutFactory.get_cuts(obj, self.instance(), parameters):
                found = (ConcurrencyCut if cut is ConcurrencyCutUVCL else cut).apply(obj, parameters)
                if found is not None:
                    return found
            return None

    class IM(FasterCuts, IMUVCL):
        pass

    class IMF(FasterCuts, IMFUVCL):
        pass

    return IM, IMF


@contextmanager
def _faster_dfgs():
    """pm4py's variant-log DFG replaced by ``dfg_of_variants`` (same result) while the miner runs."""
    from pm4py.util.compression import util as comut

    with _PATCH_LOCK:
        original = comut.discover_dfg_uvcl
        comut.discover_dfg_uvcl = dfg_of_variants
        try:
            yield
        finally:
            comut.discover_dfg_uvcl = original


def mine_variant_log(log: Counter, noise: float = 0.0):
    """pm4py's IM (``noise == 0``) or IMf on a variant log (activity tuple -> count); the unfolded tree."""
    from pm4py.algo.discovery.inductive.dtypes.im_ds import IMDataStructureUVCL

    im, imf = _miner_classes()
    params = {"noise_threshold": noise, "multiprocessing": False, "disable_fallthroughs": False}
    miner = imf(params) if noise > 0 else im(params)
    with _faster_dfgs():
        return miner.apply(IMDataStructureUVCL(log, dfg_of_variants(log)), params)
