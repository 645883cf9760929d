"""Design against execution (``cxmine map --sop``): exact counts on a hand-made log, the sample, drawings, bad input."""

from __future__ import annotations

import csv
import html
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from lxml import etree

from sample import run_cxmine as cx, sample_log  # noqa: F401  (sample_log is a fixture)
from test_sop import chain, write_bpmn
from engine.analyses.sop_execution import END, START, STATUSES, match_path, read_structure
from engine.model import load_sop

ROOT = Path(__file__).resolve().parents[1]
LOST_CARD = ROOT / "models" / "lost_card.bpmn"
NASTY = ["<Verify>", "A & B", 'Say "hello"', "Überprüfung", "返金", "back\\slash", "x > y < z", "<b>bold</b>"]

I, Q, A, V, B = "IVR menu", "Queue", "Agent answer", "Verify identity", "Block card"
O, T, C, R, W = "Order replacement card", "Review recent transactions", "Open fraud case", "Resolve", "Wrap-up"
# (path, contacts): each path's deviations checked by hand against the lost-card SOP
HAND = [([I, Q, A, V, B, O, T, R, W], 5),                # as designed
        ([I, Q, A, B, O, T, R, W], 3),                   # Verify identity skipped
        ([I, Q, A, B, V, O, T, R, W], 2),                # Verify identity out of order (after Block card)
        ([I, Q, A, V, B, T, O, C, R, W], 1),             # parallel branches interleaved, fraud case opened
        ([I, Q, A, V, "Hold", B, O, T, R, W], 1),        # an activity the SOP does not know
        ([I, Q, A, V], 1),                               # ended early: Block card was due
        ([I, Q, A, V, B, B, O, T, R, W], 1),             # Block card a second time: inserted
        ([I, Q, A, V, V, B, O, T, W, R], 1)]             # retry, then Wrap-up before Resolve
OTHER = [["Bot intent", "Resolve"]] * 4                  # contacts of another intent: never counted


def svg_texts(path: Path) -> list[str]:
    root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    return [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]


