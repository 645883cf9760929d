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
N_CHUNKS = 16       # variants are replayed in this many chunks on threads


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
                  unknown_as_deviation: bool = True, locate: bool = True) -> Replay:
    """Replay the log (CSR of activity codes into ``activities``) on the compiled net.

    Each variant is replayed once and weighted by its number of cases. ``label_map`` maps
    log labels to transition labels (identity for labels not listed). ``locate=False``
    gives pm4py's counts only, without locating deviations (faster on unfit logs).
    """
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
     end_skips) = _replay_chunks(net, offsets, label_codes, locate)
    fitness = _fitness_array(counts[:, 0], counts[:, 1], counts[:, 2], counts[:, 3])
    u = counts[:, 4] if unknown_as_deviation else np.zeros(len(counts), dtype=np.int64)
    audit = _fitness_array(counts[:, 0] + u, counts[:, 1] + u, counts[:, 2] + u, counts[:, 3] + u)
    return Replay(net=net, activities=tuple(activities), offsets=offsets, codes=codes, weight=weight,
                  case_variant=case_variant, first_case=first_case, counts=counts, is_fit=is_fit,
                  fitness=fitness, audit_fitness=audit, fired=fired, remaining_places=rem_place,
                  ev_status=ev_status, ev_trans=ev_trans, ev_missing=ev_missing, ev_skips=ev_skips,
                  end_skips=end_skips, unknown_as_deviation=unknown_as_deviation, unknown_activities=unknown)


def _replay_chunks(net: CompiledNet, offsets: np.ndarray, label_codes: np.ndarray, locate: bool):
    """Run the replay kernel on contiguous chunks of variants on threads and join the results.

    Each variant is replayed on its own, so the result does not depend on the number of threads.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    from engine.kernels.replay import replay_variants

    n_v = len(offsets) - 1
    n_chunks = max(1, min(N_CHUNKS, n_v // 64))
    bounds = np.linspace(0, n_v, n_chunks + 1).astype(np.int64)

    def run(k):
        a, b = bounds[k], bounds[k + 1]
        sub = offsets[a:b + 1] - offsets[a]
        return replay_variants(net.arrays, sub, label_codes[offsets[a]:offsets[b]], net.choice, locate)

    if n_chunks == 1:
        return run(0)
    with ThreadPoolExecutor(max_workers=min(n_chunks, os.cpu_count() or 1)) as pool:
        parts = list(pool.map(run, range(n_chunks)))
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(len(parts[0])))


def replay_traces(traces: Sequence[Sequence[str]], net: CompiledNet, **kwargs) -> Replay:
    """Replay a list of traces (activity names); convenient for tests and small inputs."""
    activities = sorted({a for tr in traces for a in tr})
    pos = {a: i for i, a in enumerate(activities)}
    offsets = np.zeros(len(traces) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(t) for t in traces])
    codes = np.array([pos[a] for tr in traces for a in tr], dtype=np.int32)
    return replay_tokens(offsets, codes, activities, net, **kwargs)


# --- deviations per SOP step -------------------------------------------------------------------

KINDS = ("skipped", "inserted", "unknown", "out_of_order")
SEGMENTS = ("team", "site", "shift", "resource", "channel", "week")
COMPLIANCE_BY = ("team", "site", "shift")
_NS_PER_DAY = 86_400 * 1_000_000_000


@dataclass(frozen=True)
class VariantDeviations:
    """One row per deviation found in a variant: variant, event position (the event where it was
    found; for skips at the end, the last event), step name, kind index into KINDS."""

    variant: np.ndarray
    position: np.ndarray
    step: tuple[str, ...]
    kind: np.ndarray


def locate_deviations(replay: Replay) -> VariantDeviations:
    """Deviations of every variant, read from the kernel's per-event results."""
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


@dataclass(frozen=True)
class StepDeviation:
    step: str
    kind: str
    owner: str | None
    critical: bool
    contacts: int
    share: float
    impact: float
    examples: tuple[str, ...]


@dataclass(frozen=True)
class SegmentDeviation:
    attribute: str
    value: str
    step: str
    kind: str
    contacts: int
    examples: tuple[str, ...]


