"""Design against execution: an SOP's steps and flows with what its contacts really did.

The contacts counted are those the SOP applies to (its sidecar's
``applies_to``, the rule of an SOP library: engine.analyses.library; an SOP
without ``applies_to`` applies to every contact). They are replayed on the SOP
by ``check_conformance`` and their deviations located by ``locate_deviations``;
nothing here replays anything again.

**Steps.** Each SOP task gets, for each counted contact, exactly one status,
the first of these that applies, so the shares of a task add up to 100%:

1. ``skipped``: a deviation *skipped* at this task (required, never ran);
2. ``out_of_order``: a deviation *out of order* at this task (it ran, but
   after steps the SOP puts after it);
3. ``inserted``: it ran where the SOP does not allow it (e.g. a second time);
4. ``ended_early``: the contact stopped with this task due next;
5. ``as_designed``: it ran (an event whose activity maps to the task) and
   none of the above;
6. ``not_run``: none of it, and no deviation at it: not on the contact's path
   (another branch of a choice, or past the point where the contact stopped).

**Flows.** The SOP's sequence flows are matched to the executed steps by
their directly-follows pairs. Two steps ``a`` and ``b`` are *connected* when
the BPMN model leads from ``a`` to ``b`` through gateways (and unnamed,
silent steps) only; the connection carries every sequence flow on those paths
(when several gateway paths join two steps, all their flows: a log cannot tell
which one a contact took). The start event connects to the first steps and
the last steps to the end event the same way. A contact *took* a connection
``a -> b`` when ``b`` is the first step after ``a`` that the SOP connects to
``a``, with only steps that run in parallel with ``a`` (in another branch of
a parallel or inclusive split) or activities the SOP does not know in
between; or, read backwards, ``a`` is the last such step before ``b``. Read
both ways, the interleavings of parallel branches are matched: after ``Block
card, Order replacement card, Review recent transactions`` both flows out of
the parallel split were taken. A flow counts each contact once.

**Flows outside the SOP.** A directly-follows pair of the contact (start and
end included, activities unknown to the SOP included) that the SOP neither
connects nor allows as an interleaving of parallel branches, counted in
contacts and in times.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

from engine.errors import AnalysisError

STATUSES = ("skipped", "out_of_order", "inserted", "ended_early", "as_designed", "not_run")
START, END = "(start)", "(end)"
_PASS_KINDS = ("xor", "and", "or")
_KIND_STATUS = {"skipped": 0, "out_of_order": 1, "inserted": 2, "ended_early": 3}   # deviations.KINDS -> status


@dataclass(frozen=True)
class StepExecution:
    """One SOP task over the counted contacts: how many ran it, and the status partition (STATUSES)."""

    task: str
    owner: str | None
    critical: bool
    contacts: int
    ran: int
    counts: dict[str, int]
    examples: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def share(self, status: str) -> float:
        return self.counts[status] / self.contacts if self.contacts else 0.0

    @property
    def deviating(self) -> int:
        """Contacts that skipped the task or ran it out of order."""
        return self.counts["skipped"] + self.counts["out_of_order"]

    def as_dict(self) -> dict:
        return {"task": self.task, "owner": self.owner, "critical": self.critical, "contacts": self.contacts,
                "ran": self.ran, **self.counts, **{f"share_{s}": self.share(s) for s in STATUSES},
                "examples": {k: list(v) for k, v in self.examples.items()}}


@dataclass(frozen=True)
class FlowExecution:
    """One sequence flow of the SOP and the contacts that took it."""

    flow_id: str
    source_id: str
    source: str
    target_id: str
    target: str
    label: str
    contacts: int
    share: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class OutsideFlow:
    """A directly-follows pair the SOP does not have: contacts that took it, and how many times."""

    source: str
    target: str
    contacts: int
    times: int
    share: float
    source_in_sop: bool
    target_in_sop: bool

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SopExecution:
    """An SOP with execution laid on it (module docstring): per task, per flow, and outside the SOP."""

    sop: str
    path: str
    contacts: int
    log_contacts: int
    applies_to: dict[str, tuple[str, ...]]
    steps: tuple[StepExecution, ...]
    flows: tuple[FlowExecution, ...]
    outside: tuple[OutsideFlow, ...]
    unknown_activities: dict[str, int]
    model: object = field(default=None, repr=False, compare=False)   # the BpmnModel, for drawing

    def step(self, task: str) -> StepExecution:
        return next(s for s in self.steps if s.task == task)

    def as_dict(self) -> dict:
        return {"sop": self.sop, "path": self.path, "contacts": self.contacts, "log_contacts": self.log_contacts,
                "applies_to": {k: list(v) for k, v in self.applies_to.items()},
                "statuses": list(STATUSES), "tasks": [s.as_dict() for s in self.steps],
                "flows": [f.as_dict() for f in self.flows], "outside_flows": [f.as_dict() for f in self.outside],
                "unknown_activities": self.unknown_activities}


# --- the SOP's structure -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SopStructure:
    """Connections between steps through gateways (with their flows), and steps running in parallel."""

    connections: dict[tuple[str, str], frozenset[str]]
    parallel: frozenset[tuple[str, str]]

    def allows(self, a: str, b: str) -> bool:
        """The SOP lets ``b`` directly follow ``a``: connected, or two steps of parallel branches."""
        return (a, b) in self.connections or (a, b) in self.parallel


def _step_name(node) -> str | None:
    """A node's step name: named tasks are steps; start and end are START and END; the rest pass through."""
    ident, kind, name, _ = node
    if kind == "task" and name:
        return name
    return START if kind == "start" else END if kind == "end" else None


