"""Drift detection: injected ground truth (precision, recall, delay), false alarms, explanation, CLI."""

import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner

from sample import sample_log  # noqa: F401  (fixture)
from engine.analyses.drift import EXPLAIN_ATTRIBUTES, DriftSettings, detect_drift, g_statistic
from engine.cli import main
from engine.log.encode import EncodedLog, encode_strings
from engine.log.select import select_cases

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from drift_logs import f1, score  # noqa: E402  (benchmarks/: the published logs' loader and scoring)

MINUTE = 60 * 10**9
T0 = 1_767_571_200 * 10**9  # 2026-01-05T00:00:00Z, a Monday


def synthetic_log(n: int, changes=(), seed: int = 0, noise: float = 0.0, minutes: float = 1.0) -> EncodedLog:
    """Contacts of a small procedure; ``changes``: (first case, kind, magnitude, team or None).

    Greet, Verify (90%), then Fix (70%) or Escalate, Confirm, Close. Kinds:
    skip (Verify left out), insert (Survey before Close), swap (Close before
    Confirm), routing (Escalate share + magnitude). Noise swaps two adjacent
    steps or repeats one, in that share of contacts. Teams A-D at random.
    """
    rng = np.random.default_rng(seed)
    teams = rng.integers(0, 4, n)
    cases = []
    for i in range(n):
        active = {kind: mag for start, kind, mag, team in changes
                  if i >= start and (team is None or "ABCD"[teams[i]] == team)}
        trace = ["Greet"]
        if rng.random() < 0.9 and not rng.random() < active.get("skip", 0):
            trace.append("Verify")
        trace.append("Escalate" if rng.random() < 0.3 + active.get("routing", 0) else "Fix")
        tail = ["Close", "Confirm"] if rng.random() < active.get("swap", 0) else ["Confirm", "Close"]
        if rng.random() < active.get("insert", 0):
            tail.insert(len(tail) - 1, "Survey")
        trace += tail
        if rng.random() < noise:
            j = int(rng.integers(0, len(trace) - 1))
            if rng.random() < 0.5:
                trace[j], trace[j + 1] = trace[j + 1], trace[j]
            else:
                trace.insert(j, trace[j])
        cases.append(trace)
    offsets = np.zeros(n + 1, np.int64)
    offsets[1:] = np.cumsum([len(c) for c in cases])
    codes, labels = encode_strings(pa.array([a for c in cases for a in c], pa.string()))
    starts = T0 + (np.arange(n) * minutes * MINUTE).astype(np.int64)
    ts = np.repeat(starts, np.diff(offsets)) + np.concatenate([np.arange(len(c)) for c in cases]) * MINUTE // 10
    team_codes = teams.astype(np.int32)
    return EncodedLog(offsets, codes.astype(np.int32), ts.astype(np.int64), labels,
                      case_attributes={"team": (team_codes, ("A", "B", "C", "D"))})


def test_g_statistic_matches_scipy():
    from scipy.stats import chi2_contingency
    table = np.array([[30, 70], [55, 45]])
    g, *_ = chi2_contingency(table, correction=False, lambda_="log-likelihood")
    assert g_statistic(30, 100, 55, 100) == pytest.approx(g)
    assert g_statistic(0, 10, 0, 10) == 0.0


def test_noise_free_step_is_found_at_its_exact_case():
    log = synthetic_log(1200, [(600, "skip", 1.0, None)])
    r = detect_drift(log)
    assert [p.case_index for p in r.change_points] == [600]
    p = r.change_points[0]
    assert p.confidence > 0.999
    assert any(c.kind == "activity" and c.label == "Verify" and c.share_after == 0.0 for c in p.changes)
    assert any(c.kind == "edge" and c.label == "Greet -> Verify" for c in p.changes)
    # variants: those with Verify vanish, their twins without it grow
    variants = [c for c in p.changes if c.kind == "variant"]
    assert len(variants) == 4
    assert all((c.share_after == 0.0) == ("Verify" in c.label) for c in variants)
    assert all(c.share_after > c.share_before for c in variants if "Verify" not in c.label)


# magnitude as the share of contacts the change touches: Verify runs in 90% of contacts, so skipping it
# with probability p touches 0.9 p of them
TOUCHED = {"skip": 1 / 0.9, "insert": 1.0, "swap": 1.0, "routing": 1.0}