@dataclass(frozen=True)
class SegmentFitness:
    attribute: str
    value: str
    contacts: int
    fitness: float
    audit_fitness: float
    fit_share: float


@dataclass(frozen=True)
class Compliance:
    attribute: str
    value: str
    contacts: int
    compliant: int
    rate: float


@dataclass(frozen=True)
class WorstVariant:
    rank: int
    contacts: int
    fitness: float
    audit_fitness: float
    activities: tuple[str, ...]
    deviations: tuple[str, ...]
    example: str


@dataclass(frozen=True)
class ConformanceResult:
    """Everything ``cxmine conform`` reports; frozen, printable by the CLI, JSON-able by ``as_dict``."""

    sop: str
    contacts: int
    events: int
    variants: int
    log_fitness: float
    audit_fitness: float
    average_trace_fitness: float
    fit_share: float
    tokens: dict[str, int]
    unknown_as_deviation: bool
    unknown_activities: dict[str, int]
    steps: tuple[StepDeviation, ...]
    segment_deviations: tuple[SegmentDeviation, ...]
    segment_fitness: tuple[SegmentFitness, ...]
    compliance: tuple[Compliance, ...]
    compliance_spread: dict[str, dict[str, float]]
    worst_variants: tuple[WorstVariant, ...]
    critical_steps: tuple[str, ...]
    alignments: tuple = ()
    alignment_note: str = ""
    replay: Replay | None = field(default=None, repr=False, compare=False)
    deviations: CaseDeviations | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict:
        from dataclasses import asdict
        out = {k: getattr(self, k) for k in ("sop", "contacts", "events", "variants", "log_fitness",
                                              "audit_fitness", "average_trace_fitness", "fit_share", "tokens",
                                              "unknown_as_deviation", "unknown_activities", "critical_steps",
                                              "compliance_spread", "alignment_note")}
        out["steps"] = [asdict(s) for s in self.steps]
        counts: dict[str, dict[str, int]] = {}
        for s in self.steps:
            counts.setdefault(s.step, {})[s.kind] = s.contacts
        out["deviation_counts"] = counts
        out["segment_fitness"] = [asdict(s) for s in self.segment_fitness]
        out["segment_deviations"] = [asdict(s) for s in self.segment_deviations]
        out["compliance"] = [asdict(s) for s in self.compliance]
        out["worst_variants"] = [asdict(s) for s in self.worst_variants]
        out["alignments"] = [dict(a) for a in self.alignments]
        return out


def _case_values(codes: np.ndarray, case_offsets: np.ndarray) -> np.ndarray:
    """Per case: the code of its first event that has a value (-1 if none)."""
    n = len(case_offsets) - 1
    if n == 0:
        return np.zeros(0, dtype=np.int32)
    pos = np.where(codes >= 0, np.arange(len(codes)), len(codes))
    nonempty = case_offsets[:-1] < case_offsets[1:]
    first = np.full(n, len(codes), dtype=np.int64)
    first[nonempty] = np.minimum.reduceat(pos, case_offsets[:-1][nonempty])
    padded = np.concatenate((codes, [-1])).astype(np.int32)
    return padded[np.minimum(first, len(codes))]


