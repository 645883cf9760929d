"""Friction on Dask: per-contact measures from the partitions, the single-machine findings on the client.

``distributed_friction(log, sops, ...)`` returns the ``FrictionResult`` that
``rank_frictions(encode_for_friction(log, by, where, sops), sops, ...)``
returns for the whole log (``as_dict()`` identical, byte for byte in JSON).

What runs where. Everything that reads events runs per partition, on the
workers, with the single-machine functions (``measure_log`` in
engine.analyses.friction): encoding, the SOP each contact follows, event
owners, each contact's time per owner and handle time, the handoff scan,
each SOP's conformance (deviations located at steps, compliance breaches,
the events where a deviation was found), the case flags with repeat-contact
links (a partition holds every contact of its customers, so the links are
found inside it as on the whole log; engine.log.partitions), and, per
handoff, what the handoff findings read of its events (context loss an SOP
does not allow, the repeated step's start, stop and owner, the first event
after the handoff). What the whole-log statistics need is gathered compactly
(``Measures``): one row per contact, per handoff and per deviation, with the
labels their codes index, and each partition's variants.

On the client, ``combine_measures`` puts the rows back in the whole log's
order (each contact's ``global_case_index``; with ``--where`` its rank among
the selected contacts), renumbers every code into the whole log's sorted
labels (the union of the partitions' dictionaries: a partition without
selected contacts still sends its labels, because the single-machine path
encodes the whole file before selecting), and turns handoff and deviation
rows into whole-log case and event indices. Then ``rank_measures`` runs the
single-machine finding builders on exactly the arrays the single-machine
path builds: medians of each handoff edge's delays, comparison strata
(numbered as on one machine, since they are numbered from the same keys),
contrast sums (added in the same order, since the contacts are in the same
order), intervals, examples. The single-machine path itself goes through
``measure_log``, ``combine_measures`` (of one piece) and ``rank_measures``:
one code path.

Drift findings run ``detect_drift`` on each SOP's contacts as a log. That log
is rebuilt on the client from each contact's variant (its activity
sequence, sent as a variant id per contact plus each partition's variants)
and start: change-point detection and its explanation read only the
activity sequences, the contacts' first-event times and the explanation
attributes (team, site, shift, channel, queue), all of which are exact. The
rebuilt log of one SOP exists only while its drift runs.

What the client holds (docs/scale.md): per contact 8 x (owners + 2) + 66
bytes (4 more per ``by`` attribute) plus its contact id; per handoff 75
bytes; per deviation 17 bytes; the finding builders' own per-contact
measures; and, during drift findings, 12 bytes per event of one SOP's
contacts (20 while it is built). The workers hold one partition each, as
for the other analyses.

A worker that dies is replaced and its partition measured again (Dask);
one that keeps dying stops the run with a message naming the partition, and
no result (engine.distributed.cluster).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from engine.analyses.friction import (FrictionResult, Measures, check_ranking, combine_measures, friction_columns,
                                      measure_log, rank_measures)
from engine.log.encode import EncodedLog


@dataclass(frozen=True)
class FrictionPartial:
    """The measures of some partitions, put together only at the end (``finish``: ``combine_measures``)."""

    pieces: tuple[Measures, ...]

    def __add__(self, other: "FrictionPartial") -> "FrictionPartial":
        return FrictionPartial(self.pieces + other.pieces)

    def finish(self) -> Measures:
        return combine_measures(self.pieces)


def measure_partition(path: str, sops: Sequence, by: Sequence[str] = (), where: dict | None = None,
                      window_days: float = 7.0, library: bool = True) -> FrictionPartial:
    """The measures of one partition's selected contacts, with their global positions (its labels only
    when none is selected)."""
    from engine.distributed.partials import global_case_positions
    from engine.log.select import cases_where, encode_where, select_cases
    log = encode_where(path, None, **friction_columns(path, by, where, sops))
    positions = global_case_positions(path, log)
    if where:
        keep = cases_where(log, where)
        log, positions = select_cases(log, keep), positions[keep]
    return FrictionPartial((measure_log(log, sops, window_days=window_days, library=library, by=by,
                                        positions=positions, variants=True),))


def sequence_log(measures: Measures, keep: np.ndarray) -> EncodedLog:
    """The contacts where ``keep`` as an encoded log rebuilt from their variants and starts (each event
    at its contact's start), with the drift explanation's attributes: what ``detect_drift`` reads."""
    from engine.analyses.drift import EXPLAIN_ATTRIBUTES
    offsets, codes = measures.variants
    c = measures.contacts
    variant = c["variant"][keep]
    lengths = (offsets[variant + 1] - offsets[variant]).astype(np.int64)
    case_offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    at = np.repeat(offsets[variant] - case_offsets[:-1], lengths) + np.arange(case_offsets[-1], dtype=np.int64)
    attributes = {name: (c[f"case:{name}"][keep], measures.labels[f"case:{name}"]) for name in EXPLAIN_ATTRIBUTES
                  if f"case:{name}" in c}
    return EncodedLog(case_offsets, codes[at], np.repeat(c["start"][keep], lengths), measures.labels["activities"],
                      case_attributes=attributes)


def distributed_friction(log: str | os.PathLike, sops: Sequence, *, cost_per_minute: dict[str, float] | None = None,
                         period_days: float = 90.0, by: Sequence[str] = (), rank_by: str = "cost",
                         top: int | None = None, examples: int = 5, window_days: float = 7.0, min_contacts: int = 10,
                         drift: bool = True, library: bool = True, where: dict | None = None, client=None,
                         scheduler: str | None = None) -> FrictionResult:
    """``rank_frictions`` of the whole (selected) log (module docstring): the same arguments, plus
    ``where`` (the selection ``encode_for_friction`` applies) and ``client`` (an open dask.distributed
    Client) or ``scheduler`` (an address; none: a LocalCluster on this machine). The SOPs travel to the
    workers with the tasks."""
    from engine.distributed.cluster import run_partitions
    from engine.errors import AnalysisError
    from engine.log.select import no_match_error
    sops = tuple(sops)
    check_ranking(sops, rank_by, period_days, top)
    where = where or None
    merged = run_partitions(log, measure_partition, client=client, scheduler=scheduler, sops=sops, by=tuple(by),
                            where=where, window_days=window_days, library=library)
    measures = merged.finish()
    if measures.n_cases == 0:
        if where:
            raise no_match_error(where)
        raise AnalysisError("The log has no contacts", hint="Check the log and the selection")
    return rank_measures(measures, sops, lambda keep: sequence_log(measures, keep), cost_per_minute=cost_per_minute,
                         period_days=period_days, by=by, rank_by=rank_by, top=top, examples=examples,
                         min_contacts=min_contacts, drift=drift)