def write_log(tmp_path: Path, paths, other=(), intent="lost_card") -> Path:
    """A CSV of contacts (one minute between events; the first 8 and the other intent's in team A) ingested."""
    rows, n = [], 0
    for path, count in paths:
        for _ in range(count):
            rows += [(f"c{n:03d}", a, f"2026-03-02T10:{j:02d}:00Z", intent, "A" if n < 8 else "B")
                     for j, a in enumerate(path)]
            n += 1
    for path in other:
        rows += [(f"o{n:03d}", a, f"2026-03-02T11:{j:02d}:00Z", "other", "A") for j, a in enumerate(path)]
        n += 1
    source = tmp_path / "contacts.csv"
    with open(source, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([("case_id", "activity", "timestamp", "intent", "team"), *rows])
    log = tmp_path / "log.parquet"
    result = cx("ingest", str(source), "-o", str(log), "-q")
    assert result.exit_code == 0, result.output
    return log


@pytest.fixture(scope="module")
def hand_log(tmp_path_factory):
    return write_log(tmp_path_factory.mktemp("hand"), HAND, OTHER)


def run_json(*args) -> dict:
    result = cx("map", *map(str, args), "--json", "-q")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


# ---- the SOP's structure and the matching of a path --------------------------------------------------------------

def test_connections_through_gateways_and_parallel_steps():
    structure = read_structure(load_sop(LOST_CARD).model)
    assert structure.connections[(V, B)] == {"Flow_5", "Flow_7", "Flow_11"}
    assert structure.connections[(V, V)] == {"Flow_5", "Flow_6", "Flow_4"}
    assert structure.connections[(T, R)] == {"Flow_15", "Flow_17", "Flow_20", "Flow_21"}
    assert structure.connections[(START, I)] == {"Flow_0"} and structure.connections[(W, END)] == {"Flow_23"}
    assert (A, B) not in structure.connections
    assert structure.parallel == {(O, T), (T, O), (O, C), (C, O)}


def test_interleaved_parallel_branches_take_both_flows_of_the_split_and_join():
    structure = read_structure(load_sop(LOST_CARD).model)
    steps = frozenset(load_sop(LOST_CARD).task_names)
    taken, outside = match_path([START, B, O, T, R, END], structure, steps)
    assert taken == {(B, O), (B, T), (O, R), (T, R)}
    assert outside == [(START, B), (R, END)]
    taken, outside = match_path([START, V, "Hold", B, END], structure, steps)
    assert taken == {(V, B)} and outside == [(START, V), (V, "Hold"), ("Hold", B), (B, END)]


# ---- exact counts on the hand-made log -----------------------------------------------------------------------------

def test_hand_made_log_exact_counts(hand_log):
    data = run_json(hand_log, "--sop", LOST_CARD)
    assert (data["contacts"], data["log_contacts"]) == (15, 19)
    tasks = {t["task"]: t for t in data["tasks"]}
    expected = {  # skipped, out_of_order, inserted, ended_early, as_designed, not_run
        I: (0, 0, 0, 0, 15, 0), V: (3, 2, 0, 0, 10, 0), B: (0, 0, 1, 1, 13, 0), R: (0, 1, 0, 0, 13, 1),
        C: (0, 0, 0, 0, 1, 14), "Escalate": (0, 0, 0, 0, 0, 15), O: (0, 0, 0, 0, 14, 1)}
    for task, counts in expected.items():
        assert tuple(tasks[task][s] for s in STATUSES) == counts, task
    assert tasks[V]["ran"] == 12 and tasks[V]["critical"] and not tasks[R]["critical"]
    assert tasks[V]["examples"]["skipped"] == ["c005", "c006", "c007"]
    for t in data["tasks"]:
        assert sum(t[s] for s in STATUSES) == t["contacts"] == 15
        assert sum(t[f"share_{s}"] for s in STATUSES) == pytest.approx(1.0)
    flows = {f["flow_id"]: f["contacts"] for f in data["flows"]}
    # e.g. Flow_15 (Review recent transactions -> gateway): 13 = every path but the last two (Wrap-up follows it
    # in one, the other stops early); Flow_17 (no fraud case): 12, the path that opens a fraud case left out
    assert flows == {"Flow_0": 15, "Flow_1": 15, "Flow_2": 15, "Flow_3": 10, "Flow_4": 10, "Flow_5": 9,
                     "Flow_6": 1, "Flow_7": 9, "Flow_8": 0, "Flow_9": 0, "Flow_10": 0, "Flow_11": 9,
                     "Flow_12": 12, "Flow_13": 12, "Flow_14": 12, "Flow_15": 13, "Flow_16": 1, "Flow_17": 12,
                     "Flow_18": 1, "Flow_19": 13, "Flow_20": 13, "Flow_21": 13, "Flow_22": 13, "Flow_23": 13}
    outside = {(f["source"], f["target"]): f["contacts"] for f in data["outside_flows"]}
    assert outside == {(A, B): 5, (B, V): 2, (V, O): 2, (V, "Hold"): 1, ("Hold", B): 1, (V, END): 1, (B, B): 1,
                       (T, W): 1, (W, R): 1, (R, END): 1}
    assert data["unknown_activities"] == {"Hold": 1}


def test_csv_tables_hold_the_same_numbers(hand_log, tmp_path):
    data = run_json(hand_log, "--sop", LOST_CARD, "--csv", tmp_path / "t")
    tasks = list(csv.DictReader(open(tmp_path / "t" / "tasks.csv", encoding="utf-8")))
    assert [r["task"] for r in tasks] == [t["task"] for t in data["tasks"]]
    row = next(r for r in tasks if r["task"] == V)
    assert (row["skipped"], row["out_of_order"], row["as_designed"], row["share_skipped"]) == ("3", "2", "10", "0.2")
    flows = list(csv.DictReader(open(tmp_path / "t" / "flows.csv", encoding="utf-8")))
    assert len(flows) == len(data["flows"]) + len(data["outside_flows"])
    assert {(r["source"], r["target"], r["contacts"]) for r in flows if r["in_sop"] == "False"} >= {(A, B, "5")}


def test_where_narrows_the_counted_contacts(hand_log):
    data = run_json(hand_log, "--sop", LOST_CARD, "--where", "team=A")
    assert (data["contacts"], data["log_contacts"]) == (8, 12)
    assert {t["task"]: t["skipped"] for t in data["tasks"]}[V] == 3


# ---- drawings -------------------------------------------------------------------------------------------------------

def test_svg_is_valid_with_every_task_label_numbers_and_caption(hand_log, tmp_path):
    out = tmp_path / "sop.svg"
    result = cx("map", hand_log, "--sop", LOST_CARD, "-o", out, "-q")
    assert result.exit_code == 0, result.output
    texts = svg_texts(out)
    for task in load_sop(LOST_CARD).task_names:
        assert task in texts, task
    assert "skipped 3 (20.0%)" in texts and "out of order 2 (13.3%)" in texts
    assert any(t.startswith("Counted: 15 contacts, those the SOP applies to (intent = lost_card)") for t in texts)
    assert any(t.startswith("Skipped most: Verify identity 3 (20.0%)") for t in texts)
    assert any("Agent answer → Block card 5" in t for t in texts)
    assert "Hold" in " ".join(texts) and "How to read this picture" in texts
    raw = out.read_text(encoding="utf-8")
    assert 'stroke-dasharray="5,2"' in raw          # flows outside the SOP are dashed
    assert 'stroke-dasharray="1,5"' in raw          # SOP paths never taken (Escalate) are dotted grey


def test_labels_with_markup_characters_and_non_ascii_are_escaped(tmp_path):
    names = NASTY[:6] + NASTY[7:]
    body = chain(*(html.escape(n, quote=True) for n in names))
    side = 'critical = ["' + names[0] + '"]\n[applies_to]\nintent = "lost_card"\n'
    model = write_bpmn(tmp_path, body, sidecar=side.replace("\\", "\\\\"))
    log = write_log(tmp_path, [(names, 3), (names[:2] + names[3:], 1)])
    out = tmp_path / "weird.svg"
    result = cx("map", log, "--sop", model, "-o", out, "--title", 'SOP "weird" <labels> & more', "-q")
    assert result.exit_code == 0, result.output
    texts = svg_texts(out)
    for name in names:
        assert name in texts, name
    assert 'SOP "weird" <labels> & more' in texts
    raw = out.read_text(encoding="utf-8")
    assert "&lt;Verify&gt;" in raw and "A &amp; B" in raw and "<b>bold" not in raw


def test_png_pdf_and_dot(hand_log, tmp_path):
    for suffix, head in (("png", b"\x89PNG\r\n\x1a\n"), ("pdf", b"%PDF-"), ("dot", b"digraph")):
        out = tmp_path / f"s.{suffix}"
        assert cx("map", hand_log, "--sop", LOST_CARD, "-o", out, "-q").exit_code == 0
        assert out.read_bytes().startswith(head)


# ---- the sample ------------------------------------------------------------------------------------------------------

def test_sample_lost_card_names_the_most_skipped_step_and_where_practice_leaves(sample_log, tmp_path):
    out = tmp_path / "lost_card.svg"
    data = run_json(sample_log, "--sop", LOST_CARD, "-o", out)
    assert data["contacts"] == 3805 and data["log_contacts"] == 20000
    for t in data["tasks"]:
        assert sum(t[s] for s in STATUSES) == t["contacts"]
    worst = max(data["tasks"], key=lambda t: t["skipped"])
    assert worst["task"] == V and worst["skipped"] == 102 and worst["critical"]
    top = data["outside_flows"][0]
    assert (top["source"], top["target"]) == (A, B)    # skipping verification: straight from answer to block
    texts = svg_texts(out)
    assert any(t.startswith("Skipped most: Verify identity 102 (2.7%)") for t in texts)


# ---- bad input ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args,code,message", [
    (["--sop", "models/nope.bpmn", "--json"], 1, "SOP model not found"),
    (["--sop", LOST_CARD], 2, "Nothing to write: give -o FILE, --json or --csv DIR with --sop"),
    (["--sop", LOST_CARD, "--json", "--measure", "median"], 2, "--measure applies to the process map, not to --sop"),
    (["--csv", "x", "-o", "m.svg"], 2, "--csv goes with --sop"),
    ([], 2, "Missing option -o / --output"),
    (["--sop", LOST_CARD, "-o", "x.gif"], 2, "unknown format 'gif'"),
    (["--sop", ROOT / "models", "--json"], 2, "--sop takes one SOP file, not a folder"),
])
def test_bad_input(hand_log, tmp_path, args, code, message):
    args = [str(tmp_path / a) if a in ("x", "m.svg", "x.gif") else str(a) for a in args]
    result = cx("map", hand_log, *args, "-q")
    assert result.exit_code == code, result.output
    assert message in result.output


