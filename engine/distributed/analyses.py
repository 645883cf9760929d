"""The analyses on a Dask cluster: the same results as the single-machine path, from per-partition partials.

Each ``distributed_*`` function takes the log (a partitioned folder or a
single file), the analysis's own arguments, and ``client`` (an open
dask.distributed Client) or ``scheduler`` (an address; none: a LocalCluster
on this machine). It returns what the single-machine analysis returns for
the whole log (see engine.distributed.partials for the few internal fields
that differ). A selection no contact matches raises the single-machine
path's error.
"""

from __future__ import annotations

import os
from typing import Sequence

from engine.distributed.cluster import run_partitions
from engine.distributed.partials import (finish_kpis, summarise_conformance, summarise_dfg, summarise_discovery,
                                         summarise_flow, summarise_kpis, summarise_library, summarise_overview_kpis,
                                         summarise_variants)
from engine.log.select import no_match_error


def _run(log, summarise, where, client, scheduler, **params):
    merged = run_partitions(log, summarise, client=client, scheduler=scheduler, where=where or None, **params)
    if merged is None:
        raise no_match_error(where)
    return merged


def distributed_variants(log: str | os.PathLike, *, by: Sequence[str] = (), where: dict | None = None,
                         client=None, scheduler: str | None = None):
    """``(count_variants, {attr: count_variants_by}, profile_cases)`` of the whole (selected) log."""
    return _run(log, summarise_variants, where, client, scheduler, by=tuple(by)).finish()


def distributed_dfg(log: str | os.PathLike, *, by: Sequence[str] = (), where: dict | None = None,
                    measure: str = "start_to_start", client=None, scheduler: str | None = None) -> list[tuple]:
    """``[(attribute, label, Dfg, PerformanceDfg)]``: the whole log's graphs, then each segment's."""
    from engine.analyses.dfg import MEASURES
    from engine.errors import AnalysisError
    if measure not in MEASURES:
        raise AnalysisError(f"Unknown performance measure '{measure}' (valid: {', '.join(MEASURES)})",
                            field="measure")
    return _run(log, summarise_dfg, where, client, scheduler, by=tuple(by), measure=measure).finish()


def distributed_kpis(log: str | os.PathLike, *, by: Sequence[str] = (), where: dict | None = None,
                     client=None, scheduler: str | None = None, **params):
    """``compute_kpis`` of the whole log (``params``: critical, label_map, roles, window_days, scope)."""
    from engine.errors import AnalysisError
    window = params.get("window_days", 7.0)
    if not window > 0:
        raise AnalysisError(f"The repeat-contact window must be positive (got {window} days)")
    return finish_kpis(_run(log, summarise_kpis, where, client, scheduler, by=tuple(dict.fromkeys(by)), **params))


def distributed_conformance(log: str | os.PathLike, sop_path: str | os.PathLike, *, by: Sequence[str] = (),
                            where: dict | None = None, examples: int = 5, unknown_as_deviation: bool = True,
                            per_contact: bool = False, worst: int = 10, client=None, scheduler: str | None = None):
    """``check_conformance`` of the whole log against the SOP at ``sop_path`` (read by every worker).

    With ``per_contact``, returns ``(result, rows)``: also every contact's row of contacts.csv
    (``engine.report.conformance.contact_frame``), gathered in log order."""
    from pathlib import Path

    from engine.errors import AnalysisError
    from engine.model import load_sop
    if examples < 0:
        raise AnalysisError(f"The number of examples must be 0 or more, got {examples}", field="examples")
    load_sop(sop_path)  # a bad SOP is reported here, once, before any task runs
    merged = _run(log, summarise_conformance, where, client, scheduler, sop_path=str(Path(sop_path).resolve()),
                  by=tuple(by), examples=examples, unknown_as_deviation=unknown_as_deviation, per_contact=per_contact,
                  worst=worst)
    return (merged.finish(), merged.contact_rows()) if per_contact else merged.finish()


