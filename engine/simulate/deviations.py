"""Changing traces by array operations: skip, insert and swap steps in many contacts at once.

Traces are held in CSR form: ``offsets`` int64[n_contacts+1] and ``codes``
int32[n_events] (activity codes). Each operation changes at most one place in
each selected contact and returns new arrays; none loops over events in
Python. ``Injected`` collects the ground truth of what was changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

KINDS = ("skipped", "inserted", "swapped", "unknown")
KIND_WEIGHTS = np.array([0.4, 0.25, 0.2, 0.15])
CAUSES = ("team", "context_loss", "drift", "ping_pong", "habit")
UNKNOWN_ACTIVITIES = ("Supervisor chat", "Manual account note", "Callback promise", "Survey offer")


@dataclass
class Injected:
    """Ground truth rows, appended per operation (arrays of equal length)."""

    contact: list[np.ndarray] = field(default_factory=list)
    kind: list[np.ndarray] = field(default_factory=list)
    step: list[np.ndarray] = field(default_factory=list)
    other: list[np.ndarray] = field(default_factory=list)
    cause: list[np.ndarray] = field(default_factory=list)
    drift: list[np.ndarray] = field(default_factory=list)

    def add(self, contact, kind: int, step, other=None, cause: int = 0, drift: int = -1) -> None:
        n = len(contact)
        self.contact.append(np.asarray(contact, dtype=np.int64))
        self.kind.append(np.full(n, kind, dtype=np.int8))
        self.step.append(np.asarray(step, dtype=np.int32))
        self.other.append(np.full(n, -1, dtype=np.int32) if other is None else np.asarray(other, dtype=np.int32))
        self.cause.append(np.full(n, cause, dtype=np.int8))
        self.drift.append(np.full(n, drift, dtype=np.int16))

    def arrays(self) -> dict[str, np.ndarray]:
        if not self.contact:
            return {"contact": np.zeros(0, np.int64), "kind": np.zeros(0, np.int8), "step": np.zeros(0, np.int32),
                    "other": np.zeros(0, np.int32), "cause": np.zeros(0, np.int8), "drift": np.zeros(0, np.int16)}
        cols = {k: np.concatenate(getattr(self, k)) for k in ("contact", "kind", "step", "other", "cause", "drift")}
        order = np.argsort(cols["contact"], kind="stable")
        return {k: v[order] for k, v in cols.items()}


def count_events(offsets: np.ndarray) -> np.ndarray:
    return np.diff(offsets)


def expand_contacts(offsets: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))


def pick_positions(offsets: np.ndarray, contacts: np.ndarray, valid: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A uniformly chosen valid event (global index) in each given contact; -1 where none is valid."""
    cum = np.concatenate(([0], np.cumsum(valid, dtype=np.int64)))
    before = cum[offsets[contacts]]
    count = cum[offsets[contacts + 1]] - before
    r = np.minimum((u * count).astype(np.int64), np.maximum(count - 1, 0))
    idx = np.searchsorted(cum, before + r + 1, side="left") - 1
    return np.where(count > 0, idx, -1)


