"""Token replay kernel against pm4py, trace by trace, on real and generated nets and logs."""

import random
from pathlib import Path

import numpy as np
import pm4py
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from pm4py.objects.log.obj import Event, EventLog, Trace
from pm4py.objects.process_tree.obj import Operator, ProcessTree

from engine.analyses.replay import replay_traces
from engine.errors import AnalysisError
from engine.model import compile_net
from engine.model.workflow_net import to_pm4py

import corpus

DATA = Path(__file__).parent / "data" / "conformance"
SHARED = corpus.SHARED_DATA / "pm4py-tests" / "tests" / "input_data"


def _load_net(name):
    path = DATA / name
    if name.endswith(".bpmn"):
        return pm4py.convert_to_petri_net(pm4py.read_bpmn(str(path)))
    return pm4py.read_pnml(str(path))


def _load_traces(name):
    path = DATA / name
    if name.endswith(".parquet"):
        import pandas as pd
        df = pd.read_parquet(path)
        log = pm4py.convert_to_event_log(df)
    else:
        log = pm4py.read_xes(str(path), return_legacy_log_object=True)
    return [[e["concept:name"] for e in t] for t in log]


def _pm4py_replay(traces, net, im, fm):
    log = EventLog([Trace([Event({"concept:name": a}) for a in t]) for t in traces])
    return pm4py.conformance_diagnostics_token_based_replay(log, net, im, fm)


def assert_same_as_pm4py(traces, net, im, fm):
    expected = _pm4py_replay(traces, net, im, fm)
    got = replay_traces(traces, compile_net(net, im, fm, choice="pm4py")).trace_table()
    for i, x in enumerate(expected):
        mine = (int(got["missing"][i]), int(got["consumed"][i]), int(got["remaining"][i]), int(got["produced"][i]),
                float(got["fitness"][i]), bool(got["is_fit"][i]))
        theirs = (x["missing_tokens"], x["consumed_tokens"], x["remaining_tokens"], x["produced_tokens"],
                  x["trace_fitness"], x["trace_is_fit"])
        assert mine == theirs, f"trace {i} {traces[i]}: cxmine {mine} != pm4py {theirs}"
    return got


PAIRS = [
    ("running-example.pnml", "running-example.xes"),
    ("running-example.bpmn", "running-example.xes"),
    ("receipt.bpmn", "receipt.parquet"),
    ("roadtraffic.pnml", "roadtraffic100traces.xes"),
    ("a12.pnml", "a12f0n50.xes.gz"),
    ("a22.pnml", "a22f0n50.xes.gz"),
    ("a32.pnml", "a32f0n50.xes.gz"),
    ("a32f0n00.bpmn", "a32f0n10.xes.gz"),
]


@pytest.mark.parametrize("model,log", PAIRS)
def test_equals_pm4py_trace_by_trace(model, log):
    net, im, fm = _load_net(model)
    traces = _load_traces(log)
    got = assert_same_as_pm4py(traces, net, im, fm)
    assert len(got["fitness"]) == len(traces)


@pytest.mark.slow
def test_equals_pm4py_on_a42_noisy():
    net, im, fm = pm4py.read_pnml(str(corpus.require(SHARED / "synthetic_logs/a42/a42.pnml")))
    log = pm4py.read_xes(str(corpus.require(SHARED / "synthetic_logs/a42/a42f0n50.xes.gz")),
                         return_legacy_log_object=True)
    assert_same_as_pm4py([[e["concept:name"] for e in t] for t in log], net, im, fm)


def test_log_fitness_equals_pm4py():
    net, im, fm = _load_net("a22.pnml")
    traces = _load_traces("a22f0n50.xes.gz")
    log = EventLog([Trace([Event({"concept:name": a}) for a in t]) for t in traces])
    expected = pm4py.fitness_token_based_replay(log, net, im, fm)
    r = replay_traces(traces, compile_net(net, im, fm, choice="pm4py"))
    assert r.log_fitness == pytest.approx(expected["log_fitness"], abs=1e-12)
    assert float(np.mean(r.trace_table()["fitness"])) == pytest.approx(expected["average_trace_fitness"], abs=1e-12)


def test_name_choice_is_reproducible_across_conversions():
    traces = _load_traces("a32f0n10.xes.gz")[:300]
    a = replay_traces(traces, compile_net(*_load_net("a32f0n00.bpmn"))).trace_table()
    b = replay_traces(traces, compile_net(*_load_net("a32f0n00.bpmn"))).trace_table()
    for k in a:
        assert np.array_equal(a[k], b[k])


