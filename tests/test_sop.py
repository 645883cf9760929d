"""SOP models: load_sop, the sidecar, the SOP library in models/, secure parsing, and the CLI."""

from __future__ import annotations

import gzip
import http.server
import json
import re
import threading
from collections import Counter, deque
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from engine.cli import main
from engine.errors import ModelError
from engine.model import load_sop
from engine.model.bpmn import read_bpmn
from engine.model.workflow_net import to_pm4py
from engine.vocabulary import DEFAULT_ROLES

ROOT = Path(__file__).parents[1]
MODELS = sorted((ROOT / "models").glob("*.bpmn"))
NS = 'xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"'


def write_bpmn(tmp_path: Path, body: str, name: str = "m.bpmn", sidecar: str | None = None) -> Path:
    path = tmp_path / name
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<definitions {NS} id="d" '
                    f'targetNamespace="t">{body}</definitions>', encoding="utf-8")
    if sidecar is not None:
        path.with_suffix(".toml").write_text(sidecar, encoding="utf-8")
    return path


def chain(*names: str, pid: str = "P", extra: str = "", lanes: str = "") -> str:
    """A process start -> names... -> end (ids t0, t1, ...)."""
    ids = ["s"] + [f"t{i}" for i in range(len(names))] + ["e"]
    nodes = '<startEvent id="s"/>' + "".join(f'<task id="t{i}" name="{n}"/>' for i, n in enumerate(names))
    nodes += '<endEvent id="e"/>'
    flows = "".join(f'<sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
                    for i, (a, b) in enumerate(zip(ids, ids[1:])))
    return f'<process id="{pid}">{lanes}{nodes}{flows}{extra}</process>'


# -- the SOP library ------------------------------------------------------------------------------

def test_library_has_the_five_procedures() -> None:
    names = {p.stem for p in MODELS}
    assert {"omnichannel_escalation", "billing_dispute", "lost_card", "password_reset",
            "order_delivery"} <= names
    for path in MODELS:
        assert path.with_suffix(".toml").exists(), f"{path.name} has no sidecar"


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_library_model_loads_with_owners_and_no_warnings(path: Path) -> None:
    sop = load_sop(path)
    assert sop.warnings == ()
    assert all(t.owner for t in sop.tasks), "every step sits in a lane"
    assert len(sop.lanes) >= 3 and set(sop.owner_of.values()) <= set(sop.lanes)
    assert set(sop.cost_per_minute) == {t.owner for t in sop.tasks}
    assert "Wrap-up" in sop.task_names and "Verify identity" in sop.critical
    assert all(t.documentation for t in sop.tasks if t.name in sop.critical)
    labels = Counter(t.label for t in sop.net.transitions if t.label)
    assert labels == Counter(t.name for t in sop.tasks)
    canonical = [n for n in sop.task_names if n in DEFAULT_ROLES]
    assert len(canonical) >= len(sop.task_names) // 2, "steps use the vocabulary's labels"
    for label, task in sop.label_map.items():
        assert sop.task_name(label) == task
    assert sop.task_name("Some unmapped label") == "Some unmapped label"


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_library_model_matches_pm4py_importer(path: Path) -> None:
    """pm4py's own importer reads the file too and its converter gives the same net."""
    import pm4py

    sop = load_sop(path)
    net, im, fm = pm4py.convert_to_petri_net(pm4py.read_bpmn(str(path)))
    assert (len(net.places), len(net.transitions), len(net.arcs)) == tuple(sop.net_size().values())
    assert Counter(t.label for t in net.transitions if t.label) == \
        Counter(t.label for t in sop.net.transitions if t.label)


def pm4py_net(sop):
    """The SOP's net in pm4py's classes, for pm4py's own algorithms (the oracle)."""
    return to_pm4py(sop.net, sop.initial_marking, sop.final_marking)


