"""Conformance of a log against an SOP by token-based replay (pm4py's semantics, numba kernel).

``compile_net`` turns a pm4py Petri net into the arrays of ``engine.kernels.replay``;
``replay_tokens`` replays every variant of an encoded log once and weights it by its
count; ``check_conformance`` adds the audit view: deviations per SOP step (skipped,
inserted, unknown activity, out of order) per segment with evidence, compliance
consistency per team, worst variants.

Fitness is pm4py's, per trace and for the log:
``0.5 * (1 - missing / consumed) + 0.5 * (1 - remaining / produced)``, the log value
from the token totals. pm4py ignores activities that are not in the model, so a
trace made only of unknown activities scores 1.0 (pm4py issue #435). cxmine counts
them apart (``unknown``) and defines an *audit fitness* that replays each unknown
event as a transition disconnected from the SOP: it consumes a token that is
missing and produces one that remains, so
``audit = 0.5 * (1 - (missing + u) / (consumed + u)) + 0.5 * (1 - (remaining + u) / (produced + u))``.
With ``unknown_as_deviation=False`` the audit fitness equals pm4py's.
"""

from __future__ import annotations

from copy import copy
from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np

from engine.errors import AnalysisError, ModelError

CHOICES = {"name": 0, "pm4py": 1}
MAX_REC_DEPTH = 50  # pm4py's TechnicalParameters.MAX_REC_DEPTH for shortest invisible paths


@dataclass(frozen=True)
class CompiledNet:
    """A Petri net as the replay kernel's arrays, with the names to read its results."""

    arrays: tuple
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
        return sorted(node.out_arcs, key=lambda a: (a.target.name, str(a.target.label)))

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