def test_each_variant_replayed_once_and_weighted():
    net, im, fm = _load_net("running-example.pnml")
    traces = _load_traces("running-example.xes") * 7
    r = replay_traces(traces, compile_net(net, im, fm))
    assert r.n_variants == 6 and int(r.weight.sum()) == len(traces)
    tot = r.totals()
    tt = r.trace_table()
    assert tot["missing"] == int(tt["missing"].sum()) and tot["consumed"] == int(tt["consumed"].sum())


def test_unknown_activities_ignored_like_pm4py_but_counted():
    net, im, fm = _load_net("running-example.pnml")
    traces = [["nobody knows", "this step"], ["register request", "made up", "examine casually", "check ticket",
                                              "decide", "reject request"]]
    got = assert_same_as_pm4py(traces, net, im, fm)
    assert list(got["unknown"]) == [2, 1]
    # an otherwise fitting trace with an unknown step: pm4py says 1.0 (pm4py issue #435), audit does not
    assert got["fitness"][1] == 1.0 and got["audit_fitness"][1] < 1.0
    assert got["audit_fitness"][0] <= got["fitness"][0]
    off = replay_traces(traces, compile_net(net, im, fm), unknown_as_deviation=False).trace_table()
    assert np.array_equal(off["audit_fitness"], off["fitness"])


def test_empty_log_and_empty_trace():
    net, im, fm = _load_net("running-example.pnml")
    r = replay_traces([], compile_net(net, im, fm))
    assert r.n_variants == 0 and r.log_fitness == 1.0
    assert_same_as_pm4py([[]], net, im, fm)


def test_unknown_choice_lists_valid_ones():
    net, im, fm = _load_net("running-example.pnml")
    with pytest.raises(AnalysisError, match="valid: name, pm4py"):
        compile_net(net, im, fm, choice="random")


# --- generated nets: process trees with invisible steps and duplicate labels ---------------------

LABELS = ["a", "b", "c", "d", "e"]


@st.composite
def process_trees(draw, depth=0):
    if depth >= 3 or draw(st.integers(0, 3)) == 0:
        label = draw(st.sampled_from(LABELS + [None]))  # None: an invisible step
        return ProcessTree(label=label)
    op = draw(st.sampled_from([Operator.SEQUENCE, Operator.XOR, Operator.PARALLEL, Operator.LOOP]))
    n = 2 if op == Operator.LOOP else draw(st.integers(2, 3))
    node = ProcessTree(operator=op)
    for _ in range(n):
        child = draw(process_trees(depth=depth + 1))
        child.parent = node
        node.children.append(child)
    return node


def generated_traces(net, im, fm, noise_traces, seed):
    """The noise traces, up to 5 played-out traces of the net, and those cut short."""
    rng = random.Random(seed)
    try:
        played = pm4py.play_out(net, im, fm, parameters={"no_traces": 5, "random_seed": seed % 1000})
        fitting = [[e["concept:name"] for e in t] for t in played][:5]
    except Exception:  # playout may not terminate on some generated nets; noise traces still test
        fitting = []
    return noise_traces + fitting + [t[: rng.randint(0, len(t))] for t in fitting]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(process_trees(), st.lists(st.lists(st.sampled_from(LABELS + ["z"]), max_size=8), min_size=1, max_size=12),
       st.integers(0, 2**31))
def test_random_nets_equal_pm4py(tree, noise_traces, seed):
    net, im, fm = pm4py.convert_to_petri_net(tree)
    traces = generated_traces(net, im, fm, noise_traces, seed)
    got = assert_same_as_pm4py(traces, net, im, fm)
    # token game invariants
    assert np.array_equal(got["produced"] + got["missing"], got["consumed"] + got["remaining"])
    assert np.all((got["fitness"] >= 0) & (got["fitness"] <= 1))


@settings(max_examples=15, deadline=None)
@given(st.permutations(list(range(12))))
def test_case_order_changes_nothing(perm):
    net, im, fm = _load_net("a12.pnml")
    traces = _load_traces("a12f0n50.xes.gz")[:12]
    cn = compile_net(net, im, fm)
    a = replay_traces(traces, cn).trace_table()
    b = replay_traces([traces[i] for i in perm], cn).trace_table()
    for k in a:
        assert np.array_equal(a[k][perm], b[k])


