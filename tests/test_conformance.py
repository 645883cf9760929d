"""Deviation location against the simulator's ground truth, and the ``cxmine conform`` command."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from engine.analyses.conformance import check_conformance
from engine.analyses.deviations import KINDS
from engine.analyses.replay import replay_traces
from engine.cli import main
from engine.log import encode_log, write_log
from engine.model import compile_net, load_sop
from engine.simulate import simulate_contacts

MODELS = Path(__file__).resolve().parent.parent / "models"
RENAME = {"contact_id": "case_id", "start": "timestamp", "end": "end_timestamp", "agent": "resource"}


def _simulated_log(tmp_path, sop, contacts, seed, rate=0.05):
    sim = simulate_contacts([sop], contacts, seed=seed, deviation_rate=rate)
    ev = sim.events
    ev = ev.rename_columns([RENAME.get(c, c) for c in ev.column_names]).drop_columns(["customer"])
    path = tmp_path / f"{sop.path.stem}-{seed}.parquet"
    write_log(ev, path)
    return sim, path


def _free_insertions(sop, enc, gt):
    """Ground-truth insertions the SOP allows where they happened (e.g. a step repeated inside a loop):
    taking one occurrence of the step out of the contact does not lower its missing + remaining
    tokens, so there is nothing to locate."""
    net = compile_net(sop.net, sop.initial_marking, sop.final_marking)
    ids = {c: i for i, c in enumerate(enc.case_ids.to_pylist())}
    free = set()
    for c, step in zip(gt.contact_id, gt.step):
        i = ids[c]
        trace = [enc.activities[k] for k in enc.activity_codes[enc.case_offsets[i]:enc.case_offsets[i + 1]]]
        task = [sop.task_name(a) for a in trace]
        cuts = [trace[:j] + trace[j + 1:] for j, a in enumerate(task) if a == sop.task_name(step)]
        tt = replay_traces([trace] + cuts, net, label_map=sop.label_map).trace_table()
        cost = tt["missing"] + tt["remaining"]
        if len(cuts) and cost[1:].min() >= cost[0]:
            free.add((c, sop.task_name(step)))
    return free


@pytest.mark.parametrize("name,seed", [("lost_card", 11), ("billing_dispute", 12), ("order_delivery", 13),
                                       ("password_reset", 14), ("omnichannel_escalation", 15)])
def test_deviation_location_matches_ground_truth(tmp_path, name, seed):
    sop = load_sop(MODELS / f"{name}.bpmn")
    sim, path = _simulated_log(tmp_path, sop, 10000, seed)
    enc = encode_log(path, with_case_ids=True)
    res = check_conformance(enc, sop)
    gt = sim.deviations.to_pandas()
    gt = gt[~gt.allowed_by_sop]
    # A swap of two steps is, event by event, one step done early and one late; where one of them
    # is optional, a single insertion is the cheaper explanation and is what cxmine reports, so
    # contacts with a swap are scored apart (see the out-of-order bound below).
    swapped = set(gt.contact_id[gt.kind == "swapped"])
    free = _free_insertions(sop, enc, gt[gt.kind == "inserted"])
    truth = {(c, sop.task_name(s), k) for c, s, k in zip(gt.contact_id, gt.step, gt.kind)
             if c not in swapped and not (k == "inserted" and (c, sop.task_name(s)) in free)}
    dev = res.deviations
    ids = enc.case_ids.to_pylist()
    found = {(ids[c], dev.steps[s], KINDS[k]) for c, s, k in zip(dev.case, dev.step, dev.kind)
             if ids[c] not in swapped}
    for kind in ("skipped", "inserted", "unknown"):
        t = {x for x in truth if x[2] == kind}
        f = {x for x in found if x[2] == kind}
        assert len(t) > 50
        precision, recall = len(t & f) / len(f), len(t & f) / len(t)
        assert precision >= 0.95 and recall >= 0.95, (kind, precision, recall)
    # swaps: reported as out of order (step = the one that ran late), or as an insertion when cheaper
    sw = gt[gt.kind == "swapped"]
    hit = {(ids[c], dev.steps[s]) for c, s, k in zip(dev.case, dev.step, dev.kind) if KINDS[k] == "out_of_order"}
    recall_sw = np.mean([(c, sop.task_name(s)) in hit for c, s in zip(sw.contact_id, sw.step)])
    assert recall_sw >= 0.7


def test_fitting_log_has_no_deviations(tmp_path):
    sop = load_sop(MODELS / "lost_card.bpmn")
    _, path = _simulated_log(tmp_path, sop, 2000, 3, rate=0.0)
    res = check_conformance(encode_log(path, with_case_ids=True), sop)
    assert res.log_fitness == 1.0 and res.audit_fitness == 1.0 and res.steps == ()
    assert all(c.rate == 1.0 for c in res.compliance)


def test_segments_evidence_and_compliance(tmp_path):
    sop = load_sop(MODELS / "lost_card.bpmn")
    sim, path = _simulated_log(tmp_path, sop, 4000, 5, rate=0.2)
    enc = encode_log(path, with_case_ids=True)
    res = check_conformance(enc, sop, examples=3)
    ids = set(enc.case_ids.to_pylist())
    assert res.steps and all(0 < len(s.examples) <= 3 and set(s.examples) <= ids for s in res.steps)
    assert [s.impact for s in res.steps] == sorted((s.impact for s in res.steps), reverse=True)
    # every deviation is attributed once per segment attribute
    for attr in ("team", "site", "shift", "resource", "channel", "week"):
        per = sum(s.contacts for s in res.segment_deviations if s.attribute == attr)
        assert per == sum(s.contacts for s in res.steps), attr
    assert {c.attribute for c in res.compliance} == {"team", "site", "shift"}
    assert set(res.compliance_spread["team"]) == {"min", "max", "range", "std"}
    assert any(s.critical for s in res.steps)


def test_cli_conform_json_csv_and_alignments(tmp_path):
    sop_path = MODELS / "lost_card.bpmn"
    _, path = _simulated_log(tmp_path, load_sop(sop_path), 3000, 7)
    out = tmp_path / "csv"
    r = CliRunner().invoke(main, ["conform", str(path), "--sop", str(sop_path), "--json", "--csv", str(out),
                                  "--alignments", "2", "-q"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert 0 < data["log_fitness"] < 1 and data["deviation_counts"]
    assert len(data["alignments"]) == 2
    for name in ("deviations", "segment_deviations", "segment_fitness", "compliance", "worst_variants",
                 "contacts"):
        assert (out / f"{name}.csv").exists()
    assert len((out / "contacts.csv").read_text().splitlines()) == 3001
    r2 = CliRunner().invoke(main, ["conform", str(path), "--sop", str(sop_path), "--json",
                                   "--no-unknown-as-deviation", "-q"])
    d2 = json.loads(r2.stdout)
    assert d2["audit_fitness"] == d2["log_fitness"]
    assert not any("unknown" in kinds for kinds in d2["deviation_counts"].values())
    text = CliRunner().invoke(main, ["conform", str(path), "--sop", str(sop_path), "-q"]).output
    assert "log fitness" in text and "Deviations by step" in text


def test_cli_conform_time_budget_message(tmp_path):
    sop_path = MODELS / "lost_card.bpmn"
    _, path = _simulated_log(tmp_path, load_sop(sop_path), 500, 8)
    r = CliRunner().invoke(main, ["conform", str(path), "--sop", str(sop_path), "--alignments", "50",
                                  "--time-budget", "0.000001", "-q"])
    assert r.exit_code == 0
    assert "time budget of 1e-06 s reached" in r.output and "--time-budget" in r.output


def test_cli_conform_bad_input(tmp_path):
    sop_path = MODELS / "lost_card.bpmn"
    r = CliRunner().invoke(main, ["conform", str(tmp_path / "missing.parquet"), "--sop", str(sop_path)])
    assert r.exit_code == 1 and "Event log not found" in r.output and "Traceback" not in r.output
    _, path = _simulated_log(tmp_path, load_sop(sop_path), 200, 9)
    r = CliRunner().invoke(main, ["conform", str(path), "--sop", str(sop_path), "--by", "colour"])
    assert r.exit_code == 1 and "Cannot segment by 'colour': the log has no such attribute" in r.output
    r = CliRunner().invoke(main, ["conform", str(path), "--sop", str(tmp_path / "none.bpmn")])
    assert r.exit_code == 1 and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["conform", str(path), "--sop", str(sop_path), "--alignments", "-1"])
    assert r.exit_code == 2


def test_alignments_of_top_variants():
    from engine.analyses.alignments import align_top_variants

    sop = load_sop(MODELS / "lost_card.bpmn")
    fits = ["IVR menu", "Queue", "Agent answer", "Verify identity", "Block card", "Review recent transactions",
            "Order replacement card", "Resolve", "Wrap-up"]
    skips = [a for a in fits if a != "Block card"]
    net = compile_net(sop.net, sop.initial_marking, sop.final_marking)
    replay = replay_traces([skips] * 3 + [fits] * 2, net, label_map=sop.label_map)
    aligned, note = align_top_variants(replay, sop, 5, 30.0)
    assert note == "" and [a.contacts for a in aligned] == [3, 2]
    assert aligned[0].cost == 1 and aligned[0].deviations == ("skipped: Block card",)
    assert aligned[1].cost == 0 and aligned[1].fitness == 1.0


def _case_range(enc, a, b):
    """Cases a..b-1 of an encoded log, as an encoded log of their own (same labels)."""
    from dataclasses import replace

    lo, hi = enc.case_offsets[a], enc.case_offsets[b]
    return replace(enc, case_offsets=enc.case_offsets[a:b + 1] - lo, activity_codes=enc.activity_codes[lo:hi],
                   timestamps=enc.timestamps[lo:hi],
                   end_timestamps=None if enc.end_timestamps is None else enc.end_timestamps[lo:hi],
                   attributes={k: (c[lo:hi], labels) for k, (c, labels) in enc.attributes.items()},
                   case_ids=enc.case_ids.slice(a, b - a),
                   case_attributes={k: (c[a:b], labels) for k, (c, labels) in enc.case_attributes.items()})


@pytest.mark.parametrize("cuts", [(0.3, 0.55), (0.0, 0.5), (0.999, 1.0)])
def test_results_of_case_ranges_add_up_to_the_whole(tmp_path, cuts):
    sop = load_sop(MODELS / "lost_card.bpmn")
    _, path = _simulated_log(tmp_path, sop, 3000, 17, rate=0.3)
    enc = encode_log(path, with_case_ids=True)
    whole = check_conformance(enc, sop, examples=3, by=("week",))
    bounds = [0] + [int(c * enc.n_cases) for c in cuts] + [enc.n_cases]
    parts = [check_conformance(_case_range(enc, a, b), sop, examples=3, by=("week",))
             for a, b in zip(bounds[:-1], bounds[1:])]
    merged = parts[0]
    for p in parts[1:]:
        merged = merged + p
    assert merged.tokens == whole.tokens and merged.contacts == whole.contacts == 3000
    assert merged.log_fitness == whole.log_fitness and merged.audit_fitness == whole.audit_fitness
    assert merged.average_trace_fitness == whole.average_trace_fitness and merged.fit_share == whole.fit_share
    assert merged.variants == whole.variants
    assert {(s.step, s.kind): s.contacts for s in merged.steps} == {(s.step, s.kind): s.contacts for s in whole.steps}
    assert sum(s.contacts for s in whole.steps) > 100
    seg = {(s.attribute, s.value, s.step, s.kind): s.contacts for s in whole.segment_deviations}
    assert {(s.attribute, s.value, s.step, s.kind): s.contacts for s in merged.segment_deviations} == seg
    assert merged.steps == whole.steps  # examples too: the first contacts in log order
    assert merged.segment_fitness == whole.segment_fitness and merged.compliance == whole.compliance
    assert merged.worst_variants == whole.worst_variants and merged.compliance_spread == whole.compliance_spread
    assert merged == whole and merged.as_dict() == whole.as_dict()
    assert merged.replay is None and merged.deviations is None  # per-contact detail stays with its part
    # examples are evidence: ids of contacts that have that deviation
    dev = whole.deviations
    ids = enc.case_ids.to_pylist()
    for s in merged.steps:
        have = {ids[c] for c, st, k in zip(dev.case, dev.step, dev.kind) if dev.steps[st] == s.step
                and KINDS[k] == s.kind}
        assert set(s.examples) <= have and len(s.examples) == min(3, s.contacts)


def test_results_merge_only_for_the_same_sop_and_settings(tmp_path):
    from engine.errors import AnalysisError

    sop = load_sop(MODELS / "lost_card.bpmn")
    _, path = _simulated_log(tmp_path, sop, 300, 18, rate=0.3)
    enc = encode_log(path, with_case_ids=True)
    with pytest.raises(AnalysisError, match="different 'examples'"):
        check_conformance(enc, sop, examples=2) + check_conformance(enc, sop, examples=3)
    with pytest.raises(AnalysisError, match="different 'unknown_as_deviation'"):
        check_conformance(enc, sop) + check_conformance(enc, sop, unknown_as_deviation=False)


def test_week_is_the_iso_week_of_the_contact(tmp_path):
    sop = load_sop(MODELS / "lost_card.bpmn")
    _, path = _simulated_log(tmp_path, sop, 1000, 19, rate=0.3)
    enc = encode_log(path, with_case_ids=True)
    res = check_conformance(enc, sop, by=("week",))
    weeks = {s.value for s in res.segment_deviations if s.attribute == "week"}
    fit_weeks = {s.value for s in res.segment_fitness if s.attribute == "week"}
    assert weeks and weeks <= fit_weeks
    assert all(re.fullmatch(r"\d{4}-W\d{2}", w) for w in fit_weeks)
    import datetime as dt
    first = dt.datetime.fromtimestamp(int(enc.timestamps[0]) / 1e9, tz=dt.timezone.utc).isocalendar()
    assert f"{first[0]}-W{first[1]:02d}" in fit_weeks


def test_contacts_csv_has_every_contact_with_its_tokens(tmp_path):
    import csv

    from engine.report.conformance import write_conformance_csv

    sop = load_sop(MODELS / "lost_card.bpmn")
    _, path = _simulated_log(tmp_path, sop, 400, 20, rate=0.3)
    enc = encode_log(path, with_case_ids=True)
    res = check_conformance(enc, sop)
    write_conformance_csv(res, tmp_path / "out")
    with open(tmp_path / "out" / "contacts.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    tt = res.replay.trace_table()
    assert rows[0] == ["contact_id", "missing", "consumed", "remaining", "produced", "unknown", "is_fit", "fitness",
                       "audit_fitness"]
    assert [r[0] for r in rows[1:]] == enc.case_ids.to_pylist()
    for i, r in enumerate(rows[1:]):
        assert [int(x) for x in r[1:6]] == [int(tt[c][i]) for c in ("missing", "consumed", "remaining", "produced",
                                                                     "unknown")]
        assert r[6] == str(bool(tt["is_fit"][i])) and float(r[7]) == tt["fitness"][i]
        assert float(r[8]) == tt["audit_fitness"][i]
    from engine.errors import AnalysisError

    with pytest.raises(AnalysisError, match="merged from parts"):
        write_conformance_csv(res + res, tmp_path / "merged")
    assert not (tmp_path / "merged").exists()


def _table_rows(text: str, title: str, skip: int = 2) -> list[str]:
    """Data lines of the text table under title (after its header and rule lines)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title)) + 1 + skip
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