def reachable_markings(net, im, limit: int = 20000):
    """Slow twin of a soundness check: explore the reachability graph."""
    from pm4py.objects.petri_net import semantics

    start = frozenset(im.items())
    seen, edges, queue = {start: im}, {start: set()}, deque([im])
    while queue:
        marking = queue.popleft()
        key = frozenset(marking.items())
        for t in semantics.enabled_transitions(net, marking):
            nxt = semantics.execute(t, net, marking)
            nkey = frozenset(nxt.items())
            edges[key].add((t, nkey))
            if nkey not in seen:
                seen[nkey] = nxt
                edges[nkey] = set()
                queue.append(nxt)
                assert len(seen) < limit, "net is unbounded or too large"
    return seen, edges


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_library_model_is_sound(path: Path) -> None:
    net, im, fm = pm4py_net(load_sop(path))
    seen, edges = reachable_markings(net, im)
    final = frozenset(fm.items())
    assert final in seen
    # option to complete: the final marking is reachable from every reachable marking
    back: dict = {k: set() for k in seen}
    for k, outs in edges.items():
        for _, n in outs:
            back[n].add(k)
    can_finish, queue = {final}, deque([final])
    while queue:
        for prev in back[queue.popleft()]:
            if prev not in can_finish:
                can_finish.add(prev)
                queue.append(prev)
    assert can_finish == set(seen)
    # proper completion: a marking holding the sink token holds nothing else; no dead transitions
    sink = next(iter(fm))
    assert all(dict(k) == {sink: 1} for k in seen if sink in dict(k))
    fired = {t for outs in edges.values() for t, _ in outs}
    assert fired == set(net.transitions)


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_playout_traces_replay_with_fitness_one(path: Path) -> None:
    """The simulator and conformance rely on this: 200 playout traces all fit in pm4py's token replay."""
    import pm4py

    sop = load_sop(path)
    log = pm4py.play_out(*pm4py_net(sop), parameters={"noTraces": 200})
    assert len(log) == 200
    result = pm4py.conformance_diagnostics_token_based_replay(log, *pm4py_net(sop))
    assert [r["trace_fitness"] for r in result] == [1.0] * 200
    labels = {e["concept:name"] for trace in log for e in trace}
    assert labels <= set(sop.task_names)


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_library_model_has_diagram_layout(path: Path) -> None:
    root = etree.parse(str(path)).getroot()
    bpmn = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
    di = "{http://www.omg.org/spec/BPMN/20100524/DI}"
    shapes = {s.get("bpmnElement") for s in root.iter(di + "BPMNShape")}
    edges = {e.get("bpmnElement") for e in root.iter(di + "BPMNEdge")}
    process = next(root.iter(bpmn + "process"))
    for el in process:
        tag = el.tag[len(bpmn):]
        if tag == "sequenceFlow":
            assert el.get("id") in edges
        elif tag not in ("laneSet", "documentation"):
            assert el.get("id") in shapes, el.get("id")
    for lane in root.iter(bpmn + "lane"):
        assert lane.get("id") in shapes


# -- owners: lanes, nested lanes, pools --------------------------------------------------------------

def test_owner_is_innermost_lane_then_pool(tmp_path: Path) -> None:
    lanes = ('<laneSet id="ls"><lane id="L1" name="Support Ops"><flowNodeRef>t0</flowNodeRef>'
             '<flowNodeRef>t1</flowNodeRef><childLaneSet id="cls"><lane id="L1a" name="Tier 2">'
             '<flowNodeRef>t1</flowNodeRef></lane></childLaneSet></lane></laneSet>')
    body = ('<collaboration id="c"><participant id="p" name="Contact center" processRef="P"/></collaboration>'
            + chain("Agent answer", "Escalate", "Resolve", lanes=lanes))
    sop = load_sop(write_bpmn(tmp_path, body))
    owners = {t.name: t.owner for t in sop.tasks}
    assert owners == {"Agent answer": "Support Ops", "Escalate": "Tier 2", "Resolve": "Contact center"}
    assert set(sop.lanes) == {"Support Ops", "Tier 2"} and sop.pools == ("Contact center",)
    assert any("no sidecar" in w for w in sop.warnings)
    assert "task 't2' ('Resolve') is in no lane: its owner is the pool 'Contact center'" in sop.warnings


