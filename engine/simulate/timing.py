"""Handle times and gaps between steps.

Each step's duration is lognormal around a median that depends on its role
(IVR a minute, agent talk four minutes, back-office review half an hour ...),
scaled by the agent's speed for agent work (and, for queue waits, by the
load of the hour, set by the caller). Steps follow each other with a
gap that depends on the channel: seconds on voice and chat, hours on e-mail.
"""

from __future__ import annotations

import numpy as np

ROLE_MEDIAN_S = {"portal": 90, "ivr": 50, "bot": 70, "queue": 75, "talk": 260, "hold": 70, "verify": 45,
                 "transfer": 25, "escalate": 150, "resolve": 40, "wrapup": 50, "abandon": 5, "end": 2, "other": 60}
LABEL_MEDIAN_S = {"Back office review": 1800, "Specialist answer": 420, "Callback scheduled": 20}
SIGMA = 0.6
CHANNEL_GAP_S = {"voice": 2.0, "chat": 12.0, "web": 20.0, "sms": 300.0, "email": 7200.0, "social": 600.0}
AGENT_ROLES = frozenset({"talk", "hold", "verify", "transfer", "escalate", "resolve", "wrapup", "other"})


def build_medians(labels: list[str], roles: list[str]) -> np.ndarray:
    return np.array([LABEL_MEDIAN_S.get(lbl, ROLE_MEDIAN_S[r]) for lbl, r in zip(labels, roles)], dtype=np.float64)


def draw_times(rng: np.random.Generator, offsets: np.ndarray, codes: np.ndarray, arrivals: np.ndarray,
               medians: np.ndarray, agent_role: np.ndarray, speed: np.ndarray, gap_s: np.ndarray,
               factor: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (int64 ns UTC) of every event; events of a contact follow one another.

    speed: per-contact handle-time multiplier for agent steps; gap_s: per-contact median gap.
    factor: optional per-event multiplier (drift of handle times).
    """
    n_events = len(codes)
    contact = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    dur = medians[codes] * rng.lognormal(0.0, SIGMA, n_events)
    dur = np.where(agent_role[codes], dur * speed[contact], dur)
    if factor is not None:
        dur = dur * factor
    gap = gap_s[contact] * rng.lognormal(0.0, 0.5, n_events)
    dur_ns = np.maximum((dur * 1e9).astype(np.int64), 10**9)
    gap_ns = (gap * 1e9).astype(np.int64)
    step = dur_ns + gap_ns
    cum = np.cumsum(step)
    before = cum - step
    first = before[np.minimum(offsets[:-1], max(n_events - 1, 0))] if n_events else np.zeros(len(offsets) - 1, np.int64)
    start = arrivals[contact] + before - first[contact]
    # whole seconds, as contact-center exports carry them
    start = start // 10**9 * 10**9
    end = start + dur_ns // 10**9 * 10**9
    return start, end