def read_structure(model) -> SopStructure:
    """The connections and parallel steps of a BpmnModel (see the module docstring)."""
    nodes = {n[0]: n for n in model.nodes}
    out: dict[str, list[tuple[str, str]]] = {}
    for flow_id, src, tgt in model.flows:
        out.setdefault(src, []).append((flow_id, tgt))
    step = {ident: _step_name(n) for ident, n in nodes.items()}
    connections: dict[tuple[str, str], set[str]] = {}
    for origin, name in step.items():
        if name is None or name == END:
            continue
        # walk through pass-through nodes; a flow lies on a gateway path when its source was reached from origin
        seen, frontier, used = {origin}, [origin], []
        while frontier:
            node = frontier.pop()
            for flow_id, tgt in out.get(node, ()):
                used.append((flow_id, node, tgt))
                if step.get(tgt) is None and tgt not in seen:
                    seen.add(tgt)
                    frontier.append(tgt)
        for target in {tgt for _, _, tgt in used if step.get(tgt) is not None}:
            flows = _flows_towards(used, target, step)
            connections.setdefault((name, step[target]), set()).update(flows)
    return SopStructure({k: frozenset(v) for k, v in connections.items()}, _parallel_steps(nodes, out, step))


def _flows_towards(used: list[tuple[str, str, str]], target: str, step: dict) -> set[str]:
    """The flows of ``used`` (walked from one origin) that lie on a path to ``target`` through pass-through nodes."""
    reach, changed = {target}, True
    while changed:
        changed = False
        for _, src, tgt in used:
            if tgt in reach and src not in reach and step.get(src) is None:
                reach.add(src)
                changed = True
    return {flow_id for flow_id, src, tgt in used if tgt in reach and (tgt == target or step.get(tgt) is None)}


def _parallel_steps(nodes: dict, out: dict, step: dict) -> frozenset[tuple[str, str]]:
    """Ordered pairs of steps in different branches of a parallel or inclusive split (each reachable from
    its own branch only, walking without passing the split again)."""
    pairs = set()
    for ident, (_, kind, _, _) in nodes.items():
        branches = out.get(ident, ())
        if kind not in ("and", "or") or len(branches) < 2:
            continue
        reached = []
        for _, first in branches:
            seen, frontier = {first}, [first]
            while frontier:
                node = frontier.pop()
                for _, tgt in out.get(node, ()):
                    if tgt != ident and tgt not in seen:
                        seen.add(tgt)
                        frontier.append(tgt)
            reached.append({step[n] for n in seen if step.get(n) not in (None, START, END)})
        for i, ri in enumerate(reached):
            for j, rj in enumerate(reached):
                if i != j:
                    pairs.update((a, b) for a in ri - rj for b in rj - ri)
    return frozenset(pairs)


