"""Process discovery: pm4py's Inductive Miner, Heuristics Miner and DFG, fed from the core's summaries.

pm4py's own path builds an object of every event and recounts variants and
directly-follows pairs in Python. Here the numba core counts them once
(``count_variants``, ``discover_dfg``) and pm4py's miners run on those
summaries, so discovery scales with the number of variants, not of events:

- inductive: pm4py's IM (``noise == 0``) or IMf (``noise > 0``, pm4py's
  ``noise_threshold``) on the variants with their counts, exactly what
  ``pm4py.discover_process_tree_inductive`` builds from a log; the tree is
  folded and sorted as pm4py does.
- heuristics: pm4py's classic Heuristics Miner on the DFG, activity, start and
  end counts, plus the two summaries it also needs for loops of length two
  (pairs two steps apart, triples of consecutive steps), counted on the
  variants and weighted by their counts.
- dfg: the directly-follows graph itself, as pm4py's DFG-to-Petri-net
  converter turns it into a net; its BPMN has one task per activity and
  exclusive gateways where paths split or join.

Every method yields a Petri net with initial and final markings and a BPMN
model (pm4py's converters); the inductive miner also keeps its process tree.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from engine.analyses.dfg import Dfg, discover_dfg
from engine.analyses.variants import Variants, count_variants, count_variants_by
from engine.errors import AnalysisError
from engine.log.encode import EncodedLog

METHODS = ("inductive", "heuristics", "dfg")
Method = Literal["inductive", "heuristics", "dfg"]
HEURISTICS_DEFAULTS = {"dependency_threshold": 0.5, "and_threshold": 0.65, "loop_two_threshold": 0.5}


@dataclass(frozen=True)
class DiscoveredModel:
    """A model discovered from a set of contacts, with the summaries it came from.

    ``net``, ``initial_marking``, ``final_marking``: pm4py Petri net objects;
    ``bpmn``: pm4py BPMN object (None when pm4py cannot convert the net);
    ``tree``: the process tree (inductive only); ``heuristics_net`` (heuristics only).
    """

    method: str
    noise: float
    dfg: Dfg
    n_variants: int
    net: Any
    initial_marking: Any
    final_marking: Any
    bpmn: Any
    tree: Any = None
    heuristics_net: Any = None
    bpmn_note: str | None = None

    @property
    def n_cases(self) -> int:
        return self.dfg.n_cases

    def as_dict(self) -> dict:
        visible = sorted(t.label for t in self.net.transitions if t.label is not None)
        out = {"method": self.method, "n_cases": self.n_cases, "n_variants": self.n_variants,
               "activities": len(self.dfg.activity_counts), "places": len(self.net.places),
               "transitions": len(self.net.transitions), "visible_transitions": len(visible),
               "arcs": len(self.net.arcs)}
        if self.method == "inductive":
            out["noise"] = self.noise
            out["process_tree"] = str(self.tree)
        if self.bpmn_note:
            out["bpmn_note"] = self.bpmn_note
        return out


def check_method(method: str) -> None:
    if method not in METHODS:
        raise AnalysisError(f"Unknown discovery method '{method}' (valid: {', '.join(METHODS)})", field="method")


def check_noise(noise: float) -> None:
    if not 0.0 <= noise <= 1.0:
        raise AnalysisError(f"Noise threshold {noise:g} is outside [0, 1]", field="noise",
                            hint="pm4py's noise_threshold is a share, e.g. 0.2 for the infrequent Inductive Miner")


def encode_for_discovery(path, where: dict | None = None, by: tuple[str, ...] = ()) -> EncodedLog:
    """The stored log encoded for discovery: case boundaries and activities, the ``where`` selection applied,
    ``by`` attributes per case; times only when a week is asked for (discovery needs the order of events only)."""
    from engine.log.select import WEEK, encode_where

    needs_times = WEEK in by or WEEK in (where or {})
    return encode_where(path, where, by=by, attributes=(), with_times=needs_times)


def import_miner_modules(method: str = "inductive") -> None:
    """Load the numba kernels discovery runs and import the pm4py modules that ``method`` runs and writes with.

    Both take one to two seconds of a short process; run in a background
    thread while the log is read (Arrow releases the GIL), they cost little.
    """
    import numpy as np

    one_case = EncodedLog(np.array([0, 2], dtype=np.int64), np.array([0, 1], dtype=np.int32),
                          np.zeros(2, dtype=np.int64), ("a", "b"))
    count_variants(one_case)  # loads the kernels' cached machine code and numba's registries
    discover_dfg(one_case)
    from pm4py.objects.bpmn.exporter.variants import etree  # noqa: F401
    from pm4py.objects.petri_net.exporter.variants import pnml  # noqa: F401

    if method == "inductive":
        import engine.analyses.inductive  # noqa: F401
        from pm4py.algo.discovery.inductive.variants import im, imf  # noqa: F401
        from pm4py.objects.conversion.process_tree.variants import to_bpmn, to_petri_net  # noqa: F401
        from pm4py.objects.process_tree.exporter.variants import ptml  # noqa: F401
        from pm4py.objects.process_tree.utils import generic  # noqa: F401
    elif method == "heuristics":
        from pm4py.algo.discovery.heuristics.variants import classic  # noqa: F401
        from pm4py.objects.conversion.heuristics_net.variants import to_petri_net  # noqa: F401,F811
        from pm4py.objects.conversion.wf_net.variants import to_bpmn  # noqa: F401,F811
    else:
        from pm4py.objects.bpmn.obj import BPMN  # noqa: F401
        from pm4py.objects.conversion.dfg.variants import to_petri_net_activity_defines_place  # noqa: F401


def uvcl_of(variants: Variants) -> Counter:
    """The variants as pm4py's UVCL (a Counter of activity tuples), in order of first occurrence.

    pm4py's own path inserts variants in the order of their first case; the
    same order here makes ties inside the miner fall the same way.
    """
    import numpy as np
    order = np.argsort(variants.first_case, kind="stable")
    return Counter({variants.sequences[i]: int(variants.counts[i]) for i in order})


def mine_process_tree(variants: Variants, noise: float = 0.0):
    """pm4py's Inductive Miner (IM, or IMf when ``noise > 0``) on the variants; folded and sorted as pm4py does."""
    from pm4py.objects.process_tree.utils import generic as pt_util

    from engine.analyses.inductive import mine_variant_log

    check_noise(noise)
    if variants.n_cases == 0:
        raise AnalysisError("Cannot discover a model from an empty log", hint="Check the selection of contacts and the log")
    tree = mine_variant_log(uvcl_of(variants), noise)
    tree = pt_util.fold(tree)
    pt_util.tree_sort(tree)
    return tree


