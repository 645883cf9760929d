"""Process maps: what they show and hide (against a slow twin), and drawings that are valid, escaped SVG."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from lxml import etree

import naive
from sample import run_cxmine as cx, sample_log  # noqa: F401  (sample_log is a fixture)
from engine.analyses.discovery import discover_model
from engine.analyses.process_map import build_process_map, edge_threshold, map_of_dfg, owners_by_activity
from engine.analyses.dfg import discover_dfg
from engine.errors import AnalysisError
from engine.report.model_render import write_model
from engine.report.numbers import format_duration
from engine.report.process_map import map_notes, render_map

ROOT = Path(__file__).resolve().parents[1]
NASTY = ["<Verify>", "A & B", 'Say "hello"', "Überprüfung", "返金", "back\\slash", "x > y < z", "<b>bold</b>"]
SEC = 1_000_000_000




def log_of(sequences, owners=None, step_s=60):
    return naive.encode_cases([[{"activity": a, "timestamp": j * step_s * SEC * (i + 1),
                                 "owner": (owners or {}).get(a)} for j, a in enumerate(seq)]
                               for i, seq in enumerate(sequences)])


def svg_texts(path: Path) -> list[str]:
    """Every text line of an SVG (parsed strictly: malformed XML fails here)."""
    root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    return [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]


# ---- what the map shows -------------------------------------------------------------------------------------------

def twin_map(sequences, coverage, min_edge):
    """Slow twin: keep the top variants covering ``coverage``, count edges there, drop those under ``min_edge``."""
    ranked = sorted(Counter(map(tuple, sequences)).items(),
                    key=lambda kv: (-kv[1], [tuple(s) for s in sequences].index(kv[0])))
    kept, covered = [], 0
    for seq, n in ranked:
        if covered >= coverage * len(sequences) - 1e-9:
            break
        kept.append(seq)
        covered += n
    shown = [s for s in sequences if tuple(s) in kept]
    edges = Counter((a, b) for s in shown for a, b in zip(s, s[1:]))
    starts, ends = Counter(s[0] for s in shown), Counter(s[-1] for s in shown)
    acts = Counter(a for s in shown for a in s)
    return ({e: c for e, c in edges.items() if c >= min_edge}, {a: c for a, c in starts.items() if c >= min_edge},
            {a: c for a, c in ends.items() if c >= min_edge}, dict(acts), len(shown),
            set(a for s in sequences for a in s) - set(acts))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=7), min_size=1, max_size=40),
       st.sampled_from([0.3, 0.5, 0.8, 1.0]), st.integers(1, 4))
def test_map_shows_what_the_twin_shows(sequences, coverage, min_edge):
    pmap = build_process_map(log_of(sequences), coverage=coverage, min_edge=min_edge)
    edges, starts, ends, acts, n_shown, hidden = twin_map(sequences, coverage, min_edge)
    assert (pmap.edges, pmap.starts, pmap.ends, pmap.activities) == (edges, starts, ends, acts)
    assert pmap.n_cases_shown == n_shown and set(pmap.hidden_activities) == hidden
    assert n_shown >= coverage * len(sequences) - 1e-9
    all_edges = Counter((a, b) for s in sequences for a, b in zip(s, s[1:]))
    total = len(all_edges) + len({s[0] for s in sequences}) + len({s[-1] for s in sequences})
    assert pmap.n_edges == total
    assert len(pmap.edges) + len(pmap.starts) + len(pmap.ends) + pmap.n_edges_hidden == total


def test_median_and_p90_edge_times_are_exact():
    # case i has its steps (i+1) minutes apart: edge a->b takes 1, 2, 3, 4, 5 minutes
    pmap = build_process_map(log_of([["a", "b"]] * 5), measure="median")
    assert pmap.edge_times == {("a", "b"): 180.0}
    durations = [60.0 * k for k in range(1, 6)]
    p90 = build_process_map(log_of([["a", "b"]] * 5), measure="p90").edge_times[("a", "b")]
    assert p90 == pytest.approx(statistics.quantiles(durations, n=10, method="inclusive")[-1])


def test_max_edges_raises_the_minimum_count_and_says_so():
    seqs = [["a", "b"]] * 9 + [["a", "c"]] * 5 + [["a", "d"]] * 2 + [["a", "e"]]
    dfg = discover_dfg(log_of(seqs))
    assert edge_threshold(dfg, 1, None) == 1
    pmap = map_of_dfg(dfg, max_edges=5)  # counts: start 17, ends 9 5 2 1, edges 9 5 2 1
    assert pmap.min_edge == 3 and len(pmap.edges) + len(pmap.starts) + len(pmap.ends) == 5
    assert pmap.edges == {("a", "b"): 9, ("a", "c"): 5} and pmap.hidden_by_min_edge == 4
    assert "4 paths seen fewer than 3 times" in " ".join(map_notes(pmap))
    assert map_of_dfg(dfg, max_edges=1).min_edge == 10  # a tie at the cut is dropped whole, never split


def test_owner_of_an_activity_is_the_most_frequent_one():
    cases = [[{"activity": "Verify", "timestamp": 0, "owner": o}] for o in ("Ops", "Bots", "Ops", None)]
    cases.append([{"activity": "Bot", "timestamp": 0, "owner": None}])
    assert owners_by_activity(naive.encode_cases(cases)) == {"Verify": "Ops"}


def test_bad_map_parameters():
    log = log_of([["a"]])
    with pytest.raises(AnalysisError, match="Unknown map measure 'mean'.*frequency, median, p90"):
        build_process_map(log, measure="mean")
    with pytest.raises(AnalysisError, match=r"Variant coverage 0 is outside \(0, 1\]"):
        build_process_map(log, coverage=0)
    with pytest.raises(AnalysisError, match="Minimum edge count 0 is below 1"):
        build_process_map(log, min_edge=0)


def test_map_durations_read_as_in_the_report():
    """Edge times use the report's one duration format (engine.report.numbers)."""
    assert [format_duration(s) for s in (4.25, 45, 192, 7560, 129600)] == ["4.2s", "45s", "3m 12s", "2h 06m",
                                                                          "1d 12h"]