@pytest.mark.parametrize("kind", ["skip", "insert", "swap", "routing"])
def test_precision_recall_on_injected_drift(kind):
    """Changes touching 10% to 50% of contacts, switched on and off again, at three noise levels: F1 >= 0.95."""
    tp = n_det = n_true = 0
    delays = []
    for seed, (touched, noise) in enumerate([(0.1, 0.0), (0.2, 0.05), (0.5, 0.0), (0.1, 0.1), (0.15, 0.05)]):
        mag = touched * TOUCHED[kind]
        log = synthetic_log(12_000, [(4000, kind, mag, None), (8000, kind, 0.0, None)], seed=seed, noise=noise)
        found = [p.case_index for p in detect_drift(log).change_points]
        t, d = score(found, [4000, 8000])
        tp, n_det, n_true, delays = tp + t, n_det + len(found), n_true + 2, delays + d
    assert f1(tp, n_det, n_true) >= 0.95, (kind, tp, n_det, n_true)
    assert np.mean(delays) < 50


def test_short_lived_change_in_a_long_log_is_found():
    """600 contacts (2% of the log) that skip Verify in 60% of cases: both ends found, though one split of the
    whole log would dilute them."""
    for seed in range(2):
        log = synthetic_log(30_000, [(15_000, "skip", 0.6, None), (15_600, "skip", 0.0, None)], seed=seed)
        found = [p.case_index for p in detect_drift(log).change_points]
        assert len(found) == 2 and abs(found[0] - 15_000) <= 10 and abs(found[1] - 15_600) <= 10


def test_stationary_logs_raise_no_false_alarm():
    """100,000 stationary contacts (5 logs): the target is at most one false change point; alpha makes it ~0."""
    false = 0
    for seed in range(5):
        false += len(detect_drift(synthetic_log(20_000, seed=100 + seed, noise=0.05)).change_points)
    assert false == 0


def test_shuffled_published_log_has_no_change():
    """Shuffling the cases of a log with four changes removes them: what is left is exchangeable."""
    log = synthetic_log(6000, [(1200, "skip", 0.5, None), (2400, "insert", 0.4, None), (3600, "swap", 0.5, None),
                               (4800, "routing", 0.3, None)], seed=3)
    assert len(detect_drift(log).change_points) == 4
    order = np.random.default_rng(0).permutation(log.n_cases)
    lengths = np.diff(log.case_offsets)
    events = np.concatenate([np.arange(log.case_offsets[i], log.case_offsets[i + 1]) for i in order])
    offsets = np.concatenate(([0], np.cumsum(lengths[order]))).astype(np.int64)
    shuffled = EncodedLog(offsets, log.activity_codes[events], log.timestamps, log.activities)
    assert detect_drift(shuffled).change_points == ()


def test_explanation_names_the_team_and_the_step():
    log = synthetic_log(8000, [(4000, "skip", 0.6, "B")], seed=5)
    r = detect_drift(log)
    assert len(r.change_points) == 1
    p = r.change_points[0]
    assert abs(p.case_index - 4000) <= 50
    assert p.where[0].attribute == "team" and p.where[0].value == "B"
    assert p.where[0].share_of_change > 0.8
    assert "Verify" in p.summary() and "team B" in p.summary()


def test_by_segment_finds_the_change_only_in_its_team():
    log = synthetic_log(8000, [(4000, "skip", 0.6, "B")], seed=6)
    r = detect_drift(log, by="team")
    found = {s.value: [p.case_index for p in s.change_points] for s in r.segments}
    assert found["A"] == found["C"] == found["D"] == []
    assert len(found["B"]) == 1 and abs(found["B"][0] - 4000) <= 50
    # case indices are positions in the whole log: the case found belongs to team B
    assert log.case_attributes["team"][0][found["B"][0]] == 1


def test_calendar_windows_date_the_change_with_its_offset():
    # one contact every 10 minutes: 144 a day; the change starts on day 14 (2026-01-19)
    log = synthetic_log(144 * 28, [(144 * 14, "routing", 0.3, None)], seed=7, minutes=10)
    r = detect_drift(log, DriftSettings(window="day"), timezone="Europe/Lisbon")
    assert r.window == "day" and len(r.series.cases) == 28
    assert len(r.change_points) == 1
    p = r.change_points[0]
    from datetime import datetime, timezone
    when = datetime.fromisoformat(p.timestamp)
    assert p.timestamp.endswith("+00:00")  # Lisbon in January
    assert abs((when - datetime(2026, 1, 19, tzinfo=timezone.utc)).total_seconds()) <= 3600
    assert abs(p.case_index - 144 * 14) <= 6
    week = detect_drift(log, DriftSettings(window="week"), timezone="Asia/Kolkata")
    assert [q.timestamp[-6:] for q in week.change_points] == ["+05:30"]


