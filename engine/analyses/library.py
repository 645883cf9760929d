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