# --- one contact's path matched to the SOP -------------------------------------------------------------------------

def match_path(path: list[str], structure: SopStructure, steps: frozenset[str]
               ) -> tuple[set[tuple[str, str]], list[tuple[str, str]]]:
    """The SOP connections a path (START, activities as step names, END) took, and its directly-follows
    pairs outside the SOP (module docstring)."""
    taken: set[tuple[str, str]] = set()
    known = steps | {START, END}
    for i, a in enumerate(path):
        if a in known and a != END:
            for x in path[i + 1:]:
                if x not in known or (a, x) in structure.parallel:
                    continue
                if (a, x) in structure.connections:
                    taken.add((a, x))
                break
        if a in known and a != START:
            for x in reversed(path[:i]):
                if x not in known or (x, a) in structure.parallel:
                    continue
                if (x, a) in structure.connections:
                    taken.add((x, a))
                break
    outside = [(a, b) for a, b in zip(path, path[1:]) if not structure.allows(a, b)]
    return taken, outside


# --- the analysis ------------------------------------------------------------------------------------------------

def select_sop_contacts(encoded, sop):
    """The contacts of an encoded log that the SOP applies to; AnalysisError when there are none."""
    from engine.analyses.library import assign_sops
    from engine.log.select import select_cases

    mine = assign_sops(encoded, [sop]) == 0
    if not mine.any():
        rule = "; ".join(f"{k} in {list(v)}" for k, v in sop.applies_to.items()) or "every contact"
        raise AnalysisError(f"SOP '{sop.name}' applies to no contact of the log ({rule}; "
                            f"{encoded.n_cases:,} contacts looked at)", field="applies_to",
                            hint="Check applies_to in the SOP's sidecar and the selection of contacts")
    return select_cases(encoded, mine)


def measure_sop_execution(encoded, sop, *, examples: int = 5) -> SopExecution:
    """Lay the execution of the log's contacts on the SOP: per task, per flow and outside it.

    ``encoded``: an encoded log with case ids and the SOP's ``applies_to`` attributes as case attributes;
    only the contacts the SOP applies to are counted.
    """
    from engine.analyses.conformance import check_conformance

    if examples < 0:
        raise AnalysisError(f"The number of examples must be 0 or more, got {examples}", field="examples")
    result = check_conformance(select_sop_contacts(encoded, sop), sop, examples=0)
    return summarize_execution(result, sop, log_contacts=encoded.n_cases, examples=examples)


def summarize_execution(result, sop, *, log_contacts: int | None = None, examples: int = 5) -> SopExecution:
    """The execution of an SOP's contacts from their ConformanceResult (one that kept its replay: not merged).

    ``log_contacts``: how many contacts were looked at to find these (default: the result's).
    """
    from engine.analyses.deviations import locate_deviations

    replay = result.replay
    if replay is None:
        raise AnalysisError(f"The conformance result of '{sop.name}' has no per-contact replay (a merged result)",
                            hint="Check the contacts on one machine to lay their execution on the SOP")
    tasks = sop.task_names
    status = _variant_statuses(replay, locate_deviations(replay), sop, tasks)
    weight = replay.weight.astype(np.int64)
    n = result.contacts
    case_status = status[replay.case_variant] if n else status[:0]
    ran = _variant_ran(replay, sop, tasks)
    steps = []
    for t, task in enumerate(tasks):
        counts = np.bincount(status[:, t], weights=weight, minlength=len(STATUSES)).astype(np.int64)
        ex = {STATUSES[s]: tuple(str(result.case_ids[c]) for c in np.flatnonzero(case_status[:, t] == s)[:examples])
              for s in range(4) if counts[s] and examples}
        steps.append(StepExecution(task=task, owner=sop.owner_of.get(task), critical=task in sop.critical,
                                   contacts=n, ran=int(weight[ran[:, t]].sum()),
                                   counts={s: int(c) for s, c in zip(STATUSES, counts)}, examples=ex))
    flows, outside = _match_flows(replay, sop, weight, n)
    return SopExecution(sop=sop.name, path=str(sop.path), contacts=n,
                        log_contacts=n if log_contacts is None else log_contacts, applies_to=dict(sop.applies_to),
                        steps=tuple(steps), flows=flows, outside=outside,
                        unknown_activities=dict(result.unknown_activities), model=sop.model)


