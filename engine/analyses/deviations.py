"""Deviations from an SOP, located at a step: read from a token replay's per-event results.

Kinds (``KINDS``): *skipped* (a step the SOP requires did not run: remaining
tokens or an invisible bypass forced), *inserted* (executed where the SOP does
not allow it: missing tokens), *unknown* (an activity the SOP does not know),
*out_of_order* (ran before steps that the SOP puts first and that ran later).
``locate_deviations`` finds them once per variant; ``expand_deviations`` gives
each case its variant's deviations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.analyses.replay import Replay

KINDS = ("skipped", "inserted", "unknown", "out_of_order")


@dataclass(frozen=True)
class VariantDeviations:
    """One row per deviation found in a variant: variant, event position (the event where it was
    found; for skips at the end, the last event), step name, kind index into KINDS."""

    variant: np.ndarray
    position: np.ndarray
    step: tuple[str, ...]
    kind: np.ndarray


def locate_deviations(replay: Replay) -> VariantDeviations:
    """Deviations of every variant, read from the kernel's per-event results.

    Unknown activities are deviations only when the replay counts them so
    (``replay.unknown_as_deviation``)."""
    from engine.kernels.replay import (EVENT_MISSING, EVENT_OUT_OF_ORDER, EVENT_SKIPPED, EVENT_UNKNOWN)

    net = replay.net
    tl = net.transition_labels
    rows_v, rows_p, rows_s, rows_k = [], [], [], []
    ev_variant = np.repeat(np.arange(replay.n_variants, dtype=np.int64), np.diff(replay.offsets))
    ev_pos = np.arange(len(replay.codes), dtype=np.int64) - replay.offsets[ev_variant]
    for e in np.flatnonzero(replay.ev_status != 0):
        st = replay.ev_status[e]
        v, p = int(ev_variant[e]), int(ev_pos[e])
        if st == EVENT_UNKNOWN:
            rows_v.append(v), rows_p.append(p), rows_s.append(replay.activities[replay.codes[e]]), rows_k.append(2)
        elif st == EVENT_MISSING:
            rows_v.append(v), rows_p.append(p), rows_s.append(tl[replay.ev_trans[e]]), rows_k.append(1)
        elif st in (EVENT_SKIPPED, EVENT_OUT_OF_ORDER):
            kind = 0 if st == EVENT_SKIPPED else 3
            for t in replay.ev_skips[e]:
                if t >= 0:
                    rows_v.append(v), rows_p.append(p), rows_s.append(tl[t]), rows_k.append(kind)
    for v in np.flatnonzero(replay.end_skips[:, 0] >= 0):
        last = max(int(replay.offsets[v + 1] - replay.offsets[v]) - 1, 0)
        for t in replay.end_skips[v]:
            if t >= 0:
                rows_v.append(int(v)), rows_p.append(last), rows_s.append(tl[t]), rows_k.append(0)
    # a skipped step that blocks several later events is found at each of them: report it once
    seen, keep = set(), []
    for r, key in enumerate(zip(rows_v, rows_s, rows_k)):
        if key[2] == 0 and key in seen:
            continue
        seen.add(key)
        keep.append(r)
    if not replay.unknown_as_deviation:
        keep = [r for r in keep if rows_k[r] != 2]
    return VariantDeviations(variant=np.array([rows_v[r] for r in keep], dtype=np.int64),
                             position=np.array([rows_p[r] for r in keep], dtype=np.int64),
                             step=tuple(rows_s[r] for r in keep), kind=np.array([rows_k[r] for r in keep], dtype=np.int8))


@dataclass(frozen=True)
class CaseDeviations:
    """Deviations expanded to cases: case index, event index (global), step, kind (into KINDS)."""

    case: np.ndarray
    event: np.ndarray
    step: np.ndarray           # int32 index into steps
    steps: tuple[str, ...]
    kind: np.ndarray


def expand_deviations(replay: Replay, found: VariantDeviations, case_offsets: np.ndarray) -> CaseDeviations:
    """Every case of a variant gets that variant's deviations."""
    steps = tuple(sorted(set(found.step)))
    sidx = {s: i for i, s in enumerate(steps)}
    step_codes = np.array([sidx[s] for s in found.step], dtype=np.int32)
    order = np.argsort(replay.case_variant, kind="stable")
    starts = np.searchsorted(replay.case_variant[order], np.arange(replay.n_variants + 1))
    n_per = replay.weight[found.variant] if len(found.variant) else np.zeros(0, dtype=np.int64)
    row = np.repeat(np.arange(len(found.variant)), n_per)
    # position of each expanded row within its variant's case list
    first = np.repeat(starts[found.variant], n_per) if len(row) else np.zeros(0, dtype=np.int64)
    within = np.arange(len(row)) - np.repeat(np.concatenate(([0], np.cumsum(n_per)[:-1])), n_per) \
        if len(row) else np.zeros(0, dtype=np.int64)
    case = order[first + within].astype(np.int64)
    event = case_offsets[case] + found.position[row]
    ordering = np.lexsort((event, case))
    return CaseDeviations(case=case[ordering], event=event[ordering], step=step_codes[row][ordering],
                          steps=steps, kind=found.kind[row][ordering])