def distributed_library(log: str | os.PathLike, sops: Sequence, *, by: Sequence[str] = (), examples: int = 5,
                        unknown_as_deviation: bool = True, worst: int = 10, where: dict | None = None,
                        per_contact: bool = False, executions: bool = False, client=None,
                        scheduler: str | None = None):
    """``check_library`` of the whole (selected) log: each contact replayed on the SOP whose ``applies_to``
    matches it (``sops``: ``engine.model.Sop`` objects, in library order, sent to the workers); the
    contacts no SOP or several SOPs apply to counted, with their first example ids in log order.

    With ``per_contact``, returns ``(result, rows)``: also, per SOP, the rows of contacts.csv of its
    contacts (``engine.report.conformance.contact_frame``), gathered in log order. With ``executions``,
    returns ``(result, rows or None, executions)``: also, per SOP, its contacts' execution laid on it
    (``engine.analyses.sop_execution.summarize_execution``; None for an SOP without contacts)."""
    from engine.errors import AnalysisError
    if examples < 0:
        raise AnalysisError(f"The number of examples must be 0 or more, got {examples}", field="examples")
    sops = tuple(sops)
    merged = _run(log, summarise_library, where, client, scheduler, sops=sops, by=tuple(by), examples=examples,
                  unknown_as_deviation=unknown_as_deviation, worst=worst, per_contact=per_contact,
                  executions=executions)
    result = merged.finish()
    if executions:
        return result, merged.contact_rows() if per_contact else None, merged.sop_executions(result.results)
    return (result, merged.contact_rows()) if per_contact else result


def distributed_models(log: str | os.PathLike, method: str = "inductive", noise: float = 0.0,
                       heuristics: dict | None = None, *, by: Sequence[str] = (), where: dict | None = None,
                       client=None, scheduler: str | None = None) -> dict:
    """The models ``discover_model`` (``{None: model}``) or ``discover_models_by`` (``{attr: {label: model}}``
    for each attribute of ``by``) find on the whole (selected) log: the variants and DFG are counted per
    partition and merged, then the same miner runs on the client (``build_model``)."""
    from engine.analyses.discovery import build_model, check_method, check_noise
    check_method(method)
    check_noise(noise)
    (variants, dfg), segments = _run(log, summarise_discovery, where, client, scheduler, by=tuple(by)).finish()
    if not by:
        return {None: build_model(method, variants, dfg, noise, heuristics)}
    return {attr: {label: build_model(method, v, d, noise, heuristics) for label, (v, d) in segments[attr].items()
                   if v.n_cases} for attr in dict.fromkeys(by)}


def distributed_overview_kpis(log: str | os.PathLike, segments: Sequence[str] = (), *,
                              critical: frozenset[str] = frozenset(), label_map: dict | None = None,
                              window_days: float = 7.0, client=None, scheduler: str | None = None):
    """The KPIs of ``cxmine report`` in one pass: ``(kpis by segments, weekly trends {"all" and each team},
    contacts, events)``, as ``engine.analyses.overview`` computes them on one machine."""
    from engine.errors import AnalysisError
    if not window_days > 0:
        raise AnalysisError(f"The repeat-contact window must be positive (got {window_days} days)")
    merged = run_partitions(log, summarise_overview_kpis, client=client, scheduler=scheduler,
                            segments=tuple(segments), critical=frozenset(critical), label_map=dict(label_map or {}),
                            window_days=window_days)
    return merged.finish()


def distributed_flow(log: str | os.PathLike, *, coverage: float = 1.0, max_edges: int | None = None, client=None,
                     scheduler: str | None = None):
    """The flow of ``cxmine report`` in one pass: ``(variants, case profile, DFG, performance DFG (start to
    start), (first, last event ns) or None, frequency process map or None)`` of the whole log; the map is
    drawn from the merged variants, DFG and owners (``engine.analyses.process_map.process_map_of``)."""
    return run_partitions(log, summarise_flow, client=client, scheduler=scheduler).finish(coverage, max_edges)
