"""The report's content: sections for people (HTML) and one versioned document for machines (report.json).

``report_sections`` turns an ``Overview`` into the HTML report's sections,
each computed from the results, none hand-written; ``report_document`` gives
the same results as JSON with canonical units (fractions, seconds), in a
stable order, so the same inputs and parameters give the same bytes.

Sections, in reading order: executive summary, process health (KPIs by
team, site and shift, weekly trends), the real process (a map of the most
frequent paths), variants (Pareto), conformance per SOP (by step and by team,
with the SOP's drawing), drift (timeline and what changed), evidence
(example contact ids per finding), methods and definitions.
"""

from __future__ import annotations

from engine.report.html import Figure, KeyFigures, Links, Note, Paragraph, Section, Table
from engine.report.numbers import format_count, format_duration, format_share, format_value

SCHEMA = "cxmine.report"
SCHEMA_VERSION = 1
TREND_KPIS = (("aht_s", "Average handle time", "minutes", 1 / 60, False),
              ("fcr", "First-contact resolution", "share of resolved contacts (%)", 1.0, True),
              ("transfer_rate", "Contacts with a transfer", "share of contacts (%)", 1.0, True))
SEGMENT_KPIS = ("aht_s", "fcr", "repeat_contact_rate", "transfer_rate", "escalation_rate", "compliance_rate",
                "reidentification_rate", "queue_wait_s")
KPI_TITLES = {"aht_s": "AHT", "fcr": "FCR", "repeat_contact_rate": "repeat contacts", "transfer_rate": "transferred",
              "escalation_rate": "escalated", "compliance_rate": "compliant", "reidentification_rate": "re-identified",
              "queue_wait_s": "queue wait"}
TOP_VARIANTS = 15


def _table(headers, rows, units, caption="", table_id="") -> Table:
    """A sortable table: display text by unit, sort keys the raw values."""
    shown = [[format_value(v, u) if isinstance(v, (int, float)) and not isinstance(v, bool) else
              ("-" if v is None else str(v)) for v, u in zip(r, units)] for r in rows]
    numeric = [u is not None for u in units]
    return Table(headers, shown, caption=caption, sort_keys=[list(r) for r in rows], numeric=numeric,
                 table_id=table_id)


# --- executive summary -----------------------------------------------------------------------------

def _deviation_findings(ov) -> list:
    """(impact, sentence) of the biggest deviations of every SOP."""
    found = []
    for check in ov.sops:
        r = check.result
        if r is None:
            continue
        teams = {}
        for s in r.segment_deviations:
            if s.attribute == "team":
                teams.setdefault((s.step, s.kind), []).append((s.contacts, s.value))
        for step in r.steps[:3]:
            where = sorted(teams.get((step.step, step.kind), []), reverse=True)[:2]
            in_teams = ", ".join(f"team {v} ({format_count(n)})" for n, v in where)
            crit = " (compliance-critical)" if step.critical else ""
            found.append((step.impact, f"**{r.sop}**: '{step.step}' {step.kind}{crit} in "
                                       f"{format_count(step.contacts)} contacts ({format_share(step.share)})"
                                       + (f", most in {in_teams}" if in_teams else "")
                                       + f"; evidence: {len(step.examples)} example contacts in the appendix."))
    return sorted(found, key=lambda x: -x[0])


def _drift_sentences(ov) -> list[str]:
    if ov.drift is None:
        return []
    out = [f"Execution changed {p.summary()}." for p in ov.drift.change_points]
    for seg in ov.drift.segments:
        for p in seg.change_points:
            out.append(f"In {seg.attribute} {seg.value}, execution changed {p.summary()}.")
    return out


