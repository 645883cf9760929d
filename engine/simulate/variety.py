"""Realistic variety: the long tail of paths real contact centers show, on top of the SOPs' paths.

With ``variety="realistic"`` each contact gets a number of small departures drawn from a
Poisson law (mean ``MEAN_CHANGES``, scaled by its team's propensity to deviate), each one of:

- a step repeated (the agent verifies twice, the bot asks the intent again);
- an extra hold while an agent talks to the customer;
- the customer identified again after a transfer (context lost in the handoff);
- a system or unknown step (a CRM lookup, a knowledge-base search, a time-out);
- two neighbouring steps swapped;
- a step skipped;
- a loop: two steps done again (the agent goes back to a step and redoes what follows).

Every change is recorded in the ground truth (``Injected``) as a skipped, inserted, swapped
or unknown step with the cause ``habit``, so the deviations table and ``fits_sop`` stay exact.
The standard setting leaves this module out entirely, so its output is unchanged.
"""

from __future__ import annotations

import numpy as np

from collections.abc import Callable

from engine.simulate.deviations import (CAUSES, Injected, count_events, expand_contacts, insert_events, pick_positions,
                                        skip_events, swap_events)

VARIETIES = ("standard", "realistic")
SYSTEM_ACTIVITIES = ("CRM lookup", "Knowledge base search", "System timeout", "Account screen refresh",
                     "Case note", "Payment system check")
EXTRA_LABELS = ("Hold",) + SYSTEM_ACTIVITIES
MEAN_CHANGES = 0.3
POSITION_SKEW = 4.0     # positions drawn as u**skew: the same few places in a path go wrong most often
SYSTEM_WEIGHTS = np.array([0.4, 0.25, 0.15, 0.1, 0.06, 0.04])
MAX_CHANGES = 8
CHANGES = ("repeat", "hold", "reidentify", "system", "swap", "skip", "loop")
CHANGE_WEIGHTS = np.array([0.2, 0.16, 0.1, 0.16, 0.12, 0.1, 0.16])
HABITS = (("CRM lookup", 0.8), ("Hold", 0.6))  # (step, share of contacts an agent talks in)
NOTE_SHARE = 0.6   # share of those contacts with a case note before their last step
HABIT = CAUSES.index("habit")


def add_variety(rng: np.random.Generator, offsets: np.ndarray, codes: np.ndarray, propensity: np.ndarray,
                roles: np.ndarray, code: dict[str, int], verify_code: np.ndarray,
                known: Callable[[np.ndarray, np.ndarray], np.ndarray], injected: Injected) -> tuple[np.ndarray, np.ndarray]:
    """Apply the realistic changes to the traces (CSR ``offsets``, ``codes``); return the new arrays.

    propensity: float per contact, scales the mean number of changes; roles: role name per code;
    verify_code: int32 per contact, the step its SOP identifies the customer with; known(contacts,
    codes): bool per pair, whether the contact's SOP has the step (an extra hold in an SOP without
    holds is an unknown step, not an inserted one).
    """
    offsets, codes = _add_habits(rng, offsets, codes, roles, code, known, injected)
    changes = np.minimum(rng.poisson(MEAN_CHANGES * propensity), MAX_CHANGES)
    for round_ in range(MAX_CHANGES):
        who = np.flatnonzero(changes > round_)
        if len(who) == 0:
            break
        kind = rng.choice(len(CHANGES), size=len(who), p=CHANGE_WEIGHTS)
        u = rng.random((3, len(who)))
        u[:2] **= POSITION_SKEW
        offsets, codes = _apply_round(offsets, codes, who, kind, u, roles, code, verify_code, known, injected)
    return offsets, codes


def _add_habits(rng, offsets, codes, roles, code, known, injected):
    """Common habits of agents: a CRM lookup, then a hold, right after they first talk to the customer;
    a case note before the contact's last step."""
    n = len(offsets) - 1
    at = pick_positions(offsets, np.arange(n), roles[codes] == "talk", np.zeros(n))
    talks = np.flatnonzero(at >= 0)
    contact, new = [], []
    for label, p in HABITS:
        sel = talks[rng.random(len(talks)) < p]
        contact.append(sel)
        new.append(np.full(len(sel), code[label], dtype=np.int32))
    before = [at[c] + 1 for c in contact]
    note = talks[rng.random(len(talks)) < NOTE_SHARE]
    contact.append(note)
    new.append(np.full(len(note), code["Case note"], dtype=np.int32))
    before.append(offsets[note + 1] - 1)
    contact_a, new_a = np.concatenate(contact), np.concatenate(new)
    _record(injected, known, contact_a, new_a)
    return insert_events(offsets, codes, np.concatenate(before), contact_a, new_a)