def test_duplicate_label_choice_follows_pm4py_set_order():
    """pm4py fires the first enabled transition of the label in Python's set order (object ids):
    the choice changes from one conversion of the same tree to the next, and cxmine's "pm4py"
    choice follows it every time."""
    a1, b, a2, c = (ProcessTree(label=x) for x in ("a", "b", "a", "c"))
    left, right = ProcessTree(operator=Operator.SEQUENCE, children=[a1, b]), \
        ProcessTree(operator=Operator.SEQUENCE, children=[a2, c])
    for n in (a1, b):
        n.parent = left
    for n in (a2, c):
        n.parent = right
    tree = ProcessTree(operator=Operator.XOR, children=[left, right])
    left.parent = right.parent = tree
    traces = [["a", "b"], ["a", "c"]]
    outcomes = set()
    keep = []
    for _ in range(12):
        net, im, fm = pm4py.convert_to_petri_net(tree)
        keep.append(net)  # keep objects alive so ids differ between conversions
        got = assert_same_as_pm4py(traces, net, im, fm)
        outcomes.add(tuple(got["fitness"]))
        by_name = replay_traces(traces, compile_net(net, im, fm)).trace_table()
        assert by_name["fitness"].min() < 1.0  # one of the two traces always pays for the choice
    assert all(min(o) < 1.0 for o in outcomes)


@pytest.mark.parametrize("name", ["lost_card", "billing_dispute", "omnichannel_escalation", "order_delivery",
                                  "password_reset"])
def test_sop_library_on_simulated_logs_equals_pm4py(name):
    from engine.simulate import simulate_contacts
    from engine.model import load_sop

    sop = load_sop(Path(__file__).resolve().parent.parent / "models" / f"{name}.bpmn")
    ev = simulate_contacts([sop], 1500, seed=21, deviation_rate=0.15).events
    case = ev.column("contact_id").to_pylist()
    acts = [sop.task_name(a) for a in ev.column("activity").to_pylist()]
    traces: dict[str, list[str]] = {}
    for c, a in zip(case, acts):
        traces.setdefault(c, []).append(a)
    assert_same_as_pm4py(list(traces.values()), *to_pm4py(sop.net, sop.initial_marking, sop.final_marking))


def test_result_does_not_depend_on_chunking(monkeypatch):
    import engine.analyses.replay as replay

    net, im, fm = _load_net("a32.pnml")
    traces = _load_traces("a32f0n50.xes.gz")
    cn = compile_net(net, im, fm)
    many = replay_traces(traces, cn)
    monkeypatch.setattr(replay, "N_CHUNKS", 1)
    one = replay_traces(traces, cn)
    for name in ("counts", "is_fit", "fired", "remaining_places", "ev_status", "ev_trans", "ev_missing",
                 "ev_skips", "end_skips"):
        assert np.array_equal(getattr(many, name), getattr(one, name)), name


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(process_trees(), st.lists(st.lists(st.sampled_from(LABELS + ["y", "z"]), max_size=8), min_size=1, max_size=12),
       st.integers(0, 2**31))
def test_variants_that_differ_only_in_unknown_activities_are_replayed_once(tree, noise_traces, seed):
    """replay_tokens replays each distinct sequence of model activities once: every variant's
    results (counts, per event and at the end, with location) equal the kernel's on that variant."""
    from engine.kernels.replay import replay_variants

    net, im, fm = pm4py.convert_to_petri_net(tree)
    traces = generated_traces(net, im, fm, noise_traces, seed)
    rng = random.Random(seed)
    for t in list(traces):   # the same traces with activities not in the model put in
        t = list(t)
        for _ in range(rng.randint(1, 3)):
            t.insert(rng.randint(0, len(t)), rng.choice(["y", "z"]))
        traces.append(t)
    cn = compile_net(net, im, fm, choice="pm4py")
    got = replay_traces(traces, cn)
    label_codes = np.array([cn.label_id(a) for a in got.activities] + [-1], dtype=np.int32)[got.codes]
    want = replay_variants(cn.arrays, got.offsets, np.ascontiguousarray(label_codes), cn.choice, True)
    names = ("counts", "is_fit", "fired", "remaining_places", "ev_status", "ev_trans", "ev_missing", "ev_skips",
             "end_skips", "ended")
    for name, expected in zip(names, want):
        assert np.array_equal(getattr(got, name), expected), name