def summary_section(ov) -> Section:
    kpis = ov.kpis.overall.kpis(bool(ov.kpis.critical_steps))
    fitting = [c.result for c in ov.sops if c.result is not None]
    checked = sum(r.contacts for r in fitting)
    fit = sum(r.fitting for r in fitting)
    figures = [("contacts analysed", format_count(ov.n_contacts)), ("events", format_count(ov.n_events)),
               ("distinct paths (variants)", format_count(ov.variants.n_variants)),
               ("average handle time", format_value(kpis["aht_s"].value, "s")),
               ("first-contact resolution", format_share(kpis["fcr"].value))]
    if checked:
        figures.append(("contacts that followed their SOP", format_share(fit / checked)))
    compliance = [c for r in fitting for c in r.compliance if c.attribute == "team"]
    if compliance:
        figures.append(("compliant with critical steps",
                        format_share(sum(c.compliant for c in compliance) / sum(c.contacts for c in compliance))))
    if ov.drift is not None:
        figures.append(("change points in execution", format_count(len(ov.drift.change_points))))
    blocks = [KeyFigures(figures)]
    drift = _drift_sentences(ov)
    if drift:
        blocks.append(Paragraph("**Drift found.** " + " ".join(drift[:3])))
    elif ov.drift is not None:
        blocks.append(Paragraph("**No drift found**: no change point passed the false-alarm control "
                                f"(alpha {ov.drift.settings.alpha:g})."))
    if ov.friction is not None and ov.friction.frictions:
        blocks.append(Paragraph("**What to fix first**, by projected cost if nothing changes (all of them in "
                                "Friction points):"))
        blocks += [Note(friction_sentence(f, ov.friction.period_days), tone="finding")
                   for f in ov.friction.frictions[:3]]
        risky = sorted(ov.friction.frictions, key=lambda f: f.rank_by_risk)[:2]
        blocks.append(Paragraph("**Highest risk** (compliance-critical steps breached): "
                                + " ".join(friction_sentence(f, ov.friction.period_days) for f in risky)))
    findings = _deviation_findings(ov)
    if findings:
        blocks.append(Paragraph("**Largest departures from the SOPs**, by impact (contacts, doubled for "
                                "compliance-critical steps, weighted by the owner's cost per minute):"))
        blocks += [Note(text, tone="finding") for _, text in findings[:5]]
    if not ov.sops:
        blocks.append(Note("No SOP was given, so conformance, compliance and deviations are not computed. "
                           "Give the SOPs with --sop models/ (a folder of BPMN files with their sidecars) "
                           "or --sop FILE.bpmn.", tone="warning"))
    blocks.append(Links([("friction", "friction points"), ("kpis", "process health"),
                         ("conformance", "conformance"), ("drift", "drift"), ("evidence", "evidence")]))
    return Section("summary", "Executive summary", "What matters most in this period, and where is the evidence?",
                   blocks)


# --- KPIs ------------------------------------------------------------------------------------------

