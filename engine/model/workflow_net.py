"""The SOP's Petri net, made by cxmine itself from the read BPMN model, without importing pm4py.

``convert_bpmn`` follows pm4py's BPMN converter (``pm4py.convert_to_petri_net`` on a BPMN
object: pm4py.objects.conversion.bpmn.variants.to_petri_net, with its default simple
reduction) step by step, so it gives the same net: the same places (named ``source``,
``sink``, the sequence-flow ids, ``ent_<node id>`` and ``exi_<node id>``), the same
transitions with the same labels, the same arcs and markings. tests/test_workflow_net.py
checks that the two nets are isomorphic, and replay the same, on every model in models/,
the MIWG corpus and the tests' BPMN files; pm4py stays the oracle there.

Two things differ on purpose, neither changes the net's structure:

- pm4py names the silent transitions of starts, ends, parallel / inclusive splits and
  joins and inclusive-gateway bypasses with random UUIDs; here they are named after what
  they do (``start_<id>``, ``end_<id>``, ``split_<id>``, ``join_<id>``, ``skip_<place>``),
  so the same SOP gives the same net, and the same replay choices, in every run;
- pm4py walks Python sets (whose order follows object addresses) where the order can
  matter: the simple reduction and, for an inclusive split with several equally near
  joins, the join it links to. Here the order is the order of creation and a tie goes to
  the join whose place name sorts first.

The objects (``PetriNet``, ``Place``, ``Transition``, ``Arc``, ``Marking``) have the
attributes of pm4py's that cxmine reads (``name``, ``label``, ``in_arcs``, ``out_arcs``,
``source``, ``target``, ``weight``; ``places``, ``transitions``, ``arcs``); ``to_pm4py``
copies a net into pm4py's classes where pm4py itself must run on it (alignments, tests).
"""

from __future__ import annotations

from collections import Counter, deque

SPLIT_KINDS = frozenset({"and", "or"})


class _Members(dict):
    """An insertion-ordered set (so iteration never depends on object addresses)."""

    def add(self, item) -> None:
        self[item] = None

    def discard(self, item) -> None:
        self.pop(item, None)


class Place:
    __slots__ = ("name", "in_arcs", "out_arcs")

    def __init__(self, name: str) -> None:
        self.name = name
        self.in_arcs: _Members = _Members()
        self.out_arcs: _Members = _Members()

    def __repr__(self) -> str:
        return self.name


class Transition:
    __slots__ = ("name", "label", "in_arcs", "out_arcs")

    def __init__(self, name: str, label: str | None = None) -> None:
        self.name = name
        self.label = label
        self.in_arcs: _Members = _Members()
        self.out_arcs: _Members = _Members()

    def __repr__(self) -> str:
        return f"({self.name}, {self.label!r})"


class Arc:
    __slots__ = ("source", "target", "weight")

    def __init__(self, source, target, weight: int = 1) -> None:
        self.source = source
        self.target = target
        self.weight = weight

    def __repr__(self) -> str:
        return f"{self.source!r}->{self.target!r}"


class Marking(Counter):
    """Tokens per place (0 for a place not named)."""


