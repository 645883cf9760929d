"""Token-based replay of an encoded log on an SOP's compiled net (pm4py's semantics, numba kernel).

``replay_tokens`` replays every variant of an encoded log once and weights it
by its count; the ``Replay`` it returns holds pm4py's token counts and fitness
per variant and, per event, what the kernel found (engine.kernels.replay).

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

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from engine.errors import AnalysisError
from engine.model.petri_net import CompiledNet

N_CHUNKS = 16       # variants are replayed in this many chunks on threads
LOCATE_CHUNKS = 2   # fewer when locating: each chunk remembers its searches for its own variants


@dataclass(frozen=True)
class Replay:
    """Token replay of every variant, and the variant of every case.

    Per variant v (ordered by first occurrence in the log): ``counts[v]`` = missing,
    consumed, remaining, produced, unknown events; ``fitness[v]`` pm4py's trace fitness;
    ``audit_fitness[v]``; ``is_fit[v]`` pm4py's trace_is_fit; ``weight[v]`` cases.
    Per event of the variants' CSR (``offsets``, ``codes`` = log activity codes):
    status (kernels.replay.EVENT_*), fired transition, missing tokens, skipped steps; per variant,
    steps skipped at the end (``end_skips``) and, if the contact ended early, the transition of
    the step due next (``ended``, -1 otherwise).
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
    ended: np.ndarray
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
        return fitness_of(t["missing"], t["consumed"], t["remaining"], t["produced"])

    @property
    def log_audit_fitness(self) -> float:
        t = self.totals()
        u = t["unknown"] if self.unknown_as_deviation else 0
        return fitness_of(t["missing"] + u, t["consumed"] + u, t["remaining"] + u, t["produced"] + u)

    def trace_table(self) -> dict[str, np.ndarray]:
        """Per case (log order): pm4py's columns plus unknown and audit fitness."""
        v = self.case_variant
        return {"missing": self.counts[v, 0], "consumed": self.counts[v, 1], "remaining": self.counts[v, 2],
                "produced": self.counts[v, 3], "unknown": self.counts[v, 4], "is_fit": self.is_fit[v],
                "fitness": self.fitness[v], "audit_fitness": self.audit_fitness[v]}


def fitness_of(missing, consumed, remaining, produced) -> float:
    """pm4py's fitness of token counts (1.0 when nothing was consumed or produced)."""
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
     end_skips, ended) = _replay_distinct(net, offsets, label_codes, locate)
    fitness = _fitness_array(counts[:, 0], counts[:, 1], counts[:, 2], counts[:, 3])
    u = counts[:, 4] if unknown_as_deviation else np.zeros(len(counts), dtype=np.int64)
    audit = _fitness_array(counts[:, 0] + u, counts[:, 1] + u, counts[:, 2] + u, counts[:, 3] + u)
    return Replay(net=net, activities=tuple(activities), offsets=offsets, codes=codes, weight=weight,
                  case_variant=case_variant, first_case=first_case, counts=counts, is_fit=is_fit,
                  fitness=fitness, audit_fitness=audit, fired=fired, remaining_places=rem_place,
                  ev_status=ev_status, ev_trans=ev_trans, ev_missing=ev_missing, ev_skips=ev_skips,
                  end_skips=end_skips, ended=ended, unknown_as_deviation=unknown_as_deviation, unknown_activities=unknown)


def _replay_distinct(net: CompiledNet, offsets: np.ndarray, label_codes: np.ndarray, locate: bool):
    """The replay kernel's results for every variant, replaying each distinct sequence of model
    activities once.

    Events of activities that are not in the model take no part in the replay (pm4py ignores them;
    they are counted apart), so variants that differ only in them replay alike: on long-tailed logs
    a few times fewer sequences than variants. Each variant gets its sequence's results, its own
    unknown events back in place (status EVENT_UNKNOWN, no transition) and its own count of them.
    """
    from engine.kernels.replay import EVENT_UNKNOWN, drop_unknown, event_sources
    from engine.kernels.variants import assign_variants, gather_sequences, hash_cases

    if len(offsets) == 1:
        return _replay_chunks(net, offsets, label_codes, locate)
    k_offsets, k_codes = drop_unknown(offsets, label_codes)
    group, first = assign_variants(k_offsets, k_codes, hash_cases(k_offsets, k_codes))
    g_offsets, g_codes = gather_sequences(k_offsets, k_codes, first)
    (counts, is_fit, fired, rem_place, ev_status, ev_trans, ev_missing, ev_skips, end_skips,
     ended) = _replay_chunks(net, g_offsets, g_codes, locate)
    src, n_unknown = event_sources(offsets, label_codes, group, g_offsets)
    counts = counts[group]
    counts[:, 4] = n_unknown
    ev_status = np.append(ev_status, np.int8(EVENT_UNKNOWN))[src]
    ev_trans = np.append(ev_trans, np.int32(-1))[src]
    ev_missing = np.append(ev_missing, np.int32(0))[src]
    ev_skips = np.concatenate([ev_skips, np.full((1, ev_skips.shape[1]), -1, dtype=ev_skips.dtype)])[src]
    return (counts, is_fit[group], fired[group], rem_place[group], ev_status, ev_trans, ev_missing, ev_skips,
            end_skips[group], ended[group])


def _replay_chunks(net: CompiledNet, offsets: np.ndarray, label_codes: np.ndarray, locate: bool):
    """Run the replay kernel on contiguous chunks of variants on threads and join the results.

    Each variant is replayed on its own, so the result does not depend on the number of threads.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    from engine.kernels.replay import replay_variants

    n_v = len(offsets) - 1
    n_chunks = max(1, min(N_CHUNKS if not locate else LOCATE_CHUNKS, n_v // 64))
    # chunks of about as many events each (variants in order of first occurrence), so threads finish together
    bounds = np.searchsorted(offsets, np.linspace(0, offsets[-1], n_chunks + 1)).astype(np.int64)
    bounds[0], bounds[-1] = 0, n_v
    bounds = np.unique(bounds) if n_chunks > 1 else bounds
    n_chunks = len(bounds) - 1

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