def kpi_section(ov) -> Section:
    from engine.analyses.kpis import KPI_DEFINITIONS
    from engine.report import charts
    comp = bool(ov.kpis.critical_steps)
    cols = [k for k in SEGMENT_KPIS if comp or k != "compliance_rate"]
    units = [None, "count"] + [KPI_DEFINITIONS[k][3] for k in cols]
    blocks = []
    overall = ov.kpis.overall.kpis(comp)
    rows = [[name, r.value, r.numerator, r.denominator, r.unit] for name, r in overall.items()]
    shown = [[n, format_value(v, u), format_value(num, u if u == "s" else "count"), format_count(den), u]
             for n, v, num, den, u in rows]
    blocks.append(Table(["KPI", "value", "numerator", "denominator", "unit"], shown,
                        caption="Every KPI of the whole log, with its numerator and denominator",
                        sort_keys=rows, numeric=[False, True, True, True, False], table_id="kpi-overall"))
    for attr, segs in ov.kpis.segments.items():
        seg_rows = [[label, s.measure("contacts")] + [s.kpis(comp)[k].value for k in cols]
                    for label, s in segs.items()]
        blocks.append(_table([attr, "contacts"] + [KPI_TITLES[k] for k in cols], seg_rows, units,
                             caption=f"KPIs by {attr}", table_id=f"kpi-{attr}"))
    for name, title, y_label, scale, pct in TREND_KPIS:
        series = {}
        for label, trend in ov.kpi_trends.items():
            weeks = trend.segments.get("week", {})
            xs = list(weeks)
            ys = [weeks[w].kpis(comp)[name].value for w in xs]
            if any(y is not None for y in ys):
                series["all contacts" if label == "all" else f"team {label}"] = (
                    xs, [None if y is None else y * scale for y in ys])
        if series:
            svg = charts.line_chart(series, title=f"{title} by week", y_label=y_label, x_label="ISO week",
                                    percent=pct)
            blocks.append(Figure(svg, f"{title} per ISO week (week of the contact's first event), all contacts "
                                      "and each team. Weeks without such contacts are gaps."))
    totals: dict[tuple[str, str], list[int]] = {}
    for c in ov.sops:
        for row in (c.result.compliance if c.result is not None else ()):
            t = totals.setdefault((row.attribute, row.value), [0, 0])
            t[0] += row.compliant
            t[1] += row.contacts
    if totals:
        rows = [[a, v, n, k, k / n if n else None] for (a, v), (k, n) in sorted(totals.items())]
        blocks.append(_table(["attribute", "value", "contacts checked", "compliant", "rate"], rows,
                             [None, None, "count", "count", "share"], table_id="kpi-compliance",
                             caption="Compliance with the compliance-critical SOP steps (every critical step ran, "
                                     "none out of order), each contact against its own SOP"))
    designed = {c.result.sop: ([s.value for s in c.result.segment_fitness if s.attribute == "week"],
                               [s.fit_share for s in c.result.segment_fitness if s.attribute == "week"])
                for c in ov.sops if c.result is not None}
    if designed:
        svg = charts.line_chart(designed, title="Contacts that ran as their SOP designs, by week",
                                y_label="share of the SOP's contacts (%)", x_label="ISO week", percent=True)
        blocks.append(Figure(svg, "Share of each SOP's contacts that ran exactly as designed (token replay fits), "
                                  "per ISO week of the contact's first event."))
    return Section("kpis", "Process health", "How do handle time, resolution, transfers and compliance compare "
                   "across teams, sites and shifts, and how did they move week by week?", blocks)


# --- the real process -------------------------------------------------------------------------------