def compile_net(net, initial_marking, final_marking, *,
                choice: Literal["name", "pm4py"] = "name") -> CompiledNet:
    """Compile a pm4py Petri net for ``replay_tokens``.

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
    if choice == "name":
        transitions = sorted(trans_iter, key=lambda t: (t.name, str(t.label)))
    else:
        transitions = trans_iter
    tidx = {t: i for i, t in enumerate(transitions)}
    n_t, n_p = len(transitions), len(places)

    def csr(arcs_of):
        ptr = np.zeros(n_t + 1, dtype=np.int64)
        place, weight = [], []
        for i, t in enumerate(transitions):
            arcs = list(arcs_of(t))
            if choice == "name":
                arcs.sort(key=lambda a: (a.source.name if arcs_of is _in_arcs else a.target.name))
            for a in arcs:
                node = a.source if arcs_of is _in_arcs else a.target
                place.append(pidx[node])
                weight.append(int(a.weight))
            ptr[i + 1] = len(place)
        return ptr, np.array(place, dtype=np.int32), np.array(weight, dtype=np.int64)

    pre_ptr, pre_place, pre_w = csr(_in_arcs)
    post_ptr, post_place, post_w = csr(_out_arcs)
    labels = tuple(sorted({t.label for t in transitions if t.label is not None}))
    lid = {lab: i for i, lab in enumerate(labels)}
    label = np.array([lid[t.label] if t.label is not None else -1 for t in transitions], dtype=np.int32)
    lab_ptr = np.zeros(len(labels) + 1, dtype=np.int64)
    lab_trans = []
    for i, lab in enumerate(labels):
        lab_trans += [tidx[t] for t in transitions if t.label == lab]
        lab_ptr[i + 1] = len(lab_trans)
    # pm4py's trans_map: transitions sorted by name, the last one of each label wins
    default = {}
    for t in sorted(trans_iter, key=lambda x: x.name):
        default[t.label] = t
    default_trans = np.array([tidx[default[lab]] for lab in labels], dtype=np.int32)
    order_by_name = sorted(range(n_t), key=lambda i: (transitions[i].name, str(transitions[i].label)))
    trans_rank = np.empty(n_t, dtype=np.int32)
    trans_rank[order_by_name] = np.arange(n_t, dtype=np.int32)
    hashes = np.array([hash(t) for t in trans_iter], dtype=np.int64)
    trans_hash = np.empty(n_t, dtype=np.int64)
    trans_hash[[tidx[t] for t in trans_iter]] = hashes
    iter_order = np.array([tidx[t] for t in (trans_iter if choice == "pm4py" else transitions)], dtype=np.int32)
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
    spaths = _shortest_invisible_paths(net, choice)
    spath = np.full((n_p, n_p), -1, dtype=np.int32)
    path_ptr = [0]
    path_trans: list[int] = []
    for p1, row in spaths.items():
        for p2, seq in row.items():
            spath[pidx[p1], pidx[p2]] = len(path_ptr) - 1
            path_trans += [tidx[t] for t in seq]
            path_ptr.append(len(path_trans))
    arrays = (pre_ptr, pre_place, pre_w, post_ptr, post_place, post_w, label, lab_ptr,
              np.array(lab_trans, dtype=np.int32), default_trans, iter_order, trans_hash, trans_rank, im, fm,
              im_stamp, spath, np.array(path_ptr, dtype=np.int64), np.array(path_trans, dtype=np.int32))
    return CompiledNet(arrays=arrays, place_names=tuple(names), transition_names=tuple(t.name for t in transitions),
                       transition_labels=tuple(t.label for t in transitions), labels=labels,
                       choice=CHOICES[choice])


def _in_arcs(t):
    return t.in_arcs


def _out_arcs(t):
    return t.out_arcs


@dataclass(frozen=True)
class Replay:
    """Token replay of every variant, and the variant of every case.

    Per variant v (ordered by first occurrence in the log): ``counts[v]`` = missing,
    consumed, remaining, produced, unknown events; ``fitness[v]`` pm4py's trace fitness;
    ``audit_fitness[v]``; ``is_fit[v]`` pm4py's trace_is_fit; ``weight[v]`` cases.
    Per event of the variants' CSR (``offsets``, ``codes`` = log activity codes):
    status (kernels.replay.EVENT_*), fired transition, missing tokens, skipped steps.
    """

    net: CompiledNet
    activities: tuple[str, ...]
    offsets: np.ndarray
    codes: np.ndarray
    weight: np.ndarray
    case_variant: np.ndarray
    first_case: np.ndarray
    counts: np.ndarray
    is_fit: np.ndarray
    fitness: np.ndarray
    audit_fitness: np.ndarray
    fired: np.ndarray
    remaining_places: np.ndarray
    ev_status: np.ndarray
    ev_trans: np.ndarray
    ev_missing: np.ndarray
    ev_skips: np.ndarray
    end_skips: np.ndarray
    unknown_as_deviation: bool = True
    unknown_activities: tuple[str, ...] = field(default_factory=tuple)

    @property
    def n_variants(self) -> int:
        return len(self.weight)

    def totals(self) -> dict[str, int]:
        w = self.weight.astype(np.int64)
        tot = (self.counts * w[:, None]).sum(axis=0)
        return {"missing": int(tot[0]), "consumed": int(tot[1]), "remaining": int(tot[2]),
                "produced": int(tot[3]), "unknown": int(tot[4])}

    @property
    def log_fitness(self) -> float:
        t = self.totals()
        return _fitness(t["missing"], t["consumed"], t["remaining"], t["produced"])

    @property
    def log_audit_fitness(self) -> float:
        t = self.totals()
        u = t["unknown"] if self.unknown_as_deviation else 0
        return _fitness(t["missing"] + u, t["consumed"] + u, t["remaining"] + u, t["produced"] + u)

    def trace_table(self) -> dict[str, np.ndarray]:
        """Per case (log order): pm4py's columns plus unknown and audit fitness."""
        v = self.case_variant
        return {"missing": self.counts[v, 0], "consumed": self.counts[v, 1], "remaining": self.counts[v, 2],
                "produced": self.counts[v, 3], "unknown": self.counts[v, 4], "is_fit": self.is_fit[v],
                "fitness": self.fitness[v], "audit_fitness": self.audit_fitness[v]}


