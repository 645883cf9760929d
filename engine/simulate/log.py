"""A simulation written straight to a canonical log, in chunks: logs too large for one CSV export.

``simulation_table`` turns a ``Simulation``'s events into canonical log
columns (customers pseudonymised with the key, as ``cxmine ingest`` does).
``simulate_partitioned_log`` simulates ``contacts`` contacts in chunks of at
most ``chunk`` contacts, chunk k covering the ``days`` days after chunk k-1
(seed + k, contact ids prefixed ``k<k>-``), and appends each sorted chunk to
a partitioned log (engine.log.partitions), so memory stays bounded by one
chunk. Contacts of a chunk all start after those of the chunk before, so the
chunks in turn are the whole log in case order. Repeat contacts link within
a chunk.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Callable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from engine.simulate.contacts import Simulation, simulate_contacts

_CANONICAL = {"contact_id": "case_id", "start": "timestamp", "end": "end_timestamp", "agent": "resource",
              "customer": "customer_id"}


def simulation_table(sim: Simulation, key: bytes, *, prefix: str = "") -> pa.Table:
    """The simulation's events as a canonical log table (unsorted); ``prefix`` is put before every contact id."""
    from engine.ingest.pseudonym import pseudonymise
    cols, names = [], []
    for name in sim.events.column_names:
        col = sim.events.column(name)
        if name == "customer":
            col = pseudonymise(col, key)
        elif name == "contact_id" and prefix:
            col = pc.binary_join_element_wise(prefix, col.cast(pa.string()), "")
        cols.append(col)
        names.append(_CANONICAL.get(name, name))
    return pa.table(cols, names=names)


def simulate_partitioned_log(sops: Sequence, contacts: int, folder: str | os.PathLike, partitions: int, *,
                             key: bytes, chunk: int = 1_000_000, seed: int = 0, start: str = "2026-01-05",
                             days: int = 28, deviation_rate: float = 0.05,
                             on_chunk: Callable[[int, int, int], None] | None = None) -> Path:
    """Simulate ``contacts`` contacts into a partitioned log of ``partitions`` files (see the module docstring).

    ``on_chunk(k, contacts, events)`` is called after each chunk is written (for progress).
    """
    from engine.log.partitions import PartitionWriter
    from engine.log.schema import sort_log
    meta = {"source": "engine.simulate.log", "simulated_contacts": contacts, "seed": seed, "chunk": chunk}
    first = dt.date.fromisoformat(start)
    with PartitionWriter(folder, partitions, meta) as writer:
        for k, lo in enumerate(range(0, contacts, chunk)):
            size = min(chunk, contacts - lo)
            day = (first + dt.timedelta(days=days * k)).isoformat()
            sim = simulate_contacts(sops, size, seed=seed + k, start=day, days=days, deviation_rate=deviation_rate)
            table = sort_log(simulation_table(sim, key, prefix=f"k{k}-"))
            del sim
            writer.write(table)
            if on_chunk is not None:
                on_chunk(k, size, table.num_rows)
            del table
    return Path(folder)
