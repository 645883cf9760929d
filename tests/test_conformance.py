"""Deviation location against the simulator's ground truth, and the ``cxmine conform`` command."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from engine.analyses.conformance import KINDS, check_conformance, compile_net, replay_traces
from engine.cli import main
from engine.log import encode_log, write_log
from engine.simulate import simulate_contacts
from engine.sop import load_sop

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