def test_documentation_is_kept(tmp_path: Path) -> None:
    body = chain("Verify identity").replace(
        '<task id="t0" name="Verify identity"/>',
        '<task id="t0" name="Verify identity"><documentation>Ask two\n   security questions.</documentation></task>')
    sop = load_sop(write_bpmn(tmp_path, body))
    assert sop.tasks[0].documentation == "Ask two security questions."


# -- what the conversion cannot represent: warnings, never a silent drop --------------------------

def test_boundary_event_becomes_an_alternative_with_a_warning(tmp_path: Path) -> None:
    import pm4py

    body = chain("Agent answer", "Resolve", extra=(
        '<boundaryEvent id="timeout" name="Too long" attachedToRef="t0"><timerEventDefinition/></boundaryEvent>'
        '<task id="esc" name="Escalate"/><endEvent id="e2"/>'
        '<sequenceFlow id="b1" sourceRef="timeout" targetRef="esc"/>'
        '<sequenceFlow id="b2" sourceRef="esc" targetRef="e2"/>'))
    sop = load_sop(write_bpmn(tmp_path, body))
    assert any("boundary event 'timeout'" in w and "'Agent answer'" in w for w in sop.warnings)
    log = pm4py.play_out(*pm4py_net(sop), parameters={"noTraces": 60})
    variants = {tuple(e["concept:name"] for e in t) for t in log}
    assert variants <= {("Agent answer", "Resolve"), ("Agent answer", "Escalate")}
    assert len(variants) == 2


def test_subprocess_is_flattened_and_intermediate_events_are_silent(tmp_path: Path) -> None:
    import pm4py

    body = ('<process id="P"><startEvent id="s"/><subProcess id="sp" name="Identify">'
            '<startEvent id="ss"/><task id="a" name="Verify identity"/>'
            '<intermediateCatchEvent id="wait"><timerEventDefinition/></intermediateCatchEvent>'
            '<task id="b" name="Hold"/><endEvent id="se"/>'
            '<sequenceFlow id="x1" sourceRef="ss" targetRef="a"/><sequenceFlow id="x2" sourceRef="a" targetRef="wait"/>'
            '<sequenceFlow id="x3" sourceRef="wait" targetRef="b"/><sequenceFlow id="x4" sourceRef="b" targetRef="se"/>'
            '</subProcess><task id="r" name="Resolve"/><endEvent id="e"/>'
            '<dataObject id="notes"/>'
            '<sequenceFlow id="f1" sourceRef="s" targetRef="sp"/><sequenceFlow id="f2" sourceRef="sp" targetRef="r"/>'
            '<sequenceFlow id="f3" sourceRef="r" targetRef="e"/></process>')
    sop = load_sop(write_bpmn(tmp_path, body))
    text = "\n".join(sop.warnings)
    assert "sub-process 'sp' ('Identify') flattened" in text
    assert "intermediate catch event 'wait' (timer) treated as a silent step" in text
    assert "data object(s) or store(s) ignored ('notes')" in text
    log = pm4py.play_out(*pm4py_net(sop), parameters={"noTraces": 5})
    assert {tuple(e["concept:name"] for e in t) for t in log} == {("Verify identity", "Hold", "Resolve")}


