"""Who owns each step and each handoff: event owners, the SOP each contact follows, the ownership table.

Each event's owner is the log's ``owner`` column, else its ``team`` column;
where that is empty, the owner is the SOP lane of the step (the event's
label through the SOP's label map) of the SOP the contact follows. Events
whose owner stays unknown are counted (``OwnerCodes.unknown_events``), never
dropped: their time is charged to an "(unknown)" owner.

Which SOP a contact follows (``match_sops``): the SOP whose sidecar
``applies_to`` table matches the contact (every key names a log attribute,
its value a value or a list of values; a contact matches on the first
non-empty value of the attribute); an SOP without ``applies_to`` applies to
every contact, as in engine.analyses.library. Contacts that no SOP
matches, or several do, are counted and left without an SOP.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from engine.log.encode import EncodedLog

UNKNOWN_OWNER = "(unknown)"
QUEUE_WAIT = "(queue wait)"


@dataclass(frozen=True)
class SopMatch:
    """Index of the SOP each contact follows (-1: none or several), with the counts."""

    sop_of_case: np.ndarray
    names: tuple[str, ...]
    unmatched: int
    ambiguous: int

    def as_dict(self) -> dict:
        counts = np.bincount(self.sop_of_case[self.sop_of_case >= 0], minlength=len(self.names))
        return {"contacts": {n: int(c) for n, c in zip(self.names, counts)}, "unmatched": self.unmatched,
                "ambiguous": self.ambiguous}


@dataclass(frozen=True)
class OwnerCodes:
    """Per-event owner codes (-1 unknown) into ``labels``, and where each owner came from."""

    codes: np.ndarray
    labels: tuple[str, ...]
    from_log: int
    from_sop: int
    unknown_events: int


@dataclass(frozen=True)
class StepOwnership:
    """One SOP step: its lane, whether it is compliance-critical, and the owners the log shows for it."""

    sop: str
    step: str
    owner: str | None
    critical: bool
    events: int
    log_owners: dict[str, int]

    def as_dict(self) -> dict:
        return asdict(self)


def read_applies_to(sop) -> dict[str, tuple[str, ...]] | None:
    """The sidecar's ``applies_to`` table (attribute -> accepted values, read by engine.model), or None."""
    rule = getattr(sop, "applies_to", None)
    return dict(rule) if rule else None


def match_sops(log: EncodedLog, sops: Sequence, *, library: bool = True) -> SopMatch:
    """Which SOP each contact follows (module docstring). ``log`` needs the attributes the rules name
    (per case or per event; ``intent`` for sidecars without ``applies_to``)."""
    from engine.analyses.segments import case_segments
    n = log.n_cases
    hits = np.zeros(n, dtype=np.int32)
    sop_of = np.full(n, -1, dtype=np.int32)
    for s, sop in enumerate(sops):
        rule = read_applies_to(sop)
        if rule is None:  # as engine.analyses.library: an SOP without applies_to applies to every contact
            hits += 1
            sop_of[:] = s
            continue
        available = set(log.attributes) | set(log.case_attributes)
        if not set(rule) <= available:
            continue
        sel = np.ones(n, dtype=bool)
        for key, values in rule.items():
            codes, labels = case_segments(log, key)
            labels = labels.to_pylist() if hasattr(labels, "to_pylist") else list(labels)
            sel &= np.array([label in values for label in labels] + [False], dtype=bool)[codes]
        hits += sel
        sop_of[sel] = s
    ambiguous = hits > 1
    sop_of[ambiguous] = -1
    return SopMatch(sop_of, tuple(s.name for s in sops), int((hits == 0).sum()), int(ambiguous.sum()))


def applies_to_attributes(sops: Sequence) -> tuple[str, ...]:
    """The log attributes the SOPs' ``applies_to`` rules name (``intent`` for those without one)."""
    names: dict[str, None] = {}
    for sop in sops:
        names.update(dict.fromkeys(read_applies_to(sop) or ("intent",)))
    return tuple(names)


def _owner_column(log: EncodedLog):
    return next((log.attributes[a] for a in ("owner", "team") if a in log.attributes), None)


def owner_labels(log: EncodedLog, sops: Sequence) -> tuple[str, ...]:
    """The owners: the SOPs' lanes and the labels of the log's owner (else team) column, sorted."""
    column = _owner_column(log)
    lanes = {o for sop in sops for o in sop.owner_of.values() if o}
    return tuple(sorted(lanes | set(column[1] if column else ())))


