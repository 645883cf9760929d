"""The SOP's Petri net compiled into the plain arrays the replay kernel reads.

``compile_net`` takes a pm4py Petri net with its markings and returns a
``CompiledNet``: the arrays (``NetArrays``, a named tuple the numba kernel
reads field by field) and the names needed to read the kernel's results back
(places, transitions, labels). P places are indexed in name order, T
transitions in name order (``choice="name"``) or in the iteration order of the
net's transition set (``choice="pm4py"``), L labels in sorted order.
"""

from __future__ import annotations

from copy import copy
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

from engine.errors import AnalysisError, ModelError

CHOICES = {"name": 0, "pm4py": 1}
MAX_REC_DEPTH = 50  # pm4py's TechnicalParameters.MAX_REC_DEPTH for shortest invisible paths


class NetArrays(NamedTuple):
    """A Petri net as arrays; the replay kernel (engine.kernels.replay) reads these fields by name."""

    pre_ptr: np.ndarray        # int64[T+1]: CSR of each transition's input arcs (pm4py's arc order)
    pre_place: np.ndarray      # int32: input place of each arc
    pre_w: np.ndarray          # int64: weight of each input arc
    post_ptr: np.ndarray       # int64[T+1]: CSR of output arcs
    post_place: np.ndarray     # int32
    post_w: np.ndarray         # int64
    label: np.ndarray          # int32[T]: label id of each transition, -1 invisible
    lab_ptr: np.ndarray        # int64[L+1]: CSR of the transitions of each label
    lab_trans: np.ndarray      # int32
    default_trans: np.ndarray  # int32[L]: pm4py's fallback transition of each label (last by name)
    trans_iter: np.ndarray     # int32[T]: iteration order of the net's transition set
    trans_hash: np.ndarray     # int64[T]: Python hash of each transition (pm4py's set order)
    trans_rank: np.ndarray     # int32[T]: rank of each transition by name
    im: np.ndarray             # int64[P]: initial marking
    fm: np.ndarray             # int64[P]: final marking
    im_stamp: np.ndarray       # int64[P]: insertion order of the initial marking, -1 absent
    spath: np.ndarray          # int32[P, P]: shortest invisible path from place a to b, -1 none
    path_ptr: np.ndarray       # int64: CSR of the transitions of each shortest invisible path
    path_trans: np.ndarray     # int32


@dataclass(frozen=True)
class CompiledNet:
    """A Petri net as the replay kernel's arrays, with the names to read its results."""

    arrays: NetArrays
    place_names: tuple[str, ...]
    transition_names: tuple[str, ...]
    transition_labels: tuple[str | None, ...]
    labels: tuple[str, ...]
    choice: int

    @property
    def n_places(self) -> int:
        return len(self.place_names)

    @property
    def n_transitions(self) -> int:
        return len(self.transition_names)

    def label_id(self, label: str) -> int:
        try:
            return self.labels.index(label)
        except ValueError:
            return -1


def _shortest_invisible_paths(net, order: Literal["name", "pm4py"]) -> dict:
    """pm4py's get_places_shortest_path_by_hidden; with order="name" the depth-first walk visits
    arcs by name, so ties between equally short paths are settled the same way in every run."""
    if order == "pm4py":
        from pm4py.objects.petri_net.utils.petri_utils import get_places_shortest_path_by_hidden
        return get_places_shortest_path_by_hidden(net, MAX_REC_DEPTH)

    def arcs_out(node):
        return sorted(node.out_arcs, key=lambda a: (a.target.name, str(getattr(a.target, "label", ""))))

    paths: dict = {}

    def walk(start, current, actual, depth):
        if depth > MAX_REC_DEPTH:
            return
        paths.setdefault(start, {})
        for a in arcs_out(current):
            t = a.target
            if t.label is None:
                for a2 in arcs_out(t):
                    p2 = a2.target
                    if p2 not in paths[start] or len(actual) + 1 < len(paths[start][p2]):
                        new = copy(actual)
                        new.append(t)
                        paths[start][p2] = copy(new)
                        walk(start, p2, new, depth + 1)

    for p in sorted(net.places, key=lambda p: p.name):
        walk(p, p, [], 0)
    return paths


def _arcs(transitions, pidx, inputs: bool, by_name: bool):
    """CSR (ptr, place, weight) of the input (or output) arcs of every transition."""
    ptr = np.zeros(len(transitions) + 1, dtype=np.int64)
    place, weight = [], []
    for i, t in enumerate(transitions):
        arcs = list(t.in_arcs if inputs else t.out_arcs)
        if by_name:
            arcs.sort(key=lambda a: (a.source.name if inputs else a.target.name))
        for a in arcs:
            place.append(pidx[a.source if inputs else a.target])
            weight.append(int(a.weight))
        ptr[i + 1] = len(place)
    return ptr, np.array(place, dtype=np.int32), np.array(weight, dtype=np.int64)


