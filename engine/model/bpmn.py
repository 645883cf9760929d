"""Secure reading of BPMN 2.0 XML and its conversion to a Petri net.

cxmine reads the XML itself (pm4py's importer drops lanes and documentation
and fails on many files real modelers write), rewrites what a workflow net
cannot express into elements it can, and makes the Petri net with
engine.model.workflow_net, which gives the same net as pm4py's converter
(``pm4py.convert_to_petri_net``) without importing pm4py; ``BpmnModel.graph``
is the flow graph as a pm4py ``BPMN`` object for pm4py's converter itself.

Security: the parser never resolves entities, never touches the network and
refuses any DOCTYPE, so a hostile file cannot fetch URLs or expand entities.

Conversion decisions (each one produces a warning naming the element):

- every task type -> one task (transition labelled with the task name; an
  unnamed task is a silent step); a loop or multi-instance task may repeat;
- sub-process / transaction -> flattened (its steps become part of the net);
  an ad-hoc or empty sub-process -> one task; an event sub-process -> ignored;
- call activity -> the called process of the same file, expanded in place;
  otherwise one task;
- intermediate catch/throw events -> silent steps; link events -> the throw
  continues at the catch of the same name;
- boundary event -> its path becomes an alternative to the task's normal flow,
  chosen when the task ends; a boundary event without outgoing flow is ignored;
- event-based gateway -> exclusive choice; complex gateway -> inclusive;
- a task with several unconditional outgoing flows -> parallel split, as BPMN
  prescribes; conditional (and default) flows -> exclusive choice;
- several start events -> alternative starts; several end events -> each
  ends the case (join parallel branches before one end event);
- no start (or end) event -> the nodes without incoming (outgoing) flow start
  (end) the process;
- several pools with processes -> their processes run in parallel in every
  case; message flows are ignored;
- data objects and stores, message flows, annotations, groups -> ignored.

Unsupported (ModelError): choreographies, files that are not BPMN 2.0 XML,
DOCTYPEs, duplicate ids, flows pointing at unknown elements, no process with
steps, no named task.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lxml import etree

from engine.errors import ModelError
from engine.model.file_kind import HEAD_BYTES, guess_kind

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_Q = "{" + BPMN_NS + "}"

TASK_TAGS = frozenset({"task", "userTask", "serviceTask", "manualTask", "scriptTask", "businessRuleTask",
                       "sendTask", "receiveTask"})
SUBPROCESS_TAGS = frozenset({"subProcess", "transaction", "adHocSubProcess"})
GATEWAY_TAGS = {"exclusiveGateway": "xor", "parallelGateway": "and", "inclusiveGateway": "or",
                "eventBasedGateway": "xor", "complexGateway": "or"}
EVENT_TAGS = frozenset({"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent",
                        "boundaryEvent"})
DATA_TAGS = frozenset({"dataObject", "dataObjectReference", "dataStoreReference", "dataInput", "dataOutput"})
NOTATION_TAGS = frozenset({"textAnnotation", "association", "group", "dataInputAssociation",
                           "dataOutputAssociation"})
CHOREOGRAPHY_TAGS = frozenset({"choreography", "choreographyTask", "subChoreography", "callChoreography",
                               "globalChoreographyTask"})
FLOW_NODE_TAGS = TASK_TAGS | SUBPROCESS_TAGS | frozenset(GATEWAY_TAGS) | EVENT_TAGS | {"callActivity"}

ID_CHECKED_TAGS = FLOW_NODE_TAGS | {"definitions", "process", "collaboration", "participant", "lane",
                                    "sequenceFlow", "messageFlow"}

LOOP_TAGS = frozenset({"standardLoopCharacteristics", "multiInstanceLoopCharacteristics"})
CONTAINER_PARTS = frozenset({"laneSet", "documentation", "extensionElements", "ioSpecification", "ioBinding",
                             "property", "auditing", "monitoring", "resourceRole", "performer", "humanPerformer",
                             "potentialOwner", "correlationSubscription", "supports", "incoming", "outgoing",
                             "sequenceFlow", "dataInputAssociation", "dataOutputAssociation", "category",
                             "categoryValue"}) | LOOP_TAGS

MAX_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class BpmnTask:
    """A task of the BPMN file, with what pm4py's importer drops."""

    id: str
    name: str
    kind: str
    owner: str | None
    documentation: str
    pool: str | None


