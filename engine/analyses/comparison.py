"""Two groups of contacts compared: which paths, steps and variants are more or less common in one.

Groups are two values of a segment attribute (``team=A`` against ``team=B``)
or two periods (contacts whose first event falls in each date range). Every
row counts contacts, not events: the contacts of each group that took an edge
(directly-follows pair) at least once, that ran an activity, or that followed
a variant. For each row:

- shares ``p_a = n_a / N_a`` and ``p_b = n_b / N_b``, and their difference
  ``p_b - p_a`` (percentage points);
- effect size Cohen's h, ``2 asin(sqrt p_b) - 2 asin(sqrt p_a)`` (0.2 small,
  0.5 medium, 0.8 large);
- a two-sided two-proportion z-test (pooled variance), and its p-value
  corrected for the number of rows tested by Benjamini-Hochberg (false
  discovery rate), so "significant" (``q < alpha``) holds across the whole
  table, not one row at a time.

With an SOP, both groups are narrowed to the contacts the SOP applies to
(its sidecar's ``applies_to``, as for an SOP library), and each SOP task adds
two rows: the contacts that skipped it (kind ``skipped``) and that ran it out
of order (``out_of_order``), as engine.analyses.sop_execution counts them from
the token replay's located deviations. They are tested and corrected together
with the other rows, over the same contacts. With an SOP library, the groups
are narrowed to the contacts exactly one SOP applies to, each is checked
against its own SOP, and tasks of the same name in several SOPs share a row.

Rows are ordered by corrected p-value, then by absolute difference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from engine.analyses.variants import count_variants
from engine.errors import AnalysisError
from engine.log.encode import EncodedLog


@dataclass(frozen=True)
class Difference:
    """One edge, activity or variant, in both groups."""

    kind: str  # "edge", "activity", "variant", or with an SOP "skipped" and "out_of_order" (item: the task)
    item: tuple[str, ...]
    n_a: int
    n_b: int
    share_a: float
    share_b: float
    effect_h: float
    p_value: float
    q_value: float

    @property
    def change(self) -> float:
        return self.share_b - self.share_a

    def as_dict(self) -> dict:
        return {"kind": self.kind, "item": list(self.item), "contacts_a": self.n_a, "contacts_b": self.n_b,
                "share_a": self.share_a, "share_b": self.share_b, "change": self.change,
                "cohens_h": self.effect_h, "p_value": self.p_value, "q_value": self.q_value}


@dataclass(frozen=True)
class Comparison:
    label_a: str
    label_b: str
    n_a: int
    n_b: int
    rows: tuple[Difference, ...]
    alpha: float = 0.05
    sops: tuple[str, ...] = ()                               # the SOPs whose steps were compared
    step_of: dict[str, str] = field(default_factory=dict)   # with an SOP: log activity -> its task name

    def of_kind(self, kind: str) -> list[Difference]:
        return [r for r in self.rows if r.kind == kind]

    def significant(self) -> list[Difference]:
        return [r for r in self.rows if r.q_value < self.alpha]

    def as_dict(self) -> dict:
        return {"group_a": self.label_a, "group_b": self.label_b, "contacts_a": self.n_a, "contacts_b": self.n_b,
                "sops": list(self.sops), "alpha": self.alpha, "test": "two-proportion z-test, Benjamini-Hochberg corrected",
                "rows": [r.as_dict() for r in self.rows]}


def _presence(log: EncodedLog) -> tuple[np.ndarray, np.ndarray]:
    """Contacts that took each edge (int64[A*A]) and ran each activity (int64[A]), at least once."""
    A = len(log.activities)
    lengths = np.diff(log.case_offsets)
    case = np.repeat(np.arange(log.n_cases, dtype=np.int64), lengths)
    codes = log.activity_codes.astype(np.int64)
    acts = np.unique(case * A + codes) % A if len(codes) else np.empty(0, dtype=np.int64)
    same = case[1:] == case[:-1]
    keys = case[:-1][same] * (A * A) + codes[:-1][same] * A + codes[1:][same]
    edges = np.unique(keys) % (A * A) if len(keys) else np.empty(0, dtype=np.int64)
    return np.bincount(edges, minlength=A * A), np.bincount(acts, minlength=A)


def _z_test(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test (1.0 when there is no variance)."""
    pooled = (x1 + x2) / (n1 + n2)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if var <= 0:
        return 1.0
    z = (x2 / n2 - x1 / n1) / math.sqrt(var)
    return math.erfc(abs(z) / math.sqrt(2))