def _fitness(missing, consumed, remaining, produced) -> float:
    if consumed > 0 and produced > 0:
        return 0.5 * (1.0 - float(missing) / float(consumed)) + 0.5 * (1.0 - float(remaining) / float(produced))
    return 1.0


def _fitness_array(m, c, r, p) -> np.ndarray:
    out = np.ones(len(m), dtype=np.float64)
    ok = (c > 0) & (p > 0)
    out[ok] = 0.5 * (1.0 - m[ok] / c[ok]) + 0.5 * (1.0 - r[ok] / p[ok])
    return out


def replay_tokens(case_offsets: np.ndarray, activity_codes: np.ndarray, activities: Sequence[str],
                  net: CompiledNet, *, label_map: dict[str, str] | None = None,
                  unknown_as_deviation: bool = True) -> Replay:
    """Replay the log (CSR of activity codes into ``activities``) on the compiled net.

    Each variant is replayed once and weighted by its number of cases. ``label_map`` maps
    log labels to transition labels (identity for labels not listed).
    """
    from engine.kernels.replay import replay_variants
    from engine.kernels.variants import assign_variants, gather_sequences, hash_cases

    case_offsets = np.ascontiguousarray(case_offsets, dtype=np.int64)
    activity_codes = np.ascontiguousarray(activity_codes, dtype=np.int32)
    if len(case_offsets) == 0 or case_offsets[0] != 0 or case_offsets[-1] != len(activity_codes):
        raise AnalysisError("Case offsets do not cover the activity codes", hint="Encode the log with encode_log")
    n_cases = len(case_offsets) - 1
    label_map = label_map or {}
    act_to_label = np.array([net.label_id(label_map.get(a, a)) for a in activities] + [-1], dtype=np.int32)
    unknown = tuple(a for a, k in zip(activities, act_to_label[:-1]) if k < 0)
    if n_cases:
        case_variant, first_case = assign_variants(case_offsets, activity_codes,
                                                   hash_cases(case_offsets, activity_codes))
        offsets, codes = gather_sequences(case_offsets, activity_codes, first_case)
        weight = np.bincount(case_variant, minlength=len(first_case)).astype(np.int64)
    else:
        case_variant = np.zeros(0, dtype=np.int32)
        first_case = np.zeros(0, dtype=np.int64)
        offsets, codes = np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32)
        weight = np.zeros(0, dtype=np.int64)
    codes = np.ascontiguousarray(codes, dtype=np.int32)
    label_codes = act_to_label[codes] if len(codes) else np.zeros(0, dtype=np.int32)
    (counts, is_fit, fired, rem_place, ev_status, ev_trans, ev_missing, ev_skips,
     end_skips) = replay_variants(net.arrays, offsets, label_codes, net.choice)
    fitness = _fitness_array(counts[:, 0], counts[:, 1], counts[:, 2], counts[:, 3])
    u = counts[:, 4] if unknown_as_deviation else np.zeros(len(counts), dtype=np.int64)
    audit = _fitness_array(counts[:, 0] + u, counts[:, 1] + u, counts[:, 2] + u, counts[:, 3] + u)
    return Replay(net=net, activities=tuple(activities), offsets=offsets, codes=codes, weight=weight,
                  case_variant=case_variant, first_case=first_case, counts=counts, is_fit=is_fit,
                  fitness=fitness, audit_fitness=audit, fired=fired, remaining_places=rem_place,
                  ev_status=ev_status, ev_trans=ev_trans, ev_missing=ev_missing, ev_skips=ev_skips,
                  end_skips=end_skips, unknown_as_deviation=unknown_as_deviation, unknown_activities=unknown)


def replay_traces(traces: Sequence[Sequence[str]], net: CompiledNet, **kwargs) -> Replay:
    """Replay a list of traces (activity names); convenient for tests and small inputs."""
    activities = sorted({a for tr in traces for a in tr})
    pos = {a: i for i, a in enumerate(activities)}
    offsets = np.zeros(len(traces) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(t) for t in traces])
    codes = np.array([pos[a] for tr in traces for a in tr], dtype=np.int32)
    return replay_tokens(offsets, codes, activities, net, **kwargs)
