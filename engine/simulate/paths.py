"""Paths through an SOP: playout variants with their probabilities, and the SOP's language.

``build_paths`` turns an SOP's Petri net into

- the *variants* a contact can follow (visible task sequences), each with a
  probability, by exhaustive playout: from the initial marking every enabled
  transition is fired with a weight (its role's base weight, damped each time
  it has already fired in the trace, so loops end); paths that reach the final
  marking are kept, paths below ``min_probability`` or longer than ``max_steps``
  are dropped and the rest renormalised. Every variant is a firing sequence of
  the net, so an undeviated contact is always a fitting trace of its SOP.
- a deterministic automaton of the net's visible language (reachability graph,
  closed under silent transitions, made deterministic), used to tell whether a
  changed trace is still one the SOP allows (``accept_traces``).

No randomness is used here: the same net always gives the same variants.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import ModelError
from engine.vocabulary import role_of

ROLE_WEIGHTS = {"escalate": 0.35, "transfer": 0.5, "hold": 0.6, "abandon": 0.12, "end": 1.0}
LOOP_DAMPING = 0.3
MAX_MARKINGS = 20000
MAX_NODES = 400000


@dataclass(frozen=True)
class Net:
    """A Petri net as plain tuples: place counts are tuples indexed like ``places``."""

    places: tuple[str, ...]
    labels: tuple[str | None, ...]          # per transition; None = silent
    pre: tuple[tuple[tuple[int, int], ...], ...]   # per transition: (place, weight)
    post: tuple[tuple[tuple[int, int], ...], ...]
    initial: tuple[int, ...]
    final: tuple[int, ...]


@dataclass(frozen=True)
class SopPaths:
    """Variants of one SOP (task-name sequences and probabilities) and its language automaton."""

    variants: tuple[tuple[str, ...], ...]
    probabilities: np.ndarray            # float64, sums to 1
    states: int                          # automaton states (state 0 = dead)
    start: int
    moves: dict[tuple[int, str], int]    # (state, task name) -> state
    accepting: frozenset[int]
    dropped_probability: float           # playout mass cut by min_probability / max_steps


def compile_net(net, initial_marking, final_marking) -> Net:
    places = sorted(net.places, key=lambda p: str(p.name))
    index = {id(p): i for i, p in enumerate(places)}
    transitions = sorted(net.transitions, key=lambda t: (str(t.name), str(t.label)))
    labels, pre, post = [], [], []
    for t in transitions:
        labels.append(t.label)
        pre.append(tuple(sorted((index[id(a.source)], int(a.weight)) for a in t.in_arcs)))
        post.append(tuple(sorted((index[id(a.target)], int(a.weight)) for a in t.out_arcs)))

    def vec(marking) -> tuple[int, ...]:
        m = [0] * len(places)
        for p, c in marking.items():
            m[index[id(p)]] += int(c)
        return tuple(m)

    return Net(tuple(str(p.name) for p in places), tuple(labels), tuple(pre), tuple(post),
               vec(initial_marking), vec(final_marking))


def _enabled(net: Net, m: tuple[int, ...]) -> list[int]:
    return [t for t, pre in enumerate(net.pre) if all(m[p] >= w for p, w in pre)]


def _fire(net: Net, m: tuple[int, ...], t: int) -> tuple[int, ...]:
    out = list(m)
    for p, w in net.pre[t]:
        out[p] -= w
    for p, w in net.post[t]:
        out[p] += w
    return tuple(out)


def _base_weight(label: str | None, role_overrides: dict[str, str] | None) -> float:
    if label is None:
        return 1.0
    return ROLE_WEIGHTS.get(role_of(label, role_overrides), 1.0)


def enumerate_variants(net: Net, *, min_probability: float = 2e-4, max_steps: int = 60,
                       role_overrides: dict[str, str] | None = None, name: str = "SOP"
                       ) -> tuple[list[tuple[str, ...]], np.ndarray, float]:
    """Exhaustive weighted playout; returns variants, their probabilities and the mass dropped."""
    n_t = len(net.labels)
    base = [_base_weight(lbl, role_overrides) for lbl in net.labels]
    found: dict[tuple[str, ...], float] = {}
    stack = [(net.initial, (), 1.0, (0,) * n_t, 0)]
    nodes = 0
    while stack:
        m, seq, prob, fired, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise ModelError(f"SOP '{name}' has too many paths to simulate (over {MAX_NODES} playout states)",
                             hint="Simplify its parallel blocks or loops")
        if m == net.final:
            found[seq] = found.get(seq, 0.0) + prob
            continue
        if depth >= max_steps:
            continue
        enabled = _enabled(net, m)
        if not enabled:
            continue
        weights = [base[t] * LOOP_DAMPING ** fired[t] for t in enabled]
        total = sum(weights)
        for t, w in zip(reversed(enabled), reversed(weights)):
            p = prob * w / total
            if p < min_probability:
                continue
            f = list(fired)
            f[t] += 1
            lbl = net.labels[t]
            stack.append((_fire(net, m, t), seq if lbl is None else seq + (lbl,), p, tuple(f), depth + 1))
    if not found:
        raise ModelError(f"SOP '{name}' has no path from its start to its end within {max_steps} steps",
                         hint="Check that every gateway joins and the end event is reachable")
    kept = sum(found.values())
    variants = sorted(found, key=lambda s: (-found[s], s))
    probs = np.array([found[v] for v in variants], dtype=np.float64)
    probs /= probs.sum()
    return variants, probs, max(0.0, 1.0 - kept)


def build_language(net: Net, name: str = "SOP") -> tuple[int, int, dict[tuple[int, str], int], frozenset[int]]:
    """Deterministic automaton of the net's visible language (state 0 is the dead state)."""
    markings = {net.initial: 0}
    order = [net.initial]
    edges: list[list[tuple[str | None, int]]] = []
    i = 0
    while i < len(order):
        m = order[i]
        out = []
        for t in _enabled(net, m):
            m2 = _fire(net, m, t)
            if m2 not in markings:
                if len(markings) >= MAX_MARKINGS:
                    raise ModelError(f"SOP '{name}' has more than {MAX_MARKINGS} reachable states",
                                     hint="The net may be unbounded; check its loops")
                markings[m2] = len(order)
                order.append(m2)
            out.append((net.labels[t], markings[m2]))
        edges.append(out)
        i += 1
    final = markings.get(net.final)

    def closure(states: frozenset[int]) -> frozenset[int]:
        todo, seen = list(states), set(states)
        while todo:
            s = todo.pop()
            for lbl, s2 in edges[s]:
                if lbl is None and s2 not in seen:
                    seen.add(s2)
                    todo.append(s2)
        return frozenset(seen)

    start_set = closure(frozenset([0]))
    dfa_index = {start_set: 1}
    dfa_order = [start_set]
    moves: dict[tuple[int, str], int] = {}
    j = 0
    while j < len(dfa_order):
        group = dfa_order[j]
        by_label: dict[str, set[int]] = {}
        for s in sorted(group):
            for lbl, s2 in edges[s]:
                if lbl is not None:
                    by_label.setdefault(lbl, set()).add(s2)
        for lbl in sorted(by_label):
            target = closure(frozenset(by_label[lbl]))
            if target not in dfa_index:
                dfa_index[target] = len(dfa_order) + 1
                dfa_order.append(target)
            moves[(j + 1, lbl)] = dfa_index[target]
        j += 1
    accepting = frozenset(k + 1 for k, g in enumerate(dfa_order) if final is not None and final in g)
    return len(dfa_order) + 1, 1, moves, accepting


