"""Handoffs between owners and between routes: how often, how slow, what they cost the customer.

Two kinds of handoff (engine.kernels.handoffs.scan_handoffs):

- ``owner``: the step owner changes between consecutive events that have one
  (e.g. AI Automation -> Support Ops when the bot hands over). Added delay:
  from the end of the last event of one owner to the start of the first event
  of the next.
- ``route``: a transfer step sends the contact to another route (the ``team``
  column, else ``queue``), e.g. team A -> team B. Added delay: from the
  transfer to the first event of the receiving route.

Per edge (from, to), and per SOP and owner edge: handoffs, contacts crossing
it and their share of all contacts (Wilson interval), added delay (median, p90,
mean, seconds), context loss (contacts in which, after the handoff and before
the next one, the customer identifies again or a procedure step done before
is repeated, where the SOP does not allow that repetition; share of crossing
contacts, Wilson), ping-pong (the receiving
owner or route was visited before in the contact; Wilson), and for owner and
route edges over the whole log the repeat-contact rate and handle time of
crossing contacts against comparable contacts that did not cross (same SOP and
channel; engine.analyses.contrast, normal approximation).

The per-handoff records (``Handoffs``) merge by concatenation (``a + b``,
``b``'s case indices shifted by ``a``'s contacts), so partitions of cases add
up; every table is computed from the records.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from engine.analyses.contrast import Contacts, contrast, wilson
from engine.errors import AnalysisError

KINDS = ("owner", "route")


@dataclass(frozen=True)
class Handoffs:
    """One row per handoff: case index, kind (0 owner, 1 route), from and to codes, delay (ns),
    context loss (``loss_event``: the event that repeats, -1 for none), ping-pong, the first event after
    the handoff (``event``); ``labels`` per kind;
    ``n_cases`` the contacts scanned."""

    case: np.ndarray
    kind: np.ndarray
    frm: np.ndarray
    to: np.ndarray
    delay_ns: np.ndarray
    loss_event: np.ndarray
    ping_pong: np.ndarray
    event: np.ndarray
    labels: tuple[tuple[str, ...], tuple[str, ...]]
    n_cases: int
    n_events: int = 0

    @property
    def context_loss(self) -> np.ndarray:
        return self.loss_event >= 0

    def __add__(self, other: "Handoffs") -> "Handoffs":
        if self.labels != other.labels:
            raise AnalysisError("Handoffs with different owner or route labels cannot be added",
                                hint="Scan every partition with the same owner and route labels")
        cat = np.concatenate
        return Handoffs(cat([self.case, other.case + self.n_cases]), cat([self.kind, other.kind]),
                        cat([self.frm, other.frm]), cat([self.to, other.to]), cat([self.delay_ns, other.delay_ns]),
                        cat([self.loss_event, np.where(other.loss_event >= 0, other.loss_event + self.n_events, -1)]),
                        cat([self.ping_pong, other.ping_pong]), cat([self.event, other.event + self.n_events]),
                        self.labels, self.n_cases + other.n_cases, self.n_events + other.n_events)

    def edge_cases(self, kind: int, frm: int, to: int, flag: np.ndarray | None = None) -> np.ndarray:
        """Sorted unique case indices with a handoff on the edge (and ``flag`` set, when given)."""
        sel = (self.kind == kind) & (self.frm == frm) & (self.to == to)
        if flag is not None:
            sel &= flag
        return np.unique(self.case[sel])


@dataclass(frozen=True)
class HandoffEdge:
    """One owner-to-owner or route-to-route edge (module docstring)."""

    kind: str
    frm: str
    to: str
    sop: str | None
    handoffs: int
    contacts: int
    share: float
    share_ci: tuple[float, float] | None
    delay_s: dict
    context_loss: dict
    ping_pong: dict
    repeat_rate: dict | None = None
    handle_time_min: dict | None = None

    def as_dict(self) -> dict:
        out = {"kind": self.kind, "from": self.frm, "to": self.to, "sop": self.sop, "handoffs": self.handoffs,
               "contacts": self.contacts, "share": self.share,
               "share_ci95": None if self.share_ci is None else list(self.share_ci),
               "added_delay_s": self.delay_s, "context_loss": self.context_loss, "ping_pong": self.ping_pong}
        if self.repeat_rate is not None:
            out["repeat_rate"] = self.repeat_rate
            out["handle_time_min"] = self.handle_time_min
        return out


def activity_roles(activities: tuple[str, ...], label_map: dict[str, str] | None = None) -> np.ndarray:
    """Role code (index into engine.vocabulary.ROLES) of each activity, after the label map."""
    from engine.kernels.handoffs import ROLE_OTHER
    from engine.kernels.kpis import ROLE_TRANSFER, ROLE_VERIFY
    from engine.vocabulary import ROLES, role_of
    if (ROLES.index("other"), ROLES.index("transfer"), ROLES.index("verify")) != (ROLE_OTHER, ROLE_TRANSFER,
                                                                                  ROLE_VERIFY):
        raise AnalysisError("Role codes of engine.kernels.handoffs do not follow engine.vocabulary.ROLES")
    label_map = label_map or {}
    return np.array([ROLES.index(role_of(label_map.get(a, a))) for a in activities], dtype=np.int8)


def scan_log(log, owner_codes: np.ndarray, owner_labels: tuple[str, ...], roles: np.ndarray) -> Handoffs:
    """The handoffs of an encoded log, given each event's owner code and each activity's role code."""
    from engine.kernels.handoffs import scan_handoffs
    from engine.log.encode import NO_TIME
    route_name = next((a for a in ("team", "queue") if a in log.attributes), None)
    routes, route_labels = log.attributes[route_name] if route_name else (np.empty(0, np.int32), ())
    end = log.end_timestamps if log.end_timestamps is not None else np.empty(0, dtype=np.int64)
    case, kind, frm, to, delay, loss, ping, event = scan_handoffs(
        log.case_offsets, log.activity_codes, log.timestamps, end, owner_codes.astype(np.int32),
        routes.astype(np.int32), roles, NO_TIME)
    return Handoffs(case, kind, frm, to, delay, loss, ping, event, (tuple(owner_labels), tuple(route_labels)),
                    log.n_cases, log.n_events)


def _rate(k: int, n: int) -> dict:
    ci = wilson(k, n)
    return {"contacts": int(k), "of": int(n), "rate": k / n if n else None, "ci95": None if ci is None else list(ci),
            "method": "Wilson score"}


def _delays(delay_ns: np.ndarray) -> dict:
    if not len(delay_ns):
        return {"median": None, "p90": None, "mean": None}
    s = delay_ns / 1e9
    return {"median": float(np.median(s)), "p90": float(np.quantile(s, 0.9)), "mean": float(s.mean())}


def _edge(h: Handoffs, sel: np.ndarray, kind: int, frm: int, to: int, sop: str | None, n_contacts: int,
          loss: np.ndarray) -> HandoffEdge:
    cases = np.unique(h.case[sel])
    lost = np.unique(h.case[sel & loss])
    ping = np.unique(h.case[sel & h.ping_pong])
    k = len(cases)
    return HandoffEdge(KINDS[kind], h.labels[kind][frm], h.labels[kind][to], sop, int(sel.sum()), k,
                       k / n_contacts if n_contacts else 0.0, wilson(k, n_contacts), _delays(h.delay_ns[sel]),
                       _rate(len(lost), k), _rate(len(ping), k))


def summarise_edges(h: Handoffs, contacts: Contacts | None = None, sop_names: tuple[str, ...] = (),
                    sop_of_case: np.ndarray | None = None, context_loss: np.ndarray | None = None
                    ) -> tuple[tuple[HandoffEdge, ...], tuple[HandoffEdge, ...]]:
    """(edges over the whole log, most contacts first; owner edges per SOP). With ``contacts``, each
    whole-log edge also gets the repeat rate and handle time of crossing contacts against
    comparable ones that did not cross. ``context_loss``: which handoffs lost context (default: every
    repetition the kernel found; ``unexpected`` of engine.analyses.findings.handoff_times leaves out those an
    SOP allows)."""
    loss = h.context_loss if context_loss is None else context_loss
    key = (h.kind.astype(np.int64) << 40) | (h.frm.astype(np.int64) << 20) | h.to.astype(np.int64)
    edges = []
    for k in np.unique(key):
        kind, frm, to = int(k >> 40), int((k >> 20) & 0xFFFFF), int(k & 0xFFFFF)
        sel = key == k
        edge = _edge(h, sel, kind, frm, to, None, h.n_cases, loss)
        if contacts is not None:
            c = contrast(contacts, np.unique(h.case[sel]))
            edge = _with_effects(edge, c)
        edges.append(edge)
    per_sop = []
    if sop_of_case is not None and len(h.case):
        sop_h = sop_of_case[h.case]
        sizes = np.bincount(sop_of_case[sop_of_case >= 0], minlength=len(sop_names))
        for s, name in enumerate(sop_names):
            for k in np.unique(key[(sop_h == s) & (h.kind == 0)]):
                sel = (key == k) & (sop_h == s)
                per_sop.append(_edge(h, sel, 0, int((k >> 20) & 0xFFFFF), int(k & 0xFFFFF), name, int(sizes[s]),
                                     loss))
    order = sorted(edges, key=lambda e: (-e.contacts, e.kind, e.frm, e.to))
    return tuple(order), tuple(sorted(per_sop, key=lambda e: (e.sop, -e.contacts, e.frm, e.to)))


def _with_effects(edge: HandoffEdge, c) -> HandoffEdge:
    return replace(edge, repeat_rate=c.outcomes["repeat_rate"].as_dict(),
                   handle_time_min=c.outcomes["aht_min"].as_dict())