def process_section(ov, map_svg: str | None) -> Section:
    blocks = []
    if map_svg:
        from engine.report.process_map import map_notes
        notes = " ".join(map_notes(ov.process_map)) if ov.process_map is not None else ""
        blocks.append(Figure(map_svg, "The process as executed: activities with their contacts, grouped by the "
                                      "team that owns them; arrows show how often one step directly followed "
                                      "another (thicker and darker: more often). " + notes))
    starts = sorted(ov.dfg.start_activities.items(), key=lambda kv: -kv[1])[:5]
    ends = sorted(ov.dfg.end_activities.items(), key=lambda kv: -kv[1])[:5]
    blocks.append(Paragraph("Contacts start with " + ", ".join(f"{a} ({format_count(c)})" for a, c in starts)
                            + "; they end with " + ", ".join(f"{a} ({format_count(c)})" for a, c in ends) + "."))
    edges = sorted(ov.dfg.edges.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    rows = [[a, b, c, ov.performance.edges[(a, b)].median_s, ov.performance.edges[(a, b)].p90_s]
            for (a, b), c in edges]
    blocks.append(_table(["from", "to", "times", "median wait", "p90 wait"], rows, [None, None, "count", "s", "s"],
                         caption="The 20 most frequent hand-overs between steps (time from one step's start to the "
                                 "next one's)", table_id="dfg-edges"))
    return Section("process", "The real process", "How does work really flow, step by step?", blocks)


# --- variants ---------------------------------------------------------------------------------------

def variants_section(ov) -> Section:
    from engine.report import charts
    v = ov.variants
    top = v.top(TOP_VARIANTS)
    svg = charts.pareto_chart([str(i) for i in range(1, len(top) + 1)], [c for _, c in top], v.n_cases,
                              title=f"The {len(top)} most frequent variants", x_label="variant rank")
    rows, cum = [], 0
    for rank, (seq, count) in enumerate(top, 1):
        cum += count
        rows.append([rank, count, count / v.n_cases, cum / v.n_cases, len(seq), " > ".join(seq)])
    blocks = [KeyFigures([("variants", format_count(v.n_variants)),
                          (f"contacts covered by the top {len(top)}", format_share(v.coverage(TOP_VARIANTS))),
                          ("variants needed for 80% of contacts", format_count(v.variants_for_coverage(0.8))),
                          ("contacts in the long tail", format_share(v.long_tail_share(TOP_VARIANTS)))]),
              Figure(svg, f"Contacts per variant for the {len(top)} most frequent variants (bars) and the "
                          f"cumulative share of all {format_count(v.n_cases)} contacts (line); the other "
                          f"{format_count(max(0, v.n_variants - len(top)))} variants are left out."),
              _table(["rank", "contacts", "share", "cumulative", "steps", "path"], rows,
                     ["count", "count", "share", "share", "count", None], table_id="variants")]
    return Section("variants", "Variants", "How many different paths do contacts take, and how concentrated "
                   "are they?", blocks)


# --- conformance ------------------------------------------------------------------------------------

def _sop_blocks(check, sop_svg: str | None) -> list:
    r = check.result
    sel = "; ".join(f"{k} = {', '.join(sorted(v))}" for k, v in check.selection.items())
    if r is None:
        return [Note(f"**{check.sop.name}**: no contact in this log matches its selection ({sel}).",
                     tone="warning")]
    blocks = [Paragraph(f"**{r.sop}** ({check.sop.path.name}), applied to the contacts with {sel}: "
                        f"{format_count(r.contacts)} contacts, {format_share(r.fit_share)} ran as designed; "
                        f"log fitness {r.log_fitness:.3f} (token replay, as pm4py), audit fitness "
                        f"{r.audit_fitness:.3f} (steps the SOP does not know count as deviations).")]
    if sop_svg:
        blocks.append(Figure(sop_svg, f"The SOP {r.sop} as designed, one lane per owning team, with what its "
                                      "contacts did: per step the share that ran it as designed, skipped it or "
                                      "ran it out of order; dashed purple arrows are flows outside the SOP; "
                                      "compliance-critical steps have a double frame."))
    rows = [[s.step, s.kind, s.owner or "-", "yes" if s.critical else "", s.contacts, s.share, s.impact]
            for s in r.steps[:15]]
    blocks.append(_table(["step", "deviation", "owner", "critical", "contacts", "share", "impact"], rows,
                         [None, None, None, None, "count", "share", "number"],
                         caption=f"{r.sop}: deviations by step, by impact (top 15)",
                         table_id=f"dev-{check.sop.path.stem}"))
    teams = [[s.value, s.contacts, s.fit_share, s.fitness] for s in r.segment_fitness if s.attribute == "team"]
    comp = {c.value: c.rate for c in r.compliance if c.attribute == "team"}
    if teams:
        blocks.append(_table(["team", "contacts", "ran as designed", "fitness", "compliant"],
                             [t + [comp.get(t[0])] for t in teams], [None, "count", "share", "number", "share"],
                             caption=f"{r.sop}: by team", table_id=f"team-{check.sop.path.stem}"))
    return blocks


def conformance_section(ov, sop_svgs: dict[str, str]) -> Section:
    blocks = []
    if not ov.sops:
        blocks.append(Note("No SOP was given: this section needs one. Run cxmine report with --sop models/ "
                           "(a folder of SOPs) or --sop FILE.bpmn.", tone="warning"))
    for check in ov.sops:
        blocks += _sop_blocks(check, sop_svgs.get(check.sop.name))
    if ov.sops:
        for n, ids, what in ((ov.unmatched_contacts, ov.unmatched_examples, "no SOP applies to"),
                             (ov.ambiguous_contacts, ov.ambiguous_examples, "several SOPs apply to")):
            blocks.append(Paragraph(f"{format_count(n)} contacts {what} were not checked"
                                    + (f" (e.g. {', '.join(ids)})" if ids else "") + "."))
    return Section("conformance", "Conformance to the SOPs", "Where does execution depart from the documented "
                   "procedures, at which step, and in which team?", blocks)


# --- drift ------------------------------------------------------------------------------------------

def drift_section(ov) -> Section:
    from engine.report.drift import drift_chart_svg
    d = ov.drift
    if d is None:
        return Section("drift", "Drift over time", "When did execution change, and what changed?",
                       [Note("Too few contacts for drift detection (at least 200 are needed).", tone="warning")])
    blocks = [Figure(drift_chart_svg(d, f"Drift: {len(d.change_points)} change point(s)"),
                     "Top: the evidence of a change at each window's start, against the false-alarm level. Bottom: "
                     "the shares of contacts with the step and the hand-over that moved most. Red lines: change "
                     "points.")]
    for i, p in enumerate(d.change_points, 1):
        blocks.append(Note(f"**Change {i}** {p.summary()} (confidence {p.confidence:.3f}).", tone="finding"))
        rows = [[c.kind, c.label, c.cases_before, c.share_before, c.cases_after, c.share_after, c.effect]
                for c in p.changes[:10]]
        blocks.append(_table(["kind", "what", "contacts before", "share before", "contacts after", "share after",
                              "effect (h)"], rows, [None, None, "count", "share", "count", "share", "number"],
                             caption=f"What changed at change {i}", table_id=f"drift-{i}"))
    seg_rows = [[s.attribute, s.value, s.n_cases, len(s.change_points),
                 "; ".join(p.summary() for p in s.change_points) or "no change"] for s in d.segments]
    if seg_rows:
        blocks.append(_table(["attribute", "value", "contacts", "change points", "what changed"], seg_rows,
                             [None, None, "count", "count", None], caption="Drift within each team",
                             table_id="drift-segments"))
    if not d.change_points:
        blocks.append(Paragraph(f"No change point passed the false-alarm control (alpha {d.settings.alpha:g}): "
                                "execution was stable over the period."))
    return Section("drift", "Drift over time", "When did execution change, where, and what exactly changed?",
                   blocks)


# --- handoffs and friction ------------------------------------------------------------------------

def _cost(value) -> str:
    return "-" if value is None else f"{value:,.0f}"


def friction_sentence(f, period_days: float) -> str:
    """One sentence a leader reads: what, where, how often, what it costs, who, evidence."""
    if f.cost_per_period > 0:
        cost = (f"costs about {_cost(f.cost_per_period)} (currency of the cost tables) over {period_days:g} days "
                "if nothing changes")
    elif f.cost_per_period < 0:
        cost = (f"takes about {_cost(-f.cost_per_period)} less handle time cost over {period_days:g} days than "
                "comparable contacts: the risk, not the time, is the problem")
    else:
        cost = "adds no measurable handle time"
    teams = f"; teams {', '.join(f.teams)}" if f.teams else ""
    return (f"**{f.where}**: {format_count(f.contacts)} contacts ({format_share(f.share)}), about "
            f"{f.contacts_per_period:,.0f} per {period_days:g} days; {cost}; owners {', '.join(f.owners) or '-'}"
            f"{teams}; risk {f.risk:,.0f}; evidence: {len(f.evidence)} example contacts.")


def friction_section(ov) -> Section:
    r = ov.friction
    if r is None:
        return Section("friction", "Friction points, ranked", "What should be fixed first?",
                       [Note("No SOP was given: friction needs the SOPs' owners, costs and critical steps. Run "
                             "cxmine report with --sop models/.", tone="warning")])
    from engine.analyses.friction import RANKING_RULE
    blocks = [Paragraph(f"{RANKING_RULE[r.rank_by].capitalize()}. The risk rank orders by risk = contacts per period "
                        "x (1 + 9 x share of the contacts that breach a compliance-critical step). Costs use each "
                        "owner's cost per minute from the SOP sidecars, projected over "
                        f"{r.period_days:g} days from the {r.span_days:.1f} days in the log.")]
    rows = [[f.rank, f.rank_by_risk, f.kind, f.where, ", ".join(f.owners), ", ".join(f.teams), f.contacts, f.share,
             f.extra_minutes_per_contact, f.cost_per_period, f.risk, " ".join(f.evidence[:3])]
            for f in r.frictions[:25]]
    blocks.append(_table(["rank (cost)", "rank (risk)", "kind", "friction", "owners", "teams", "contacts", "share",
                          "extra min per contact", f"cost over {r.period_days:g} days", "risk", "evidence"], rows,
                         ["count", "count", None, None, None, None, "count", "share", "number", "number", "number",
                          None], caption="Friction points (the 25 first by cost)", table_id="frictions"))
    return Section("friction", "Friction points, ranked", "What should be fixed first: how widespread, what it "
                   "costs, which teams, what evidence, and what happens if nothing changes?", blocks)


def handoff_section(ov) -> Section:
    r = ov.friction
    if r is None:
        return Section("handoffs", "Handoffs between owners", "Where does work change hands, and what does it cost?",
                       [Note("No SOP was given: handoffs are measured per SOP. Run cxmine report with --sop "
                             "models/.", tone="warning")])
    edges = [e for e in r.handoffs if e.kind == "owner"][:25]
    rows = [[e.frm, e.to, e.contacts, e.share, e.delay_s.get("median"), e.delay_s.get("p90"),
             e.context_loss.get("rate"), (e.handle_time_min or {}).get("difference")] for e in edges]
    blocks = [_table(["from owner", "to owner", "contacts", "share", "median delay", "p90 delay",
                      "context lost", "handle time difference (min)"], rows,
                     [None, None, "count", "share", "s", "s", "share", "number"],
                     caption="Handoffs between owning teams (context lost: the customer identifies again, or a step "
                             "is repeated, after the handoff; handle time: contacts that crossed it minus comparable "
                             "contacts of the same SOP and channel)", table_id="handoffs")]
    o = r.owners
    blocks.append(Paragraph(f"Owners of the events: {format_count(o['events_owner_from_log'])} from the log, "
                            f"{format_count(o['events_owner_from_sop'])} from the SOP lanes, "
                            f"{format_count(o['events_owner_unknown'])} unknown (counted, never dropped)."))
    return Section("handoffs", "Handoffs between owners", "Where does work change hands, how long does it wait, and "
                   "where is context lost?", blocks)


# --- evidence, methods --------------------------------------------------------------------------------

def evidence_section(ov) -> Section:
    rows = []
    for check in ov.sops:
        r = check.result
        if r is None:
            continue
        rows += [[r.sop, f"{s.step} ({s.kind})", s.contacts, " ".join(s.examples)] for s in r.steps[:15]]
    if ov.friction is not None:
        rows = [["friction", f"#{f.rank} {f.where}", f.contacts, " ".join(f.evidence)]
                for f in ov.friction.frictions[:25]] + rows
    blocks = [_table(["SOP", "finding", "contacts", "example contacts"], rows, [None, None, "count", None],
                     caption="Example contact ids for each deviation above (look them up in the log or the "
                             "contact platform)", table_id="evidence")] if rows else []
    if ov.unmatched_examples:
        blocks.append(Paragraph("Contacts no SOP applies to, e.g.: " + ", ".join(ov.unmatched_examples) + "."))
    if not blocks:
        blocks.append(Paragraph("No finding needs evidence here: no SOP was given."))
    return Section("evidence", "Evidence", "Which contacts show each finding?", blocks)


def methods_section(ov) -> Section:
    return Section("methods", "Methods and definitions", "How was each figure computed?", [
        Paragraph("**Contacts and variants.** One contact is one case of the log; a variant is a distinct "
                  "sequence of steps. Every contact of the log is analysed; nothing is sampled."),
        Paragraph("**KPIs.** AHT = (talk + hold + after-contact work) / handled contacts. FCR = resolved contacts "
                  f"with no repeat contact by the same customer within {ov.kpis.window_days:g} days / resolved "
                  "contacts. Transfer rate = contacts with a transfer / contacts. Compliance = contacts in which "
                  "every compliance-critical SOP step ran / contacts in scope. Weeks are ISO weeks of the "
                  "contact's first event."),
        Paragraph("**Conformance.** Each contact is replayed on its SOP (BPMN converted to a Petri net) by "
                  "token-based replay with pm4py's semantics; fitness = 0.5 (1 - missing/consumed) + 0.5 (1 - "
                  "remaining/produced). Deviations are located at a step: skipped, inserted, unknown activity, "
                  "out of order. Impact = contacts x 2 when the step is compliance-critical x (1 + the owner's "
                  "cost per minute)."),
        Paragraph("**Drift.** Contacts in order of their first event; seeded binary segmentation with a two-sample "
                  "G-test on the share of contacts with each step-to-step hand-over; the probability of reporting "
                  "any change point on a stable log is at most alpha (Bonferroni over every test made)."),
        Paragraph("**Friction.** Every finding (deviation by step and team, handoff, drift, KPI outlier) on one "
                  "scale: contacts per period, extra minutes per contact measured from event times against "
                  "comparable contacts without the friction (same SOP, channel and owners), times each owner's cost "
                  "per minute, projected over the period; risk weights the contacts that breach a "
                  "compliance-critical step by 10."),
        Paragraph("Full definitions: docs/definitions.md, docs/conformance.md and docs/drift.md in the cxmine "
                  "documentation."),
    ])


def report_sections(ov, *, map_svg: str | None = None, sop_svgs: dict[str, str] | None = None) -> list[Section]:
    """Every section of the HTML report, in reading order."""
    return [summary_section(ov), kpi_section(ov), process_section(ov, map_svg), variants_section(ov),
            conformance_section(ov, sop_svgs or {}), drift_section(ov), handoff_section(ov), friction_section(ov),
            evidence_section(ov), methods_section(ov)]


def report_document(ov, audit) -> dict:
    """report.json: the results in canonical units, with the audit trail (no times: those go to timing.json)."""
    return {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION, "audit": audit.as_dict(),
        "log": {"contacts": ov.n_contacts, "events": ov.n_events, "first_event": ov.first_event,
                "last_event": ov.last_event, "segments": list(ov.segments)},
        "kpis": ov.kpis.as_dict(),
        "kpi_trends": {label: t.as_dict()["segments"].get("week", {}) for label, t in ov.kpi_trends.items()},
        "variants": {**ov.variants.as_dict(50), "coverage_top_15": ov.variants.coverage(TOP_VARIANTS),
                     "variants_for_80_percent": ov.variants.variants_for_coverage(0.8), "cases": ov.profile.as_dict()},
        "dfg": ov.dfg.as_dict(),
        "conformance": {"sops": [{"sop": c.sop.name, "file": c.sop.path.name,
                                  "applies_to": {k: sorted(v) for k, v in c.selection.items()},
                                  "result": None if c.result is None else c.result.as_dict()} for c in ov.sops],
                        "unmatched": {"contacts": ov.unmatched_contacts, "examples": list(ov.unmatched_examples)},
                        "ambiguous": {"contacts": ov.ambiguous_contacts, "examples": list(ov.ambiguous_examples)}},
        "drift": None if ov.drift is None else ov.drift.as_dict(),
        "friction": None if ov.friction is None else ov.friction.as_dict(),
    }
