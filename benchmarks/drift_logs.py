"""The published drift logs (Bose et al.; Ostovar et al.) in the order their ground truth uses.

``../shared/data/drift/ground_truth.json`` gives 0-based trace indices in file
order, as Adams et al. (PVLDB 16(8), 2023) read the logs with pm4py. The Bose
log reuses trace names in each of its five 1,200-trace parts and its
timestamps restart in each part, so neither its case ids nor its times give
that order; the traces are encoded here as they stand in the file (for the
Ostovar logs file order and first-event order agree). Shared by
``bench_drift.py`` and the tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from engine.ingest.xes import read_xes
from engine.log.encode import EncodedLog, encode_log

DRIFT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "drift"


LAG = 200


def score(detected: list[int], truth: list[int], lag: int = LAG) -> tuple[int, list[int]]:
    """Adams et al.'s matching: each detection, in order, is a true positive when a true change not yet
    matched lies within ``lag`` cases (the nearest is taken). Returns (true positives, their delays)."""
    matched, delays = set(), []
    for d in sorted(detected):
        near = [t for t in truth if t not in matched and abs(d - t) <= lag]
        if near:
            t = min(near, key=lambda t: abs(d - t))
            matched.add(t)
            delays.append(abs(d - t))
    return len(matched), delays


def f1(tp: int, n_detected: int, n_truth: int) -> float:
    if tp == 0:
        return 0.0
    precision, recall = tp / n_detected, tp / n_truth
    return 2 * precision * recall / (precision + recall)


def ground_truth(root: Path = DRIFT_DATA) -> dict[str, list[int]]:
    """Log file (relative to ``root``) -> 0-based case indices of the first case after each change."""
    with open(root / "ground_truth.json", encoding="utf-8") as fh:
        data = json.load(fh)
    return {name: list(entry["change_points_case_index_0based"]) for name, entry in data.items()}


def load_in_file_order(path: Path) -> EncodedLog:
    """Encode an XES file with one case per ``<trace>``, in file order (trace names may repeat)."""
    table = read_xes(path).table
    names = table.column("case_id").combine_chunks().cast(pa.string()).to_numpy(zero_copy_only=False)
    new_trace = np.ones(len(names), dtype=bool)
    new_trace[1:] = names[1:] != names[:-1]
    trace = (np.cumsum(new_trace) - 1).astype(np.int32)
    table = table.set_column(table.column_names.index("case_id"), "case_id", pa.array(trace.astype(str)))
    return encode_log(table.append_column("case_index", pa.array(trace)), attributes=())
