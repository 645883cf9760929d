"""Every analysis of one log in one run: what ``cxmine report`` computes.

``build_overview`` reads a stored log once per analysis family (each encodes
the columns it needs) and returns an ``Overview``: KPIs overall and by team,
site and shift with their weekly trends, variants and case profile, the
directly-follows graph, conformance of each SOP's contacts, drift over time
and by team, and (when the friction analysis is available) the ranked
friction points. Nothing here prints or writes; stages are announced through
the ``progress`` callback so a caller can show them.

Decisions:

- KPI trends are weekly (ISO weeks of the contact's first event), per team
  when the log has teams, computed by the same KPI kernels with the team as a
  selection, so each week's value is the same as ``cxmine kpi --by week
  --where team=T``.
- Each SOP is checked on the contacts it applies to (its sidecar's
  ``applies_to``; without one, every contact, as ``cxmine conform`` does);
  contacts that no SOP or several SOPs apply to are counted and listed, never
  replayed on the wrong SOP (the SOP library of ``cxmine conform --sop DIR``).
- Compliance (every compliance-critical step ran, none out of order) is
  measured per SOP on the contacts it applies to, by conformance; the KPIs
  are computed without critical steps, as one mix of SOPs has no single set.
  "Ran as designed" per week comes from the same replay.
- The process map shows the most frequent variants covering 80% of the
  contacts and at most 40 arrows; the picture says what it leaves out.
- Friction (handoffs, deviations, drift and KPI outliers on one cost scale,
  engine.analyses.friction) runs when SOPs are given, each contact against
  the SOP that applies to it, with costs projected over ``period_days``.
- Drift runs on the whole log, with per-team drift, on the log's own time
  zone; its settings are the documented defaults.

On Dask (``engine="dask"``, docs/scale.md) one cluster serves the whole run
and each section comes from per-partition partials merged exactly: the KPIs,
trends of all contacts and of each team in one pass (the (team, week) pairs
are slots of the same kernel run), variants, profile, DFG and the process
map in another (the map drawn from the merged variants, DFG and owners by
``engine.analyses.process_map.process_map_of``), the SOP library with each
SOP's contacts.csv rows and execution (``distributed_library``), drift per
team (``engine.distributed.drift.distributed_drift`` with ``by``) and
friction (``engine.distributed.friction.distributed_friction``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from engine.errors import AnalysisError

SEGMENTS = ("team", "site", "shift")
MAP_COVERAGE = 0.8  # the process map shows the most frequent variants covering 80% of the contacts
MAP_EDGES = 40      # and at most 40 arrows, so it stays readable at any size
Progress = Callable[[str], None]


@dataclass(frozen=True)
class SopCheck:
    """One SOP and the conformance of the contacts it applies to (``result`` None when there are none);
    ``contacts`` and ``execution``: the rows of its contacts.csv and its execution laid on it
    (engine.analyses.sop_execution) when they were gathered from partitions (a merged result keeps no
    per-contact replay to make them from)."""

    sop: object
    selection: dict[str, set[str]]
    result: object | None
    contacts: object | None = None
    execution: object | None = None


@dataclass(frozen=True)
class Overview:
    """The results of one report run, each the frozen result of its analysis."""

    log_path: str
    metadata: dict
    n_contacts: int
    n_events: int
    first_event: str | None
    last_event: str | None
    segments: tuple[str, ...]
    kpis: object
    kpi_trends: dict[str, object]
    variants: object
    profile: object
    dfg: object
    performance: object
    process_map: object | None = None
    sops: tuple[SopCheck, ...] = ()
    unmatched_contacts: int = 0
    unmatched_examples: tuple[str, ...] = ()
    ambiguous_contacts: int = 0
    ambiguous_examples: tuple[str, ...] = ()
    drift: object | None = None
    friction: object | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _timed(timings: dict, name: str, progress: Progress | None, fn, *args, **kwargs):
    if progress:
        progress(name)
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    timings[name] = round(time.perf_counter() - t0, 3)
    return out


def _kpi_part(path, segments: Sequence[str], critical: frozenset[str], label_map: dict[str, str],
              window_days: float):
    from engine.analyses.kpis import compute_kpis, encode_for_kpis
    log = encode_for_kpis(path, by=tuple(segments) + ("week",))
    kpis = compute_kpis(log, by=tuple(segments), critical=critical, label_map=label_map, window_days=window_days)
    trends = {"all": compute_kpis(log, by=("week",), critical=critical, label_map=label_map,
                                  window_days=window_days)}
    if "team" in log.case_attributes:
        codes, labels = log.case_attributes["team"]
        labels = labels.to_pylist() if hasattr(labels, "to_pylist") else list(labels)
        for label in sorted(set(labels)):
            trends[label] = compute_kpis(log, by=("week",), critical=critical, label_map=label_map,
                                         window_days=window_days, where={"team": {label}})
    return kpis, trends, log.n_cases, log.n_events


def _flow_part(path):
    from engine.analyses.cases import profile_cases
    from engine.analyses.dfg import discover_dfg, discover_performance_dfg
    from engine.analyses.variants import count_variants
    from engine.log.encode import encode_log
    log = encode_log(path, attributes=("owner",), case_attributes=())
    span = (int(log.timestamps.min()), int(log.timestamps.max())) if log.n_events else None
    from engine.analyses.process_map import build_process_map
    pmap = build_process_map(log, coverage=MAP_COVERAGE, max_edges=MAP_EDGES) if log.n_cases else None
    return count_variants(log), profile_cases(log), discover_dfg(log), discover_performance_dfg(log), span, pmap


def _iso(ns: int | None, zone: str | None) -> str | None:
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo
    if ns is None:
        return None
    at = datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)
    return (at.astimezone(ZoneInfo(zone)) if zone else at).isoformat(timespec="seconds")


def sop_selection(sop) -> dict[str, set[str]]:
    """The contacts an SOP applies to: its sidecar's ``applies_to`` (empty: every contact), as
    ``engine.analyses.library.assign_sops`` reads it."""
    return {k: set([v] if isinstance(v, str) else v) for k, v in dict(getattr(sop, "applies_to", {}) or {}).items()}


def _conformance_part(path, sops: Sequence, examples: int):
    """Each contact on the SOP that applies to it (``engine.analyses.library``), with weekly fitness."""
    from engine.analyses.library import applies_to_attributes, check_library
    from engine.log.schema import SEGMENT_COLUMNS
    from engine.log.select import encode_where
    log = encode_where(path, None, attributes=SEGMENT_COLUMNS, case_attributes=applies_to_attributes(sops),
                       with_case_ids=True)
    lib = check_library(log, sops, by=("week",), examples=examples)
    checks = tuple(SopCheck(sop, sop_selection(sop), r if r.contacts else None) for sop, r in zip(sops, lib.results))
    return checks, lib.unmatched, lib.unmatched_examples, lib.ambiguous, lib.ambiguous_examples


def _drift_part(path, timezone: str | None, sop=None):
    from engine.analyses.drift import EXPLAIN_ATTRIBUTES, detect_drift
    from engine.log.encode import encode_log
    from engine.log.select import log_attributes
    by = tuple(a for a in ("team",) if a in log_attributes(path))
    log = encode_log(path, attributes=(), case_attributes=tuple(dict.fromkeys(EXPLAIN_ATTRIBUTES + by)))
    if log.n_cases < 200:
        return None
    return detect_drift(log, by=by, timezone=timezone)


def _friction_part(path, sops: Sequence, period_days: float, window_days: float, examples: int):
    from engine.analyses.friction import encode_for_friction, rank_frictions
    log = encode_for_friction(path, sops=sops)
    return rank_frictions(log, sops, period_days=period_days, window_days=window_days, examples=examples)


def _drift_part_dask(path, timezone: str | None, n_contacts: int, client):
    from engine.distributed.drift import distributed_drift
    from engine.log.select import log_attributes
    if n_contacts < 200:
        return None
    by = tuple(a for a in ("team",) if a in log_attributes(path))
    return distributed_drift(path, None, timezone=timezone, by=by, client=client)


def _friction_part_dask(path, sops: Sequence, period_days: float, window_days: float, examples: int, client):
    from engine.distributed.friction import distributed_friction
    return distributed_friction(path, sops, period_days=period_days, window_days=window_days, examples=examples,
                                client=client)


def _conformance_part_dask(path, sops: Sequence, examples: int, client):
    from engine.distributed.analyses import distributed_library
    lib, rows, executions = distributed_library(path, sops, by=("week",), examples=examples, per_contact=True,
                                                executions=True, client=client)
    checks = tuple(SopCheck(sop, sop_selection(sop), r if r.contacts else None, contacts, execution)
                   for sop, r, contacts, execution in zip(sops, lib.results, rows, executions))
    return checks, lib.unmatched, lib.unmatched_examples, lib.ambiguous, lib.ambiguous_examples


def build_overview(path: str | os.PathLike, *, sops: Sequence = (), window_days: float = 7.0, examples: int = 5,
                   period_days: float = 90.0, progress: Progress | None = None, engine: str = "local",
                   client=None, scheduler: str | None = None) -> Overview:
    """Run every analysis on the stored log at ``path``; ``sops`` are ``engine.model.Sop`` objects;
    ``period_days``: the period over which friction costs are projected.

    ``engine="dask"``: each section from per-partition partials on a Dask cluster (``client``, else one
    opened on ``scheduler`` or a local cluster, for the whole run), with the same results (docs/scale.md)."""
    from engine.distributed.cluster import check_engine
    check_engine(engine)
    if engine == "dask" and client is None:
        from engine.distributed.cluster import open_client
        if progress:
            progress("Dask cluster")
        with open_client(scheduler) as own:
            return build_overview(path, sops=sops, window_days=window_days, examples=examples,
                                  period_days=period_days, progress=progress, engine=engine, client=own)
    from engine.log.select import log_attributes
    from engine.log.store import log_metadata
    path = str(path)
    meta = log_metadata(path)
    timings: dict[str, float] = {}
    segments = tuple(a for a in SEGMENTS if a in log_attributes(path))
    critical: frozenset[str] = frozenset()  # compliance is per SOP, from conformance (see the module docstring)
    label_map = {k: v for s in sops for k, v in s.label_map.items()}
    zone = meta.get("timezone")
    checks, unmatched, unmatched_ids, ambiguous, ambiguous_ids = ((), 0, (), 0, ())
    if engine == "dask":
        from engine.distributed.analyses import distributed_flow, distributed_overview_kpis
        kpis, trends, n_contacts, n_events = _timed(
            timings, "KPIs", progress, distributed_overview_kpis, path, segments, critical=critical,
            label_map=label_map, window_days=window_days, client=client)
        variants, profile, dfg, perf, span, pmap = _timed(
            timings, "variants and process map", progress, distributed_flow, path, coverage=MAP_COVERAGE,
            max_edges=MAP_EDGES, client=client)
        if sops:
            checks, unmatched, unmatched_ids, ambiguous, ambiguous_ids = _timed(
                timings, "conformance", progress, _conformance_part_dask, path, sops, examples, client)
        drift = _timed(timings, "drift", progress, _drift_part_dask, path, zone, n_contacts, client)
        friction = (_timed(timings, "friction", progress, _friction_part_dask, path, sops, period_days, window_days,
                           examples, client) if sops else None)
    else:
        kpis, trends, n_contacts, n_events = _timed(timings, "KPIs", progress, _kpi_part, path, segments, critical,
                                                    label_map, window_days)
        variants, profile, dfg, perf, span, pmap = _timed(timings, "variants and process map", progress,
                                                          _flow_part, path)
        if sops:
            checks, unmatched, unmatched_ids, ambiguous, ambiguous_ids = _timed(
                timings, "conformance", progress, _conformance_part, path, sops, examples)
        drift = _timed(timings, "drift", progress, _drift_part, path, zone)
        friction = (_timed(timings, "friction", progress, _friction_part, path, sops, period_days, window_days,
                           examples) if sops else None)
    return Overview(log_path=path, metadata=meta, n_contacts=n_contacts, n_events=n_events,
                    first_event=_iso(span[0] if span else None, zone),
                    last_event=_iso(span[1] if span else None, zone), segments=segments,
                    kpis=kpis, kpi_trends=trends, variants=variants, profile=profile, dfg=dfg, performance=perf,
                    process_map=pmap, sops=checks, unmatched_contacts=unmatched, unmatched_examples=unmatched_ids,
                    ambiguous_contacts=ambiguous, ambiguous_examples=ambiguous_ids,
                    drift=drift, friction=friction, timings=timings)