def _variant_ran(replay, sop, tasks) -> np.ndarray:
    """bool[n_variants, n_tasks]: the variant has an event of the task."""
    index = {t: i for i, t in enumerate(tasks)}
    act_task = np.array([index.get(sop.task_name(a), -1) for a in replay.activities] + [-1], dtype=np.int64)
    ran = np.zeros((replay.n_variants, len(tasks)), dtype=bool)
    ev_variant = np.repeat(np.arange(replay.n_variants), np.diff(replay.offsets))
    t = act_task[replay.codes] if len(replay.codes) else np.zeros(0, dtype=np.int64)
    ran[ev_variant[t >= 0], t[t >= 0]] = True
    return ran


def _variant_statuses(replay, found, sop, tasks) -> np.ndarray:
    """int8[n_variants, n_tasks]: index into STATUSES, the first that applies (module docstring)."""
    from engine.analyses.deviations import KINDS

    index = {t: i for i, t in enumerate(tasks)}
    status = np.where(_variant_ran(replay, sop, tasks), STATUSES.index("as_designed"),
                      STATUSES.index("not_run")).astype(np.int8)
    for v, step, kind in zip(found.variant, found.step, found.kind):
        s = _KIND_STATUS.get(KINDS[kind])
        t = index.get(step)
        if s is not None and t is not None:
            status[v, t] = min(status[v, t], s)
    return status


def _match_flows(replay, sop, weight: np.ndarray, n: int) -> tuple[tuple[FlowExecution, ...], tuple[OutsideFlow, ...]]:
    """Per SOP flow the contacts that took it; the directly-follows pairs outside the SOP."""
    model = sop.model
    structure = read_structure(model)
    steps = frozenset(sop.task_names)
    names = [sop.task_name(a) for a in replay.activities]
    flow_contacts: Counter = Counter()
    out_contacts: Counter = Counter()
    out_times: Counter = Counter()
    for v in range(replay.n_variants):
        path = [START] + [names[c] for c in replay.codes[replay.offsets[v]:replay.offsets[v + 1]]] + [END]
        taken, outside = match_path(path, structure, steps)
        w = int(weight[v])
        for flow_id in set().union(*(structure.connections[c] for c in taken)) if taken else ():
            flow_contacts[flow_id] += w
        for pair in set(outside):
            out_contacts[pair] += w
        for pair in outside:
            out_times[pair] += w
    node_names = {ident: _node_title(kind, name) for ident, kind, name, _ in model.nodes}
    flows = tuple(FlowExecution(flow_id=f, source_id=s, source=node_names.get(s, s), target_id=t,
                                target=node_names.get(t, t), label=model.flow_labels.get(f, ""),
                                contacts=flow_contacts[f], share=flow_contacts[f] / n if n else 0.0)
                  for f, s, t in model.flows)
    known = steps | {START, END}
    outside = tuple(OutsideFlow(source=a, target=b, contacts=c, times=out_times[(a, b)], share=c / n if n else 0.0,
                                source_in_sop=a in known, target_in_sop=b in known)
                    for (a, b), c in sorted(out_contacts.items(), key=lambda kv: (-kv[1], kv[0])))
    return flows, outside


def _node_title(kind: str, name: str) -> str:
    if kind == "task":
        return name or "(silent step)"
    if kind in ("start", "end"):
        return f"{kind}: {name}" if name else kind
    return {"xor": "exclusive gateway", "and": "parallel gateway", "or": "inclusive gateway"}.get(kind, kind)