def assign_owners(log: EncodedLog, sops: Sequence, sop_of_case: np.ndarray) -> OwnerCodes:
    """Each event's owner: the log's owner (else team) column, else the SOP lane of its step."""
    column = _owner_column(log)
    labels = owner_labels(log, sops)
    index = {o: i for i, o in enumerate(labels)}
    if column is not None:
        remap = np.array([index[o] for o in column[1]] + [-1], dtype=np.int32)
        codes = remap[np.where(column[0] >= 0, column[0], len(column[1]))]
    else:
        codes = np.full(log.n_events, -1, dtype=np.int32)
    from_log = int((codes >= 0).sum())
    table = np.full((len(sops) + 1, len(log.activities)), -1, dtype=np.int32)
    for s, sop in enumerate(sops):
        for a, label in enumerate(log.activities):
            owner = sop.owner_of.get(sop.task_name(label))
            if owner:
                table[s, a] = index[owner]
    case_of_event = np.repeat(np.arange(log.n_cases), np.diff(log.case_offsets))
    sop_ev = np.where(sop_of_case >= 0, sop_of_case, len(sops))[case_of_event]
    missing = codes < 0
    codes[missing] = table[sop_ev[missing], log.activity_codes[missing]]
    return OwnerCodes(codes, labels, from_log, int(missing.sum() - (codes[missing] < 0).sum()),
                      int((codes < 0).sum()))


def count_step_owners(log: EncodedLog, sops: Sequence, sop_of_case: np.ndarray,
                      owners: OwnerCodes) -> dict[tuple[int, str, str], int]:
    """Events per (SOP index, activity label, owner label or UNKNOWN_OWNER) among each SOP's contacts:
    what ``ownership_table`` reads; adds up over partitions of contacts (by key)."""
    case_of_event = np.repeat(np.arange(log.n_cases), np.diff(log.case_offsets))
    sop_ev = sop_of_case[case_of_event]
    n_lab = len(owners.labels) + 1
    out: dict[tuple[int, str, str], int] = {}
    for s in range(len(sops)):
        sel = sop_ev == s
        acts = log.activity_codes[sel]
        own = np.where(owners.codes[sel] >= 0, owners.codes[sel], n_lab - 1)
        keys, counts = np.unique(acts.astype(np.int64) * n_lab + own, return_counts=True)
        for k, c in zip(keys.tolist(), counts.tolist()):
            o = k % n_lab
            out[(s, log.activities[k // n_lab], owners.labels[o] if o < n_lab - 1 else UNKNOWN_OWNER)] = c
    return out


def ownership_table(sops: Sequence, counts: dict[tuple[int, str, str], int],
                    labels: tuple[str, ...]) -> tuple[StepOwnership, ...]:
    """One row per step of each SOP: its lane, and the owners of the log events mapped to it
    (``counts`` from ``count_step_owners``; ``labels``: the owners, in code order)."""
    rank = {o: i for i, o in enumerate(labels + (UNKNOWN_OWNER,))}
    rows = []
    for s, sop in enumerate(sops):
        per_step: dict[str, dict[str, int]] = {}
        for (t, activity, owner), c in counts.items():
            if t == s:
                seen = per_step.setdefault(sop.task_name(activity), {})
                seen[owner] = seen.get(owner, 0) + c
        steps: dict[str, object] = {}
        for t in sop.tasks:
            if t.name:
                steps.setdefault(t.name, t)
        for task in steps.values():
            seen = dict(sorted(per_step.get(task.name, {}).items(), key=lambda kv: rank[kv[0]]))
            rows.append(StepOwnership(sop.name, task.name, task.owner, task.critical, int(sum(seen.values())),
                                      dict(sorted(seen.items(), key=lambda kv: -kv[1]))))
    return tuple(rows)


def tabulate_ownership(log: EncodedLog, sops: Sequence, sop_of_case: np.ndarray,
                       owners: OwnerCodes) -> tuple[StepOwnership, ...]:
    """One row per step of each SOP: its lane, and the owners of the log events mapped to it."""
    return ownership_table(sops, count_step_owners(log, sops, sop_of_case, owners), owners.labels)