def _labels(transitions, trans_iter, tidx):
    """Label ids: the sorted labels, each transition's label id, the transitions of each label,
    and pm4py's trans_map fallback (transitions sorted by name, the last one of each label wins)."""
    labels = tuple(sorted({t.label for t in transitions if t.label is not None}))
    lid = {lab: i for i, lab in enumerate(labels)}
    label = np.array([lid[t.label] if t.label is not None else -1 for t in transitions], dtype=np.int32)
    lab_ptr = np.zeros(len(labels) + 1, dtype=np.int64)
    lab_trans = []
    for i, lab in enumerate(labels):
        lab_trans += [tidx[t] for t in transitions if t.label == lab]
        lab_ptr[i + 1] = len(lab_trans)
    default = {}
    for t in sorted(trans_iter, key=lambda x: x.name):
        default[t.label] = t
    default_trans = np.array([tidx[default[lab]] for lab in labels], dtype=np.int32)
    return labels, label, lab_ptr, np.array(lab_trans, dtype=np.int32), default_trans


def _markings(initial_marking, final_marking, pidx):
    n_p = len(pidx)
    im = np.zeros(n_p, dtype=np.int64)
    fm = np.zeros(n_p, dtype=np.int64)
    im_stamp = np.full(n_p, -1, dtype=np.int64)
    for k, (p, c) in enumerate(initial_marking.items()):
        if p not in pidx:
            raise ModelError(f"Initial marking names place '{p.name}', which is not in the net")
        im[pidx[p]] = c
        im_stamp[pidx[p]] = k
    for p, c in final_marking.items():
        if p not in pidx:
            raise ModelError(f"Final marking names place '{p.name}', which is not in the net")
        fm[pidx[p]] = c
    if im.sum() == 0:
        raise ModelError("The Petri net has an empty initial marking", hint="Give the source place a token")
    return im, fm, im_stamp


def _invisible_paths(net, choice, pidx, tidx):
    spaths = _shortest_invisible_paths(net, choice)
    n_p = len(pidx)
    spath = np.full((n_p, n_p), -1, dtype=np.int32)
    path_ptr = [0]
    path_trans: list[int] = []
    for p1, row in spaths.items():
        for p2, seq in row.items():
            spath[pidx[p1], pidx[p2]] = len(path_ptr) - 1
            path_trans += [tidx[t] for t in seq]
            path_ptr.append(len(path_trans))
    return spath, np.array(path_ptr, dtype=np.int64), np.array(path_trans, dtype=np.int32)


def compile_net(net, initial_marking, final_marking, *,
                choice: Literal["name", "pm4py"] = "name") -> CompiledNet:
    """Compile a pm4py Petri net for ``engine.analyses.replay.replay_tokens``.

    ``choice`` settles what pm4py leaves to Python's set order: which of several enabled
    transitions with the same label fires, and which of equally short invisible paths is
    used. "pm4py" reproduces pm4py's choice for this very net object (in this process),
    for checking against pm4py; "name" decides by transition / place name, so the same
    SOP gives the same result in every run.
    """
    if choice not in CHOICES:
        raise AnalysisError(f"Unknown transition choice '{choice}' (valid: {', '.join(CHOICES)})")
    places = sorted(net.places, key=lambda p: p.name)
    names = [p.name for p in places]
    if len(set(names)) != len(names):
        raise ModelError("The Petri net has places with the same name; replay needs unique place names",
                         hint="Rename the places (BPMN element ids must be unique)")
    pidx = {p: i for i, p in enumerate(places)}
    trans_iter = list(net.transitions)
    by_name = choice == "name"
    transitions = sorted(trans_iter, key=lambda t: (t.name, str(t.label))) if by_name else trans_iter
    tidx = {t: i for i, t in enumerate(transitions)}
    n_t = len(transitions)
    pre_ptr, pre_place, pre_w = _arcs(transitions, pidx, True, by_name)
    post_ptr, post_place, post_w = _arcs(transitions, pidx, False, by_name)
    labels, label, lab_ptr, lab_trans, default_trans = _labels(transitions, trans_iter, tidx)
    order_by_name = sorted(range(n_t), key=lambda i: (transitions[i].name, str(transitions[i].label)))
    trans_rank = np.empty(n_t, dtype=np.int32)
    trans_rank[order_by_name] = np.arange(n_t, dtype=np.int32)
    trans_hash = np.empty(n_t, dtype=np.int64)
    trans_hash[[tidx[t] for t in trans_iter]] = np.array([hash(t) for t in trans_iter], dtype=np.int64)
    iter_order = np.array([tidx[t] for t in (transitions if by_name else trans_iter)], dtype=np.int32)
    im, fm, im_stamp = _markings(initial_marking, final_marking, pidx)
    spath, path_ptr, path_trans = _invisible_paths(net, choice, pidx, tidx)
    arrays = NetArrays(pre_ptr=pre_ptr, pre_place=pre_place, pre_w=pre_w, post_ptr=post_ptr,
                       post_place=post_place, post_w=post_w, label=label, lab_ptr=lab_ptr, lab_trans=lab_trans,
                       default_trans=default_trans, trans_iter=iter_order, trans_hash=trans_hash,
                       trans_rank=trans_rank, im=im, fm=fm, im_stamp=im_stamp, spath=spath, path_ptr=path_ptr,
                       path_trans=path_trans)
    return CompiledNet(arrays=arrays, place_names=tuple(names), transition_names=tuple(t.name for t in transitions),
                       transition_labels=tuple(t.label for t in transitions), labels=labels,
                       choice=CHOICES[choice])