def test_bad_settings_are_refused():
    from engine.errors import AnalysisError
    log = synthetic_log(500)
    with pytest.raises(AnalysisError, match="Unknown window 'fortnight'") as bad_window:
        detect_drift(log, DriftSettings(window="fortnight"))
    assert bad_window.value.field == "window" and "--" not in str(bad_window.value)
    with pytest.raises(AnalysisError, match="alpha must lie in") as bad_alpha:
        detect_drift(log, DriftSettings(alpha=2))
    assert bad_alpha.value.field == "alpha"
    with pytest.raises(AnalysisError, match="needs at least 200"):
        detect_drift(synthetic_log(150))
    with pytest.raises(AnalysisError, match="Attribute 'site' is not in the event log"):
        detect_drift(log, by="site")


# --- the published logs (Bose et al.; Ostovar et al.) ---------------------------------------------

DRIFT_DATA = REPO.parent / "shared" / "data" / "drift"
FAST_LOGS = ["Bose/bose_log.xes.gz", "Ostovar/Atomic_Frequency_output_Frequency.xes.gz",
             "Ostovar/Atomic_Loop_output_Loop.xes.gz", "Ostovar/Atomic_Skip_output_Skip.xes.gz"]


def _published(names):
    if not (DRIFT_DATA / "ground_truth.json").exists():
        pytest.skip(f"the published drift logs are not at {DRIFT_DATA}")
    from drift_logs import ground_truth, load_in_file_order
    truth = ground_truth(DRIFT_DATA)
    return [(truth[n], load_in_file_order(DRIFT_DATA / n)) for n in names]


def test_published_logs_subset():
    tp = n_det = n_true = 0
    for truth, log in _published(FAST_LOGS):
        found = [p.case_index for p in detect_drift(log).change_points]
        t, _ = score(found, truth)
        tp, n_det, n_true = tp + t, n_det + len(found), n_true + len(truth)
    assert f1(tp, n_det, n_true) >= 0.9


@pytest.mark.slow
def test_published_logs_all():
    from drift_logs import ground_truth
    if not (DRIFT_DATA / "ground_truth.json").exists():
        pytest.skip(f"the published drift logs are not at {DRIFT_DATA}")
    tp = n_det = n_true = 0
    for truth, log in _published(list(ground_truth(DRIFT_DATA))):
        found = [p.case_index for p in detect_drift(log).change_points]
        t, _ = score(found, truth)
        tp, n_det, n_true = tp + t, n_det + len(found), n_true + len(truth)
    assert f1(tp, n_det, n_true) >= 0.9


# --- simulator logs and the bundled sample --------------------------------------------------------

SIM_COLUMNS = {"contact_id": "case_id", "start": "timestamp", "end": "end_timestamp", "agent": "resource",
               "customer": "customer_id"}


def simulated_log(tmp_path, contacts: int, days: int, drifts: list[str], seed: int) -> EncodedLog:
    from engine.log import encode_log, write_log
    from engine.simulate import load_drifts, simulate_contacts
    from engine.model import load_sop
    models = [load_sop(p) for p in sorted((REPO / "models").glob("*.bpmn"))]
    sim = simulate_contacts(models, contacts, seed=seed, start="2026-01-05", days=days,
                            drifts=load_drifts(drifts, "Europe/Lisbon"))
    events = sim.events.rename_columns([SIM_COLUMNS.get(c, c) for c in sim.events.column_names])
    path = tmp_path / f"sim{seed}.parquet"
    write_log(events, path)
    return encode_log(path, attributes=(), case_attributes=EXPLAIN_ATTRIBUTES)