def count_windows(variants: Variants) -> tuple[dict, dict]:
    """Pairs two steps apart and triples of consecutive steps, weighted by variant counts.

    The heuristics miner's extra summaries for loops of length two (pm4py's
    window-2 DFG and frequency triples).
    """
    pairs: Counter = Counter()
    triples: Counter = Counter()
    for seq, count in zip(variants.sequences, variants.counts):
        count = int(count)
        for i in range(len(seq) - 2):
            pairs[(seq[i], seq[i + 2])] += count
            triples[(seq[i], seq[i + 1], seq[i + 2])] += count
    return dict(pairs), dict(triples)


def mine_heuristics_net(dfg: Dfg, variants: Variants, dependency_threshold: float = 0.5,
                        and_threshold: float = 0.65, loop_two_threshold: float = 0.5):
    """pm4py's classic Heuristics Miner on the DFG and activity/start/end counts (and the variants' windows)."""
    from pm4py.algo.discovery.heuristics.variants import classic

    for name, value in (("dependency", dependency_threshold), ("and", and_threshold),
                        ("loop-two", loop_two_threshold)):
        if not -1.0 <= value <= 1.0:
            raise AnalysisError(f"Heuristics {name} threshold {value:g} is outside [-1, 1]",
                                field=name.replace("-", "_") + "_threshold")
    if dfg.n_cases == 0:
        raise AnalysisError("Cannot discover a model from an empty log", hint="Check the selection of contacts and the log")
    pairs, triples = count_windows(variants)
    occurrences = dict(sorted(dfg.activity_counts.items(), key=lambda kv: -kv[1]))
    P = classic.Parameters
    params = {P.DEPENDENCY_THRESH: dependency_threshold, P.AND_MEASURE_THRESH: and_threshold,
              P.LOOP_LENGTH_TWO_THRESH: loop_two_threshold}
    return classic.apply_heu_dfg(dict(dfg.edges), activities=list(occurrences), activities_occurrences=occurrences,
                                 start_activities=dict(dfg.start_activities),
                                 end_activities=dict(dfg.end_activities), dfg_window_2=pairs,
                                 freq_triples=triples, parameters=params)


def _bpmn_of(*model) -> tuple[Any, str | None]:
    """pm4py's conversion of a process tree, or of a net with its markings, to BPMN; or None and why not."""
    if len(model) == 1:
        from pm4py.objects.conversion.process_tree.variants import to_bpmn
    else:
        from pm4py.objects.conversion.wf_net.variants import to_bpmn
    try:
        return to_bpmn.apply(*model), None
    except Exception as exc:  # pm4py raises plain exceptions on nets it cannot convert to BPMN
        return None, f"pm4py cannot convert this net to BPMN ({exc}); model.bpmn is not written"