def test_task_with_two_outgoing_flows_forks_in_parallel(tmp_path: Path) -> None:
    import pm4py

    body = ('<process id="P"><startEvent id="s"/><task id="a" name="Escalate"/><task id="b" name="Hold"/>'
            '<task id="c" name="Back office review"/><parallelGateway id="j"/><endEvent id="e"/>'
            '<sequenceFlow id="1" sourceRef="s" targetRef="a"/><sequenceFlow id="2" sourceRef="a" targetRef="b"/>'
            '<sequenceFlow id="3" sourceRef="a" targetRef="c"/><sequenceFlow id="4" sourceRef="b" targetRef="j"/>'
            '<sequenceFlow id="5" sourceRef="c" targetRef="j"/><sequenceFlow id="6" sourceRef="j" targetRef="e"/>'
            '</process>')
    sop = load_sop(write_bpmn(tmp_path, body))
    log = pm4py.play_out(*pm4py_net(sop), parameters={"noTraces": 80})
    variants = {tuple(e["concept:name"] for e in t) for t in log}
    assert variants == {("Escalate", "Hold", "Back office review"), ("Escalate", "Back office review", "Hold")}


def test_two_pools_run_in_parallel_and_message_flows_are_reported(tmp_path: Path) -> None:
    body = ('<collaboration id="c"><participant id="p1" name="Customer" processRef="P1"/>'
            '<participant id="p2" name="Support Ops" processRef="P2"/>'
            '<messageFlow id="m1" sourceRef="t0" targetRef="t0b"/></collaboration>'
            + chain("Portal visit", pid="P1")
            + chain("Agent answer", pid="P2").replace('id="t0"', 'id="t0b"').replace('"t0"', '"t0b"')
            .replace('id="s"', 'id="s2"').replace('"s"', '"s2"').replace('id="e"', 'id="e2"')
            .replace('"e"', '"e2"').replace('id="f', 'id="g'))
    sop = load_sop(write_bpmn(tmp_path, body))
    text = "\n".join(sop.warnings)
    assert "2 pools with processes ('Customer', 'Support Ops') combined in parallel" in text
    assert "1 message flow(s) ignored ('m1')" in text
    assert {t.name: t.owner for t in sop.tasks} == {"Portal visit": "Customer", "Agent answer": "Support Ops"}


def test_call_activity_expands_a_called_process_once(tmp_path: Path) -> None:
    import pm4py

    main_process = ('<process id="P"><startEvent id="s"/><task id="a" name="Agent answer"/>'
                    '<callActivity id="call" name="Identify" calledElement="Verify"/><task id="r" name="Resolve"/>'
                    '<endEvent id="e"/><sequenceFlow id="1" sourceRef="s" targetRef="a"/>'
                    '<sequenceFlow id="2" sourceRef="a" targetRef="call"/>'
                    '<sequenceFlow id="3" sourceRef="call" targetRef="r"/>'
                    '<sequenceFlow id="4" sourceRef="r" targetRef="e"/></process>')
    called = ('<process id="Verify"><startEvent id="vs"/><task id="v" name="Verify identity"/><endEvent id="ve"/>'
              '<sequenceFlow id="5" sourceRef="vs" targetRef="v"/><sequenceFlow id="6" sourceRef="v" '
              'targetRef="ve"/></process>')
    pool = '<participant id="p" name="Support Ops" processRef="P"/>'
    sop = load_sop(write_bpmn(tmp_path, f'<collaboration id="c">{pool}</collaboration>' + main_process + called))
    assert "call activity 'call' ('Identify') expanded with process 'Verify'" in sop.warnings
    assert {t.name: t.owner for t in sop.tasks} == {"Agent answer": "Support Ops", "Verify identity": "Support Ops",
                                                    "Resolve": "Support Ops"}
    log = pm4py.play_out(*pm4py_net(sop), parameters={"noTraces": 5})
    assert {tuple(e["concept:name"] for e in t) for t in log} == {("Agent answer", "Verify identity", "Resolve")}
    # called process that is also a pool: expanded where it is called, not a second time as a pool
    both = (f'<collaboration id="c">{pool}<participant id="p2" name="Identity" processRef="Verify"/>'
            '</collaboration>' + main_process + called)
    sop = load_sop(write_bpmn(tmp_path, both, name="both.bpmn"))
    assert "process 'Verify' is both a pool and called by a call activity: it is expanded at the call " \
           "activity only" in sop.warnings
    assert sorted(t.name for t in sop.tasks) == ["Agent answer", "Resolve", "Verify identity"]
    # listed first, the pool is read as a pool and the call activity stays one task
    sop = load_sop(write_bpmn(tmp_path, both.replace(main_process + called, called + main_process),
                              name="first.bpmn"))
    assert any(w.startswith("call activity 'call' ('Identify') treated as one task") for w in sop.warnings)
    assert sorted(t.name for t in sop.tasks) == ["Agent answer", "Identify", "Resolve", "Verify identity"]