def _week_codes(timestamps: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Per event: the Monday of its ISO week (UTC), as codes into sorted date labels."""
    days = timestamps // _NS_PER_DAY
    monday = days - ((days + 3) % 7)
    uniq, inv = np.unique(monday, return_inverse=True)
    labels = tuple(str(np.datetime64(int(d), "D")) for d in uniq)
    return inv.astype(np.int32), labels


def _examples(case_ids, cases: np.ndarray, n: int) -> tuple[str, ...]:
    return tuple(str(case_ids[int(c)]) for c in cases[:n])


def check_conformance(encoded, sop, *, by: Sequence[str] = (), examples: int = 5, unknown_as_deviation: bool = True,
                      choice: Literal["name", "pm4py"] = "name", worst: int = 10) -> ConformanceResult:
    """Replay an encoded log (``encode_log(..., with_case_ids=True)``) on an SOP and report deviations.

    ``sop``: an ``engine.sop.Sop``. ``by``: extra attributes to report fitness for (segment
    fitness is always given for team, site, shift, channel when present). Deviations are counted
    per step and kind over all contacts, and per team, site, shift, agent (resource), channel and
    ISO week, with up to ``examples`` contact ids each. A contact is compliant when no
    compliance-critical step was skipped or run out of order.
    """
    if examples < 0:
        raise AnalysisError(f"The number of examples must be 0 or more, got {examples}")
    net = compile_net(sop.net, sop.initial_marking, sop.final_marking, choice=choice)
    replay = replay_tokens(encoded.case_offsets, encoded.activity_codes, encoded.activities, net,
                           label_map=sop.label_map, unknown_as_deviation=unknown_as_deviation)
    n_cases = encoded.n_cases
    case_ids = encoded.case_ids.to_pylist() if encoded.case_ids is not None else [str(i) for i in range(n_cases)]
    found = locate_deviations(replay)
    if not unknown_as_deviation:
        keep = found.kind != 2
        found = VariantDeviations(variant=found.variant[keep], position=found.position[keep],
                                  step=tuple(s for s, k in zip(found.step, keep) if k), kind=found.kind[keep])
    dev = expand_deviations(replay, found, encoded.case_offsets)
    critical = frozenset(sop.critical)

    # steps x kinds, contacts affected (a contact counts once per step and kind)
    key = dev.case * (len(dev.steps) * len(KINDS)) + dev.step.astype(np.int64) * len(KINDS) + dev.kind
    uniq_key, first_idx = np.unique(key, return_index=True)
    u_case, u_step, u_kind = dev.case[first_idx], dev.step[first_idx], dev.kind[first_idx]
    steps_out = []
    sk = u_step.astype(np.int64) * len(KINDS) + u_kind
    for g in np.unique(sk):
        sel = np.flatnonzero(sk == g)
        step, kind = dev.steps[g // len(KINDS)], KINDS[g % len(KINDS)]
        n = len(sel)
        is_crit = step in critical
        owner = sop.owner_of.get(step)
        cost = sop.cost_per_minute.get(owner, 0.0) if owner else 0.0
        impact = n * (2.0 if is_crit else 1.0) * (1.0 + cost)
        steps_out.append(StepDeviation(step=step, kind=kind, owner=owner, critical=is_crit, contacts=n,
                                       share=n / n_cases if n_cases else 0.0, impact=round(impact, 4),
                                       examples=_examples(case_ids, u_case[sel], examples)))
    steps_out.sort(key=lambda s: (-s.impact, -s.contacts, s.step, s.kind))

    # per segment: the attribute at the event where the deviation was found
    seg_dev = []
    seg_codes = {name: encoded.attributes[name] for name in SEGMENTS if name in encoded.attributes}
    if len(encoded.timestamps):
        seg_codes["week"] = _week_codes(encoded.timestamps)
    for name, (codes, labels) in seg_codes.items():
        ev_val = codes[dev.event[first_idx]] if len(first_idx) else np.zeros(0, dtype=np.int32)
        k3 = (ev_val.astype(np.int64) + 1) * (len(dev.steps) * len(KINDS)) + sk
        for g in np.unique(k3):
            sel = np.flatnonzero(k3 == g)
            val = g // (len(dev.steps) * len(KINDS)) - 1
            rest = g % (len(dev.steps) * len(KINDS))
            seg_dev.append(SegmentDeviation(attribute=name, value=labels[val] if val >= 0 else "(none)",
                                            step=dev.steps[rest // len(KINDS)], kind=KINDS[rest % len(KINDS)],
                                            contacts=len(sel), examples=_examples(case_ids, u_case[sel], examples)))
    seg_dev.sort(key=lambda s: (s.attribute, -s.contacts, s.value, s.step, s.kind))

    # fitness per segment (the contact's first value of the attribute)
    tt = replay.trace_table()
    seg_fit = []
    fit_attrs = [a for a in dict.fromkeys(tuple(by) + ("team", "site", "shift", "channel"))]
    for name in fit_attrs:
        if name not in encoded.attributes:
            if name in by:
                raise AnalysisError(f"Attribute '{name}' is not in the log "
                                    f"(available: {', '.join(sorted(encoded.attributes)) or 'none'})",
                                    hint="Choose one of the available attributes for --by")
            continue
        codes, labels = encoded.attributes[name]
        cv = _case_values(codes, encoded.case_offsets)
        for val in np.unique(cv):
            sel = cv == val
            m, c, r, p, u = (tt[k][sel].sum() for k in ("missing", "consumed", "remaining", "produced", "unknown"))
            ua = u if unknown_as_deviation else 0
            seg_fit.append(SegmentFitness(attribute=name, value=labels[val] if val >= 0 else "(none)",
                                          contacts=int(sel.sum()), fitness=_fitness(m, c, r, p),
                                          audit_fitness=_fitness(m + ua, c + ua, r + ua, p + ua),
                                          fit_share=float(tt["is_fit"][sel].mean())))

    # compliance consistency: no critical step skipped or out of order
    crit_steps = np.array([s in critical for s in dev.steps] + [False], dtype=bool)
    breach = crit_steps[dev.step] & ((dev.kind == 0) | (dev.kind == 3)) if len(dev.step) else np.zeros(0, bool)
    non_compliant = np.zeros(n_cases, dtype=bool)
    non_compliant[dev.case[breach]] = True
    comp, spread = [], {}
    for name in COMPLIANCE_BY:
        if name not in encoded.attributes:
            continue
        codes, labels = encoded.attributes[name]
        cv = _case_values(codes, encoded.case_offsets)
        rates = []
        for val in np.unique(cv):
            sel = cv == val
            n = int(sel.sum())
            ok = int((~non_compliant[sel]).sum())
            comp.append(Compliance(attribute=name, value=labels[val] if val >= 0 else "(none)", contacts=n,
                                   compliant=ok, rate=ok / n if n else 1.0))
            if val >= 0:
                rates.append(ok / n)
        if rates:
            spread[name] = {"min": float(min(rates)), "max": float(max(rates)),
                            "range": float(max(rates) - min(rates)), "std": float(np.std(rates))}

    # worst variants: lowest audit fitness, then most contacts
    order = np.lexsort((-replay.weight, replay.audit_fitness))
    by_variant: dict[int, list[str]] = {}
    for v, s, k in zip(found.variant, found.step, found.kind):
        by_variant.setdefault(int(v), []).append(f"{KINDS[k]}: {s}")
    worst_out = []
    for rank, v in enumerate(order[:worst], start=1):
        if replay.audit_fitness[v] >= 1.0:
            break
        acts = tuple(replay.activities[c] for c in replay.codes[replay.offsets[v]:replay.offsets[v + 1]])
        worst_out.append(WorstVariant(rank=rank, contacts=int(replay.weight[v]), fitness=float(replay.fitness[v]),
                                      audit_fitness=float(replay.audit_fitness[v]), activities=acts,
                                      deviations=tuple(by_variant.get(int(v), ())),
                                      example=str(case_ids[int(replay.first_case[v])])))

    unknown_counts: dict[str, int] = {}
    if replay.unknown_activities:
        unk = np.isin(np.array(replay.activities, dtype=object), list(replay.unknown_activities))
        cnt = np.bincount(encoded.activity_codes, minlength=len(replay.activities))
        unknown_counts = {a: int(cnt[i]) for i, a in enumerate(replay.activities) if unk[i] and cnt[i]}
    totals = replay.totals()
    return ConformanceResult(
        sop=sop.name, contacts=n_cases, events=encoded.n_events, variants=replay.n_variants,
        log_fitness=replay.log_fitness, audit_fitness=replay.log_audit_fitness,
        average_trace_fitness=float(np.dot(replay.fitness, replay.weight) / n_cases) if n_cases else 1.0,
        fit_share=float(np.dot(replay.is_fit, replay.weight) / n_cases) if n_cases else 1.0,
        tokens=totals, unknown_as_deviation=unknown_as_deviation, unknown_activities=unknown_counts,
        steps=tuple(steps_out), segment_deviations=tuple(seg_dev), segment_fitness=tuple(seg_fit),
        compliance=tuple(comp), compliance_spread=spread, worst_variants=tuple(worst_out),
        critical_steps=tuple(sorted(critical)), replay=replay, deviations=dev)
