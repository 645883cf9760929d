"""Comparing two groups of contacts: counts against a twin, the test and its correction, the command."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from lxml import etree

import naive
from sample import run_cxmine as cx, sample_log  # noqa: F401  (sample_log is a fixture)
from engine.analyses.comparison import adjust_bh, compare_logs, split_by_periods
from engine.cli.compare import parse_groups, parse_periods
from engine.errors import AnalysisError, UsageError

ROOT = Path(__file__).resolve().parents[1]
DAY = 86_400 * 1_000_000_000


def log_of(sequences, start=0):
    return naive.encode_cases([[{"activity": a, "timestamp": start + i * DAY + j} for j, a in enumerate(s)]
                               for i, s in enumerate(sequences)])


def twin_counts(sequences) -> dict:
    out = {}
    for s in sequences:
        for key in {("edge", e) for e in zip(s, s[1:])} | {("activity", (a,)) for a in s} | {("variant", tuple(s))}:
            out[key] = out.get(key, 0) + 1
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.sampled_from("abcd"), min_size=1, max_size=6), min_size=1, max_size=25),
       st.lists(st.lists(st.sampled_from("abce"), min_size=1, max_size=6), min_size=1, max_size=25))
def test_contacts_per_row_match_the_twin(seq_a, seq_b):
    result = compare_logs(log_of(seq_a), log_of(seq_b), "A", "B")
    ca, cb = twin_counts(seq_a), twin_counts(seq_b)
    got = {(r.kind, r.item): (r.n_a, r.n_b) for r in result.rows}
    assert got == {k: (ca.get(k, 0), cb.get(k, 0)) for k in set(ca) | set(cb)}
    for r in result.rows:
        assert 0 <= r.p_value <= 1 and r.p_value <= r.q_value <= 1
        assert math.isclose(r.effect_h, 2 * math.asin(math.sqrt(r.share_b)) - 2 * math.asin(math.sqrt(r.share_a)))


def test_z_test_and_correction_by_hand():
    # 30 of 100 against 50 of 100: z = 0.2 / sqrt(0.4 * 0.6 * 0.02) = 2.8868, p = 0.003892
    result = compare_logs(log_of([["x", "y"]] * 30 + [["x"]] * 70), log_of([["x", "y"]] * 50 + [["x"]] * 50),
                          "A", "B")
    row = next(r for r in result.rows if r.kind == "activity" and r.item == ("y",))
    assert row.p_value == pytest.approx(0.0038924, rel=1e-4)
    assert row.change == pytest.approx(0.2)
    same = next(r for r in result.rows if r.kind == "activity" and r.item == ("x",))
    assert same.p_value == 1.0  # every contact on both sides: no variance, no difference
    # sorted 0.01 0.03 0.04 0.5 -> raw 0.04 0.06 0.0533 0.5 -> running minimum from the top
    assert adjust_bh([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])


def test_a_planted_change_is_found_first_and_noise_is_not_significant():
    import random
    rnd = random.Random(3)
    base = [["in", "verify", "fix", "out"]] * 400
    a = [s if rnd.random() > 0.02 else ["in", "fix", "out"] for s in base]
    b = [s if rnd.random() > 0.30 else ["in", "fix", "out"] for s in base]
    result = compare_logs(log_of(a), log_of(b), "A", "B")
    assert {r.item for r in result.significant()} == {("verify",), ("in", "verify"), ("verify", "fix"),
                                                      ("in", "fix"), ("in", "verify", "fix", "out"),
                                                      ("in", "fix", "out")}
    assert result.rows[0].item in {("verify",), ("in", "verify"), ("verify", "fix"), ("in", "fix")}


def test_periods_split_by_first_event_with_end_dates_included():
    (a0, a1), (b0, b1), labels = parse_periods("1970-01-01..1970-01-02,1970-01-03..1970-01-03")
    assert (a0, a1, b0, b1) == (0, 2 * DAY, 2 * DAY, 3 * DAY) and labels[1] == "1970-01-03..1970-01-03"
    a, b = split_by_periods(log_of([["x"]] * 5), (a0, a1), (b0, b1))
    assert (a.n_cases, b.n_cases) == (2, 1)


@pytest.mark.parametrize("call,message", [
    (lambda: parse_groups("team=A"), "--by 'team=A' is not ATTR=A,B"),
    (lambda: parse_periods("2026-01-01..2026-01-31"), "is not two ranges"),
    (lambda: parse_periods("2026-01-31..2026-01-01,2026-02-01..2026-02-02"), "ends before it starts"),
    (lambda: parse_periods("2026-01-01..soon,2026-02-01..2026-02-02"), "not FROM..TO with ISO dates"),
])
def test_bad_groups_and_periods(call, message):
    with pytest.raises(UsageError, match=message.replace(".", r"\.")):
        call()


def test_an_empty_group_is_refused():
    with pytest.raises(AnalysisError, match="Group 'B' has no contacts"):
        compare_logs(log_of([["x"]]), log_of([]), "A", "B")


# ---- the command on the sample: team B's drift leaves out identity verification ----------------------------------

def test_compare_names_the_step_the_sample_drift_changed(sample_log, tmp_path):
    out = tmp_path / "diff.svg"
    result = cx("compare", str(sample_log), "--by", "team=A,B", "--where", "intent=lost_card", "-o", str(out),
                "--csv", str(tmp_path / "csv"), "--json", "-q")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    top = data["rows"][0]
    assert top["kind"] == "activity" and top["item"] == ["Verify identity"] and top["change"] < -0.05
    assert top["q_value"] < 1e-6
    texts = [t.text or "" for t in etree.parse(str(out)).getroot().iter("{http://www.w3.org/2000/svg}text")]
    assert any(t.startswith("Verify identity") for t in texts)
    rows = list(csv.DictReader(open(tmp_path / "csv" / "compare.csv", encoding="utf-8")))
    assert len(rows) == len(data["rows"]) and rows[0]["item"] == "Verify identity"


def test_compare_periods(sample_log):
    result = cx("compare", str(sample_log), "--periods", "2026-02-02..2026-03-01,2026-03-02..2026-03-29",
                "--where", "intent=lost_card", "--where", "team=B", "--json", "-q")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["rows"][0]["item"] in (["Verify identity"], ["Agent answer", "Verify identity"],
                                       ["Agent answer", "Block card"])


@pytest.mark.parametrize("args,code,message", [
    ([], 2, "Give exactly one of --by ATTR=A,B and --periods"),
    (["--by", "team=A,B", "--periods", "2026-01-01..2026-01-02,2026-01-03..2026-01-04"], 2, "Give exactly one"),
    (["--by", "planet=A,B"], 1, "Cannot segment by 'planet'"),
    (["--by", "team=A,Z"], 1, "Group 'team = Z' has no contacts"),
    (["--by", "team=A,B", "-o", "x.gif"], 2, "unknown format 'gif'"),
    (["--by", "team=A,B", "--sop", "models/nope.bpmn"], 1, "SOP model not found"),
])
def test_compare_bad_input(sample_log, args, code, message):
    result = cx("compare", str(sample_log), *args, "-q")
    assert result.exit_code == code, result.output
    assert message in result.output


# ---- --sop: the SOP's steps as rows, tested with the rest --------------------------------------------------------

def test_compare_with_the_sop_names_the_skipped_step(sample_log, tmp_path):
    out = tmp_path / "diff.svg"
    result = cx("compare", str(sample_log), "--by", "team=A,B", "--sop", str(ROOT / "models" / "lost_card.bpmn"),
                "-o", str(out), "--json", "-q")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["sops"] == ["Lost or stolen card"]
    conform = json.loads(cx("map", str(sample_log), "--sop", str(ROOT / "models" / "lost_card.bpmn"),
                            "--where", "team=A,B", "--json", "-q").output)
    assert data["contacts_a"] + data["contacts_b"] == conform["contacts"]     # only the SOP's contacts
    rows = {(r["kind"], tuple(r["item"])): r for r in data["rows"]}
    skipped = rows[("skipped", ("Verify identity",))]
    assert skipped["contacts_a"] < 5 and skipped["contacts_b"] > 90 and skipped["q_value"] < 1e-12
    assert data["rows"][0]["item"] == ["Verify identity"]
    assert {r["kind"] for r in data["rows"]} >= {"skipped", "out_of_order", "edge", "activity", "variant"}
    q = adjust_bh([r["p_value"] for r in data["rows"]])         # one correction over every row, SOP rows included
    assert [r["q_value"] for r in data["rows"]] == pytest.approx(q)
    texts = [t.text or "" for t in etree.parse(str(out)).getroot().iter("{http://www.w3.org/2000/svg}text")]
    assert any(t.startswith("skipped +") for t in texts)


def test_sop_rows_count_what_map_sop_counts(tmp_path):
    from engine.model import load_sop
    from engine.analyses.sop_execution import measure_sop_execution
    from dataclasses import replace
    sop = replace(load_sop(ROOT / "models" / "lost_card.bpmn"), applies_to={})
    base = ["IVR menu", "Queue", "Agent answer", "Verify identity", "Block card", "Order replacement card",
            "Review recent transactions", "Resolve", "Wrap-up"]
    skip = [a for a in base if a != "Verify identity"]
    late = base[:3] + ["Block card", "Verify identity"] + base[5:]
    a = log_of([base] * 8 + [skip] * 2)
    b = log_of([base] * 4 + [skip] * 5 + [late] * 1)
    result = compare_logs(a, b, "A", "B", sop=sop)
    rows = {(r.kind, r.item): (r.n_a, r.n_b) for r in result.rows}
    assert rows[("skipped", ("Verify identity",))] == (2, 5)
    assert rows[("out_of_order", ("Verify identity",))] == (0, 1)
    for log, side in ((a, 0), (b, 1)):
        steps = measure_sop_execution(log, sop).steps
        for s in steps:
            for kind in ("skipped", "out_of_order"):
                assert rows.get((kind, (s.task,)), (0, 0))[side] == s.counts[kind]


def test_compare_sop_that_applies_to_no_contact_of_a_group(sample_log):
    result = cx("compare", str(sample_log), "--by", "team=A,B", "--where", "intent=billing_dispute",
                "--sop", str(ROOT / "models" / "lost_card.bpmn"), "-q")
    assert result.exit_code == 1, result.output
    assert "Group 'team = A' has no contacts that SOP 'Lost or stolen card' applies to" in result.output


def test_the_difference_map_puts_a_step_change_on_the_activity_the_sop_maps_to_it():
    from dataclasses import replace
    from engine.model import load_sop
    from engine.report.comparison_map import build_comparison_graph
    sop = replace(load_sop(ROOT / "models" / "lost_card.bpmn"), applies_to={})
    full = ["IVR menu", "Queue", "Agent answer", "ID&V", "Card blocked", "Order replacement card",
            "Review recent transactions", "Resolve", "Wrap-up"]          # ID&V and Card blocked are mapped labels
    skip = [a for a in full if a != "ID&V"]
    result = compare_logs(log_of([full] * 200), log_of([full] * 120 + [skip] * 80), "A", "B", sop=sop)
    assert result.step_of["ID&V"] == "Verify identity"
    source = build_comparison_graph(result, "t").source
    node = next(line for line in source.splitlines() if "label=\"ID&V" in line)
    assert "skipped +40.0 pp (0.0% → 40.0%)" in node


def test_compare_with_the_sop_library_names_the_skipped_step_over_every_contact(sample_log):
    result = cx("compare", str(sample_log), "--by", "team=A,B", "--sop", str(ROOT / "models"), "--json", "-q")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["sops"]) == 5
    top = data["rows"][0]
    assert (top["kind"], top["item"]) == ("skipped", ["Verify identity"]) and top["q_value"] < 1e-40
    # the library's rows add up the SOPs' own: lost card's skips are among them
    one = json.loads(cx("compare", str(sample_log), "--by", "team=A,B", "--sop",
                        str(ROOT / "models" / "lost_card.bpmn"), "--json", "-q").output)
    lost = next(r for r in one["rows"] if (r["kind"], r["item"]) == ("skipped", ["Verify identity"]))
    assert top["contacts_b"] > lost["contacts_b"] and top["contacts_a"] >= lost["contacts_a"]
