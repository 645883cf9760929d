"""Frictions of a given size, with their ground truth: context loss, ping-pong, back-office delay.

``Frictions`` sets, instead of the defaults derived from ``deviation_rate``,
how often a bot handoff loses context (the customer identifies again) and how
often a transfer is followed by a transfer back (ping-pong), and adds a
back-office delay: in a share of the contacts that reach a back office (an
SOP lane other than the one answering the contact, the bot's, the IVR's or
the portal's; only ``back_office_owner`` when set), the first back-office step and everything after it start
``back_office_minutes`` later. The delay uses its own random stream, so the
rest of the simulation is the same with or without it. The ground truth: the
contacts table's ``context_loss`` and ``ping_pong`` columns, and, with a
delay, ``back_office_delay`` (bool) and ``back_office_delay_s``. The skipped
critical step of one team is a drift point (``engine.simulate.drift``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from engine.errors import InputError
from engine.vocabulary import role_of


@dataclass(frozen=True)
class Frictions:
    context_loss: float | None = None
    ping_pong: float | None = None
    back_office_delay: float = 0.0
    back_office_minutes: float = 0.0
    back_office_owner: str | None = None

    def check(self) -> None:
        for name in ("context_loss", "ping_pong", "back_office_delay"):
            v = getattr(self, name)
            if v is not None and not 0.0 <= v <= 1.0:
                raise InputError(f"frictions.{name} must be between 0 and 1, got {v}", field=name)
        if self.back_office_minutes < 0:
            raise InputError(f"frictions.back_office_minutes must be 0 or more, got {self.back_office_minutes}",
                             field="back_office_minutes")

    def as_dict(self) -> dict:
        return asdict(self)


def back_office_owners(sops, owners: list[str], talk_labels, only: str | None = None) -> np.ndarray:
    """bool per owner code: a back office in at least one SOP (not the answering, bot, IVR or portal lane);
    with ``only``, that owner alone."""
    if only is not None:
        if only not in owners:
            raise InputError(f"frictions.back_office_owner '{only}' owns no step of the SOPs",
                             field="back_office_owner", hint="Use one of: " + ", ".join(owners))
        return np.array([o == only for o in owners], dtype=bool)
    front = set()
    for sop, talk in zip(sops, talk_labels):
        front.add(sop.owner_of.get(talk))
        front.update(o for t, o in sop.owner_of.items() if role_of(t) in ("bot", "ivr", "portal"))
    return np.array([o not in front for o in owners], dtype=bool)


def delay_back_office(seed: int, frictions: Frictions, offsets: np.ndarray, owner_ev: np.ndarray,
                      is_back: np.ndarray, start_ns: np.ndarray, end_ns: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shift the first back-office step of the chosen contacts and all later events of the contact.
    Returns (start, end, delayed bool per contact, delay seconds per contact)."""
    n = len(offsets) - 1
    delayed = np.zeros(n, dtype=bool)
    delay_s = np.zeros(n, dtype=np.int64)
    if frictions.back_office_delay <= 0 or frictions.back_office_minutes <= 0:
        return start_ns, end_ns, delayed, delay_s
    rng = np.random.default_rng([seed, 0xB0])
    contact = np.repeat(np.arange(n), np.diff(offsets))
    back = (owner_ev >= 0) & is_back[np.maximum(owner_ev, 0)]
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, contact[back], np.flatnonzero(back))
    chosen = (first < np.iinfo(np.int64).max) & (rng.random(n) < frictions.back_office_delay)
    shift_ns = np.int64(round(frictions.back_office_minutes * 60)) * 10**9
    moved = chosen[contact] & (np.arange(len(contact)) >= first[contact])
    start_ns = start_ns + np.where(moved, shift_ns, 0)
    end_ns = end_ns + np.where(moved, shift_ns, 0)
    delayed[chosen] = True
    delay_s[chosen] = shift_ns // 10**9
    return start_ns, end_ns, delayed, delay_s