@dataclass(frozen=True)
class BpmnModel:
    """What cxmine reads from one BPMN file."""

    path: Path
    name: str
    tasks: tuple[BpmnTask, ...]
    sub_processes: tuple[str, ...]   # names of flattened sub-processes and expanded call activities
    lanes: tuple[str, ...]
    pools: tuple[str, ...]
    warnings: tuple[str, ...]
    nodes: tuple[tuple[str, str, str, str | None], ...] = ()   # (id, kind, name, owner) after conversion
    flows: tuple[tuple[str, str, str], ...] = ()               # (id, source id, target id)
    flow_labels: dict[str, str] = field(default_factory=dict)  # sequence-flow id -> its name ("retry")

    @property
    def graph(self):
        """The flow graph as a pm4py ``BPMN`` object, for pm4py's converter (imports pm4py)."""
        return _pm4py_graph(self.path.stem, self.nodes, self.flows)


@dataclass
class _Node:
    id: str
    kind: str              # task | start | end | xor | and | or
    name: str = ""
    process: str = ""
    owner: str | None = None


@dataclass
class _Graph:
    nodes: dict[str, _Node] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (flow id, source, target)
    counter: int = 0

    owner: str | None = None   # owner given to nodes added without one (set while reading a step)

    def add(self, node: _Node) -> _Node:
        if node.owner is None:
            node.owner = self.owner
        self.nodes[node.id] = node
        return node

    def link(self, source: str, target: str, flow_id: str | None = None) -> None:
        if flow_id is None:
            self.counter += 1
            flow_id = f"cx_flow_{self.counter}"
        self.edges.append((flow_id, source, target))


@dataclass
class _Container:
    el: object
    entry: str | None
    exit: str | None
    nodes: list[str] = field(default_factory=list)
    starts: list[str] = field(default_factory=list)
    ends: list[str] = field(default_factory=list)


@dataclass
class _Scope:
    """Everything of one process (with its sub-processes) that is linked after all nodes are known."""

    containers: list[_Container] = field(default_factory=list)
    flows: list = field(default_factory=list)
    exits: dict[str, str] = field(default_factory=dict)
    gateways: set[str] = field(default_factory=set)
    boundary: list = field(default_factory=list)
    passive: set[str] = field(default_factory=set)
    defaults: dict[str, str] = field(default_factory=dict)   # node id -> id of its default flow
    links_throw: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    links_catch: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


def clean_text(text: str | None) -> str:
    """Collapse whitespace (modelers wrap long names over several lines)."""
    return re.sub(r"\s+", " ", text or "").strip()


def _local(el) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag[len(_Q):] if tag.startswith(_Q) else ""


def _children(el, name: str | None = None):
    for child in el:
        local = _local(child)
        if local and (name is None or local == name):
            yield child


def _describe(el) -> str:
    name = clean_text(el.get("name"))
    return f"'{el.get('id')}'" + (f" ('{name}')" if name else "")


def _refuse_other_kinds(path: Path, head: bytes) -> None:
    """ModelError saying what the file is, when its first bytes show it is not BPMN XML."""
    kind = guess_kind(head)
    if kind is None:
        return
    what = "Not a BPMN 2.0 file" if kind.xml else "Not well-formed XML"
    if kind.data:
        hint = ("An SOP is a BPMN 2.0 XML file such as models/lost_card.bpmn; event logs and exports are "
                "ingested as the log to check")
    elif "TOML" in kind.description:
        hint = "Give the SOP's .bpmn file; its sidecar (same name, .toml) is read with it"
    else:
        hint = "Export the model from the process modeler as BPMN 2.0 XML (.bpmn)"
    raise ModelError(f"{what}: the file looks like {kind.description}, not a BPMN model", path=path, hint=hint)