def test_a_model_that_applies_to_no_contact_is_refused(hand_log, tmp_path):
    shutil.copy(LOST_CARD, tmp_path / "lost_card.bpmn")
    side = LOST_CARD.with_suffix(".toml").read_text(encoding="utf-8")
    (tmp_path / "lost_card.toml").write_text(side.replace('intent = "lost_card"', 'intent = "nobody"'),
                                             encoding="utf-8")
    result = cx("map", hand_log, "--sop", tmp_path / "lost_card.bpmn", "--json", "-q")
    assert result.exit_code == 1, result.output
    assert "SOP 'Lost or stolen card' applies to no contact of the log (intent in ['nobody']; 19 contacts" \
           in result.output


# ---- invariants on random paths -----------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.sampled_from([I, Q, A, V, B, O, T, C, R, W, "Escalate", "Hold"]), min_size=1,
                         max_size=9), min_size=1, max_size=20))
def test_shares_add_up_and_flows_are_bounded_on_random_paths(paths):
    import naive
    from dataclasses import replace
    from engine.analyses.sop_execution import measure_sop_execution

    sop = replace(load_sop(LOST_CARD), applies_to={})
    log = naive.encode_cases([[{"activity": a, "timestamp": j} for j, a in enumerate(p)] for p in paths])
    execution = measure_sop_execution(log, sop)
    n = len(paths)
    for step in execution.steps:
        assert sum(step.counts.values()) == step.contacts == n
        ran = sum(step.task in p for p in paths)
        assert step.ran == ran
        assert step.counts["as_designed"] <= ran and step.counts["not_run"] <= n - ran
    for flow in execution.flows:
        assert 0 <= flow.contacts <= n
    structure = read_structure(sop.model)
    for f in execution.outside:
        assert 0 < f.contacts <= f.times and not structure.allows(f.source, f.target)
    as_designed = [p for p in paths if p == [I, Q, A, V, B, O, T, R, W]]
    assert execution.step(V).counts["as_designed"] >= len(as_designed)