class PetriNet:
    """Places, transitions and arcs (insertion-ordered collections)."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.places: _Members = _Members()
        self.transitions: _Members = _Members()
        self.arcs: _Members = _Members()

    def add_arc(self, source, target, weight: int = 1) -> Arc:
        arc = Arc(source, target, weight)
        self.arcs.add(arc)
        source.out_arcs.add(arc)
        target.in_arcs.add(arc)
        return arc

    def remove_node(self, node) -> None:
        """Remove a place or transition and its arcs (pm4py's remove_place / remove_transition)."""
        members = self.places if isinstance(node, Place) else self.transitions
        if node not in members:
            return
        for arc in list(node.in_arcs):
            arc.source.out_arcs.discard(arc)
            self.arcs.discard(arc)
        for arc in list(node.out_arcs):
            arc.target.in_arcs.discard(arc)
            self.arcs.discard(arc)
        members.discard(node)


def convert_bpmn(nodes, flows) -> tuple[PetriNet, Marking, Marking]:
    """Petri net, initial and final marking of a BPMN flow graph, as pm4py's converter makes them.

    nodes: (id, kind, name, owner) with kind task | start | end | xor | and | or;
    flows: (id, source id, target id), both ends among the nodes.
    """
    net = PetriNet("")
    source, sink = Place("source"), Place("sink")
    net.places.add(source)
    net.places.add(sink)
    im, fm = Marking({source: 1}), Marking({sink: 1})
    kind = {n[0]: n[1] for n in nodes}
    flow_place, outgoing, incoming = {}, {}, {}
    for flow_id, src, tgt in flows:
        place = flow_place[flow_id] = Place(str(flow_id))
        net.places.add(place)
        outgoing[src] = outgoing.get(src, 0) + 1
        incoming[tgt] = incoming.get(tgt, 0) + 1
    entering, exiting = {}, {}
    for node_id, node_kind, name, _owner in nodes:
        entry, leave = Place("ent_" + node_id), Place("exi_" + node_id)
        net.places.add(entry)
        net.places.add(leave)
        step = Transition(node_id, (name or None) if node_kind == "task" else None)
        net.transitions.add(step)
        net.add_arc(entry, step)
        net.add_arc(step, leave)
        entering[node_id], exiting[node_id] = entry, leave
        if node_kind in SPLIT_KINDS:
            if outgoing.get(node_id, 0) > 1:
                exiting[node_id] = _silent(net, "split_" + node_id)
                net.add_arc(leave, exiting[node_id])
            if incoming.get(node_id, 0) > 1:
                entering[node_id] = _silent(net, "join_" + node_id)
                net.add_arc(entering[node_id], entry)
        elif node_kind == "start":
            start = _silent(net, "start_" + node_id)
            net.add_arc(source, start)
            net.add_arc(start, entry)
        elif node_kind == "end":
            end = _silent(net, "end_" + node_id)
            net.add_arc(leave, end)
            net.add_arc(end, sink)
    for flow_id, src, tgt in flows:
        before, after = exiting[src], entering[tgt]
        if isinstance(before, Place):
            step = _silent(net, f"sfl_{flow_id}")
            net.add_arc(before, step)
            before = step
        if isinstance(after, Place):
            step = _silent(net, f"tfl_{flow_id}")
            net.add_arc(step, after)
            after = step
        net.add_arc(before, flow_place[flow_id])
        net.add_arc(flow_place[flow_id], after)
    _link_inclusive_gateways(net, kind, flows, outgoing, incoming)
    _reduce(net)
    for place in list(net.places):
        if not place.in_arcs and not place.out_arcs and place not in im and place not in fm:
            net.remove_node(place)
    return net, im, fm


def _silent(net: PetriNet, name: str) -> Transition:
    step = Transition(name, None)
    net.transitions.add(step)
    return step


def _link_inclusive_gateways(net: PetriNet, kind: dict, flows, outgoing: dict, incoming: dict) -> None:
    """pm4py's bypass for inclusive gateways: from each place leaving an inclusive split, a silent
    transition to the nearest place entering an inclusive join (so branches not taken can be skipped)."""
    exits, entries = set(), set()
    for flow_id, src, tgt in flows:
        if kind[src] == "or" and outgoing[src] > 1:
            exits.add(str(flow_id))
        elif kind[tgt] == "or" and incoming[tgt] > 1:
            entries.add(str(flow_id))
    both = exits & entries
    exits, entries = exits - both, entries - both
    if not exits or not entries:
        return
    by_name = {p.name: p for p in net.places}
    following: dict[str, list[str]] = {name: [] for name in by_name}
    for t in net.transitions:
        for a in t.in_arcs:
            following[a.source.name] += [b.target.name for b in t.out_arcs]
    links = []
    for start in sorted(exits):
        distance = {start: 0}
        queue = deque([start])
        while queue:
            here = queue.popleft()
            for there in following[here]:
                if there not in distance:
                    distance[there] = distance[here] + 1
                    queue.append(there)
        reached = [(d, name) for name, d in distance.items() if name in entries]
        if reached:
            links.append((start, min(reached)[1]))
    for start, target in links:
        bypass = _silent(net, f"skip_{start}")
        net.add_arc(by_name[start], bypass)
        net.add_arc(bypass, by_name[target])


def _reduce(net: PetriNet) -> None:
    """pm4py's apply_simple_reduction: merge silent transitions with one input (output) place into
    the transition before (after) it, while that place connects only the two."""
    while True:
        size = (len(net.transitions), len(net.places))
        while _merge_silent(net, upward=True):
            pass
        while _merge_silent(net, upward=False):
            pass
        if (len(net.transitions), len(net.places)) == size:
            return


def _merge_silent(net: PetriNet, upward: bool) -> bool:
    """One merge of pm4py's reduce_single_entry_transitions (upward) or reduce_single_exit_transitions."""
    for t in list(net.transitions):
        near = t.in_arcs if upward else t.out_arcs
        if t.label is not None or len(near) != 1:
            continue
        arc = next(iter(near))
        place = arc.source if upward else arc.target
        back, ahead = (place.in_arcs, place.out_arcs) if upward else (place.out_arcs, place.in_arcs)
        if len(back) == 1 and {a.target if upward else a.source for a in ahead} == {t}:
            kept = next(iter(back)).source if upward else next(iter(back)).target
            others = [a.target for a in t.out_arcs] if upward else [a.source for a in t.in_arcs]
            net.remove_node(t)
            net.remove_node(place)
            for p in others:
                if upward:
                    net.add_arc(kept, p)
                else:
                    net.add_arc(p, kept)
            return True
    return False


def to_pm4py(net: PetriNet, initial_marking: Marking, final_marking: Marking):
    """The same net in pm4py's classes (PetriNet, Marking), for pm4py's own algorithms."""
    from pm4py.objects.petri_net.obj import Marking as PmMarking
    from pm4py.objects.petri_net.obj import PetriNet as PmNet
    from pm4py.objects.petri_net.utils.petri_utils import add_arc_from_to

    out = PmNet(net.name)
    made = {}
    for p in net.places:
        made[p] = PmNet.Place(p.name)
        out.places.add(made[p])
    for t in net.transitions:
        made[t] = PmNet.Transition(t.name, t.label)
        out.transitions.add(made[t])
    for a in net.arcs:
        add_arc_from_to(made[a.source], made[a.target], out, weight=a.weight)
    im = PmMarking({made[p]: c for p, c in initial_marking.items()})
    fm = PmMarking({made[p]: c for p, c in final_marking.items()})
    return out, im, fm
