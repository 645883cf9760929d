"""Optimal alignments (pm4py) for the most frequent variants, within a time budget.

Token replay says where a contact departs from the SOP; an alignment gives the
optimal explanation (the fewest moves on log or model only), which an auditor
may want for the variants that matter most. Alignments are costly, so they are
computed for the top-K variants by contacts, most frequent first, and stop
cleanly when the time budget is spent: what was aligned is kept, and the note
says how many variants were left out and why.

r4pm 0.6.2 offers ``align_trace`` / ``align_variants`` bindings, but on its own
Petri net type (converted through its item registry) and at most 255 tokens per
place; pm4py's A* on the SOP's net is used here, so the moves name the same
transitions as the replay.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from engine.errors import AnalysisError


@dataclass(frozen=True)
class VariantAlignment:
    rank: int
    contacts: int
    activities: tuple[str, ...]
    cost: int
    fitness: float
    moves: tuple[tuple[str, str], ...]   # (log move or ">>", model move or ">>")
    deviations: tuple[str, ...]          # moves on log or model only, as "inserted: X" / "skipped: Y"
    seconds: float

    def __iter__(self):
        yield from (("rank", self.rank), ("contacts", self.contacts), ("activities", list(self.activities)),
                    ("cost", self.cost), ("fitness", self.fitness), ("deviations", list(self.deviations)),
                    ("moves", [list(m) for m in self.moves]), ("seconds", round(self.seconds, 3)))


def align_top_variants(replay, sop, k: int, time_budget: float) -> tuple[tuple[VariantAlignment, ...], str]:
    """Align the k most frequent variants of a replay on the SOP's net within time_budget seconds.

    Returns the alignments done and a note (empty when all k were aligned).
    """
    if k < 0:
        raise AnalysisError(f"The number of variants to align must be 0 or more, got {k}", field="k")
    if time_budget <= 0:
        raise AnalysisError(f"The time budget of the alignments must be more than 0 seconds, got {time_budget}",
                            field="time_budget")
    if k == 0 or replay.n_variants == 0:
        return (), ""
    from pm4py.algo.conformance.alignments.petri_net import algorithm as alignments
    from pm4py.objects.log.obj import Event, Trace

    from engine.model.workflow_net import to_pm4py

    order = np.lexsort((np.arange(replay.n_variants), -replay.weight))[:k]
    net, im, fm = to_pm4py(sop.net, sop.initial_marking, sop.final_marking)
    label_map = sop.label_map
    start = time.perf_counter()
    out = []
    note = ""
    for rank, v in enumerate(order, start=1):
        left = time_budget - (time.perf_counter() - start)
        if left <= 0:
            note = f"time budget of {time_budget:g} s reached after {len(out)} of {len(order)} variants"
            break
        acts = tuple(replay.activities[c] for c in replay.codes[replay.offsets[v]:replay.offsets[v + 1]])
        trace = Trace([Event({"concept:name": label_map.get(a, a)}) for a in acts])
        params = {alignments.Parameters.PARAM_MAX_ALIGN_TIME_TRACE: left,
                  alignments.Parameters.SHOW_PROGRESS_BAR: False}
        t0 = time.perf_counter()
        res = alignments.apply_trace(trace, net, im, fm, parameters=params)
        spent = time.perf_counter() - t0
        if res is None or res.get("alignment") is None:
            note = (f"time budget of {time_budget:g} s reached while aligning variant {rank} "
                    f"({len(acts)} events); {len(out)} of {len(order)} variants aligned")
            break
        moves = tuple((str(a), str(b)) for a, b in res["alignment"])
        devs = []
        for log_move, model_move in res["alignment"]:
            if log_move != ">>" and model_move == ">>":
                devs.append(f"inserted: {log_move}")
            elif log_move == ">>" and model_move not in (">>", None):
                devs.append(f"skipped: {model_move}")
        cost = int(res["cost"] // 10000)  # pm4py's standard cost: 10000 per move on log or model only
        out.append(VariantAlignment(rank=rank, contacts=int(replay.weight[v]), activities=acts, cost=cost,
                                    fitness=float(res["fitness"]), moves=moves, deviations=tuple(devs),
                                    seconds=spent))
    return tuple(out), note


def align_conformance(result, sop, k: int, time_budget: float):
    """The conformance result with the alignments of its k most frequent variants (and the note)."""
    from dataclasses import replace

    if result.replay is None:
        raise AnalysisError("This conformance result has no variants to align (it was merged from parts)",
                            hint="Align the variants of one part")
    aligned, note = align_top_variants(result.replay, sop, k, time_budget)
    return replace(result, alignments=aligned, alignment_note=note)
