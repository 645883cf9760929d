"""Process-health KPIs of a contact-center log, overall and per segment.

Steps are recognised by their role (``engine.vocabulary.role_of``) after an
SOP's label map turns log labels into task names. Every KPI is a ratio of two
additive sums, reported with its numerator and denominator, so per-segment
and per-partition summaries add up exactly (``a + b``).

Event length: ``end_timestamp - timestamp`` where the end is known, otherwise
the time to the case's next event (0 for the last event).

Definitions (one contact = one case):

- ``aht_s`` average handle time: (talk + hold + after-contact work) / handled
  contacts. A contact is handled when it has a talk-role step (Agent answer,
  Specialist answer, Back office review). Talk = length of talk steps minus
  any hold that lies inside the talk step's own interval; hold = length of
  hold steps; after-contact work = length of wrap-up steps. Per-contact sums
  are truncated to whole microseconds. ``talk_s``, ``hold_s``, ``acw_s``: the
  components, per handled contact.
- ``repeat_contact_rate``: contacts whose customer's next contact starts
  within the window (default 7 days) after this one started / contacts with a
  known customer_id.
- ``fcr`` first-contact resolution: resolved contacts (with a resolve step)
  with a known customer and no repeat contact within the window / resolved
  contacts with a known customer. This is 1 - repeat rate over contacts that
  reached resolution.
- ``transfers_per_contact``: transfer-role steps (Transfer, Bot handoff) /
  contacts; ``transfer_rate``: contacts with at least one / contacts.
- ``ping_pong_rate``: contacts with at least one ping-pong / contacts;
  ``ping_pongs_per_transfer``: ping-pongs / transfer steps. A ping-pong is a
  transfer step that sends the contact back to a route it already left: the
  route (``queue``, else ``team``, else ``owner``) of the next event after the
  transfer differs from the route at the transfer and occurs before it in the
  contact (A -> B -> A).
- ``handoffs_per_contact``: changes of the step owner (the ``owner`` column,
  else ``team``) between consecutive events that have one / contacts.
- ``escalation_rate``: contacts with an escalate-role step / contacts.
- ``events_per_contact``: events / contacts (resolution path length).
- ``contacts_per_journey``: contacts / journeys. A journey chains the
  contacts of one customer where each starts within the window after the
  previous one; a contact without customer is a journey of its own.
- ``compliance_rate``: contacts in scope in which every compliance-critical
  SOP step ran (after the label map) / contacts in scope. In scope: handled
  contacts in which one of the ``scope`` steps ran (with ``--sop``: the SOP's
  procedure-specific tasks, those whose role is ``other``, e.g. Block card;
  when it has none, or no scope is given, every handled contact). A log
  mixing procedures is thereby measured only on the contacts that followed
  this one. Reported only when critical steps are given. ``compliance_spread`` gives, for each segment
  attribute, max - min and the population standard deviation of the
  per-segment rates (segments with at least one handled contact).
- Customer effort: ``reidentification_rate``: contacts in which the customer
  identified again (a verify step) after a handoff (transfer step or owner
  change) that followed an earlier verification / contacts with such a
  handoff after a verification. ``holds_per_contact`` and ``hold_rate``
  (contacts with a hold / contacts). ``channel_switch_rate``: contacts whose
  channel changes between events / contacts. ``cross_channel_repeat_rate``:
  repeat contacts (a previous contact of the customer within the window)
  made on a different channel than that previous contact / repeat contacts.
  ``queue_wait_s``: queue-step length per contact that queued.
  ``contact_duration_s``: first event to last start or end, per contact.

Segments follow ``engine.analyses.segments``: a contact belongs to the
segment of the first non-empty value of the attribute, ``week`` to the ISO
week of its first event. Repeat and journey links are found on the whole log
before segmenting, so a partition of cases must keep each customer's contacts
together for the partition summaries to add up to the whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.analyses.segments import case_segments, case_starts, check_log, chunk_count
from engine.errors import AnalysisError
from engine.log.encode import NO_TIME, EncodedLog
from engine.vocabulary import ROLES, role_of

_DAY_NS = 86_400 * 1_000_000_000

# name: (numerator measure(s), denominator measure, scale of the numerator, unit)
KPI_DEFINITIONS: dict[str, tuple[tuple[str, ...], str, float, str]] = {
    "aht_s": (("talk_us", "hold_us", "acw_us"), "handled", 1e-6, "s"),
    "talk_s": (("talk_us",), "handled", 1e-6, "s"),
    "hold_s": (("hold_us",), "handled", 1e-6, "s"),
    "acw_s": (("acw_us",), "handled", 1e-6, "s"),
    "repeat_contact_rate": (("repeated",), "with_customer", 1.0, "share"),
    "fcr": (("resolved_not_repeated",), "resolved_with_customer", 1.0, "share"),
    "transfers_per_contact": (("transfers",), "contacts", 1.0, "per contact"),
    "transfer_rate": (("with_transfer",), "contacts", 1.0, "share"),
    "ping_pong_rate": (("with_ping_pong",), "contacts", 1.0, "share"),
    "ping_pongs_per_transfer": (("ping_pongs",), "transfers", 1.0, "per transfer"),
    "handoffs_per_contact": (("handoffs",), "contacts", 1.0, "per contact"),
    "escalation_rate": (("escalated",), "contacts", 1.0, "share"),
    "events_per_contact": (("events",), "contacts", 1.0, "per contact"),
    "contacts_per_journey": (("contacts",), "journey_starts", 1.0, "per journey"),
    "compliance_rate": (("compliant",), "compliance_scope", 1.0, "share"),
    "reidentification_rate": (("reidentified",), "reidentification_scope", 1.0, "share"),
    "holds_per_contact": (("holds",), "contacts", 1.0, "per contact"),
    "hold_rate": (("with_hold",), "contacts", 1.0, "share"),
    "channel_switch_rate": (("with_channel_switch_within",), "contacts", 1.0, "share"),
    "cross_channel_repeat_rate": (("channel_switched_from_previous",), "with_previous_contact", 1.0, "share"),
    "queue_wait_s": (("queue_us",), "queued", 1e-6, "s"),
    "contact_duration_s": (("duration_us",), "contacts", 1e-6, "s"),
}


@dataclass(frozen=True)
class Rate:
    """One KPI: value = numerator / denominator (None when the denominator is 0)."""

    name: str
    numerator: float
    denominator: int
    unit: str

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    def as_dict(self) -> dict:
        return {"value": self.value, "numerator": self.numerator, "denominator": self.denominator,
                "unit": self.unit}


@dataclass(frozen=True)
class KpiSummary:
    """Additive sums of the per-contact measures of a set of contacts."""

    totals: np.ndarray

    def __add__(self, other: "KpiSummary") -> "KpiSummary":
        return KpiSummary(self.totals + other.totals)

    def measure(self, name: str) -> int:
        from engine.kernels.kpis import MEASURES
        return int(self.totals[MEASURES.index(name)])

    def kpis(self, with_compliance: bool = True) -> dict[str, Rate]:
        out = {}
        for name, (nums, den, scale, unit) in KPI_DEFINITIONS.items():
            if name == "compliance_rate" and not with_compliance:
                continue
            num = sum(self.measure(m) for m in nums)
            out[name] = Rate(name, num * scale if scale != 1.0 else num, self.measure(den), unit)
        return out


@dataclass(frozen=True)
class Kpis:
    """KPIs overall and per segment (attribute -> label -> summary)."""

    overall: KpiSummary
    segments: dict[str, dict[str, KpiSummary]] = field(default_factory=dict)
    window_days: float = 7.0
    critical_steps: tuple[str, ...] = ()

    def __add__(self, other: "Kpis") -> "Kpis":
        segs = {}
        for attr in dict.fromkeys(list(self.segments) + list(other.segments)):
            a, b = self.segments.get(attr, {}), other.segments.get(attr, {})
            segs[attr] = {k: a[k] + b[k] if k in a and k in b else a.get(k) or b[k] for k in dict.fromkeys([*a, *b])}
        return Kpis(self.overall + other.overall, segs, self.window_days, self.critical_steps)

    def compliance_spread(self) -> dict[str, dict]:
        """Per attribute: spread of the compliance rate across its segments."""
        out = {}
        if not self.critical_steps:
            return out
        for attr, segs in self.segments.items():
            rates = {k: s.kpis()["compliance_rate"].value for k, s in segs.items()}
            rates = {k: v for k, v in rates.items() if v is not None}
            if not rates:
                continue
            vals = np.array(list(rates.values()))
            out[attr] = {"segments": len(rates), "min": float(vals.min()), "max": float(vals.max()),
                         "max_minus_min": float(vals.max() - vals.min()), "std": float(vals.std()),
                         "lowest": min(rates, key=rates.get), "highest": max(rates, key=rates.get)}
        return out

    def as_dict(self) -> dict:
        comp = bool(self.critical_steps)
        return {"window_days": self.window_days, "critical_steps": list(self.critical_steps),
                "overall": {k: r.as_dict() for k, r in self.overall.kpis(comp).items()},
                "segments": {attr: {label: {k: r.as_dict() for k, r in s.kpis(comp).items()}
                                    for label, s in segs.items()} for attr, segs in self.segments.items()},
                "compliance_spread": self.compliance_spread()}


def _role_codes(activities: tuple[str, ...], label_map: dict[str, str], roles: dict[str, str] | None) -> np.ndarray:
    from engine.kernels import kpis as k
    expected = {"queue": k.ROLE_QUEUE, "talk": k.ROLE_TALK, "hold": k.ROLE_HOLD, "verify": k.ROLE_VERIFY,
                "transfer": k.ROLE_TRANSFER, "escalate": k.ROLE_ESCALATE, "resolve": k.ROLE_RESOLVE,
                "wrapup": k.ROLE_WRAPUP}
    if any(ROLES.index(r) != code for r, code in expected.items()):
        raise AnalysisError("Role codes of the KPI kernels do not match engine.vocabulary.ROLES")
    return np.array([ROLES.index(role_of(label_map.get(a, a), roles)) for a in activities], dtype=np.int8)


def _critical_bits(activities, label_map, critical) -> tuple[np.ndarray, np.uint64]:
    steps = sorted(critical)
    if len(steps) > 64:
        raise AnalysisError(f"{len(steps)} compliance-critical steps; at most 64 are supported")
    bit = {s: np.uint64(1) << np.uint64(i) for i, s in enumerate(steps)}
    bits = np.array([bit.get(label_map.get(a, a), np.uint64(0)) for a in activities], dtype=np.uint64)
    mask = np.uint64(0)
    for b in bit.values():
        mask |= b
    return bits, mask


def encode_for_kpis(path, by: tuple[str, ...] | list[str] = (), where: dict[str, set[str]] | None = None, *,
                    case_attributes: tuple[str, ...] = (), with_case_ids: bool = False) -> EncodedLog:
    """Encode a stored log with the columns the KPIs use: owner, queue and channel per event
    (team too when owner or queue is missing; int16 codes when they fit), customer_id (codes
    only, without the pseudonyms) and the ``by``, ``where`` and ``case_attributes`` attributes
    per case (an SOP library's ``applies_to``); contact ids with ``with_case_ids``."""
    from engine.errors import InputError
    from engine.log.encode import encode_log
    from engine.log.store import open_log
    try:
        names = set(open_log(path).schema_arrow.names)
    except InputError:
        names = set()  # encode_log reports a missing or unreadable file
    per_event = ("owner", "queue", "channel") + (("team",) if not {"owner", "queue"} <= names else ())
    per_case = ("customer_id",) + tuple(a for a in by if a != "week" and a not in per_event)
    per_case += tuple(a for a in (where or {}) if a != "week" and a not in per_case)
    per_case += tuple(a for a in case_attributes if a != "week" and a not in per_case)
    log = encode_log(path, attributes=per_event, case_attributes=per_case, with_case_ids=with_case_ids)
    # the per-event owner, queue and channel codes only feed the KPI kernels: int16 halves them
    for name, (codes, labels) in list(log.attributes.items()):
        if len(labels) < np.iinfo(np.int16).max:
            log.attributes[name] = (codes.astype(np.int16), labels)
            del codes
    # KPIs compare customers only for equality: drop the pseudonyms themselves (millions of strings)
    if "customer_id" in log.case_attributes:
        log.case_attributes["customer_id"] = (log.case_attributes["customer_id"][0], ())
    return log


def scope_of(task_names, roles: dict[str, str] | None = None) -> frozenset[str]:
    """An SOP's procedure-specific tasks (role ``other``): the steps that put a contact in its compliance scope."""
    return frozenset(t for t in task_names if role_of(t, roles) == "other")


def compute_kpis(log: EncodedLog, *, by: tuple[str, ...] | list[str] = (), critical: frozenset[str] | set[str] = (),
                 label_map: dict[str, str] | None = None, roles: dict[str, str] | None = None,
                 window_days: float = 7.0, scope: frozenset[str] | set[str] = frozenset(),
                 where: dict[str, set[str]] | None = None, cases: np.ndarray | None = None) -> Kpis:
    """Compute the process-health KPIs overall and per segment of each attribute in ``by``.

    ``critical``: compliance-critical SOP task names; ``scope``: task names
    that put a handled contact in the compliance scope (empty: every handled
    contact; see ``scope_of``); ``label_map``: log
    activity label -> task name (an SOP's label_map); ``roles``: extra
    label -> role overrides; ``window_days``: repeat-contact / journey window;
    ``where``: count only the contacts selected by ``engine.log.select.cases_where``
    (repeat contacts and journeys are still linked over the whole log, so a
    selected contact that repeats an unselected one counts as a repeat).
    ``cases``: a boolean mask of the contacts to count (with ``where``, both
    must select a contact), linked over the whole log in the same way.
    The log should be encoded with ``case_attributes=("customer_id",)`` and
    per-event ``owner``, ``queue`` (or ``team``) and ``channel`` for the
    repeat, handoff, ping-pong and channel KPIs; without them those KPIs
    count nothing.
    """
    from engine.kernels.kpis import MEASURES, link_contacts, measure_contacts
    check_log(log)
    if not window_days > 0:
        raise AnalysisError(f"The repeat-contact window must be positive (got {window_days} days)")
    label_map = dict(label_map or {})
    n = log.n_cases
    empty = np.empty(0, dtype=np.int32)
    owners = log.attributes.get("owner", log.attributes.get("team", (empty, ())))[0]
    routes = next((log.attributes[a][0] for a in ("queue", "team", "owner") if a in log.attributes), empty)
    channels = log.attributes.get("channel", (empty, ()))[0]
    if "customer_id" in log.case_attributes:
        customer = log.case_attributes["customer_id"][0]
    elif "customer_id" in log.attributes:
        from engine.kernels.dfg import first_code_per_case
        customer = first_code_per_case(log.case_offsets, log.attributes["customer_id"][0])
    else:
        customer = np.full(n, -1, dtype=np.int32)
    if "channel" in log.case_attributes:
        case_channel = log.case_attributes["channel"][0]
    elif len(channels):
        from engine.kernels.dfg import first_code_per_case
        case_channel = first_code_per_case(log.case_offsets, channels)
    else:
        case_channel = np.full(n, -1, dtype=np.int32)
    links = link_contacts(customer, case_starts(log), case_channel, np.int64(window_days * _DAY_NS))

    by = list(dict.fromkeys(by))
    seg_codes, seg_labels, offsets = [], [], [1]
    for attr in by:
        codes, labels = case_segments(log, attr)
        seg_codes.append(codes)
        seg_labels.append(labels)
        offsets.append(offsets[-1] + len(labels))
    slots = np.empty((n, 1 + len(by)), dtype=np.int32)
    slots[:, 0] = 0
    for s, codes in enumerate(seg_codes):
        slots[:, s + 1] = np.where(codes >= 0, codes + offsets[s], -1)
    if where:
        from engine.log.select import match_cases
        slots[~match_cases(log, where)] = -1
    if cases is not None:
        slots[~np.asarray(cases, dtype=bool)] = -1
    n_slots = offsets[-1]
    roles_arr = _role_codes(log.activities, label_map, roles)
    bits, mask = _critical_bits(log.activities, label_map, set(critical))
    scope_steps = np.array([label_map.get(a, a) in scope for a in log.activities], dtype=np.int8)
    end = log.end_timestamps if log.end_timestamps is not None else np.empty(0, dtype=np.int64)
    n_chunks = chunk_count(n, n_slots * 32)
    acc = measure_contacts(log.case_offsets, log.activity_codes, log.timestamps, end, roles_arr, bits, mask,
                           scope_steps, bool(scope), owners, routes, channels, customer, links, slots, n_slots,
                           n_chunks, NO_TIME)
    # a segment without contacts (every one left out by ``where``) is not reported
    segments = {attr: {label: KpiSummary(acc[offsets[s] + g]) for g, label in enumerate(seg_labels[s])
                       if acc[offsets[s] + g][MEASURES.index("contacts")]}
                for s, attr in enumerate(by)}
    return Kpis(KpiSummary(acc[0]), segments, float(window_days), tuple(sorted(critical)))
