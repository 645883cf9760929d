"""Affected contacts against comparable unaffected ones: the measurements every friction finding uses.

``build_contacts`` gathers, per contact, what a finding can cost or change:
its elapsed time per owner (the last column: queue waits) (engine.kernels.handoffs.time_contacts), duration,
handle time, cost at its SOP's cost per minute, repeat contact, first-contact
resolution, escalation, and whether a compliance-critical step was breached.

``contrast`` compares a set of affected contacts with comparable contacts
without the friction. Comparable means the same stratum: the same SOP, the
same channel and the same set of owners taking part (a contact that went to a
back office is compared with contacts that went there too). Within each stratum the difference of means (affected minus
comparable) is taken; the strata are weighted by their affected contacts
(the effect on the affected, as they are). Affected contacts in a stratum
without comparable contacts are left out of the estimate and counted
(``unmatched``). Intervals: normal approximation, 95%, with the stratified
variance sum_s w_s^2 (var_a/n_a + var_c/n_c). Shares: Wilson score intervals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Z95 = 1.959963984540054
METHOD = "stratified difference of means (SOP x channel x owners taking part), normal approximation"
OUTCOMES = ("duration_min", "aht_min", "repeat_rate", "fcr", "escalation_rate")


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval of a share k/n (None when n is 0)."""
    if n <= 0:
        return None
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return float(max(0.0, mid - half)), float(min(1.0, mid + half))


@dataclass(frozen=True)
class Contacts:
    """Per-contact measures (module docstring); ``owner_min`` has one column per owner plus unknown."""

    sop: np.ndarray
    stratum: np.ndarray
    n_strata: int
    owner_min: np.ndarray
    cost: np.ndarray
    values: dict[str, np.ndarray]
    valid: dict[str, np.ndarray]
    breach: np.ndarray
    start: np.ndarray
    owners: tuple[str, ...]
    sums: dict = field(default_factory=dict, repr=False, compare=False)  # per-stratum sums of every contact

    def stratum_sums(self, name: str) -> np.ndarray:
        """(count, sum, sum of squares) per stratum of one measure over all its valid contacts (cached)."""
        if name not in self.sums:
            x = self.cost if name == "cost" else self.values[name]
            valid = self.valid.get(name)
            idx = np.flatnonzero(valid) if valid is not None else np.arange(len(x))
            self.sums[name] = _sums(x[idx], self.stratum[idx], self.n_strata)
        return self.sums[name]


@dataclass(frozen=True)
class Difference:
    """Affected mean minus comparable mean, stratified, with its 95% interval."""

    affected: float | None
    comparable: float | None
    difference: float | None
    low: float | None
    high: float | None
    n_affected: int
    n_comparable: int
    method: str = METHOD

    def as_dict(self) -> dict:
        return {"affected": self.affected, "comparable": self.comparable, "difference": self.difference,
                "ci95": None if self.low is None else [self.low, self.high], "n_affected": self.n_affected,
                "n_comparable": self.n_comparable, "method": self.method}


@dataclass(frozen=True)
class Contrast:
    """A friction's effect: extra minutes and cost per affected contact, per-owner minutes, outcomes."""

    extra_minutes: Difference
    cost: Difference
    owner_minutes: dict[str, float]
    outcomes: dict[str, Difference]
    unmatched: int


def build_contacts(owner_s: np.ndarray, handle_s: np.ndarray, owners: tuple[str, ...], sop_of_case: np.ndarray,
                   channel: np.ndarray, rates: np.ndarray, flags: dict[str, np.ndarray], start: np.ndarray,
                   breach: np.ndarray) -> Contacts:
    """Assemble the per-contact measures. ``rates``: float[n_sops + 1, n_owners + 1] cost per minute
    of each owner under each SOP (last row: contacts without SOP); ``flags``: handled, resolved,
    with_customer, repeated, escalated (bool per contact)."""
    n_sops = rates.shape[0] - 1
    sop = np.where(sop_of_case >= 0, sop_of_case, n_sops).astype(np.int64)
    ch = np.where(channel >= 0, channel, -1).astype(np.int64) + 1
    owner_min = owner_s / 60.0
    k = min(63, owner_s.shape[1] - 1)  # the owners taking part (queue waits aside), as bits
    visited = (owner_s[:, :k] > 0).astype(np.int64) @ (np.int64(1) << np.arange(k))
    keys = np.stack([sop, ch, visited], axis=1) if len(sop) else np.zeros((0, 3), dtype=np.int64)
    _, stratum = np.unique(keys, axis=0, return_inverse=True)
    stratum = stratum.reshape(-1).astype(np.int64)
    n_strata = int(stratum.max()) + 1 if len(stratum) else 1
    cost = np.einsum("ij,ij->i", owner_min, rates[sop]) if len(sop) else np.zeros(0)
    handled, resolved = flags["handled"], flags["resolved"]
    with_customer, repeated = flags["with_customer"], flags["repeated"]
    values = {"duration_min": owner_min.sum(axis=1), "worked_min": owner_min[:, :-1].sum(axis=1),
              "aht_min": handle_s / 60.0,
              "repeat_rate": repeated.astype(np.float64), "fcr": (~repeated).astype(np.float64),
              "escalation_rate": flags["escalated"].astype(np.float64)}
    everyone = np.ones(len(sop), dtype=bool)
    valid = {"duration_min": everyone, "worked_min": everyone, "aht_min": handled, "repeat_rate": with_customer,
             "fcr": resolved & with_customer, "escalation_rate": everyone}
    return Contacts(sop, stratum, n_strata, owner_min, cost, values, valid, breach, start, owners)