def parse_bpmn_xml(path: str | Path):
    """Parse a BPMN file without entities, DTDs or network; return the root element."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            _refuse_other_kinds(path, fh.read(HEAD_BYTES))
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ModelError(f"BPMN file is {size // (1024 * 1024)} MiB, larger than the 50 MiB limit",
                             path=path, hint="Split the model or remove embedded images")
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"Cannot read the BPMN file: {exc.strerror or exc}", path=path,
                         hint="Check the path and permissions") from exc
    if b"<!DOCTYPE" in raw[:4096] or b"<\x00!\x00D\x00O\x00C\x00T\x00Y\x00P\x00E" in raw[:8192]:
        raise ModelError("BPMN file contains a DOCTYPE declaration, which is refused for security "
                         "(entities and external DTDs are never loaded)", path=path,
                         hint="Remove the <!DOCTYPE ...> line; BPMN 2.0 files do not need one")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                             huge_tree=False, remove_blank_text=False, recover=False)
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if getattr(exc, "lineno", None) else None
        raise ModelError(f"Not well-formed XML: {exc.msg}", path=path, line=line,
                         hint="Export the model again from the modeler as BPMN 2.0 XML") from exc
    except ValueError as exc:  # e.g. unsupported encoding declarations
        raise ModelError(f"Cannot decode the XML: {exc}", path=path,
                         hint="Save the file as UTF-8") from exc
    if root.getroottree().docinfo.doctype:
        raise ModelError("BPMN file contains a DOCTYPE declaration, which is refused for security",
                         path=path, hint="Remove the <!DOCTYPE ...> line")
    errors = [e for e in parser.error_log if e.level_name in ("ERROR", "FATAL")]
    if errors:
        e = errors[0]
        raise ModelError(f"Invalid XML: {e.message}", path=path, line=e.line,
                         hint="Declare every namespace prefix the file uses, then export again")
    if root.tag != _Q + "definitions":
        found = root.tag if isinstance(root.tag, str) else "no element"
        raise ModelError(f"Not a BPMN 2.0 file: the root element is {found}, expected "
                         f"{{{BPMN_NS}}}definitions", path=path,
                         hint="Export the model as BPMN 2.0 XML (not BPMN 1.x, XPDL or an image)")
    return root


def _check_ids(root, path: Path) -> None:
    seen: dict[str, int] = {}
    for el in root.iter():
        if _local(el) not in ID_CHECKED_TAGS:
            continue
        ident = el.get("id")
        if ident is None:
            continue
        if ident in seen:
            raise ModelError(f"Duplicate id '{ident}' (first on line {seen[ident]})", path=path,
                             line=el.sourceline, hint="Give every BPMN element a unique id")
        seen[ident] = el.sourceline


def _documentation(el) -> str:
    parts = [clean_text("".join(d.itertext())) for d in _children(el, "documentation")]
    return "\n".join(p for p in parts if p)


def _lane_owners(container, inherited: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Map flow-node id -> innermost lane name, for the lane sets of a process or sub-process."""
    owners: dict[str, str] = {}
    names: list[str] = []

    def walk(lane, outer: str | None) -> None:
        name = clean_text(lane.get("name")) or outer
        if clean_text(lane.get("name")):
            names.append(clean_text(lane.get("name")))
        for ref in _children(lane, "flowNodeRef"):
            node_id = (ref.text or "").strip()
            if node_id and name:
                owners[node_id] = name
        for child_set in _children(lane, "childLaneSet"):
            for sub in _children(child_set, "lane"):
                walk(sub, name)

    for lane_set in _children(container, "laneSet"):
        for lane in _children(lane_set, "lane"):
            walk(lane, None)
    # refs of nested lanes override outer lanes because they are visited later
    merged = dict(inherited)
    merged.update(owners)
    return merged, names