def _record(injected: Injected, known, contact: np.ndarray, new: np.ndarray) -> None:
    in_sop = known(contact, new)
    injected.add(contact[in_sop], 1, new[in_sop], cause=HABIT)
    injected.add(contact[~in_sop], 3, new[~in_sop], cause=HABIT)


def _apply_round(offsets, codes, who, kind, u, roles, code, verify_code, known, injected):
    """One change in each contact of ``who``: swaps, then skips, then all insertions at once."""
    lengths = count_events(offsets)
    sw = who[kind == 4]
    differs = np.zeros(len(codes), dtype=bool)
    differs[:-1] = codes[:-1] != codes[1:]
    differs[offsets[1:] - 1] = False
    at = pick_positions(offsets, sw, differs, u[0, kind == 4])
    ok = at >= 0
    injected.add(sw[ok], 2, codes[at[ok]], codes[at[ok] + 1], cause=HABIT)
    codes = swap_events(codes, at[ok])

    sk = who[(kind == 5) & (lengths[who] >= 3)]
    ev = offsets[sk] + np.minimum((u[0, np.isin(who, sk)] * lengths[sk]).astype(np.int64), lengths[sk] - 1)
    injected.add(sk, 0, codes[ev], cause=HABIT)
    offsets, codes = skip_events(offsets, codes, ev)

    contact_ev = expand_contacts(offsets)
    first = np.zeros(len(codes), dtype=bool)
    first[offsets[:-1][count_events(offsets) > 0]] = True
    before, contact, new = [], [], []

    def insert(sel: np.ndarray, at: np.ndarray, what: np.ndarray) -> None:
        keep = at >= 0
        before.append(at[keep])
        contact.append(sel[keep])
        new.append(what[keep].astype(np.int32))

    # a step repeated right after itself
    sel = who[kind == 0]
    at = pick_positions(offsets, sel, np.ones(len(codes), dtype=bool), u[1, kind == 0])
    insert(sel, np.where(at >= 0, at + 1, -1), codes[np.maximum(at, 0)])
    # an extra hold after an agent talks
    sel = who[kind == 1]
    at = pick_positions(offsets, sel, roles[codes] == "talk", u[1, kind == 1])
    insert(sel, np.where(at >= 0, at + 1, -1), np.full(len(sel), code["Hold"]))
    # identified again after a transfer or a bot handoff
    sel = who[kind == 2]
    at = pick_positions(offsets, sel, roles[codes] == "transfer", u[1, kind == 2])
    insert(sel, np.where(at >= 0, at + 1, -1), verify_code[sel])
    # a system step anywhere after the first event
    sel = who[kind == 3]
    at = pick_positions(offsets, sel, ~first, u[1, kind == 3])
    system = np.array([code[a] for a in SYSTEM_ACTIVITIES], dtype=np.int32)
    cum = np.cumsum(SYSTEM_WEIGHTS)
    insert(sel, at, system[np.minimum(np.searchsorted(cum, u[2, kind == 3]), len(system) - 1)])
    # a loop: two steps done again right after themselves
    sel = who[kind == 6]
    has_next = np.zeros(len(codes), dtype=bool)
    has_next[:-1] = contact_ev[:-1] == contact_ev[1:]
    at = pick_positions(offsets, sel, has_next, u[1, kind == 6])
    loop_at = np.where(at >= 0, at + 2, -1)
    insert(sel, loop_at, codes[np.maximum(at, 0)])
    insert(sel, loop_at, codes[np.minimum(np.maximum(at, 0) + 1, len(codes) - 1)])

    before_a, contact_a, new_a = np.concatenate(before), np.concatenate(contact), np.concatenate(new)
    _record(injected, known, contact_a, new_a)
    return insert_events(offsets, codes, before_a, contact_a, new_a)