def test_cli_conform_top_limits_the_deviation_table_only(tmp_path):
    sop_path = MODELS / "lost_card.bpmn"
    _, path = _simulated_log(tmp_path, load_sop(sop_path), 1500, 21, rate=0.3)
    data = json.loads(CliRunner().invoke(main, ["conform", str(path), "--sop", str(sop_path), "--json", "-q"]).stdout)
    assert len(data["steps"]) > 2
    r = CliRunner().invoke(main, ["conform", str(path), "--sop", str(sop_path), "--top", "2", "-q"])
    assert r.exit_code == 0, r.output
    assert len(_table_rows(r.output, "Deviations by step")) == 2
    assert len(_table_rows(r.output, "Evidence", skip=0)) == 2
    fitness = _table_rows(r.output, "Fitness by segment")
    assert len(fitness) == len(data["segment_fitness"])
    assert {line.split()[0] for line in fitness} == {"team", "site", "shift", "channel"}
    assert len(_table_rows(r.output, "Compliance consistency")) == len(data["compliance"]) > 2
    ranks = [line.split()[0] for line in _table_rows(r.output, "Worst variants") if line[:4].strip().isdigit()]
    assert ranks == [str(k) for k in range(1, 11)] and len(data["worst_variants"]) == 10


def test_cli_conform_writes_alignments_csv_only_when_asked(tmp_path):
    sop_path = MODELS / "lost_card.bpmn"
    _, path = _simulated_log(tmp_path, load_sop(sop_path), 500, 22, rate=0.3)
    r = CliRunner().invoke(main, ["conform", str(path), "--sop", str(sop_path), "--csv", str(tmp_path / "a"), "-q"])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "compliance.csv", "contacts.csv", "deviations.csv", "segment_deviations.csv", "segment_fitness.csv",
        "variants.csv", "worst_variants.csv"]
    r = CliRunner().invoke(main, ["conform", str(path), "--sop", str(sop_path), "--csv", str(tmp_path / "b"),
                                  "--alignments", "1", "-q"])
    assert r.exit_code == 0, r.output
    assert len((tmp_path / "b" / "alignments.csv").read_text().splitlines()) == 2
