"""Sites, teams, shifts and agents of the simulated contact center, and how contacts reach them.

Sites sit in three time zones (follow-the-sun). A contact is routed to a site
open at its local hour (nights are thinly covered), then to one of the site's
teams and one of the team's agents. The shift is the site-local hour band of
the contact's arrival. Teams, shifts and agents each carry a deviation
propensity (a multiplier of the deviation rate), so deviations concentrate
where a real operation would show them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SITES = (("Lisbon", "Europe/Lisbon", 2.0), ("Manila", "Asia/Manila", 1.0), ("Austin", "America/Chicago", 1.0))
TEAMS = (("A", "Lisbon", 0.6), ("B", "Lisbon", 1.0), ("C", "Manila", 1.6), ("D", "Austin", 0.9))
SHIFTS = (("Early", 6, 14, 0.9), ("Late", 14, 22, 1.0), ("Night", 22, 6, 1.5))
OPEN_HOURS = (7, 22)
NIGHT_COVER = 0.15


@dataclass(frozen=True)
class Workforce:
    sites: tuple[str, ...]
    teams: tuple[str, ...]
    team_site: np.ndarray          # int32[n_teams]
    team_propensity: np.ndarray    # float64[n_teams]
    shifts: tuple[str, ...]
    shift_propensity: np.ndarray   # float64[n_shifts]
    agents: tuple[str, ...]        # e.g. "B-017"
    agent_team: np.ndarray         # int32[n_agents]
    agent_propensity: np.ndarray   # float64[n_agents], lognormal around 1
    agent_speed: np.ndarray        # float64[n_agents], handle-time multiplier
    team_agents: tuple[np.ndarray, ...]  # agent indices of each team


def build_workforce(rng: np.random.Generator, agents_per_team: int) -> Workforce:
    site_names = tuple(s[0] for s in SITES)
    teams = tuple(t[0] for t in TEAMS)
    team_site = np.array([site_names.index(t[1]) for t in TEAMS], dtype=np.int32)
    agents, agent_team, team_agents = [], [], []
    for ti, team in enumerate(teams):
        first = len(agents)
        agents.extend(f"{team}-{k:03d}" for k in range(1, agents_per_team + 1))
        agent_team.extend([ti] * agents_per_team)
        team_agents.append(np.arange(first, len(agents), dtype=np.int32))
    n = len(agents)
    return Workforce(
        sites=site_names, teams=teams, team_site=team_site,
        team_propensity=np.array([t[2] for t in TEAMS]),
        shifts=tuple(s[0] for s in SHIFTS), shift_propensity=np.array([s[3] for s in SHIFTS]),
        agents=tuple(agents), agent_team=np.array(agent_team, dtype=np.int32),
        agent_propensity=rng.lognormal(0.0, 0.6, n), agent_speed=rng.lognormal(0.0, 0.2, n),
        team_agents=tuple(team_agents))


def compute_local_hours(times_ns: np.ndarray, zone: str) -> np.ndarray:
    """Hour of day (0-23) of UTC nanosecond instants in an IANA zone."""
    ts = pa.array(times_ns, pa.timestamp("ns", tz="UTC")).cast(pa.timestamp("ns", tz=zone))
    return pc.hour(ts).to_numpy(zero_copy_only=False).astype(np.int8)


def assign_shifts(hours: np.ndarray) -> np.ndarray:
    out = np.full(len(hours), len(SHIFTS) - 1, dtype=np.int32)
    for i, (_, lo, hi, _) in enumerate(SHIFTS):
        if lo < hi:
            out[(hours >= lo) & (hours < hi)] = i
    return out


def route_contacts(rng: np.random.Generator, wf: Workforce, arrivals: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Site, team, agent and shift (int32 codes) of each contact at its arrival time."""
    n = len(arrivals)
    hours = np.empty((n, len(SITES)), dtype=np.int8)
    weights = np.empty((n, len(SITES)))
    for i, (_, zone, capacity) in enumerate(SITES):
        hours[:, i] = compute_local_hours(arrivals, zone)
        is_open = (hours[:, i] >= OPEN_HOURS[0]) & (hours[:, i] < OPEN_HOURS[1])
        weights[:, i] = capacity * np.where(is_open, 1.0, NIGHT_COVER)
    cum = np.cumsum(weights, axis=1)
    u = rng.random(n) * cum[:, -1]
    site = (u[:, None] >= cum).sum(axis=1).astype(np.int32)
    team = np.empty(n, dtype=np.int32)
    u_team = rng.random(n)
    for si in range(len(SITES)):
        members = np.flatnonzero(wf.team_site == si)
        mask = site == si
        team[mask] = members[(u_team[mask] * len(members)).astype(np.int64)]
    agent = pick_agents(rng, wf, team)
    shift = assign_shifts(hours[np.arange(n), site])
    return site, team, agent, shift


def pick_agents(rng: np.random.Generator, wf: Workforce, team: np.ndarray) -> np.ndarray:
    sizes = np.array([len(a) for a in wf.team_agents])
    firsts = np.array([a[0] for a in wf.team_agents], dtype=np.int64)
    k = (rng.random(len(team)) * sizes[team]).astype(np.int64)
    return (firsts[team] + k).astype(np.int32)