def test_a_log_without_the_attribute_the_sop_applies_by(tmp_path):
    source = tmp_path / "c.csv"
    source.write_text("case_id,activity,timestamp\nc1,Queue,2026-01-01T10:00:00Z\n", encoding="utf-8")
    assert cx("ingest", source, "-o", tmp_path / "log.parquet", "-q").exit_code == 0
    result = cx("map", tmp_path / "log.parquet", "--sop", LOST_CARD, "--json", "-q")
    assert result.exit_code == 1, result.output
    assert "SOP 'Lost or stolen card' applies to contacts by 'intent', which is not in the log" in result.output


# A model and paths on which Graphviz's ranking fails ("trouble in init_rank") while the flows outside the SOP
# leave the layout alone: the picture is drawn again with those flows pinned (weight 0).
SIGNAVIO = "bpmn-miwg/SAP Signavio Process Manager 19.9.0/B.1.0-export.bpmn"
UT2, CAG, ST3, AT6, CAE, CAC = ("User Task 2", "Call Activity Calling a Global Task", "Service task 3",
                                "Abstract Task 6", "Call Activity - Expanded", "Call Activity Collapsed")
ST7, AT1, CSP, UT5 = "Service Task 7", "Abstract Task 1", "Collapsed Sub-Process", "User Task 5"
INIT_RANK_PATHS = [
    [UT2, CAG, UT2, ST3, UT2, ST3, AT6, UT2], [CAE, CAC, ST3], [ST7], [AT1, ST7, CAE, AT1],
    [CAE, ST7, AT6, CAC, UT2, CAG, CAG, ST7], [ST3, ST7, ST7, CAE, CAG, AT1, AT6],
    [CAE, UT2, AT1, CSP, CAC, UT5, CAE, ST3], [CAE, ST7], [CAE, CAE, CSP], [CSP, CSP, AT1, ST7, CSP, CAE],
    [AT1, ST3, UT2, AT6, UT2, UT5, CSP, CAE], [AT1, CAG, UT2, CSP], [AT6, CSP, CAE], [CAG, ST7, CSP, CAE, CAC],
    [ST3, CSP, AT1, CAG], [CSP, UT2, UT2, AT6, CAG], [ST7, AT1, CSP, CAE, AT1], [UT5, AT1, CAE, AT6, ST3, UT5],
    [UT5, CSP, CSP, CAE, UT5, ST3, CAE], [CAC, ST7, CAC]]


def test_a_picture_graphviz_cannot_rank_unpinned_is_still_drawn(tmp_path):
    import subprocess
    import corpus
    import naive
    from dataclasses import replace
    from engine.analyses.sop_execution import measure_sop_execution
    from engine.report.sop_execution import build_execution_graph, execution_svg, render_execution

    path = corpus.SHARED_DATA / SIGNAVIO
    corpus.require(path)
    sop = replace(load_sop(path), applies_to={})
    log = naive.encode_cases([[{"activity": a, "timestamp": j} for j, a in enumerate(p)] for p in INIT_RANK_PATHS])
    execution = measure_sop_execution(log, sop)
    with pytest.raises(subprocess.CalledProcessError):
        build_execution_graph(execution).pipe(format="svg", quiet=True)
    assert "Service Task 7" in svg_texts(render_execution(execution, tmp_path / "s.svg"))
    assert "<svg" in execution_svg(execution)


def test_the_report_draws_each_sop_with_its_execution():
    import naive
    from dataclasses import replace
    from engine.analyses.conformance import check_conformance
    from engine.analyses.overview import SopCheck
    from engine.report.bundle import draw_sops

    sop = replace(load_sop(LOST_CARD), applies_to={})
    paths = [p for p, n in HAND for _ in range(n)]
    log = naive.encode_cases([[{"activity": a, "timestamp": j} for j, a in enumerate(p)] for p in paths])
    svg = draw_sops([SopCheck(sop, {}, check_conformance(log, sop))], contacts=40)[sop.name]
    texts = [t.text or "" for t in etree.fromstring(svg.encode("utf-8")).iter("{http://www.w3.org/2000/svg}text")]
    assert "skipped 3 (20.0%)" in texts
    assert any(t.startswith("Counted: 15 contacts") and "40 contacts looked at" in t for t in texts)