def _sums(x: np.ndarray, stratum: np.ndarray, m: int) -> np.ndarray:
    return np.stack([np.bincount(stratum, minlength=m).astype(np.float64),
                     np.bincount(stratum, weights=x, minlength=m), np.bincount(stratum, weights=x * x, minlength=m)])


def _difference(x: np.ndarray, stratum: np.ndarray, m: int, a_idx: np.ndarray, c_idx: np.ndarray | None,
                totals: np.ndarray | None = None) -> Difference:
    """Stratified difference; ``c_idx`` None: the comparable contacts are ``totals`` minus the affected."""
    a = _sums(x[a_idx], stratum[a_idx], m)
    c = totals - a if c_idx is None else _sums(x[c_idx], stratum[c_idx], m)
    ok = (a[0] > 0) & (c[0] > 0)
    na, nc = int(a[0].sum()), int(c[0].sum())
    if not ok.any():
        mean_a = float(a[1].sum() / na) if na else None
        return Difference(mean_a, float(c[1].sum() / nc) if nc else None, None, None, None, na, nc)
    na_s, nc_s = a[0][ok], c[0][ok]
    ma, mc = a[1][ok] / na_s, c[1][ok] / nc_s
    va = np.maximum(a[2][ok] / na_s - ma * ma, 0) * na_s / np.maximum(na_s - 1, 1)
    vc = np.maximum(c[2][ok] / nc_s - mc * mc, 0) * nc_s / np.maximum(nc_s - 1, 1)
    w = na_s / na_s.sum()
    diff = float((w * (ma - mc)).sum())
    half = Z95 * float(np.sqrt((w * w * (va / na_s + vc / nc_s)).sum()))
    return Difference(float((w * ma).sum()), float((w * mc).sum()), diff, diff - half, diff + half,
                      int(na_s.sum()), int(nc_s.sum()))


def contrast(contacts: Contacts, affected: np.ndarray, comparable: np.ndarray | None = None) -> Contrast:
    """Effect of a friction on the ``affected`` contacts (case indices) against ``comparable`` ones
    (a bool mask; default: every other contact). Both are restricted to the same strata."""
    n = len(contacts.sop)
    mask = np.zeros(n, dtype=bool)
    mask[affected] = True
    a_idx = np.flatnonzero(mask) if comparable is not None else np.unique(affected)
    c_idx = None if comparable is None else np.flatnonzero(comparable & ~mask)
    m, st = contacts.n_strata, contacts.stratum
    tot = contacts.stratum_sums if comparable is None else (lambda name: None)
    extra = _difference(contacts.values["worked_min"], st, m, a_idx, c_idx, tot("worked_min"))
    cost = _difference(contacts.cost, st, m, a_idx, c_idx, tot("cost"))
    n_c = (tot("worked_min")[0] - np.bincount(st[a_idx], minlength=m)) if c_idx is None \
        else np.bincount(st[c_idx], minlength=m)
    has_c = n_c > 0
    matched_a = a_idx[has_c[st[a_idx]]]
    owner_minutes = {}
    if len(matched_a):
        w = np.bincount(st[matched_a], minlength=m).astype(np.float64)
        nc = np.maximum(n_c, 1).astype(np.float64)
        for k, owner in enumerate(contacts.owners[:-1]):
            col = contacts.owner_min[:, k]
            sum_a = np.bincount(st[matched_a], weights=col[matched_a], minlength=m)
            if c_idx is None:
                if f"owner{k}" not in contacts.sums:
                    contacts.sums[f"owner{k}"] = np.bincount(st, weights=col, minlength=m)
                mean_c = (contacts.sums[f"owner{k}"] - np.bincount(st[a_idx], weights=col[a_idx], minlength=m)) / nc
            else:
                mean_c = np.bincount(st[c_idx], weights=col[c_idx], minlength=m) / nc
            value = float((sum_a - w * mean_c).sum() / w.sum())
            if abs(value) > 1e-9:
                owner_minutes[owner] = value
    outcomes = {}
    for name in ("duration_min", "aht_min", "repeat_rate", "fcr", "escalation_rate"):
        valid = contacts.valid[name]
        outcomes[name] = _difference(contacts.values[name], st, m, a_idx[valid[a_idx]],
                                     None if c_idx is None else c_idx[valid[c_idx]], tot(name))
    return Contrast(extra, cost, owner_minutes, outcomes, int(len(a_idx) - len(matched_a)))