@pytest.mark.parametrize("spec, step", [
    ("2026-01-26:skip=Verify identity:p=0.4", "Verify identity"),
    ("2026-01-26:team=C:skip=Verify identity:p=0.8", "Verify identity"),
    ("2026-01-26:insert=Hold:after=Agent answer:p=0.2", "Hold"),
])
def test_simulated_drift_is_found_on_its_day_and_explained(tmp_path, spec, step):
    from datetime import datetime
    from zoneinfo import ZoneInfo
    log = simulated_log(tmp_path, 16_000, 42, [spec], seed=21)
    r = detect_drift(log, timezone="Europe/Lisbon")
    change = datetime(2026, 1, 26, tzinfo=ZoneInfo("Europe/Lisbon"))
    near = [p for p in r.change_points if abs((datetime.fromisoformat(p.timestamp) - change).total_seconds()) < 86400]
    assert len(near) == 1 and len(r.change_points) <= 2, [p.summary() for p in r.change_points]
    p = near[0]
    assert any(step in c.label for c in p.changes)
    if "team=C" in spec:
        assert (p.where[0].attribute, p.where[0].value) == ("team", "C")


def test_stationary_simulator_log_has_no_change_after_its_first_days(tmp_path):
    """100,000 simulated contacts without drift. The simulator's first two days differ (lost_card 32% of
    contacts on day one, about 21% from day three on) and that is found as drift; from day three on, nothing is."""
    log = simulated_log(tmp_path, 100_000, 56, [], seed=11)
    starts = log.timestamps[log.case_offsets[:-1]]
    settled = starts >= T0 + 3 * 86400 * 10**9
    assert settled.sum() == 93_408
    assert detect_drift(select_cases(log, settled)).change_points == ()
    early = detect_drift(log).change_points
    assert len(early) == 1 and early[0].timestamp.startswith("2026-01-06")


def test_sample_story(sample_log, tmp_path):
    """From 2 March 2026 team B skips Verify identity in 30% of its contacts: found within a day, explained."""
    from datetime import datetime
    from zoneinfo import ZoneInfo
    chart = tmp_path / "drift.png"
    r = CliRunner().invoke(main, ["drift", str(sample_log), "--json", "-q", "--by", "team", "-o", str(chart)])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    change = datetime(2026, 3, 2, tzinfo=ZoneInfo("Europe/Lisbon"))
    assert len(data["change_points"]) == 1
    p = data["change_points"][0]
    assert abs((datetime.fromisoformat(p["timestamp"]) - change).total_seconds()) < 86400
    assert p["timestamp"][-6:] in ("+00:00", "+01:00") and 0.99 < p["confidence"] <= 1
    assert {"case_index", "timestamp", "confidence", "changes"} <= set(p)
    assert (p["where"][0]["attribute"], p["where"][0]["value"]) == ("team", "B")
    assert any(c["label"] == "Verify identity" and c["share_after"] < c["share_before"] for c in p["changes"])
    assert "team B" in p["summary"] and "Verify identity" in p["summary"]
    segments = {s["value"]: s["change_points"] for s in data["segments"]}
    assert all(s["attribute"] == "team" for s in data["segments"])
    assert [len(segments[t]) for t in "ABCD"] == [0, 1, 0, 0]
    assert abs((datetime.fromisoformat(segments["B"][0]["timestamp"]) - change).total_seconds()) < 86400
    assert chart.stat().st_size > 20_000 and chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_text_csv_and_svg(sample_log, tmp_path):
    r = CliRunner().invoke(main, ["drift", str(sample_log), "--window", "week", "--csv", str(tmp_path / "csv"),
                                  "-o", str(tmp_path / "d.svg"), "-q"])
    assert r.exit_code == 0, r.output
    assert "window week" in r.output and "where the change lies" in r.output
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == ["change_points.csv", "changes.csv",
                                                                    "where.csv", "windows.csv"]
    windows = (tmp_path / "csv" / "windows.csv").read_text().splitlines()
    assert windows[0].startswith("window,first_case,contacts,start,evidence_log10") and len(windows) == 1 + 8  # 2 February to 29 March 2026: 8 weeks
    svg = (tmp_path / "d.svg").read_text()
    assert "<svg" in svg and "Drift in" in svg and "false-alarm level" in svg


@pytest.mark.parametrize("args, message, code", [
    (["--window", "fortnight"], "Unknown window 'fortnight' (valid: a number of contacts, day, week, month)", 2),
    (["--window", "0"], "A window of 0 contacts is not possible", 2),
    (["--by", "planet"], "Cannot segment by 'planet': the log has no such attribute", 1),
    (["-o", "chart.pdf"], "Error: --output: Cannot write a chart to 'chart.pdf'. Give a file ending in .svg or .png", 2),
    (["--where", "team=Z"], "No contact matches the selection (team in ['Z'])", 1),
    (["--timezone", "Mars/Olympus"], "Unknown time zone 'Mars/Olympus'", 2),
    (["--sop", "nothere.bpmn"], "SOP model not found (nothere.bpmn)", 1),
    (["--sop", str(REPO / "models")], "is a directory", 2),
    (["--min-cases", "20000"], "The log has 20,000 contacts; drift detection needs at least 40,000", 1),
])
def test_cli_bad_input(sample_log, args, message, code):
    r = CliRunner().invoke(main, ["drift", str(sample_log), "-q"] + args)
    assert r.exit_code == code and message in r.output and "Traceback" not in r.output, r.output