class _Reader:
    def __init__(self, path: Path, root) -> None:
        self.path = path
        self.root = root
        self.graph = _Graph()
        self.warnings: list[str] = []
        self.tasks: list[BpmnTask] = []
        self.lanes: list[str] = []
        self.ignored: dict[str, list[str]] = defaultdict(list)
        self.sub_processes: list[str] = []
        self.names: dict[str, str] = {}
        self.flow_labels: dict[str, str] = {}
        self.process_by_id: dict = {}
        self.expanding: set[str] = set()
        self.expanded: set[str] = set()

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    def fail(self, text: str, el=None, hint: str | None = None) -> None:
        raise ModelError(text, path=self.path, line=None if el is None else el.sourceline, hint=hint)

    # -- reading --------------------------------------------------------
    def read(self) -> BpmnModel:
        _check_ids(self.root, self.path)
        for tag in CHOREOGRAPHY_TAGS:
            for el in self.root.iter(_Q + tag):
                self.fail(f"Choreography element {tag} {_describe(el)} is not supported",
                          el, hint="Model the contact center's own process as a BPMN process with lanes")
        pools: dict[str, str] = {}
        pool_names: list[str] = []
        for collab in _children(self.root, "collaboration"):
            for part in _children(collab, "participant"):
                name = clean_text(part.get("name"))
                if name:
                    pool_names.append(name)
                if part.get("processRef"):
                    pools[part.get("processRef").split(":")[-1]] = name
            flows = list(_children(collab, "messageFlow"))
            if flows:
                self.warn(f"{len(flows)} message flow(s) ignored ("
                          + ", ".join(f"'{f.get('id')}'" for f in flows[:5])
                          + (", ..." if len(flows) > 5 else "")
                          + "): messages between pools do not order steps in the net")
        processes = list(_children(self.root, "process"))
        self.process_by_id = {p.get("id"): p for p in processes if p.get("id")}
        called = {(c.get("calledElement") or "").split(":")[-1] for c in self.root.iter(_Q + "callActivity")}
        converted: list[tuple[str, list[str], list[str]]] = []
        for proc in processes:
            pid = proc.get("id") or f"process_{len(converted)}"
            if pid in called and pid not in pools:
                continue  # a called process is expanded at its call activity
            if pid in self.expanded:
                self.warn(f"process '{pid}' is both a pool and called by a call activity: "
                          "it is expanded at the call activity only")
                continue
            self.expanded.add(pid)  # read as a pool: a call activity calling it stays one task
            pool = pools.get(pid) or clean_text(proc.get("name")) or None
            owners, lane_names = _lane_owners(proc, {})
            self.lanes.extend(lane_names)
            starts, ends = self._read_process(proc, pid, pool, owners)
            if starts is not None:
                converted.append((pool or pid, starts, ends))
        for pid, proc in self.process_by_id.items():
            if pid not in self.expanded and self._has_flow_nodes(proc):
                self.warn(f"process '{pid}' is called by a call activity that is not part of the flow "
                          "(e.g. inside an event sub-process): it is ignored")
        for kind, ids in self.ignored.items():
            self.warn(f"{len(ids)} {kind} ignored (" + ", ".join(f"'{i}'" for i in ids[:5])
                      + (", ..." if len(ids) > 5 else "") + "): they do not change the order of steps")
        if not converted:
            self.fail("The BPMN file contains no process with steps (tasks or events)",
                      hint="Export the model with its process, not only a collaboration or diagram")
        if not any(t.name for t in self.tasks):
            self.fail("The BPMN model has no named tasks, so no log activity can match it",
                      hint="Add the procedure's steps as named tasks")
        self._compose(converted)
        name = clean_text(self.root.get("name")) or (converted[0][0] if len(converted) == 1 else self.path.stem)
        return BpmnModel(path=self.path, name=name, tasks=tuple(self.tasks),
                         sub_processes=tuple(self.sub_processes),
                         lanes=tuple(dict.fromkeys(self.lanes)), pools=tuple(dict.fromkeys(pool_names)),
                         warnings=tuple(self.warnings),
                         nodes=tuple((n.id, n.kind, n.name, n.owner) for n in self.graph.nodes.values()),
                         flow_labels=dict(self.flow_labels),
                         flows=tuple(e for e in self.graph.edges
                                     if e[1] in self.graph.nodes and e[2] in self.graph.nodes))

    def _read_process(self, proc, pid: str, pool: str | None, owners: dict[str, str]):
        """Add the flow nodes and sequence flows of a process and its sub-processes.

        Returns (start node ids, end node ids), or (None, None) when the process has no flow nodes.
        """
        if not any(_local(el) in FLOW_NODE_TAGS for el in proc):
            return None, None
        scope = _Scope()
        top = self._read_container(proc, pid, pool, owners, scope, entry=None, exit_=None)
        self.graph.owner = None
        g = self.graph
        exits = scope.exits
        outgoing: dict[str, list] = defaultdict(list)
        incoming: dict[str, int] = defaultdict(int)
        for flow in scope.flows:
            src, tgt = flow.get("sourceRef"), flow.get("targetRef")
            if src not in exits or tgt not in g.nodes or g.nodes[tgt].process != pid:
                bad = src if src not in exits else tgt
                self.fail(f"Sequence flow '{flow.get('id')}' refers to '{bad}', which is not a step of the "
                          "same process", flow, hint="Fix or remove the dangling sequence flow in the modeler")
            outgoing[src].append(flow)
            incoming[tgt] += 1
        for src, flows in outgoing.items():
            source = exits[src]
            if src not in scope.gateways and len(flows) > 1:
                # BPMN: unconditional outgoing flows of a non-gateway all run (parallel split);
                # conditional ones (with a default) choose, which the net represents as an exclusive choice
                default = scope.defaults.get(src)
                conditions = [f for f in flows if list(_children(f, "conditionExpression"))
                              and f.get("id") != default]
                if conditions or default:
                    if len(conditions) > 1:
                        self.warn(f"conditional flows out of '{self.names.get(src) or src}' treated as an "
                                  "exclusive choice: only one of them is taken")
                else:
                    self.warn(f"'{self.names.get(src) or src}' has {len(flows)} unconditional outgoing flows: "
                              "as BPMN prescribes they all run (parallel split); draw an exclusive gateway "
                              "if only one should")
                    split = g.add(_Node(src + "__split", "and", "", pid, g.nodes[src].owner))
                    g.link(source, split.id)
                    source = split.id
            for flow in flows:
                g.link(source, flow.get("targetRef"), flow.get("id"))
                if clean_text(flow.get("name")):
                    self.flow_labels[flow.get("id")] = clean_text(flow.get("name"))
        # boundary events: alternative continuation after the task
        for el in scope.boundary:
            ident = el.get("id")
            host = (el.get("attachedToRef") or "").split(":")[-1]
            if host not in exits:
                self.fail(f"Boundary event '{ident}' is attached to '{host}', which is not a step of the "
                          "same process", el, hint="Attach the event to a task in the modeler")
            host_name = self.names.get(host, "")
            if not outgoing.get(ident):
                self.warn(f"boundary event {_describe(el)} on '{host_name or host}' ignored: it has no "
                          "outgoing flow, the task's normal flow is kept")
                del g.nodes[ident]
                continue
            g.link(exits[host], ident)
            incoming[ident] += 1
            mode = "interrupting" if el.get("cancelActivity", "true") != "false" else "non-interrupting"
            self.warn(f"boundary event {_describe(el)} ({mode}) on '{host_name or host}': its path is an "
                      "alternative to the task's normal flow, taken when the task ends")
        # link events: a throw continues at the catch of the same link name
        links_throw, links_catch = scope.links_throw, scope.links_catch
        unmatched_t = [t for key, ts in links_throw.items() for t in ts if not key or key not in links_catch]
        unmatched_c = [c for key, cs in links_catch.items() for c in cs if not key or key not in links_throw]
        pairs = [(t, c) for key, ts in links_throw.items() if key for t in ts for c in links_catch.get(key, [])]
        if len(unmatched_t) == 1 and len(unmatched_c) == 1:
            pairs.append((unmatched_t[0], unmatched_c[0]))
            unmatched_t, unmatched_c = [], []
        for t, c in pairs:
            g.link(t, c)
            incoming[c] += 1
            self.warn(f"link event '{t}' continues at link event '{c}'")
        for t in unmatched_t:
            self.warn(f"link throw event '{t}' has no matching catch event: the path ends there")
        for c in unmatched_c:
            self.warn(f"link catch event '{c}' has no matching throw event: the path after it never runs")
            scope.passive.add(c)
        # implicit starts and ends, container by container
        sources = {e[1] for e in g.edges}
        for cont in scope.containers:
            local = [n for n in cont.nodes if n in g.nodes and n not in scope.passive]
            is_top = cont.entry is None
            if not cont.starts:
                free = [n for n in local if incoming.get(n, 0) == 0]
                if not free:
                    self.fail(f"No start event and no step without incoming flow in {_describe(cont.el)}",
                              cont.el, hint="Add a start event")
                self.warn(f"{'process' if is_top else 'sub-process'} {_describe(cont.el)} has no start event: "
                          + ", ".join(f"'{n}'" for n in free[:5]) + " start it")
                if is_top:
                    src = g.add(_Node(f"{pid}__start", "start", "", pid, g.nodes[free[0]].owner)).id
                    cont.starts.append(src)
                else:
                    src = cont.entry
                if len(free) > 1:
                    split = g.add(_Node(f"{cont.el.get('id')}__implicit_split", "and", "", pid,
                                        g.nodes[free[0]].owner))
                    g.link(src, split.id)
                    src = split.id
                for n in free:
                    g.link(src, n)
            dead = [n for n in local if g.nodes[n].kind != "end" and exits.get(n, n) not in sources]
            if dead:
                if is_top:
                    self.warn(("steps without outgoing flow end the case: " if cont.ends else
                               f"process {_describe(cont.el)} has no end event: steps without outgoing "
                               "flow end it: ") + ", ".join(f"'{n}'" for n in dead[:5]))
                    for n in dead:
                        end = g.add(_Node(f"{n}__end", "end", "", pid, g.nodes[n].owner))
                        g.link(exits.get(n, n), end.id)
                        cont.ends.append(end.id)
                else:
                    for n in dead:
                        g.link(exits.get(n, n), cont.exit)
        return top.starts, top.ends

    def _read_container(self, container, pid: str, pool: str | None, owners: dict[str, str],
                        scope: "_Scope", entry: str | None, exit_: str | None) -> "_Container":
        """Add the flow nodes of a process or sub-process; flows are linked by the caller."""
        g = self.graph
        cont = _Container(container, entry, exit_)
        scope.containers.append(cont)
        for el in container:
            tag = _local(el)
            ident = el.get("id")
            if tag == "sequenceFlow":
                scope.flows.append(el)
                continue
            if tag in DATA_TAGS:
                self.ignored["data object(s) or store(s)"].append(ident or tag)
                continue
            if tag not in FLOW_NODE_TAGS:
                if tag and tag not in CONTAINER_PARTS and tag not in NOTATION_TAGS:
                    self.warn(f"element {tag} {_describe(el) if ident else ''} in "
                              f"{_describe(container)} is not understood and ignored")
                continue
            if not ident:
                self.fail(f"A {tag} element has no id", el, hint="Give every BPMN element an id")
            name = clean_text(el.get("name"))
            self.names[ident] = name
            g.owner = owners.get(ident) or pool
            defs = [_local(d)[: -len("EventDefinition")] for d in el if _local(d).endswith("EventDefinition")]
            scope.exits[ident] = ident
            cont.nodes.append(ident)
            if el.get("default"):
                scope.defaults[ident] = el.get("default")
            called = self._called_process(el) if tag == "callActivity" else None
            if called is not None:
                self.expanding.add(called.get("id"))
                self._flatten(el, called, pid, pool, owners, scope, "call activity",
                              f"expanded with process '{called.get('id')}'")
                self.expanding.discard(called.get("id"))
            elif tag in TASK_TAGS or tag == "callActivity" or (
                    tag in SUBPROCESS_TAGS and (tag == "adHocSubProcess" or not self._has_flow_nodes(el))):
                if el.get("isForCompensation") == "true":
                    scope.passive.add(ident)
                    self.warn(f"compensation task {_describe(el)} is not part of the normal flow: "
                              "it never runs in the net")
                if tag == "callActivity":
                    self.warn(f"call activity {_describe(el)} treated as one task: "
                              "the called process is not expanded")
                elif tag in SUBPROCESS_TAGS:
                    self.warn(f"{'ad-hoc ' if tag == 'adHocSubProcess' else ''}sub-process {_describe(el)} "
                              "treated as one task")
                if not name:
                    self.warn(f"{tag} '{ident}' has no name: it is a silent step in the net")
                if owners and ident not in owners:
                    self.warn(f"task {_describe(el)} is in no lane: its owner is "
                              + (f"the pool '{pool}'" if pool else "unknown"))
                g.add(_Node(ident, "task", name, pid))
                if tag in SUBPROCESS_TAGS:
                    # some modelers nest the boundary events of a collapsed sub-process inside it
                    nested = {c.get("id") for c in el if _local(c) == "boundaryEvent" and c.get("id")}
                    for child in el:
                        if _local(child) == "sequenceFlow" and child.get("sourceRef") in nested:
                            scope.flows.append(child)
                        elif _local(child) == "boundaryEvent" and child.get("id"):
                            g.add(_Node(child.get("id"), "xor", "", pid))
                            scope.exits[child.get("id")] = child.get("id")
                            scope.boundary.append(child)
                            scope.passive.add(child.get("id"))
                loop = [_local(c) for c in el if _local(c) in LOOP_TAGS]
                if loop:
                    again = g.add(_Node(ident + "__again", "xor", "", pid))
                    g.link(ident, again.id)
                    g.link(again.id, ident)
                    scope.exits[ident] = again.id
                    kind = "loop" if loop[0] == "standardLoopCharacteristics" else "multi-instance"
                    self.warn(f"{kind} task {_describe(el)} may repeat: modelled as a loop around the task")
                self.tasks.append(BpmnTask(ident, name, tag, owners.get(ident) or pool,
                                           _documentation(el), pool))
            elif tag in SUBPROCESS_TAGS:
                if el.get("triggeredByEvent") == "true":
                    self.warn(f"event sub-process {_describe(el)} ignored: it is triggered by an event, "
                              "not by the flow")
                    del scope.exits[ident]
                    cont.nodes.remove(ident)
                    continue
                self._flatten(el, el, pid, pool, owners, scope, "sub-process",
                              "flattened: its steps are part of the net")
            elif tag in GATEWAY_TAGS:
                if tag == "eventBasedGateway":
                    self.warn(f"event-based gateway {_describe(el)} treated as an exclusive choice")
                elif tag == "complexGateway":
                    self.warn(f"complex gateway {_describe(el)} treated as an inclusive gateway")
                g.add(_Node(ident, GATEWAY_TAGS[tag], "", pid))
                scope.gateways.add(ident)
            elif tag in ("startEvent", "endEvent"):
                if tag == "endEvent" and "terminate" in defs:
                    self.warn(f"terminate end event {_describe(el)} ends only its own path: "
                              "other parallel branches are not cancelled")
                if entry is None:
                    g.add(_Node(ident, "start" if tag == "startEvent" else "end", name, pid))
                else:
                    g.add(_Node(ident, "xor", "", pid))
                    if tag == "startEvent":
                        g.link(entry, ident)
                    else:
                        g.link(ident, exit_)
                (cont.starts if tag == "startEvent" else cont.ends).append(ident)
            elif tag in ("intermediateCatchEvent", "intermediateThrowEvent"):
                g.add(_Node(ident, "xor", "", pid))
                kind = "catch" if tag == "intermediateCatchEvent" else "throw"
                if "link" in defs:
                    link_el = next(d for d in el if _local(d) == "linkEventDefinition")
                    key = clean_text(link_el.get("name"))
                    (scope.links_catch if kind == "catch" else scope.links_throw)[key].append(ident)
                else:
                    what = "/".join(defs) or "none"
                    self.warn(f"intermediate {kind} event {_describe(el)} ({what}) treated as a silent step")
            elif tag == "boundaryEvent":
                g.add(_Node(ident, "xor", "", pid))
                scope.boundary.append(el)
                scope.passive.add(ident)
        return cont

    def _called_process(self, el):
        """The process of this file a call activity calls, when it can be expanded in place."""
        ref = (el.get("calledElement") or "").split(":")[-1]
        proc = self.process_by_id.get(ref)
        if proc is None or not self._has_flow_nodes(proc):
            return None
        if ref in self.expanding or ref in self.expanded:
            return None
        self.expanded.add(ref)
        return proc

    def _flatten(self, el, content, pid, pool, owners, scope, what: str, how: str) -> None:
        """Replace a sub-process (or call activity) by an entry, its steps and an exit."""
        g = self.graph
        ident = el.get("id")
        g.add(_Node(ident, "xor", "", pid))
        out = g.add(_Node(ident + "__exit", "xor", "", pid)).id
        scope.exits[ident] = out
        if clean_text(el.get("name")):
            self.sub_processes.append(clean_text(el.get("name")))
        self.warn(f"{what} {_describe(el)} {how}")
        inner_owners, lane_names = _lane_owners(content, owners)
        outer = owners.get(ident) or (pool if content is not el else None)
        if outer:
            for child in content.iter():
                if isinstance(child.tag, str) and child.get("id") and child.get("id") not in inner_owners:
                    inner_owners[child.get("id")] = outer
        self.lanes.extend(lane_names)
        self._read_container(content, pid, pool, inner_owners, scope, entry=ident, exit_=out)

    @staticmethod
    def _has_flow_nodes(el) -> bool:
        """True when a sub-process has steps of its own (not only boundary events attached to it)."""
        return any(_local(c) in FLOW_NODE_TAGS and not (
            _local(c) == "boundaryEvent" and (c.get("attachedToRef") or "").split(":")[-1] == el.get("id"))
            for c in el)

    def _compose(self, processes: list[tuple[str, list[str], list[str]]]) -> None:
        """Several pools with processes run in parallel in every case."""
        if len(processes) < 2:
            return
        g = self.graph
        names = ", ".join(f"'{p[0]}'" for p in processes)
        self.warn(f"{len(processes)} pools with processes ({names}) combined in parallel: each runs once "
                  "per case")
        start = g.add(_Node("cx_start", "start"))
        split = g.add(_Node("cx_pools_split", "and"))
        join = g.add(_Node("cx_pools_join", "and"))
        end = g.add(_Node("cx_end", "end"))
        g.link(start.id, split.id)
        g.link(join.id, end.id)
        for i, (_, starts, ends) in enumerate(processes):
            entry = g.add(_Node(f"cx_pool_{i}_entry", "xor"))
            leave = g.add(_Node(f"cx_pool_{i}_exit", "xor"))
            g.link(split.id, entry.id)
            g.link(leave.id, join.id)
            for s in starts:
                g.nodes[s].kind = "xor"
                g.link(entry.id, s)
            for e in ends:
                g.nodes[e].kind = "xor"
                g.link(e, leave.id)