def build_paths(net, initial_marking, final_marking, *, name: str = "SOP",
                role_overrides: dict[str, str] | None = None, min_probability: float = 2e-4,
                max_steps: int = 60) -> SopPaths:
    compiled = compile_net(net, initial_marking, final_marking)
    variants, probs, dropped = enumerate_variants(compiled, min_probability=min_probability, max_steps=max_steps,
                                                  role_overrides=role_overrides, name=name)
    states, start, moves, accepting = build_language(compiled, name)
    return SopPaths(tuple(variants), probs, states, start, moves, accepting, dropped)


def tabulate_language(paths: SopPaths, codes: dict[str, int], n_codes: int) -> tuple[np.ndarray, np.ndarray]:
    """The automaton as arrays over activity codes: table[state, code] -> state, accept[state]."""
    table = np.zeros((paths.states, n_codes), dtype=np.int32)
    for (s, lbl), s2 in paths.moves.items():
        if lbl in codes:
            table[s, codes[lbl]] = s2
    accept = np.zeros(paths.states, dtype=bool)
    accept[list(paths.accepting)] = True
    return table, accept


def accept_traces(table: np.ndarray, accept: np.ndarray, start: int, offsets: np.ndarray,
                  codes: np.ndarray) -> np.ndarray:
    """Whether each trace (CSR: offsets int64[n+1], codes int32[events]) is in the language.

    Runs the automaton position by position over all traces at once.
    """
    n = len(offsets) - 1
    lengths = np.diff(offsets)
    state = np.full(n, start, dtype=np.int32)
    if n == 0:
        return np.zeros(0, dtype=bool)
    max_len = int(lengths.max()) if n else 0
    for k in range(max_len):
        live = np.flatnonzero((lengths > k) & (state != 0))
        if not len(live):
            break
        state[live] = table[state[live], codes[offsets[live] + k]]
    return accept[state]