def skip_events(offsets: np.ndarray, codes: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remove the given events (global indices, at most one per contact)."""
    keep = np.ones(len(codes), dtype=bool)
    keep[events] = False
    removed = np.zeros(len(offsets) - 1, dtype=np.int64)
    removed[expand_contacts(offsets)[events]] = 1
    new_offsets = offsets - np.concatenate(([0], np.cumsum(removed)))
    return new_offsets, codes[keep]


def insert_events(offsets: np.ndarray, codes: np.ndarray, before: np.ndarray, contacts: np.ndarray,
                  new_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Insert new_codes[i] before global event index before[i] of contacts[i] (== end of contact to append)."""
    keys = np.concatenate((np.arange(len(codes), dtype=np.int64) * 2, before.astype(np.int64) * 2 - 1))
    order = np.argsort(keys, kind="stable")
    merged = np.concatenate((codes, new_codes.astype(codes.dtype)))[order]
    added = np.bincount(contacts, minlength=len(offsets) - 1).astype(np.int64)
    return offsets + np.concatenate(([0], np.cumsum(added))), merged


def swap_events(codes: np.ndarray, events: np.ndarray) -> np.ndarray:
    """Swap each given event with the next one of its contact."""
    out = codes.copy()
    out[events], out[events + 1] = codes[events + 1], codes[events]
    return out


def inject_team_deviations(rng: np.random.Generator, offsets: np.ndarray, codes: np.ndarray,
                           probability: np.ndarray, sop_of: np.ndarray, sop_codes: list[np.ndarray],
                           unknown_codes: np.ndarray, injected: Injected) -> tuple[np.ndarray, np.ndarray]:
    """One deviation (skipped, inserted, swapped or unknown step) in each contact drawn with its probability."""
    n = len(offsets) - 1
    lengths = count_events(offsets)
    deviating = np.flatnonzero((rng.random(n) < probability) & (lengths >= 2))
    kind = rng.choice(len(KINDS), size=len(deviating), p=KIND_WEIGHTS)
    u_pos = rng.random(len(deviating))
    u_code = rng.random(len(deviating))

    # swaps first (positions only change codes): an event differing from its successor
    sw = deviating[kind == 2]
    nxt_differs = np.zeros(len(codes), dtype=bool)
    nxt_differs[:-1] = codes[:-1] != codes[1:]
    nxt_differs[offsets[1:] - 1] = False
    at = pick_positions(offsets, sw, nxt_differs, u_pos[kind == 2])
    ok = at >= 0
    injected.add(sw[ok], 2, codes[at[ok]], codes[at[ok] + 1])
    codes = swap_events(codes, at[ok])
    # a contact whose steps cannot be swapped gets a skip instead
    kind[np.isin(deviating, sw[~ok])] = 0

    sk = deviating[kind == 0]
    ev = offsets[sk] + np.minimum((u_pos[kind == 0] * lengths[sk]).astype(np.int64), lengths[sk] - 1)
    injected.add(sk, 0, codes[ev])
    offsets, codes = skip_events(offsets, codes, ev)

    ins_mask = (kind == 1) | (kind == 3)
    ins = deviating[ins_mask]
    lengths = count_events(offsets)
    k = 1 + np.minimum((u_pos[ins_mask] * lengths[ins]).astype(np.int64), lengths[ins] - 1)
    new = np.empty(len(ins), dtype=np.int32)
    is_unknown = kind[ins_mask] == 3
    uc = u_code[ins_mask]
    new[is_unknown] = unknown_codes[(uc[is_unknown] * len(unknown_codes)).astype(np.int64)]
    known = np.flatnonzero(~is_unknown)
    for s, pool in enumerate(sop_codes):
        sel = known[sop_of[ins[known]] == s]
        new[sel] = pool[(uc[sel] * len(pool)).astype(np.int64)]
    injected.add(ins[~is_unknown], 1, new[~is_unknown])
    injected.add(ins[is_unknown], 3, new[is_unknown])
    return insert_events(offsets, codes, offsets[ins] + k, ins, new)


def find_first(offsets: np.ndarray, codes: np.ndarray, contacts: np.ndarray, code: int) -> np.ndarray:
    """Global index of the first event with this code in each contact; -1 where absent."""
    return pick_positions(offsets, contacts, codes == code, np.zeros(len(contacts)))


def find_handoffs(offsets: np.ndarray, codes: np.ndarray, is_bot: np.ndarray, is_talk: np.ndarray) -> np.ndarray:
    """Per contact: the first live-agent event after a bot step (global index), -1 if the bot never handed off."""
    contact = expand_contacts(offsets)
    bot_before = np.cumsum(is_bot[codes].astype(np.int64))
    bot_before -= np.concatenate(([0], bot_before))[offsets[:-1]][contact]
    candidate = is_talk[codes] & (bot_before > 0)
    return pick_positions(offsets, np.arange(len(offsets) - 1), candidate, np.zeros(len(offsets) - 1))