def read_bpmn(path: str | Path) -> BpmnModel:
    """Read a BPMN 2.0 file securely: tasks, owners (lanes, else pool), documentation, flow graph."""
    path = Path(path)
    root = parse_bpmn_xml(path)
    return _Reader(path, root).read()


def _pm4py_graph(name: str, nodes, flows):
    from pm4py.objects.bpmn.obj import BPMN

    bpmn = BPMN(process_id="cxmine", name=name)
    made = {}
    for node_id, kind, node_name, _owner in nodes:
        if kind == "task":
            obj = BPMN.Task(id=node_id, name=node_name)
        elif kind == "start":
            obj = BPMN.NormalStartEvent(id=node_id, name=node_name)
        elif kind == "end":
            obj = BPMN.NormalEndEvent(id=node_id, name=node_name)
        elif kind == "and":
            obj = BPMN.ParallelGateway(id=node_id, name="")
        elif kind == "or":
            obj = BPMN.InclusiveGateway(id=node_id, name="")
        else:
            obj = BPMN.ExclusiveGateway(id=node_id, name="")
        made[node_id] = obj
        bpmn.add_node(obj)
    for flow_id, src, tgt in flows:
        bpmn.add_flow(BPMN.SequenceFlow(made[src], made[tgt], id=flow_id))
    return bpmn


def convert_to_petri(model: BpmnModel, method: Literal["cxmine", "pm4py"] = "cxmine"):
    """Petri net, initial and final marking of a read model.

    "cxmine" (default): engine.model.workflow_net, the same net as pm4py's converter without
    importing pm4py; "pm4py": pm4py's BPMN converter itself, as the oracle in tests.
    """
    if method == "cxmine":
        from engine.model.workflow_net import convert_bpmn

        return convert_bpmn(model.nodes, model.flows)
    if method != "pm4py":
        raise ModelError(f"Unknown BPMN conversion '{method}' (valid: cxmine, pm4py)")
    import pm4py

    try:
        net, im, fm = pm4py.convert_to_petri_net(model.graph)
    except Exception as exc:  # pm4py raises plain exceptions on graphs it cannot convert
        raise ModelError(f"pm4py cannot convert the BPMN model to a Petri net: {exc}", path=model.path,
                         hint="Simplify the model (gateways, events) and check it in the modeler") from exc
    return net, im, fm
