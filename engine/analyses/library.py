"""Conformance of a log against a library of SOPs: each contact on the SOP that applies to it.

Each SOP's sidecar says which contacts it is for (``applies_to``, e.g. intent =
"lost_card", or a list of queues). ``assign_sops`` gives every contact the one
SOP whose ``applies_to`` it matches; a contact that matches none is
*unmatched*, one that matches several is *ambiguous*: both are counted and
listed with example contact ids, and never replayed on an SOP. So the contacts
add up: the sum over SOPs plus unmatched plus ambiguous is the log's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from engine.analyses.conformance import ConformanceResult, check_conformance
from engine.errors import AnalysisError

UNMATCHED = -1
AMBIGUOUS = -2


@dataclass(frozen=True)
class LibraryResult:
    """One ConformanceResult per SOP (in library order, ``paths`` their files), and the contacts
    that no SOP or several SOPs apply to, with example contact ids."""

    results: tuple[ConformanceResult, ...]
    paths: tuple[str, ...]
    contacts: int
    unmatched: int
    unmatched_examples: tuple[str, ...]
    ambiguous: int
    ambiguous_examples: tuple[str, ...]

    def as_dict(self) -> dict:
        return {"contacts": self.contacts,
                "sops": [{"sop": r.sop, "path": p, **{k: v for k, v in r.as_dict().items() if k != "sop"}}
                         for r, p in zip(self.results, self.paths)],
                "unmatched": {"contacts": self.unmatched, "examples": list(self.unmatched_examples)},
                "ambiguous": {"contacts": self.ambiguous, "examples": list(self.ambiguous_examples)}}


def applies_to_attributes(sops) -> tuple[str, ...]:
    """Every attribute an SOP of the library selects its contacts by."""
    return tuple(dict.fromkeys(a for sop in sops for a in sop.applies_to))


def assign_sops(encoded, sops) -> np.ndarray:
    """int32[n_cases]: the index of the one SOP that applies to each contact, UNMATCHED or AMBIGUOUS.

    An SOP without ``applies_to`` applies to every contact (a library of one)."""
    from engine.log.select import cases_where

    hits = np.zeros(encoded.n_cases, dtype=np.int32)
    which = np.full(encoded.n_cases, UNMATCHED, dtype=np.int32)
    for i, sop in enumerate(sops):
        for name in sop.applies_to:
            if name not in encoded.case_attributes and name != "week":
                raise AnalysisError(f"SOP '{sop.name}' applies to contacts by '{name}', which is not in the log",
                                    field=name, hint="Change applies_to in the SOP's sidecar to an attribute "
                                                     "of the log (intent, queue, channel, ...)")
        match = cases_where(encoded, {k: set(v) for k, v in sop.applies_to.items()})
        hits += match
        which[match] = i
    which[hits > 1] = AMBIGUOUS
    return which


def check_library(encoded, sops: Sequence, *, by: Sequence[str] = (), examples: int = 5,
                  unknown_as_deviation: bool = True, worst: int = 10) -> LibraryResult:
    """Replay each contact of an encoded log (with case ids and the ``applies_to`` attributes as case
    attributes) on the SOP that applies to it; see ``check_conformance`` for the options."""
    from engine.log.select import select_cases

    which = assign_sops(encoded, sops)
    ids = encoded.case_ids.to_pylist() if encoded.case_ids is not None else [str(i) for i in range(encoded.n_cases)]
    results = []
    for i, sop in enumerate(sops):
        sub = select_cases(encoded, which == i)
        results.append(check_conformance(sub, sop, by=by, examples=examples,
                                         unknown_as_deviation=unknown_as_deviation, worst=worst))
    unmatched, ambiguous = np.flatnonzero(which == UNMATCHED), np.flatnonzero(which == AMBIGUOUS)
    return LibraryResult(results=tuple(results), paths=tuple(str(s.path) for s in sops), contacts=encoded.n_cases,
                         unmatched=len(unmatched), unmatched_examples=tuple(str(ids[c]) for c in unmatched[:examples]),
                         ambiguous=len(ambiguous), ambiguous_examples=tuple(str(ids[c]) for c in ambiguous[:examples]))


@dataclass(frozen=True)
class LibraryKpis:
    """KPIs of a log checked against an SOP library: ``overall`` for every contact counted (no
    compliance), ``per_sop`` the KPIs of the contacts each SOP applies to with that SOP's
    compliance (in library order, ``names`` and ``paths`` its SOPs, ``scopes`` its compliance
    scopes), and the contacts that no SOP or several SOPs apply to, with example contact ids."""

    overall: object
    per_sop: tuple
    names: tuple[str, ...]
    paths: tuple[str, ...]
    scopes: tuple[frozenset, ...]
    contacts: int
    unmatched: int
    unmatched_examples: tuple[str, ...]
    ambiguous: int
    ambiguous_examples: tuple[str, ...]

    def sop_contacts(self, i: int) -> int:
        return self.per_sop[i].overall.measure("contacts")

    @property
    def compliance(self):
        """Compliance over the library: contacts compliant with their own SOP / contacts in scope of it."""
        from engine.analyses.kpis import Rate
        rates = [k.overall.kpis()["compliance_rate"] for k in self.per_sop]
        return Rate("compliance_rate", sum(r.numerator for r in rates), sum(r.denominator for r in rates), "share")

    def as_dict(self) -> dict:
        return {"contacts": self.contacts, "compliance_rate": self.compliance.as_dict(),
                "sops": [{"sop": name, "path": path, "contacts": self.sop_contacts(i),
                          "compliance_scope": sorted(scope), **k.as_dict()}
                         for i, (name, path, scope, k) in enumerate(zip(self.names, self.paths, self.scopes,
                                                                       self.per_sop))],
                "unmatched": {"contacts": self.unmatched, "examples": list(self.unmatched_examples)},
                "ambiguous": {"contacts": self.ambiguous, "examples": list(self.ambiguous_examples)},
                "overall": self.overall.as_dict()}


def library_kpis(encoded, sops: Sequence, *, by: Sequence[str] = (), where: dict | None = None,
                 window_days: float = 7.0, examples: int = 5) -> LibraryKpis:
    """KPIs of an encoded log (``encode_for_kpis`` with the ``applies_to`` attributes and contact ids),
    each contact's compliance measured against the SOP that applies to it (``assign_sops``), as
    ``compute_kpis`` measures it for one SOP (its critical steps, label map and scope). Contacts
    that no SOP or several apply to are counted (among those ``where`` selects), never measured
    against an SOP; the SOPs' contacts, unmatched and ambiguous add up to the contacts counted."""
    from engine.analyses.kpis import compute_kpis, scope_of
    from engine.log.select import cases_where

    which = assign_sops(encoded, sops)
    selected = cases_where(encoded, where) if where else np.ones(encoded.n_cases, dtype=bool)
    params = dict(by=by, where=where, window_days=window_days)
    per_sop, scopes = [], []
    for i, sop in enumerate(sops):
        scope = scope_of(t.name for t in sop.tasks)
        scopes.append(scope)
        per_sop.append(compute_kpis(encoded, critical=sop.critical, label_map=dict(sop.label_map), scope=scope,
                                    cases=which == i, **params))
    ids = encoded.case_ids
    unmatched = np.flatnonzero(selected & (which == UNMATCHED))
    ambiguous = np.flatnonzero(selected & (which == AMBIGUOUS))

    def example_ids(cases: np.ndarray) -> tuple[str, ...]:
        return tuple(str(ids[int(c)]) if ids is not None else str(int(c)) for c in cases[:examples])

    return LibraryKpis(overall=compute_kpis(encoded, **params), per_sop=tuple(per_sop),
                       names=tuple(s.name for s in sops), paths=tuple(str(s.path) for s in sops),
                       scopes=tuple(scopes), contacts=int(selected.sum()), unmatched=len(unmatched),
                       unmatched_examples=example_ids(unmatched), ambiguous=len(ambiguous),
                       ambiguous_examples=example_ids(ambiguous))
