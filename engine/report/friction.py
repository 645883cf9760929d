"""Friction report: the ranked list, the handoff matrix by owner and the ownership table, as text and CSV."""

from __future__ import annotations

from pathlib import Path

from engine.analyses.friction import RANKING_RULE
from engine.report.numbers import format_count
from engine.report.tables import render_table, write_csv

FRICTION_HEADERS = ["rank", "rank_by_risk", "kind", "where", "owners", "teams", "contacts", "share",
                    "contacts_per_period", "extra_minutes_per_contact", "cost_per_period", "risk", "critical_share",
                    "evidence"]
HANDOFF_HEADERS = ["kind", "from", "to", "handoffs", "contacts", "share", "delay_median_s", "delay_p90_s",
                   "context_loss_rate", "ping_pong_rate", "repeat_rate_difference", "handle_time_min_difference"]
SOP_HANDOFF_MIN_SHARE = 0.01
OWNERSHIP_HEADERS = ["sop", "step", "owner", "critical", "events", "log_owners"]


def friction_rows(result) -> list[list]:
    return [[f.rank, f.rank_by_risk, f.kind, f.where, ", ".join(f.owners), ", ".join(f.teams), f.contacts, f.share,
             round(f.contacts_per_period, 1), None if f.extra_minutes_per_contact is None
             else round(f.extra_minutes_per_contact, 2), round(f.cost_per_period, 2), round(f.risk, 1),
             f.critical_share, " ".join(f.evidence)] for f in result.frictions]


def handoff_rows(edges) -> list[list]:
    def diff(d):
        return None if not d or d.get("difference") is None else round(d["difference"], 4)
    return [[e.kind, e.frm, e.to, e.handoffs, e.contacts, e.share, e.delay_s["median"], e.delay_s["p90"],
             e.context_loss["rate"], e.ping_pong["rate"], diff(e.repeat_rate), diff(e.handle_time_min)]
            for e in edges]


def ownership_rows(result) -> list[list]:
    return [[o.sop, o.step, o.owner or "", "yes" if o.critical else "", o.events,
             "; ".join(f"{k} {v}" for k, v in o.log_owners.items())] for o in result.ownership]


def render_friction(result) -> str:
    """The terminal view: rule, ranked frictions, owner handoff matrix, ownership table, warnings."""
    rule = RANKING_RULE[result.rank_by]
    title = (f"{format_count(len(result.frictions))} friction points in {format_count(result.contacts)} contacts "
             f"over {result.span_days:.1f} days; projected over {result.period_days:g} days; {rule}. "
             "Risk = contacts per period x (1 + 9 x share breaching a compliance-critical step).")
    units = [None, None, None, None, None, None, "count", "share", None, None, None, None, "share", None]
    out = [render_table(FRICTION_HEADERS, friction_rows(result), title=title, units=units)]
    owner_edges = [e for e in result.handoffs if e.kind == "owner"]
    out.append(render_table(HANDOFF_HEADERS, handoff_rows(owner_edges),
                            title="Handoffs between owners (delay in seconds; differences: crossing minus comparable "
                                  "contacts of the same SOP and channel)",
                            units=[None, None, None, "count", "count", "share", None, None, "share", "share", None,
                                   None]))
    route_edges = [e for e in result.handoffs if e.kind == "route"]
    if route_edges:
        out.append(render_table(HANDOFF_HEADERS, handoff_rows(route_edges), title="Transfers between routes"))
    shown = [e for e in result.sop_handoffs if e.share >= SOP_HANDOFF_MIN_SHARE]
    if shown:
        out.append(render_table(["sop"] + HANDOFF_HEADERS[:10], [[e.sop] + r[:10] for e, r in
                                                                 zip(shown, handoff_rows(shown))],
                                title=f"Handoffs of each SOP (owner to owner; those crossed by at least "
                                      f"{SOP_HANDOFF_MIN_SHARE:.0%} of the SOP's contacts; all in sop_handoffs.csv)",
                                units=[None, None, None, None, "count", "count", "share", None, None, "share",
                                       "share"]))
    out.append(render_table(OWNERSHIP_HEADERS, ownership_rows(result), title="Ownership of each SOP step"))
    o = result.owners
    out.append(f"Event owners: {format_count(o['events_owner_from_log'])} from the log, "
               f"{format_count(o['events_owner_from_sop'])} from SOP lanes, "
               f"{format_count(o['events_owner_unknown'])} unknown. SOPs: "
               + ", ".join(f"{k} {format_count(v)}" for k, v in result.sops.as_dict()["contacts"].items())
               + f"; unmatched {format_count(result.sops.unmatched)}, ambiguous {format_count(result.sops.ambiguous)}.")
    out += [f"Warning: {w}" for w in result.warnings]
    return "\n\n".join(out)


def write_friction_csv(folder: str | Path, result) -> list[Path]:
    return [write_csv(folder, "frictions.csv", FRICTION_HEADERS, friction_rows(result)),
            write_csv(folder, "handoffs.csv", HANDOFF_HEADERS, handoff_rows(result.handoffs)),
            write_csv(folder, "sop_handoffs.csv", ["sop"] + HANDOFF_HEADERS,
                      [[e.sop] + r for e, r in zip(result.sop_handoffs, handoff_rows(result.sop_handoffs))]),
            write_csv(folder, "ownership.csv", OWNERSHIP_HEADERS, ownership_rows(result))]
