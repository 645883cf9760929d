"""Every unfit contact has a located deviation; location is fast on a long-tailed log and does not
depend on how variants are chunked."""

import random
import sys
import time
from pathlib import Path

import numpy as np
import pm4py
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from engine.analyses.deviations import KINDS, locate_deviations
from engine.analyses.replay import replay_tokens, replay_traces
from engine.model import compile_net

import corpus
from test_replay import LABELS, generated_traces, process_trees

ROOT = Path(__file__).resolve().parent.parent
SHARED = corpus.SHARED_DATA / "pm4py-tests" / "tests" / "input_data"
sys.path.insert(0, str(ROOT / "benchmarks"))


def unexplained(replay) -> list[int]:
    """Variants with fitness (or audit fitness) below 1 and no located deviation."""
    found = locate_deviations(replay)
    located = np.zeros(replay.n_variants, dtype=bool)
    located[found.variant] = True
    unfit = (replay.fitness < 1.0) | (replay.audit_fitness < 1.0)
    return [int(v) for v in np.flatnonzero(unfit & ~located)]


def _traces(replay, v):
    return [replay.activities[k] for k in replay.codes[replay.offsets[v]:replay.offsets[v + 1]]]


def assert_every_unfit_trace_explained(traces, net, im, fm):
    for choice in ("name", "pm4py"):
        r = replay_traces(traces, compile_net(net, im, fm, choice=choice))
        bad = unexplained(r)
        assert not bad, f"unfit without a located deviation ({choice}): {[_traces(r, v) for v in bad[:3]]}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(process_trees(), st.lists(st.lists(st.sampled_from(LABELS + ["z"]), max_size=8), min_size=1, max_size=12),
       st.integers(0, 2**31))
def test_random_nets_every_unfit_trace_explained(tree, noise_traces, seed):
    net, im, fm = pm4py.convert_to_petri_net(tree)
    assert_every_unfit_trace_explained(generated_traces(net, im, fm, noise_traces, seed), net, im, fm)


REAL_LOGS = ["running-example.xes", "receipt.parquet", "roadtraffic100traces.xes",
             "synthetic_logs/a12/a12f0n50.xes.gz", "synthetic_logs/a22/a22f0n50.xes.gz",
             "synthetic_logs/a32/a32f0n50.xes.gz", "synthetic_logs/a42/a42f0n50.xes.gz"]


def _read_traces(path: Path) -> list[list[str]]:
    if path.suffix == ".parquet":
        import pandas as pd
        log = pm4py.convert_to_event_log(pd.read_parquet(path))
    else:
        log = pm4py.read_xes(str(path), return_legacy_log_object=True)
    return [[e["concept:name"] for e in t] for t in log]


@pytest.mark.parametrize("name", REAL_LOGS)
@pytest.mark.parametrize("noise", [0.0, 0.2, 0.5])
def test_real_logs_every_unfit_trace_explained(name, noise):
    """Models pm4py's inductive miner discovers from the log (with a noise threshold, so that
    some traces do not fit), and the log's own traces cut short."""
    path = corpus.require(SHARED / name)
    traces = _read_traces(path)
    log = pm4py.convert_to_event_log(_frame(traces))
    net, im, fm = pm4py.discover_petri_net_inductive(log, noise_threshold=noise)
    rng = random.Random(5)
    cut = [t[:rng.randint(0, len(t))] for t in traces[:200]]
    assert_every_unfit_trace_explained(traces + cut, net, im, fm)


def _frame(traces):
    import pandas as pd
    rows = [(str(i), a, j) for i, t in enumerate(traces) for j, a in enumerate(t)]
    df = pd.DataFrame(rows, columns=["case:concept:name", "concept:name", "j"])
    df["time:timestamp"] = pd.to_datetime(df["j"], unit="s", utc=True)
    return df.drop(columns="j")


def test_contact_that_stopped_early_names_the_step_due_next():
    """More than MAX_SKIPS steps still due: ended early, at the next step; up to MAX_SKIPS: skipped."""
    net, im, fm = pm4py.read_pnml(str(corpus.require(SHARED / "running-example.pnml")))
    r = replay_traces([["register request"], ["register request", "examine casually", "check ticket"]],
                      compile_net(net, im, fm))
    found = locate_deviations(r)
    assert (r.fitness < 1.0).all()
    rows = [(int(v), KINDS[k], s, int(p)) for v, k, s, p in zip(found.variant, found.kind, found.step, found.position)]
    first = [r for r in rows if r[0] == 0]
    assert len(first) == 1 and first[0][1] == "ended_early" and first[0][3] == 0
    assert first[0][2] in ("examine casually", "examine thoroughly", "check ticket")
    second = [r[1:] for r in rows if r[0] == 1]
    assert second[0] == ("skipped", "decide", 2) and all(k == "skipped" for k, _, _ in second)


def _longtail(n):
    from longtail import longtail_log, longtail_sop
    off, codes, acts = longtail_log(n)
    return off, codes, acts, compile_net(*longtail_sop())


def test_location_does_not_depend_on_chunking(monkeypatch):
    import engine.analyses.replay as replay

    off, codes, acts, net = _longtail(3000)
    many = replay_tokens(off, codes, acts, net)
    monkeypatch.setattr(replay, "LOCATE_CHUNKS", 1)
    one = replay_tokens(off, codes, acts, net)
    monkeypatch.setattr(replay, "LOCATE_CHUNKS", 7)
    seven = replay_tokens(off, codes, acts, net)
    for name in ("counts", "ev_status", "ev_trans", "ev_missing", "ev_skips", "end_skips", "ended"):
        assert np.array_equal(getattr(many, name), getattr(one, name)), name
        assert np.array_equal(getattr(seven, name), getattr(one, name)), name
    assert not unexplained(many)


@pytest.mark.slow
def test_location_costs_about_a_counts_only_replay():
    """On a long-tailed log (100,000 contacts, ~8,000 variants), replay with location takes at most
    3x the CPU time of the counts-only replay (measured: 0.18 s against 0.095 s, about 1.9x; about
    4x while the location path paid numba's reference counting, about 13x before the searches were
    pruned and remembered)."""
    off, codes, acts, net = _longtail(100_000)
    replay_tokens(off[:101], codes[:off[100]], acts, net)
    replay_tokens(off[:101], codes[:off[100]], acts, net, locate=False)

    def cpu(locate):
        best = np.inf
        for _ in range(3):
            t = time.process_time()
            r = replay_tokens(off, codes, acts, net, locate=locate)
            if locate:
                locate_deviations(r)
            best = min(best, time.process_time() - t)
        return best

    counts, located = cpu(False), cpu(True)
    assert located <= 3 * counts, (counts, located)