# ---- drawings ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("measure", ["frequency", "median"])
def test_map_svg_is_valid_and_carries_every_label_escaped(tmp_path, measure):
    seqs = [[NASTY[0], NASTY[1], NASTY[2]], [NASTY[0], NASTY[3], NASTY[4], NASTY[5]], [NASTY[6], NASTY[7]]]
    owners = {NASTY[0]: "Team <A> & \"B\"", NASTY[3]: "Équipe"}
    pmap = build_process_map(log_of(seqs, owners), measure=measure)
    out = render_map(pmap, tmp_path / "map.svg", title='Map of "weird" <labels> & more')
    texts = svg_texts(out)
    for label in NASTY + list(owners.values()):
        assert label in texts, label
    assert 'Map of "weird" <labels> & more' in texts
    raw = out.read_text(encoding="utf-8")
    assert "&lt;Verify&gt;" in raw and "A &amp; B" in raw and "<b>bold" not in raw


def test_map_png_pdf_and_dot(tmp_path):
    pmap = build_process_map(log_of([["a", "b"], ["a", "c"]]))
    assert render_map(pmap, tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert render_map(pmap, tmp_path / "m.pdf").read_bytes()[:5] == b"%PDF-"
    assert render_map(pmap, tmp_path / "m.dot").read_text().startswith("digraph")


@pytest.mark.parametrize("method", ["inductive", "heuristics", "dfg"])
def test_model_drawings_carry_every_activity_label(tmp_path, method):
    seqs = [[NASTY[0], NASTY[1], NASTY[2]], [NASTY[0], NASTY[2], NASTY[1]], [NASTY[0], NASTY[3], NASTY[5]]] * 3 \
        + [[NASTY[6], NASTY[7], NASTY[4]]] * 2
    model = discover_model(log_of(seqs), method)
    write_model(model, tmp_path, name="weird & <odd>", formats=("svg",))
    texts = svg_texts(tmp_path / "model.svg")
    for label in NASTY:
        assert label in texts, (method, label)
    assert any("weird & <odd>" in t for t in texts)


# ---- the command -------------------------------------------------------------------------------------------------

def test_map_command_on_the_sample(sample_log, tmp_path):
    out = tmp_path / "map.svg"
    result = cx("map", str(sample_log), "-o", str(out), "--coverage", "0.8", "--min-edge", "20", "--json", "-q")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["n_cases"] == 20000 and data["n_cases_shown"] >= 16000
    assert all(e["count"] >= 20 for e in data["edges"])
    texts = " ".join(svg_texts(out))
    assert f"{data['n_cases_shown']:,} of 20,000 contacts" in texts and "Hidden:" in texts
    for a in data["activities"]:
        assert a["activity"] in texts
    lanes = {a["owner"] for a in data["activities"] if a["owner"]}
    assert len(lanes) >= 3 and all(lane in texts for lane in lanes)


def test_map_command_where_and_measure(sample_log, tmp_path):
    result = cx("map", str(sample_log), "-o", str(tmp_path / "m.dot"), "--where", "intent=lost_card",
                "--measure", "p90", "--json", "-q")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["measure"] == "p90" and all("p90_s" in e for e in data["edges"])
    assert data["n_cases"] < 20000


@pytest.mark.parametrize("args,code,message", [
    (["-o", "map.gif"], 2, "Cannot draw to 'map.gif': unknown format 'gif'"),
    (["-o", "map.svg", "--coverage", "0"], 2, "Invalid value for '--coverage'"),
    (["-o", "map.svg", "--min-edge", "0"], 2, "Invalid value for '--min-edge'"),
    (["-o", "map.svg", "--measure", "mean"], 2, "Invalid value for '--measure'"),
    (["-o", "map.svg", "--where", "team"], 2, "Invalid value for '--where': Selection 'team' is not ATTR=VALUE"),
])
def test_map_bad_input(sample_log, tmp_path, monkeypatch, args, code, message):
    monkeypatch.chdir(tmp_path)
    result = cx("map", str(sample_log), *args, "-q")
    assert result.exit_code == code, result.output
    assert message in result.output
    assert not list(tmp_path.glob("map.*"))