def test_choreography_is_refused_naming_the_element(tmp_path: Path) -> None:
    path = write_bpmn(tmp_path, '<choreography id="ch1" name="Order"/>' + chain("Resolve"))
    with pytest.raises(ModelError, match="Choreography element choreography 'ch1'"):
        load_sop(path)


def test_dangling_flow_is_refused(tmp_path: Path) -> None:
    path = write_bpmn(tmp_path, chain("Resolve", extra='<sequenceFlow id="bad" sourceRef="t0" targetRef="nowhere"/>'))
    with pytest.raises(ModelError, match="Sequence flow 'bad' refers to 'nowhere'"):
        load_sop(path)


# -- the sidecar ------------------------------------------------------------------------------------

@pytest.mark.parametrize("sidecar, message", [
    ('critical = ["Block card"]', "names 'Block card', which is not a task"),
    ('[label_map]\n"Card blocked" = "Block card"', "names 'Block card', which is not a task"),
    ('[cost_per_minute]\n"Finance" = 1.0', "owner 'Finance', which owns no task"),
    ('[cost_per_minute]\n"Support Ops" = -1', "must be a non-negative number"),
    ('[cost_per_minute]\n"Support Ops" = "cheap"', "must be a non-negative number"),
    ('critical = "Resolve"', "must be a list of BPMN task names"),
    ('colour = "red"', "Unknown key(s) colour"),
    ('critical = [', "not valid TOML"),
])
def test_sidecar_errors_are_clear(tmp_path: Path, sidecar: str, message: str) -> None:
    lanes = '<laneSet id="ls"><lane id="L" name="Support Ops"><flowNodeRef>t0</flowNodeRef></lane></laneSet>'
    path = write_bpmn(tmp_path, chain("Resolve", lanes=lanes), sidecar=sidecar)
    with pytest.raises(ModelError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        load_sop(path)
    assert info.value.path == str(path.with_suffix(".toml"))
    assert info.value.hint


def test_sidecar_is_read(tmp_path: Path) -> None:
    lanes = '<laneSet id="ls"><lane id="L" name="Support Ops"><flowNodeRef>t0</flowNodeRef></lane></laneSet>'
    path = write_bpmn(tmp_path, chain("Resolve", lanes=lanes), sidecar=(
        'name = "Tiny"\ncritical = ["Resolve"]\n[label_map]\n"Closed" = "Resolve"\n'
        '[cost_per_minute]\n"Support Ops" = 0.8\n'))
    sop = load_sop(path)
    assert (sop.name, sop.critical, sop.label_map, sop.cost_per_minute) == (
        "Tiny", frozenset({"Resolve"}), {"Closed": "Resolve"}, {"Support Ops": 0.8})
    assert sop.tasks[0].critical and sop.warnings == ()


# -- hostile and broken XML -------------------------------------------------------------------------

@pytest.fixture()
def listener():
    """A local HTTP server that records every request: a fetched entity would show up here."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<x/>")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()


def hostile_bpmn(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "evil.bpmn"
    path.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE definitions [<!ENTITY ext SYSTEM "{url}/steal">]>\n'
                    f'<definitions {NS} id="d"><process id="P"><task id="t" name="&ext;"/></process>'
                    '</definitions>', encoding="utf-8")
    return path


def test_external_entity_is_refused_without_fetching(tmp_path: Path, listener) -> None:
    url, hits = listener
    with pytest.raises(ModelError, match="DOCTYPE"):
        read_bpmn(hostile_bpmn(tmp_path, url))
    assert hits == []


def test_doctype_in_utf16_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "u16.bpmn"
    text = (f'<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE d [<!ENTITY a "aaaa">]>\n'
            f'<definitions {NS} id="d">' + chain("Resolve") + '</definitions>')
    path.write_bytes(text.encode("utf-16"))
    with pytest.raises(ModelError, match="DOCTYPE"):
        read_bpmn(path)


def test_duplicate_ids_and_not_bpmn(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="Duplicate id 't0'"):
        read_bpmn(write_bpmn(tmp_path, chain("Resolve", extra='<task id="t0" name="Again"/>')))
    other = tmp_path / "x.bpmn"
    other.write_text('<definitions xmlns="http://example.com/other"/>', encoding="utf-8")
    with pytest.raises(ModelError, match="Not a BPMN 2.0 file"):
        read_bpmn(other)
    with pytest.raises(ModelError, match="not found"):
        load_sop(tmp_path / "missing.bpmn")


# -- CLI ----------------------------------------------------------------------------------------------

def test_cli_sop_show_text_and_json() -> None:
    runner = CliRunner()
    path = str(ROOT / "models" / "lost_card.bpmn")
    result = runner.invoke(main, ["sop", "show", path])
    assert result.exit_code == 0, result.output
    assert "Block card" in result.output and "[critical]" in result.output
    assert "petri net" in result.output and "Fraud Operations" in result.output
    result = runner.invoke(main, ["sop", "show", path, "--json"])
    data = json.loads(result.output)
    assert data["critical"] == ["Block card", "Verify identity"]
    assert set(data["petri_net"]) == {"places", "transitions", "arcs"}
    assert {s["name"]: s["owner"] for s in data["steps"]}["Order replacement card"] == "Logistics"


def test_cli_sop_render_svg_with_lane_clusters(tmp_path: Path) -> None:
    out = tmp_path / "lost_card.svg"
    result = CliRunner().invoke(main, ["sop", "render", str(ROOT / "models" / "lost_card.bpmn"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    svg = out.read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for lane in ("Digital Experience", "Support Ops", "Fraud Operations", "Logistics"):
        assert lane in svg
    assert svg.count('class="cluster"') == 4
    assert ">retry<" in svg and ">Block card<" in svg
    assert not list(tmp_path.glob(".*.part"))


def test_cli_errors_have_no_traceback(tmp_path: Path, listener) -> None:
    url, hits = listener
    runner = CliRunner()
    result = runner.invoke(main, ["sop", "show", str(hostile_bpmn(tmp_path, url))])
    assert result.exit_code == 1 and "DOCTYPE" in result.output and "Traceback" not in result.output
    assert hits == []
    result = runner.invoke(main, ["sop", "render", str(ROOT / "models" / "lost_card.bpmn"), "-o",
                                  str(tmp_path / "x.gif")])
    assert result.exit_code == 2 and "unknown format 'gif'" in result.output
    result = runner.invoke(main, ["sop", "show", str(tmp_path / "nope.bpmn")])
    assert result.exit_code == 1 and "SOP model not found" in result.output


# -- conversion twin: random block-structured BPMN, language of the net == language of the blocks ---------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

MAX_LEN = 7


def trees(names: list[str]):
    """Block structures over distinct task names: seq, xor, and, loop (body >= 1 times), opt."""
    leaf = st.sampled_from(names).map(lambda n: ("task", n))
    return st.recursive(leaf, lambda kids: st.one_of(
        st.tuples(st.just("seq"), st.lists(kids, min_size=2, max_size=3)),
        st.tuples(st.just("xor"), st.lists(kids, min_size=2, max_size=3)),
        st.tuples(st.just("and"), st.lists(kids, min_size=2, max_size=2)),
        st.tuples(st.just("loop"), kids),
        st.tuples(st.just("opt"), kids)), max_leaves=5)


def shuffles(a: tuple, b: tuple) -> set:
    if not a or not b:
        return {a + b}
    return {(a[0],) + s for s in shuffles(a[1:], b)} | {(b[0],) + s for s in shuffles(a, b[1:])}


def language(tree) -> set:
    """Slow twin: the traces (up to MAX_LEN) a block structure allows."""
    kind = tree[0]
    if kind == "task":
        return {(tree[1],)}
    if kind in ("seq", "xor", "and"):
        parts = [language(c) for c in tree[1]]
        result = parts[0]
        for part in parts[1:]:
            if kind == "xor":
                result = result | part
            elif kind == "seq":
                result = {a + b for a in result for b in part if len(a + b) <= MAX_LEN}
            else:
                result = {s for a in result for b in part for s in shuffles(a, b) if len(s) <= MAX_LEN}
        return result
    body = language(tree[1])
    if kind == "opt":
        return body | {()}
    result, frontier = set(body), set(body)
    while frontier:
        frontier = {a + b for a in frontier for b in body if len(a + b) <= MAX_LEN} - result
        result |= frontier
    return result


def bpmn_of(tree) -> str:
    """BPMN process XML with gateways for the block structure."""
    nodes, flows, count = [], [], [0]

    def new(tag: str, name: str = "") -> str:
        count[0] += 1
        ident = f"n{count[0]}"
        nodes.append(f'<{tag} id="{ident}"' + (f' name="{name}"' if name else "") + "/>")
        return ident

    def flow(a: str, b: str) -> None:
        flows.append(f'<sequenceFlow id="f{len(flows)}" sourceRef="{a}" targetRef="{b}"/>')

    def emit(t) -> tuple[str, str]:
        kind = t[0]
        if kind == "task":
            ident = new("task", t[1])
            return ident, ident
        if kind == "seq":
            ends = [emit(c) for c in t[1]]
            for (_, last), (first, _) in zip(ends, ends[1:]):
                flow(last, first)
            return ends[0][0], ends[-1][1]
        if kind in ("xor", "and"):
            tag = "exclusiveGateway" if kind == "xor" else "parallelGateway"
            split, join = new(tag), new(tag)
            for c in t[1]:
                first, last = emit(c)
                flow(split, first)
                flow(last, join)
            return split, join
        if kind == "opt":
            split, join = new("exclusiveGateway"), new("exclusiveGateway")
            first, last = emit(t[1])
            flow(split, first)
            flow(last, join)
            flow(split, join)
            return split, join
        merge, split = new("exclusiveGateway"), new("exclusiveGateway")
        first, last = emit(t[1])
        flow(merge, first)
        flow(last, split)
        flow(split, merge)
        out = new("exclusiveGateway")
        flow(split, out)
        return merge, out

    start = new("startEvent")
    first, last = emit(tree)
    end = new("endEvent")
    flow(start, first)
    flow(last, end)
    return '<process id="P">' + "".join(nodes) + "".join(flows) + "</process>"


def net_language(net, im, fm) -> set:
    """Visible traces (up to MAX_LEN) from the initial to exactly the final marking."""
    from pm4py.objects.petri_net import semantics

    final = frozenset(fm.items())
    found, seen = set(), set()
    queue = deque([(im, ())])
    while queue:
        marking, trace = queue.popleft()
        key = (frozenset(marking.items()), trace)
        if key in seen:
            continue
        seen.add(key)
        if key[0] == final:
            found.add(trace)
        for t in semantics.enabled_transitions(net, marking):
            nxt = trace + ((t.label,) if t.label else ())
            if len(nxt) <= MAX_LEN:
                queue.append((semantics.execute(t, net, marking), nxt))
    return found


# Names are drawn with replacement, so a task may appear twice: the net must still agree.
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees(["Queue", "Agent answer", "Hold", "Transfer", "Resolve"]))
def test_conversion_keeps_the_language_of_block_structured_models(tmp_path_factory, tree) -> None:
    path = write_bpmn(tmp_path_factory.mktemp("h"), bpmn_of(tree))
    sop = load_sop(path)
    assert net_language(*pm4py_net(sop)) == language(tree)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                               HealthCheck.function_scoped_fixture])
@given(st.data())
def test_damaged_models_load_or_give_a_model_error(tmp_path, data) -> None:
    """Delete random elements and attributes of a real SOP: never anything but a ModelError."""
    root = etree.parse(str(ROOT / "models" / "lost_card.bpmn")).getroot()
    elements = [el for el in root.iter() if el is not root]
    for el in data.draw(st.lists(st.sampled_from(elements), max_size=4, unique=True)):
        if el.getparent() is not None:
            el.getparent().remove(el)
    survivors = [el for el in root.iter() if el.attrib]
    for el in data.draw(st.lists(st.sampled_from(survivors), max_size=4, unique=True)):
        attr = data.draw(st.sampled_from(sorted(el.attrib)))
        del el.attrib[attr]
    path = tmp_path / "damaged.bpmn"
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    path.with_suffix(".toml").write_text((ROOT / "models" / "lost_card.toml").read_text(), encoding="utf-8")
    try:
        sop = load_sop(path)
    except ModelError as err:
        assert err.render()
        return
    assert sum(sop.initial_marking.values()) == 1


XES_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1.0" '
            'xmlns="http://www.xes-standard.org/">\n<trace><string key="concept:name" value="c1"/></trace>\n</log>\n')


@pytest.mark.parametrize("name,content,what,hint", [
    ("calls.xes", XES_HEAD.encode(), "Not a BPMN 2.0 file: the file looks like an XES event log", "ingested"),
    ("calls.csv", b"call_id,agent,start\n1,a,2026-03-02\n", "looks like a CSV table (columns call_id, agent, start)",
     "ingested"),
    ("calls.parquet", b"PAR1" + b"\x00" * 64 + b"PAR1", "looks like a Parquet file", "ingested"),
    ("calls.xes.gz", gzip.compress(XES_HEAD.encode()), "a gzip-compressed file (an XES event log)",
     "ingested"),
    ("calls.jsonocel", b'{"objectTypes": [], "eventTypes": [], "objects": [], "events": []}',
     "an OCEL event log (JSON)", "ingested"),
    ("diagram.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "Not well-formed XML: the file looks like a PNG image",
     "BPMN 2.0 XML"),
    ("model.pnml", b'<?xml version="1.0"?>\n<pnml><net id="n"/></pnml>', "looks like a PNML Petri net", "BPMN 2.0 XML"),
    ("lost_card.toml", b'name = "x"\n[label_map]\n"A b" = "C"\n', "looks like a TOML file", "its sidecar"),
])
def test_a_file_that_is_not_bpmn_says_what_it_looks_like(tmp_path: Path, monkeypatch, name, content, what,
                                                           hint) -> None:
    import engine.model.bpmn as bpmn

    path = tmp_path / name
    path.write_bytes(content)
    monkeypatch.setattr(bpmn, "MAX_BYTES", 16)  # what the file is comes before how large it is
    with pytest.raises(ModelError, match=re.escape(what)) as info:
        load_sop(path)
    assert hint in info.value.hint and info.value.path == str(path)
    r = CliRunner().invoke(main, ["sop", "show", str(path)])
    assert r.exit_code == 1 and what in r.output and "Traceback" not in r.output and "MiB" not in r.output


def test_a_large_bpmn_file_is_still_refused_by_size(tmp_path: Path, monkeypatch) -> None:
    import engine.model.bpmn as bpmn

    monkeypatch.setattr(bpmn, "MAX_BYTES", 16)
    with pytest.raises(ModelError, match="larger than the 50 MiB limit"):
        load_sop(ROOT / "models" / "lost_card.bpmn")
