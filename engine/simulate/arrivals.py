"""When contacts arrive and who makes them.

Arrivals follow a non-homogeneous Poisson process with intraday and weekly
seasonality in the center's time zone: given the number of contacts, their
hours are drawn in proportion to the hourly intensity (which is what a
Poisson process conditioned on its count does) and placed uniformly within
the hour. Customers come back: a share of contacts are repeats of an earlier
contact by the same customer a few days before (gap exponential, capped at the
journey window), so repeat contacts and channel switches are in the data.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HOURLY = np.array([0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.45, 0.8, 1.3, 1.7, 1.9, 1.8,
                   1.5, 1.6, 1.75, 1.6, 1.4, 1.2, 1.0, 0.8, 0.6, 0.45, 0.3, 0.2])
WEEKLY = np.array([1.2, 1.05, 1.0, 1.0, 0.95, 0.55, 0.4])   # Monday .. Sunday
REPEAT_SHARE = 0.26
# chance that a candidate repeat really comes back, by the outcome of the contact it follows
# (resolved, escalated, contained by the bot, abandoned, unresolved); a lost context or a
# deviation that broke the SOP makes a return likely whatever the outcome
RETURN_BY_OUTCOME = (0.45, 0.8, 0.6, 0.95, 0.95)
RETURN_AFTER_FRICTION = 0.9
REPEAT_GAP_DAYS = 1.2
HOUR_NS = 3600 * 10**9
DAY_NS = 24 * HOUR_NS

FIRST_NAMES = ("ana", "joao", "maria", "li", "wei", "sam", "alex", "noor", "ines", "tiago", "grace", "omar",
               "chen", "ravi", "sofia", "lucas", "emma", "kofi", "yuki", "marta")
LAST_NAMES = ("silva", "santos", "reyes", "garcia", "smith", "cruz", "tan", "khan", "costa", "ferreira",
              "lopez", "nguyen", "brown", "mendes", "dela.cruz", "ramos", "oliveira", "perez", "lim", "walker")
DOMAINS = ("example.com", "example.org", "mail.example.net")
COUNTRY_CODES = ("351", "63", "1", "44")


def build_hour_grid(start: str, days: int, zone: str) -> tuple[np.ndarray, np.ndarray]:
    """UTC start (ns) and intensity of every local hour of the period."""
    tz = ZoneInfo(zone)
    day0 = datetime.fromisoformat(start).replace(tzinfo=tz)
    starts, weights = [], []
    for d in range(days):
        day = day0 + timedelta(days=d)
        for h in range(24):
            local = day.replace(hour=h)
            starts.append(int(local.timestamp()) * 10**9)
            weights.append(WEEKLY[local.weekday()] * HOURLY[h])
    return np.array(starts, dtype=np.int64), np.array(weights)


def draw_arrivals(rng: np.random.Generator, n: int, start: str, days: int, zone: str) -> np.ndarray:
    """Sorted arrival instants (int64 ns UTC) of n contacts."""
    starts, weights = build_hour_grid(start, days, zone)
    bins = np.sort(rng.choice(len(starts), size=n, p=weights / weights.sum()))
    offsets = (rng.random(n) * 3600).astype(np.int64) * 10**9
    return np.sort(starts[bins] + offsets)


def link_repeats(rng: np.random.Generator, arrivals: np.ndarray, window_days: float = 7.0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """For each contact: the earlier contact it repeats (-1 if none) and its first contact (root)."""
    n = len(arrivals)
    is_repeat = rng.random(n) < REPEAT_SHARE
    gap = np.minimum(rng.exponential(REPEAT_GAP_DAYS, n), window_days) * DAY_NS
    target = np.searchsorted(arrivals, arrivals - gap.astype(np.int64), side="left")
    parent = np.where(is_repeat & (target < np.arange(n)), target, -1).astype(np.int64)
    return parent, find_first_contacts(parent)


def find_first_contacts(parent: np.ndarray) -> np.ndarray:
    """The first contact of each contact's chain of repeats (itself when it repeats nothing)."""
    root = np.where(parent >= 0, parent, np.arange(len(parent)))
    while True:
        nxt = root[root]
        if np.array_equal(nxt, root):
            return root
        root = nxt


def keep_returns(rng: np.random.Generator, parent: np.ndarray, outcome: np.ndarray, friction: np.ndarray
                 ) -> np.ndarray:
    """Thin candidate repeats by how the earlier contact went: unresolved contacts come back more."""
    has = parent >= 0
    p = np.asarray(RETURN_BY_OUTCOME)[outcome[np.where(has, parent, 0)]]
    p = np.where(friction[np.where(has, parent, 0)], np.maximum(p, RETURN_AFTER_FRICTION), p)
    return np.where(has & (rng.random(len(parent)) < p), parent, -1)


def draw_identifiers(rng: np.random.Generator, n_customers: int) -> tuple[pa.Array, pa.Array]:
    """Two raw spellings of each customer's identifier (phone number or e-mail address).

    A contact shows one of them, as exports do: ``+351912345678`` or
    ``+351 912 345 678``; ``ana.silva12@example.com`` or ``Ana.Silva12@Example.com``.
    """
    is_email = rng.random(n_customers) < 0.3
    # one distinct number per customer: no two customers share a phone number or an address
    unique = rng.choice(800_000_000, size=n_customers, replace=False) + 200_000_000
    cc = pa.array(COUNTRY_CODES).take(pa.array(rng.integers(0, len(COUNTRY_CODES), n_customers)))
    number = pc.cast(pa.array(unique), pa.string())
    compact = pc.binary_join_element_wise("+", cc, number, "")
    spaced = pc.binary_join_element_wise(
        "+", cc, " ", pc.utf8_slice_codeunits(number, 0, 3), " ", pc.utf8_slice_codeunits(number, 3, 6), " ",
        pc.utf8_slice_codeunits(number, 6, 9), "")
    first = pa.array(FIRST_NAMES).take(pa.array(rng.integers(0, len(FIRST_NAMES), n_customers)))
    last = pa.array(LAST_NAMES).take(pa.array(rng.integers(0, len(LAST_NAMES), n_customers)))
    num = pc.cast(pa.array(unique - 200_000_000), pa.string())
    dom = pa.array(DOMAINS).take(pa.array(rng.integers(0, len(DOMAINS), n_customers)))
    email = pc.binary_join_element_wise(first, ".", last, num, "@", dom, "")
    email_caps = pc.binary_join_element_wise(pc.utf8_capitalize(first), ".", pc.utf8_capitalize(last), num, "@",
                                             pc.utf8_capitalize(dom), "")
    mask = pa.array(is_email)
    return pc.if_else(mask, email, compact), pc.if_else(mask, email_caps, spaced)
