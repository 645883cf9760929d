"""Deviations from an SOP, located at a step: read from a token replay's per-event results.

Kinds (``KINDS``): *skipped* (a step the SOP requires did not run: remaining
tokens or an invisible bypass forced), *inserted* (executed where the SOP does
not allow it: missing tokens), *unknown* (an activity the SOP does not know),
*out_of_order* (ran before steps that the SOP puts first and that ran later),
*ended_early* (the contact stopped before the SOP's end; the step is the one due
next). Every trace whose fitness (or audit fitness) is below 1 has at least one.
``locate_deviations`` finds them once per variant; ``expand_deviations`` gives
each case its variant's deviations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.analyses.replay import Replay

KINDS = ("skipped", "inserted", "unknown", "out_of_order", "ended_early")


@dataclass(frozen=True)
class VariantDeviations:
    """One row per deviation found in a variant: variant, event position (the event where it was
    found; for skips at the end and for a contact that ended early, the last event), step name
    (for ``ended_early``, the step that was due next), kind index into KINDS."""

    variant: np.ndarray
    position: np.ndarray
    step: tuple[str, ...]
    kind: np.ndarray


def locate_deviations(replay: Replay) -> VariantDeviations:
    """Deviations of every variant, read from the kernel's per-event and per-variant results.

    Unknown activities are deviations only when the replay counts them so
    (``replay.unknown_as_deviation``)."""
    from engine.kernels.replay import EVENT_MISSING, EVENT_OUT_OF_ORDER, EVENT_SKIPPED, EVENT_UNKNOWN

    net = replay.net
    n_labels = len(net.labels)
    names = np.array(list(net.labels) + list(replay.activities), dtype=object)
    t_label = net.arrays.label.astype(np.int64)
    ev_variant = np.repeat(np.arange(replay.n_variants, dtype=np.int64), np.diff(replay.offsets))
    ev_pos = np.arange(len(replay.codes), dtype=np.int64) - replay.offsets[ev_variant]
    last = np.maximum(np.diff(replay.offsets) - 1, 0)
    st = replay.ev_status
    parts = []     # (order group, order key, sub-order, variant, position, step id, kind)

    def add(group, key, sub, variant, position, step, kind):
        parts.append((np.full(len(variant), group), key, sub, variant, position, step, np.full(len(variant), kind)))

    e = np.flatnonzero(st == EVENT_UNKNOWN)
    add(0, e, np.zeros(len(e)), ev_variant[e], ev_pos[e], n_labels + replay.codes[e].astype(np.int64), 2)
    e = np.flatnonzero(st == EVENT_MISSING)
    add(0, e, np.zeros(len(e)), ev_variant[e], ev_pos[e], t_label[replay.ev_trans[e]], 1)
    for status, kind in ((EVENT_SKIPPED, 0), (EVENT_OUT_OF_ORDER, 3)):
        for k in range(replay.ev_skips.shape[1]):
            e = np.flatnonzero((st == status) & (replay.ev_skips[:, k] >= 0))
            add(0, e, np.full(len(e), k), ev_variant[e], ev_pos[e], t_label[replay.ev_skips[e, k]], kind)
    for k in range(replay.end_skips.shape[1]):
        v = np.flatnonzero(replay.end_skips[:, k] >= 0)
        add(1, v, np.full(len(v), k), v, last[v], t_label[replay.end_skips[v, k]], 0)
    v = np.flatnonzero(replay.ended >= 0)
    add(2, v, np.zeros(len(v)), v, last[v], t_label[replay.ended[v]], 4)
    group, key, sub, variant, position, step, kind = (np.concatenate(c) for c in zip(*parts))
    order = np.lexsort((sub, key, group))
    variant, position, step, kind = variant[order], position[order], step[order], kind[order]
    # a skipped step that blocks several later events is found at each of them: report it once
    keep = np.ones(len(variant), dtype=bool)
    skip = np.flatnonzero(kind == 0)
    if len(skip):
        pair = variant[skip] * (n_labels + len(replay.activities)) + step[skip]
        keep[skip] = False
        keep[skip[np.unique(pair, return_index=True)[1]]] = True
    if not replay.unknown_as_deviation:
        keep &= kind != 2
    return VariantDeviations(variant=variant[keep], position=position[keep], step=tuple(names[step[keep]]),
                             kind=kind[keep].astype(np.int8))


@dataclass(frozen=True)
class CaseDeviations:
    """Deviations expanded to cases: case index, event index (global), step, kind (into KINDS)."""

    case: np.ndarray
    event: np.ndarray
    step: np.ndarray           # int32 index into steps
    steps: tuple[str, ...]
    kind: np.ndarray


@dataclass(frozen=True)
class DeviationIndex:
    """A VariantDeviations grouped by variant, for counting over cases without expanding them.

    ``steps``: the step names, sorted; ``ptr`` (int64[V+1]) is a CSR over the rows of every
    variant, ordered by event position, then as found; per row ``row`` (into the VariantDeviations),
    ``position``, ``step`` (int32 into steps) and ``kind``. ``first_ptr``, ``first_position``,
    ``first_key`` (step x len(KINDS) + kind): the same CSR keeping each variant's first row of each
    step and kind, so that a contact counts once per step and kind."""

    steps: tuple[str, ...]
    ptr: np.ndarray
    row: np.ndarray
    position: np.ndarray
    step: np.ndarray
    kind: np.ndarray
    first_ptr: np.ndarray
    first_position: np.ndarray
    first_key: np.ndarray

    @property
    def n_keys(self) -> int:
        return len(self.steps) * len(KINDS)


def index_deviations(found: VariantDeviations, n_variants: int) -> DeviationIndex:
    """Group the deviations found in each variant (see DeviationIndex)."""
    steps = tuple(sorted(set(found.step)))
    sidx = {s: i for i, s in enumerate(steps)}
    step_codes = np.array([sidx[s] for s in found.step], dtype=np.int32)
    variant = np.asarray(found.variant, dtype=np.int64)
    order = np.lexsort((np.arange(len(variant)), found.position, variant))
    bounds = np.arange(n_variants + 1)
    ptr = np.searchsorted(variant[order], bounds).astype(np.int64)
    key = step_codes[order].astype(np.int64) * len(KINDS) + found.kind[order]
    first = np.sort(np.unique(variant[order] * (len(steps) * len(KINDS)) + key, return_index=True)[1])
    return DeviationIndex(steps=steps, ptr=ptr, row=order, position=found.position[order].astype(np.int64),
                          step=step_codes[order], kind=found.kind[order],
                          first_ptr=np.searchsorted(variant[order][first], bounds).astype(np.int64),
                          first_position=found.position[order][first].astype(np.int64), first_key=key[first])


def expand_deviations(replay: Replay, found: VariantDeviations, case_offsets: np.ndarray,
                      index: DeviationIndex | None = None) -> CaseDeviations:
    """Every case of a variant gets that variant's deviations (rows by case, then event, then as found)."""
    from engine.kernels.deviations import expand_to_cases

    index = index if index is not None else index_deviations(found, replay.n_variants)
    case, event, row = expand_to_cases(np.ascontiguousarray(replay.case_variant),
                                       np.ascontiguousarray(case_offsets, dtype=np.int64), index.ptr, index.position)
    return CaseDeviations(case=case, event=event, step=index.step[row], steps=index.steps, kind=index.kind[row])