def test_cli_missing_or_foreign_log(tmp_path):
    r = CliRunner().invoke(main, ["drift", str(tmp_path / "none.parquet")])
    assert r.exit_code == 1 and "Event log not found" in r.output
    (tmp_path / "notes.txt").write_text("not a log")
    r = CliRunner().invoke(main, ["drift", str(tmp_path / "notes.txt")])
    assert r.exit_code == 1 and "Not a Parquet event log" in r.output and "Traceback" not in r.output


def test_jmeasure_peer_equals_the_literal_algorithm():
    """The benchmark's fast J-measure method against a plain transcription (scipy's ks_2samp per window)."""
    import math
    from scipy.stats import ks_2samp
    from bose_jmeasure import j_measures, mean_p_values
    log = synthetic_log(90, [(45, "skip", 0.8, None)], seed=9, noise=0.2)
    offsets, codes, n_act = log.case_offsets, log.activity_codes, len(log.activities)
    traces = [codes[offsets[i]:offsets[i + 1]].tolist() for i in range(log.n_cases)]
    span = len(codes) // len(traces)

    def j(trace, a, b):
        subs = [trace[k:k + span] for k in range(len(trace)) if trace[k] == a]
        hits = [s for s in subs if b in s[1:]]
        p_ab = len(hits) / len(subs) if subs and hits else 0
        p_a, p_b = trace.count(a) / len(trace), trace.count(b) / len(trace)
        first = 0 if p_ab == 0 or p_b == 0 else p_ab * math.log2(p_ab / p_b)
        second = 0 if 1 - p_ab == 0 or 1 - p_b == 0 else (1 - p_ab) * math.log2((1 - p_ab) / (1 - p_b))
        return p_a * (first + second)

    fast = j_measures(offsets, codes, n_act, span)
    window = 20
    mean = np.zeros(len(traces))
    for a in range(n_act):
        for b in range(n_act):
            signal = np.array([j(t, a, b) for t in traces])
            assert np.allclose(fast[:, a * n_act + b], signal)
            p = np.ones(len(traces))
            for i in range(len(traces) - 2 * window):
                p[i + window] = ks_2samp(signal[i:i + window], signal[i + window:i + 2 * window]).pvalue
            mean += p / n_act ** 2
    assert np.allclose(mean_p_values(offsets, codes, n_act, window), mean)


def test_sop_fitness_before_and_after_matches_the_replay_of_each_stretch(sample_log):
    from engine.analyses.replay import replay_tokens
    from engine.model import compile_net
    from engine.log.select import encode_where
    from engine.model import load_sop
    sop = load_sop(REPO / "models/lost_card.bpmn")
    log = encode_where(sample_log, {"intent": {"lost_card"}}, attributes=(), case_attributes=EXPLAIN_ATTRIBUTES)
    r = detect_drift(log, sop=sop, timezone="Europe/Lisbon")
    assert len(r.change_points) == 1
    p = r.change_points[0]
    net = compile_net(sop.net, sop.initial_marking, sop.final_marking)
    for key, keep in (("before", np.arange(log.n_cases) < p.case_index),
                      ("after", np.arange(log.n_cases) >= p.case_index)):
        part = select_cases(log, keep)
        replay = replay_tokens(part.case_offsets, part.activity_codes, part.activities, net,
                               label_map=sop.label_map, locate=False)
        assert p.fitness[f"fitness_{key}"] == pytest.approx(replay.log_fitness, abs=1e-6)
        assert p.fitness[f"fitting_{key}"] == pytest.approx(replay.is_fit[replay.case_variant].mean(), abs=1e-6)
    assert p.fitness["fitting_after"] < p.fitness["fitting_before"]
    assert r.series.fitness is not None and np.all((r.series.fitness >= 0) & (r.series.fitness <= 1))
    assert "fitness to the SOP" in p.summary()


# --- segments compared with the rest ---------------------------------------------------------------

