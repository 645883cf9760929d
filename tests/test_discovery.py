"""Discovery from the core's summaries against pm4py discovering from its own log (oracle), and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import naive
from sample import run_cxmine as cx, sample_log  # noqa: F401  (sample_log is a fixture)
from engine.analyses.dfg import discover_dfg
from engine.analyses.discovery import (bpmn_of_dfg, count_windows, discover_model, discover_models_by,
                                       mine_heuristics_net, mine_process_tree)
from engine.analyses.variants import count_variants
from engine.errors import AnalysisError

ROOT = Path(__file__).resolve().parents[1]
NO_TIME_LOGS = sorted((ROOT / "tests/data/conformance").glob("*.xes.gz"))




def net_graph(net, im, fm) -> nx.DiGraph:
    """The Petri net as a labelled graph: places carry their markings, transitions their labels."""
    g = nx.DiGraph()
    for p in net.places:
        g.add_node(("p", id(p)), kind=f"place {im[p] if p in im else 0} {fm[p] if p in fm else 0}")
    for t in net.transitions:
        g.add_node(("t", id(t)), kind=f"transition {t.label}")
    for a in net.arcs:
        g.add_edge(("p" if a.source in net.places else "t", id(a.source)),
                   ("p" if a.target in net.places else "t", id(a.target)))
    return g


def same_net(ours, theirs) -> bool:
    a, b = net_graph(*ours), net_graph(*theirs)
    return nx.is_isomorphic(a, b, node_match=lambda x, y: x["kind"] == y["kind"])


def heuristics_summary(heu) -> dict:
    """Nodes, their weighted connections and AND/loop decisions: what the heuristics net is made of."""
    out = {}
    for name, node in heu.nodes.items():
        out[name] = ({o.node_name: [(e.dependency_value, e.dfg_value) for e in edges]
                      for o, edges in node.output_connections.items()},
                     sorted(map(str, node.and_measures_out)), sorted(map(str, node.and_measures_in)),
                     sorted(map(str, node.loop_length_two)))
    return out


def assert_same_as_pm4py(ours_log, theirs, time_key="time:timestamp"):
    """ours_log: cxmine's encoded log; theirs: the same events as pm4py's DataFrame or EventLog."""
    import pm4py
    from pm4py.algo.discovery.heuristics.variants import classic

    kw = {"timestamp_key": time_key}
    variants, dfg = count_variants(ours_log), discover_dfg(ours_log)
    for noise in (0.0, 0.2):
        assert str(mine_process_tree(variants, noise)) == \
            str(pm4py.discover_process_tree_inductive(theirs, noise_threshold=noise, **kw)), noise
    ref_dfg, ref_start, ref_end = pm4py.discover_dfg(theirs, **kw)
    assert dfg.edges == dict(ref_dfg)
    assert dfg.start_activities == dict(ref_start) and dfg.end_activities == dict(ref_end)
    heu = mine_heuristics_net(dfg, variants)
    if isinstance(theirs, pd.DataFrame):
        ref_heu = classic.apply_heu_pandas(theirs, parameters={classic.Parameters.TIMESTAMP_KEY: time_key})
    else:
        ref_heu = classic.apply_heu(theirs)
    assert heuristics_summary(heu) == heuristics_summary(ref_heu)
    model = discover_model(ours_log, "heuristics")
    assert same_net((model.net, model.initial_marking, model.final_marking),
                    pm4py.discover_petri_net_heuristics(theirs, **kw))
    model = discover_model(ours_log, "inductive")
    assert same_net((model.net, model.initial_marking, model.final_marking),
                    pm4py.discover_petri_net_inductive(theirs, **kw))
    model = discover_model(ours_log, "dfg")
    assert same_net((model.net, model.initial_marking, model.final_marking),
                    pm4py.convert_to_petri_net(ref_dfg, ref_start, ref_end))


@pytest.mark.parametrize("path", naive.xes_logs(), ids=lambda p: p.name)
def test_same_models_as_pm4py_on_xes_logs(path, tmp_path):
    if path in NO_TIME_LOGS:
        pytest.skip("no timestamps: covered by test_same_models_as_pm4py_on_logs_without_timestamps")
    df, log = naive.load_xes(path, tmp_path)
    assert_same_as_pm4py(log, df, naive.pm4py_time_key(df))


@pytest.mark.parametrize("path", NO_TIME_LOGS, ids=lambda p: p.name)
def test_same_models_as_pm4py_on_logs_without_timestamps(path):
    import pm4py
    event_log = pm4py.read_xes(str(path), return_legacy_log_object=True)
    cases = [[{"activity": e["concept:name"], "timestamp": i} for i, e in enumerate(trace)] for trace in event_log]
    assert_same_as_pm4py(naive.encode_cases(cases), event_log)


def test_same_models_as_pm4py_on_the_sample(sample_log):
    from engine.log.encode import encode_log
    df = pd.read_parquet(sample_log, columns=["case_id", "activity", "timestamp", "case_index"])
    # cxmine's order is (case, timestamp, original order): give pm4py strictly increasing times per case
    df = df.sort_values(["case_index"], kind="stable").reset_index(drop=True)
    df["time:timestamp"] = pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(df.index, unit="s")
    df = df.rename(columns={"case_id": "case:concept:name", "activity": "concept:name"})
    df["case:concept:name"] = df["case_index"].map("{:08d}".format)
    df["concept:name"] = df["concept:name"].astype(str)
    df = df.drop(columns=["case_index"])
    assert_same_as_pm4py(encode_log(sample_log, attributes=()), df)


def cases_strategy():
    return st.lists(st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), min_size=1, max_size=9),
                    min_size=1, max_size=30)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases_strategy())
def test_same_models_as_pm4py_on_random_logs(cases):
    rows = [{"case:concept:name": f"c{i:05d}", "concept:name": a,
             "time:timestamp": pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(seconds=j)}
            for i, case in enumerate(cases) for j, a in enumerate(case)]
    log = naive.encode_cases([[{"activity": a, "timestamp": j} for j, a in enumerate(c)] for c in cases])
    assert_same_as_pm4py(log, pd.DataFrame(rows))


def test_windows_count_pairs_two_apart_and_triples():
    log = naive.encode_cases([[{"activity": a, "timestamp": i} for i, a in enumerate(c)]
                              for c in (["a", "b", "a", "b"], ["a", "b", "a", "b"], ["c"])])
    pairs, triples = count_windows(count_variants(log))
    assert pairs == {("a", "a"): 2, ("b", "b"): 2}
    assert triples == {("a", "b", "a"): 2, ("b", "a", "b"): 2}


def test_dfg_bpmn_has_one_task_per_activity_and_every_edge():
    log = naive.encode_cases([[{"activity": a, "timestamp": i} for i, a in enumerate(c)]
                              for c in (["a", "b", "c"], ["a", "c"], ["b"], ["a", "a"])])
    dfg = discover_dfg(log)
    bpmn = bpmn_of_dfg(dfg)
    tasks = [n.get_name() for n in bpmn.get_nodes() if type(n).__name__ == "Task"]
    assert sorted(tasks) == ["a", "b", "c"]
    succ = {}
    for f in bpmn.get_flows():
        succ.setdefault(f.get_source(), []).append(f.get_target())

    def reach(node):  # the tasks (or end) reachable through gateways only
        kind = type(node).__name__
        if kind == "Task" or kind.endswith("EndEvent"):
            return {node.get_name() if kind == "Task" else "END"}
        return set().union(*[reach(t) for t in succ.get(node, [])])
    by_name = {n.get_name(): n for n in bpmn.get_nodes() if type(n).__name__ == "Task"}
    for a, node in by_name.items():
        expect = {b for (x, b) in dfg.edges if x == a} | ({"END"} if a in dfg.end_activities else set())
        assert set().union(*[reach(t) for t in succ[node]]) == expect
    start = next(n for n in bpmn.get_nodes() if type(n).__name__.endswith("StartEvent"))
    assert set().union(*[reach(t) for t in succ[start]]) == set(dfg.start_activities)


def test_bad_parameters_and_empty_logs_are_refused():
    log = naive.encode_cases([[{"activity": "a", "timestamp": 0}]])
    with pytest.raises(AnalysisError, match="Unknown discovery method 'alpha'.*inductive, heuristics, dfg"):
        discover_model(log, "alpha")
    with pytest.raises(AnalysisError, match=r"Noise threshold 1.5 is outside \[0, 1\]"):
        discover_model(log, "inductive", noise=1.5)
    with pytest.raises(AnalysisError, match="noise threshold applies to the inductive miner only"):
        discover_model(log, "heuristics", noise=0.2)
    with pytest.raises(AnalysisError, match="empty log"):
        discover_model(naive.encode_cases([]), "inductive")


def test_models_by_segment_equal_models_of_each_segment():
    cases = [[{"activity": a, "timestamp": i, "team": team} for i, a in enumerate(seq)]
             for seq, team in ((["a", "b", "c"], "A"), (["a", "c", "b"], "A"), (["a", "b"], "B"), (["a", "d"], "B"))]
    log = naive.encode_cases(cases)
    by = discover_models_by(log, "team", "inductive")
    assert set(by) == {"A", "B"}
    alone = discover_model(naive.encode_cases(cases[:2]), "inductive")
    assert str(by["A"].tree) == str(alone.tree)
    assert by["B"].n_cases == 2 and by["A"].dfg.activity_counts == {"a": 2, "b": 2, "c": 2}


# ---- the command -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method,files", [
    ("inductive", {"model.bpmn", "model.pnml", "model.ptml", "model.svg", "model.png"}),
    ("heuristics", {"model.bpmn", "model.pnml", "model.svg", "model.png"}),
    ("dfg", {"model.bpmn", "model.pnml", "model.svg", "model.png"})])
def test_discover_writes_the_model_files(sample_log, tmp_path, method, files):
    import pm4py
    from lxml import etree
    out = tmp_path / method
    result = cx("discover", str(sample_log), "--method", method, "--where", "intent=lost_card", "-o", str(out),
                "--json", "-q")
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == files
    data = json.loads(result.output)
    assert data["method"] == method and data["n_cases"] > 0
    net, im, fm = pm4py.read_pnml(str(out / "model.pnml"))
    labels = {t.label for t in net.transitions if t.label}
    assert labels and labels <= set(data_activities(sample_log, "lost_card"))
    bpmn = pm4py.read_bpmn(str(out / "model.bpmn"))
    assert {n.get_name() for n in bpmn.get_nodes() if type(n).__name__ == "Task"} >= labels
    svg_text = " ".join(etree.parse(str(out / "model.svg")).getroot().itertext())
    for label in labels:
        assert label in svg_text
    if method == "inductive":
        tree = pm4py.read_ptml(str(out / "model.ptml"))
        assert str(tree) == data["process_tree"]


def data_activities(path, intent) -> set:
    df = pd.read_parquet(path, columns=["case_id", "activity", "intent"])
    cases = df.groupby("case_id")["intent"].first()
    return set(df[df["case_id"].isin(cases[cases == intent].index)]["activity"])


def test_discover_by_segment_writes_one_folder_per_value(sample_log, tmp_path):
    result = cx("discover", str(sample_log), "--method", "dfg", "--by", "channel", "-o", str(tmp_path / "m"),
                "--json", "-q")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["by"] == ["channel"] and {p.name for p in (tmp_path / "m").iterdir()} == {"channel"}
    folders = {p.name for p in (tmp_path / "m" / "channel").iterdir()}
    assert folders == {s["segment"] for s in data["segments"]} and len(folders) > 1
    for folder in folders:
        assert (tmp_path / "m" / "channel" / folder / "model.pnml").exists()


@pytest.mark.parametrize("args,code,message", [
    (["--noise", "1.5"], 2, "Noise threshold 1.5 is outside [0, 1]"),
    (["--method", "heuristics", "--noise", "0.2"], 2, "--noise applies to --method inductive only"),
    (["--method", "alpha"], 2, "Invalid value for '--method'"),
    (["--by", "planet"], 1, "Cannot segment by 'planet': the log has no such attribute"),
    (["--where", "intent=nothing"], 1, "No contact matches the selection"),
])
def test_discover_bad_input(sample_log, tmp_path, args, code, message):
    result = cx("discover", str(sample_log), *args, "-o", str(tmp_path / "m"), "-q")
    assert result.exit_code == code, result.output
    assert message in result.output
    assert not (tmp_path / "m").exists()


def test_discover_missing_log(tmp_path):
    result = cx("discover", str(tmp_path / "nope.parquet"), "-o", str(tmp_path / "m"))
    assert result.exit_code == 1
    assert "nope.parquet" in result.output


def test_segment_folders_are_safe_and_distinct():
    from engine.report.model_render import segment_folders
    got = segment_folders(["A", "a/b", "a_b", "..", "x\ny", " B "])
    assert got == {"A": "A", "a/b": "a_b", "a_b": "a_b_", "..": "_", "x\ny": "x_y", " B ": "B"}


def test_dependency_threshold_is_pm4pys(tmp_path):
    import pm4py
    df, log = naive.load_xes(naive.HERE / "data" / "xes" / "running-example.xes", tmp_path)
    for threshold in (0.3, 0.9):
        model = discover_model(log, "heuristics", heuristics={"dependency_threshold": threshold})
        assert same_net((model.net, model.initial_marking, model.final_marking),
                        pm4py.discover_petri_net_heuristics(df, dependency_threshold=threshold))
    loose, strict = (discover_model(log, "heuristics", heuristics={"dependency_threshold": t}) for t in (0.3, 0.9))
    assert len(strict.net.arcs) < len(loose.net.arcs)


def test_discover_cli_dependency_only_with_heuristics(sample_log, tmp_path):
    result = cx("discover", sample_log, "--method", "dfg", "--dependency", "0.9", "-o", tmp_path / "m", "-q")
    assert result.exit_code == 2 and "--dependency applies to --method heuristics only" in result.output
