"""Segments compared with the rest of the log: how each team, site, shift or channel works differently.

For every value of an attribute (a contact belongs to the first non-empty
value in it), the contacts of that value are compared with all other
contacts that have a value, on the same features as drift detection: the
share of contacts with each directly-follows edge (start and end markers
included), each activity and each variant.

- Test: a 2x2 G-test per edge (value against the rest), p-values adjusted by
  Bonferroni over the edges tested; a value's p-value is its smallest
  adjusted one. False-discovery control across the values of the attribute:
  Benjamini-Hochberg q-values; a value differs when q < ``alpha`` and an
  edge's share differs by |h| >= ``min_effect`` (Cohen's h), as in drift
  detection. Step-down: the most significant differing value is set aside
  and the others are tested again without it, until none differs, so the
  values that work alike are compared with each other (``compare_segments``).
- Distances: ``max_effect`` (the largest |h| over the edges tested) and
  ``variant_distance`` (total variation distance between the variant
  distributions: the share of contacts that would have to follow another
  variant to make the two alike).
- What differs: edges, activities and variants ranked by |h| (``Change`` with
  *before* = the rest of the log, *after* = this value), and with an SOP the
  token-replay fitness of the value and of the rest.

One kernel pass: the cases are put in order of their value (a stable
reordering of the encoded arrays), so each value is one window of
``engine.kernels.drift.count_windows``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.analyses.drift import (MIN_TESTED, Change, DriftSettings, chi2_log_sf, edge_label, effect_size,
                                   g_statistic, rank_changes, rank_variant_changes)
from engine.errors import AnalysisError
from engine.log.encode import EncodedLog


@dataclass(frozen=True)
class SegmentComparison:
    """One attribute value against the rest of the contacts that have a value."""

    attribute: str
    value: str
    n_cases: int
    n_rest: int
    differs: bool
    q_value: float
    max_effect: float
    variant_distance: float
    differences: tuple[Change, ...]
    fitness: dict | None = None

    def summary(self) -> str:
        text = f"{self.attribute} {self.value} ({self.n_cases:,} contacts)"
        if self.n_rest == 0:
            return text + ": no other value left to compare with"
        if not self.differs:
            return text + ": works like the rest"
        text += f" differs from the rest (q = {self.q_value:.2g}, variant distance {self.variant_distance:.1%})"
        if self.differences:
            c = self.differences[0]
            text += f": {c.kind} '{c.label}' in {c.share_after:.1%} of its contacts, {c.share_before:.1%} elsewhere"
        return text

    def as_dict(self) -> dict:
        return {"attribute": self.attribute, "value": self.value, "n_cases": self.n_cases, "n_rest": self.n_rest,
                "differs": self.differs, "q_value": self.q_value, "max_effect": self.max_effect,
                "variant_distance": self.variant_distance, "summary": self.summary(),
                "differences": [{"kind": c.kind, "label": c.label, "cases_rest": c.cases_before,
                                 "share_rest": c.share_before, "cases_segment": c.cases_after,
                                 "share_segment": c.share_after, "effect": c.effect, "p_value": c.p_value}
                                for c in self.differences],
                "fitness": self.fitness}


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values (monotone, capped at 1)."""
    p = np.asarray(p, dtype=np.float64)
    n = len(p)
    if n == 0:
        return p
    order = np.argsort(p, kind="stable")
    scaled = p[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(q, 1.0)
    return out


def _grouped(log: EncodedLog, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Case offsets and activity codes with the cases in ``order``."""
    lengths = np.diff(log.case_offsets)[order]
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    starts = log.case_offsets[:-1][order]
    events = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1], dtype=np.int64)
    return offsets, log.activity_codes[events]


@dataclass(frozen=True)
class _PerValue:
    """Counts per attribute value (rows): contacts, contacts with each edge, activity, variant; SOP tokens."""

    sizes: np.ndarray
    edges: np.ndarray
    activities: np.ndarray
    variants: np.ndarray
    tokens: np.ndarray | None


def _count_per_value(log: EncodedLog, codes: np.ndarray, n_values: int, keys: np.ndarray, first_case: np.ndarray,
                     case_variant: np.ndarray, tokens: np.ndarray | None) -> _PerValue:
    """One kernel pass over the cases put in order of their value (cases without a value first, left out)."""
    from engine.kernels.drift import count_windows
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes[codes >= 0], minlength=n_values)
    bounds = np.concatenate(([0], np.cumsum(np.concatenate(([np.count_nonzero(codes < 0)], sizes))))).astype(np.int64)
    offsets, acts = _grouped(log, order)
    edges, _, activities, _, variants = count_windows(offsets, acts, bounds, keys, len(log.activities),
                                                      case_variant[order].astype(np.int32), len(first_case))
    tok = None
    if tokens is not None:
        prefix = np.vstack([np.zeros((1, tokens.shape[1]), np.int64), np.cumsum(tokens[order], axis=0)])
        tok = prefix[bounds[2:]] - prefix[bounds[1:-1]]
    return _PerValue(sizes, edges[1:], activities[1:], variants[1:], tok)


def compare_segments(log: EncodedLog, attribute: str, settings: DriftSettings | None = None,
                     tokens: np.ndarray | None = None) -> list[SegmentComparison]:
    """Every value of ``attribute`` against the values that work alike, most different first.

    A step-down: all values are compared with the rest; the most different
    value that differs is set aside, and the others are compared again
    without it, until none differs. So when team B works differently, teams
    A, C and D are compared with each other, not with a rest that holds B.
    The value set aside first is the most significant (smallest q, then
    largest effect): with one odd group among alike ones, that is the odd
    group, whatever its size.
    ``tokens``: per case, token-replay counts and fitting flag on an SOP
    (``engine.analyses.drift.sop_tokens``), for the fitness of each value.
    """
    from engine.analyses.variants import assign_variants
    from engine.kernels.drift import edge_keys_present
    s = settings or DriftSettings()
    if attribute not in log.case_attributes:
        raise AnalysisError(f"Attribute '{attribute}' is not in the event log",
                            hint=f"Use one the log has: {', '.join(sorted(log.case_attributes)) or 'none'}")
    codes, labels = log.case_attributes[attribute]
    labels = [str(x) for x in (labels.to_pylist() if hasattr(labels, "to_pylist") else labels)]
    keys = edge_keys_present(log.case_offsets, log.activity_codes, len(log.activities))
    case_variant, first_case = assign_variants(log)
    per = _count_per_value(log, codes, len(labels), keys, first_case, case_variant, tokens)
    return compare_counts(attribute, labels, per, [edge_label(k, log.activities) for k in keys], log, first_case, s)


def compare_counts(attribute: str, labels: list[str], per: _PerValue, edge_labels: list[str], log: EncodedLog,
                   first_case: np.ndarray, s: DriftSettings) -> list[SegmentComparison]:
    """``compare_segments`` from the counts per value (``per``); ``log`` and ``first_case`` give the labels
    of the variants (each variant's first case) and of the activities."""
    pool, out = list(range(len(labels))), []
    while pool:
        rows = [_compare_value(attribute, labels[v], v, pool, per, edge_labels, log, first_case, s) for v in pool]
        q = benjamini_hochberg(np.array([r[0] for r in rows]))
        found = [SegmentComparison(**{**r[1], "q_value": float(qv),
                                      "differs": bool(qv < s.alpha and r[1]["max_effect"] >= s.min_effect)})
                 for r, qv in zip(rows, q)]
        differing = [i for i, c in enumerate(found) if c.differs]
        if not differing:
            out += found
            break
        top = min(differing, key=lambda i: (found[i].q_value, -found[i].max_effect))
        out.append(found[top])
        pool.pop(top)
    return sorted(out, key=lambda c: (not c.differs, -c.max_effect))


def _compare_value(attribute: str, value: str, v: int, pool: list[int], per: _PerValue, edge_labels: list[str],
                   log: EncodedLog, first_case: np.ndarray, s: DriftSettings) -> tuple[float, dict]:
    """(p-value of value ``v`` against the other values of ``pool``, the fields of its SegmentComparison but
    q_value and differs)."""
    others = [u for u in pool if u != v]
    n, n_rest = int(per.sizes[v]), int(per.sizes[others].sum())
    n_all = n + n_rest
    base = {"attribute": attribute, "value": value, "n_cases": n, "n_rest": n_rest, "max_effect": 0.0,
            "variant_distance": 0.0, "differences": (), "fitness": None}
    if n < MIN_TESTED or n_rest < MIN_TESTED:
        return 1.0, base
    kv, kr = per.edges[v], per.edges[others].sum(axis=0)
    total = kv + kr
    tested = np.flatnonzero((total >= MIN_TESTED) & (n_all - total >= MIN_TESTED))
    h = effect_size(kr / n_rest, kv / n)
    p = 1.0
    if len(tested):
        g = g_statistic(kr[tested], n_rest, kv[tested], n)
        p = min(1.0, math.exp(float(chi2_log_sf(g.max())) + math.log(len(tested))))
        base["max_effect"] = round(float(np.abs(h[tested]).max()), 4)
    vv, vr = per.variants[v], per.variants[others].sum(axis=0)
    base["variant_distance"] = round(float(0.5 * np.abs(vv / n - vr / n_rest).sum()), 4)
    changes = (rank_changes("edge", edge_labels, kr, n_rest, kv, n, s)
               + rank_changes("activity", list(log.activities), per.activities[others].sum(axis=0), n_rest,
                              per.activities[v], n, s)
               + rank_variant_changes(log, first_case, np.vstack([vr, vv]), s))
    base["differences"] = tuple(changes)
    if per.tokens is not None:
        mine, rest = per.tokens[v], per.tokens[others].sum(axis=0)
        base["fitness"] = {"fitness_segment": _pm4py_fitness(mine), "fitness_rest": _pm4py_fitness(rest),
                           "fitting_segment": round(float(mine[4] / n), 6),
                           "fitting_rest": round(float(rest[4] / n_rest), 6)}
    return p, base


def _pm4py_fitness(t: np.ndarray) -> float:
    m, c, r, p = (float(x) for x in t[:4])
    return round(0.5 * (1 - m / c) + 0.5 * (1 - r / p), 6) if c > 0 and p > 0 else 1.0