def bpmn_of_dfg(dfg: Dfg):
    """The DFG as BPMN: one task per activity, exclusive gateways where paths split or join.

    pm4py's Petri-net-to-BPMN route turns every edge into a silent task (hundreds
    of nodes a modeller cannot lay out); this keeps one node per activity.
    """
    from pm4py.objects.bpmn.obj import BPMN

    xor, joining, splitting = BPMN.ExclusiveGateway, BPMN.Gateway.Direction.CONVERGING, BPMN.Gateway.Direction.DIVERGING
    bpmn = BPMN(process_id="cxmine_dfg", name="directly-follows graph")
    start, end = BPMN.NormalStartEvent(id="start", name="start"), BPMN.NormalEndEvent(id="end", name="end")
    bpmn.add_node(start)
    bpmn.add_node(end)
    acts = sorted(dfg.activity_counts)
    ident = {a: f"task_{i}" for i, a in enumerate(acts)}
    preds: dict = {a: [] for a in acts}
    succs: dict = {a: [] for a in acts}
    for a in sorted(dfg.start_activities):
        preds[a].append(None)
    for a in sorted(dfg.end_activities):
        succs[a].append(None)
    for a, b in sorted(dfg.edges):
        succs[a].append(b)
        preds[b].append(a)
    entry, leave = {None: start}, {None: end}  # where a flow into / out of each activity attaches

    def node(obj):
        bpmn.add_node(obj)
        return obj

    for a in acts:
        task = node(BPMN.Task(id=ident[a], name=a))
        entry[a] = leave[a] = task
        if len(preds[a]) > 1:
            join = node(xor(id=f"{ident[a]}_join", gateway_direction=joining))
            bpmn.add_flow(BPMN.SequenceFlow(join, task))
            entry[a] = join
        if len(succs[a]) > 1:
            split = node(xor(id=f"{ident[a]}_split", gateway_direction=splitting))
            bpmn.add_flow(BPMN.SequenceFlow(task, split))
            leave[a] = split
    out_of_start = start
    if len(dfg.start_activities) > 1:
        out_of_start = node(xor(id="start_split", gateway_direction=splitting))
        bpmn.add_flow(BPMN.SequenceFlow(start, out_of_start))
    into_end = end
    if len(dfg.end_activities) > 1:
        into_end = node(xor(id="end_join", gateway_direction=joining))
        bpmn.add_flow(BPMN.SequenceFlow(into_end, end))
    for a in acts:
        for b in succs[a]:
            bpmn.add_flow(BPMN.SequenceFlow(leave[a], into_end if b is None else entry[b]))
        if None in preds[a]:
            bpmn.add_flow(BPMN.SequenceFlow(out_of_start, entry[a]))
    return bpmn


def build_model(method: str, variants: Variants, dfg: Dfg, noise: float = 0.0,
                heuristics: dict | None = None) -> DiscoveredModel:
    """Run one miner on the summaries of a set of contacts."""
    check_method(method)
    if method != "inductive" and noise:
        raise AnalysisError(f"A noise threshold applies to the inductive miner only, not to '{method}'",
                            field="noise", hint="Give noise 0, or method 'inductive'")
    if dfg.n_cases == 0:
        raise AnalysisError("Cannot discover a model from an empty log", hint="Check the selection of contacts and the log")
    tree = heu = None
    note = None
    # pm4py's converters called directly, as pm4py.convert_to_petri_net / convert_to_bpmn do (see pm4py_parts)
    if method == "inductive":
        from pm4py.objects.conversion.process_tree.variants import to_petri_net

        tree = mine_process_tree(variants, noise)
        net, im, fm = to_petri_net.apply(tree)
        bpmn, note = _bpmn_of(tree)
    elif method == "heuristics":
        from pm4py.objects.conversion.heuristics_net.variants import to_petri_net

        heu = mine_heuristics_net(dfg, variants, **{**HEURISTICS_DEFAULTS, **(heuristics or {})})
        net, im, fm = to_petri_net.apply(heu)
        bpmn, note = _bpmn_of(net, im, fm)
    else:
        from pm4py.objects.conversion.dfg.variants import to_petri_net_activity_defines_place as to_net

        P = to_net.Parameters
        net, im, fm = to_net.apply(dict(dfg.edges), parameters={P.START_ACTIVITIES: dict(dfg.start_activities),
                                                                 P.END_ACTIVITIES: dict(dfg.end_activities)})
        bpmn = bpmn_of_dfg(dfg)
    return DiscoveredModel(method, noise, dfg, variants.n_variants, net, im, fm, bpmn, tree, heu, note)


def discover_model(log: EncodedLog, method: Method = "inductive", noise: float = 0.0,
                   heuristics: dict | None = None) -> DiscoveredModel:
    """Discover a model of the whole (encoded) log with pm4py's miner ``method``.

    ``noise``: pm4py's ``noise_threshold`` for the inductive miner (0 = IM,
    > 0 = IMf). ``heuristics``: thresholds for the heuristics miner
    (``dependency_threshold``, ``and_threshold``, ``loop_two_threshold``).
    """
    check_method(method)
    check_noise(noise)
    return build_model(method, count_variants(log), discover_dfg(log), noise, heuristics)


def discover_models_by(log: EncodedLog, by: str, method: Method = "inductive", noise: float = 0.0,
                       heuristics: dict | None = None) -> dict[str, DiscoveredModel]:
    """One model per segment of ``by`` (see engine.analyses.segments), label -> model."""
    check_method(method)
    check_noise(noise)
    variants = count_variants_by(log, by)
    dfgs = discover_dfg(log, by=by)
    return {label: build_model(method, variants[label], dfgs[label], noise, heuristics)
            for label in variants if variants[label].n_cases}