def test_benjamini_hochberg_hand_checked():
    from engine.analyses.segment_comparison import benjamini_hochberg
    # sorted p 0.005, 0.01, 0.03, 0.04 -> 0.02, 0.02, 0.04, 0.04 (monotone from the top)
    assert benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.005])).tolist() == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert benjamini_hochberg(np.array([0.9, 1.0])).tolist() == [1.0, 1.0]


def test_team_that_works_differently_leads_the_comparison():
    from engine.analyses.segment_comparison import compare_segments
    log = synthetic_log(8000, [(0, "skip", 0.5, "B")], seed=12)
    ranked = compare_segments(log, "team")
    top = ranked[0]
    assert (top.value, top.differs) == ("B", True) and top.q_value < 1e-20
    verify = next(c for c in top.differences if c.label == "Verify")
    assert verify.share_after < verify.share_before  # after = team B, before = the other teams
    assert abs(verify.share_after - 0.45) < 0.03 and abs(verify.share_before - 0.9) < 0.02
    assert top.max_effect == max(c.max_effect for c in ranked)
    # step-down: the other teams are compared with each other, not with a rest that holds team B
    assert [c.value for c in ranked if c.differs] == ["B"]
    assert all(c.n_rest == 8000 - c.n_cases - top.n_cases for c in ranked[1:])


def test_teams_working_alike_do_not_differ():
    from engine.analyses.segment_comparison import compare_segments
    for seed in range(3):
        assert not any(c.differs for c in compare_segments(synthetic_log(8000, seed=40 + seed, noise=0.05), "team"))


def test_cli_by_team_compares_each_team_with_the_rest(sample_log, tmp_path):
    r = CliRunner().invoke(main, ["drift", str(sample_log), "--by", "team", "-q", "--json"])
    assert r.exit_code == 0, r.output
    segments = json.loads(r.output)["segments"]
    best = max(segments, key=lambda s: s["comparison"]["max_effect"])
    assert best["value"] == "B" and [s["value"] for s in segments if s["comparison"]["differs"]] == ["B"]
    assert {"kind", "label", "cases_rest", "share_rest", "cases_segment", "share_segment", "effect",
            "p_value"} <= set(best["comparison"]["differences"][0])
    r = CliRunner().invoke(main, ["drift", str(sample_log), "--by", "team", "-q", "--csv", str(tmp_path)])
    assert r.exit_code == 0 and "each team against the rest" in r.output
    assert (tmp_path / "compared_by_team.csv").read_text().splitlines()[1].startswith("team,B,")


def test_calendar_windows_keep_days_without_contacts():
    log = synthetic_log(144 * 10, seed=8, minutes=10)
    day = (log.timestamps[log.case_offsets[:-1]] - T0) // (86400 * 10**9)
    log = select_cases(log, day != 3)  # nothing on Thursday 8 January
    r = detect_drift(log, DriftSettings(window="day"), timezone="Europe/Lisbon")
    assert len(r.series.cases) == 10 and r.series.cases[3] == 0
    assert r.series.starts[3] == "2026-01-08T00:00:00+00:00" and all(r.series.starts)


def test_kpis_before_and_after_add_up_to_the_whole_log(sample_log, tmp_path):
    """Additive KPIs: numerator and denominator before plus after equal those of cxmine kpi on the whole log."""
    r = CliRunner().invoke(main, ["drift", str(sample_log), "--kpis", "--json", "-q"])
    assert r.exit_code == 0, r.output
    (p,) = json.loads(r.output)["change_points"]
    whole = CliRunner().invoke(main, ["kpi", str(sample_log), "--json", "-q"])
    assert whole.exit_code == 0, whole.output
    overall = json.loads(whole.output)["overall"]
    for name in ("transfers_per_contact", "escalation_rate", "events_per_contact", "holds_per_contact"):
        k = p["kpis"][name]
        assert k["numerator_before"] + k["numerator_after"] == pytest.approx(overall[name]["numerator"])
        assert k["denominator_before"] + k["denominator_after"] == overall[name]["denominator"]
        assert k["before"] == pytest.approx(k["numerator_before"] / k["denominator_before"])
    r = CliRunner().invoke(main, ["drift", str(sample_log), "--kpis", "-q", "--csv", str(tmp_path)])
    assert r.exit_code == 0 and "KPIs before and after" in r.output
    assert (tmp_path / "kpis.csv").read_text().splitlines()[0] == "change,case_index,kpi,before,after,unit"