def adjust_bh(p_values: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    q = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        q[i] = min(1.0, max(running, p_values[i]))  # q >= p, also after rounding
    return q


def compare_logs(a: EncodedLog, b: EncodedLog, label_a: str, label_b: str, alpha: float = 0.05,
                 sop=None) -> Comparison:
    """Edges, activities and variants of two groups of contacts compared (see the module docstring).

    ``sop``: an ``engine.model.Sop``, or a sequence of them (an SOP library); the groups then need
    the SOPs' ``applies_to`` attributes as case attributes.
    """
    sops = () if sop is None else tuple(sop) if isinstance(sop, (list, tuple)) else (sop,)
    if not 0 < alpha < 1:
        raise AnalysisError(f"Significance level {alpha:g} is outside (0, 1)", field="alpha",
                            hint="Give a level between 0 and 1, e.g. 0.05")
    if sops:
        a, b = (_sop_contacts(log, sops) for log in (a, b))
    for log, label in ((a, label_a), (b, label_b)):
        if log.n_cases == 0:
            raise AnalysisError(f"Group '{label}' has no contacts" + (f" that SOP '{sops[0].name}' applies to"
                                                                      if len(sops) == 1 else
                                                                      f" that exactly one SOP applies to"
                                                                      if sops else ""),
                                hint="Check the values and the log")
    counts: dict[tuple[str, tuple], list[int]] = {}
    if sops:
        _count_sop_steps(a, b, sops, counts)
    for side, log in enumerate((a, b)):
        edges, acts = _presence(log)
        A = len(log.activities)
        for k in np.flatnonzero(edges):
            counts.setdefault(("edge", (log.activities[k // A], log.activities[k % A])), [0, 0])[side] = int(edges[k])
        for k in np.flatnonzero(acts):
            counts.setdefault(("activity", (log.activities[k],)), [0, 0])[side] = int(acts[k])
        for seq, n in count_variants(log).top():
            counts.setdefault(("variant", seq), [0, 0])[side] = n
    keys = list(counts)
    p = [_z_test(counts[k][0], a.n_cases, counts[k][1], b.n_cases) for k in keys]
    q = adjust_bh(p)
    rows = []
    for k, pv, qv in zip(keys, p, q):
        x1, x2 = counts[k]
        s1, s2 = x1 / a.n_cases, x2 / b.n_cases
        h = 2 * math.asin(math.sqrt(s2)) - 2 * math.asin(math.sqrt(s1))
        rows.append(Difference(k[0], k[1], x1, x2, s1, s2, h, pv, qv))
    rows.sort(key=lambda r: (r.q_value, -abs(r.change), r.kind, r.item))
    if not sops:
        return Comparison(label_a, label_b, a.n_cases, b.n_cases, tuple(rows), alpha)
    step_of = {}
    for s in reversed(sops):   # a label mapped differently by several SOPs: the first SOP's name
        step_of.update({x: s.task_name(x) for x in a.activities + b.activities if s.task_name(x) != x})
    return Comparison(label_a, label_b, a.n_cases, b.n_cases, tuple(rows), alpha,
                      sops=tuple(x.name for x in sops), step_of=step_of)


def _sop_contacts(log: EncodedLog, sops) -> EncodedLog:
    """The contacts exactly one of the SOPs applies to."""
    from engine.analyses.library import assign_sops
    from engine.log.select import select_cases
    return select_cases(log, assign_sops(log, sops) >= 0)


def _count_sop_steps(a: EncodedLog, b: EncodedLog, sops, counts: dict) -> None:
    """Per SOP task (by name), the contacts of each group that skipped it and that ran it out of order,
    each contact on the SOP that applies to it."""
    from engine.analyses.library import assign_sops
    from engine.analyses.sop_execution import measure_sop_execution
    from engine.log.select import select_cases

    for side, log in enumerate((a, b)):
        which = assign_sops(log, sops)
        for i, sop in enumerate(sops):
            mine = log if len(sops) == 1 else select_cases(log, which == i)
            if not mine.n_cases:
                continue
            for step in measure_sop_execution(mine, sop, examples=0).steps:
                for kind in ("skipped", "out_of_order"):
                    if step.counts[kind]:
                        counts.setdefault((kind, (step.task,)), [0, 0])[side] += step.counts[kind]


def split_by_attribute(log: EncodedLog, attribute: str, value_a: str, value_b: str) -> tuple[EncodedLog, EncodedLog]:
    """The contacts whose ``attribute`` (first non-empty value) is ``value_a``, and those where it is ``value_b``.

    ``log`` must carry ``attribute`` among its per-case attributes (``encode_log(case_attributes=...)``).
    """
    from engine.log.select import cases_where, select_cases
    return (select_cases(log, cases_where(log, {attribute: {value_a}})),
            select_cases(log, cases_where(log, {attribute: {value_b}})))


def split_by_periods(log: EncodedLog, period_a: tuple[int, int], period_b: tuple[int, int]
                     ) -> tuple[EncodedLog, EncodedLog]:
    """The contacts whose first event falls in each [start, end) range (ns UTC)."""
    from engine.analyses.segments import case_starts
    from engine.log.select import select_cases
    starts = case_starts(log)
    return tuple(select_cases(log, (starts >= lo) & (starts < hi)) for lo, hi in (period_a, period_b))
