"""Variants: the distinct activity sequences of a log and how many cases follow each.

Order: by count, descending; ties by first occurrence in the log's case order
(cases are stored in the order of their first event). Merging two summaries
(``a + b``) adds counts of equal sequences and takes ``b``'s cases to follow
``a``'s, so merging the consecutive partitions of a log in order gives
exactly the whole log's result, tie order included. Within a segment
(``count_variants_by``), ties are by first occurrence within the segment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.analyses.segments import case_segments, check_log
from engine.errors import AnalysisError
from engine.log.encode import EncodedLog


@dataclass(frozen=True)
class Variants:
    """Variants, most frequent first.

    ``first_case``: index of each variant's first case in case order;
    ``case_variant``: each case's index into ``sequences`` (None after a merge).
    """

    sequences: tuple[tuple[str, ...], ...]
    counts: np.ndarray
    n_cases: int
    first_case: np.ndarray
    case_variant: np.ndarray | None = None

    @property
    def n_variants(self) -> int:
        return len(self.sequences)

    def top(self, k: int | None = None) -> list[tuple[tuple[str, ...], int]]:
        k = self.n_variants if k is None else k
        return [(s, int(c)) for s, c in zip(self.sequences[:k], self.counts[:k])]

    def coverage(self, k: int) -> float:
        """Share of cases that follow one of the k most frequent variants."""
        return float(self.counts[:k].sum()) / self.n_cases if self.n_cases else 0.0

    def long_tail_share(self, k: int) -> float:
        """Share of cases outside the k most frequent variants."""
        return 1.0 - self.coverage(k) if self.n_cases else 0.0

    def variants_for_coverage(self, share: float) -> int:
        """Fewest variants that cover at least ``share`` of the cases."""
        if self.n_cases == 0:
            return 0
        cum = np.cumsum(self.counts)
        return int(np.searchsorted(cum, share * self.n_cases - 1e-9) + 1)

    def as_dict(self, k: int | None = None) -> dict:
        return {"n_cases": self.n_cases, "n_variants": self.n_variants,
                "variants": [{"activities": list(s), "count": c} for s, c in self.top(k)]}

    def __add__(self, other: "Variants") -> "Variants":
        totals: dict[tuple[str, ...], list[int]] = {}
        for s, c, f in zip(self.sequences, self.counts, self.first_case):
            totals[s] = [int(c), int(f)]
        for s, c, f in zip(other.sequences, other.counts, other.first_case):
            if s in totals:
                totals[s][0] += int(c)
            else:
                totals[s] = [int(c), self.n_cases + int(f)]
        seqs = list(totals)
        counts = np.array([totals[s][0] for s in seqs], dtype=np.int64)
        first = np.array([totals[s][1] for s in seqs], dtype=np.int64)
        order = np.lexsort((first, -counts))
        return Variants(tuple(seqs[i] for i in order), counts[order], self.n_cases + other.n_cases, first[order])


def _ordered(counts: np.ndarray) -> np.ndarray:
    """Variant ids by count descending, ties by id (= first occurrence)."""
    return np.argsort(-counts, kind="stable")


def _sequences(log: EncodedLog, first_case: np.ndarray) -> list[tuple[str, ...]]:
    from engine.kernels.variants import gather_sequences
    offsets, codes = gather_sequences(log.case_offsets, log.activity_codes, first_case.astype(np.int64))
    labels = np.array(log.activities, dtype=object)
    return [tuple(labels[codes[offsets[i]:offsets[i + 1]]]) for i in range(len(first_case))]


def assign_variants(log: EncodedLog) -> tuple[np.ndarray, np.ndarray]:
    """Variant id of every case (ids in order of first occurrence) and each variant's first case."""
    from engine.kernels.variants import assign_variants as _assign, hash_cases
    check_log(log)
    hashes = hash_cases(log.case_offsets, log.activity_codes)
    return _assign(log.case_offsets, log.activity_codes, hashes)


def count_variants(log: EncodedLog) -> Variants:
    """The variants of the whole log."""
    case_variant, first_case = assign_variants(log)
    counts = np.bincount(case_variant, minlength=len(first_case)).astype(np.int64)
    order = _ordered(counts)
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    seqs = _sequences(log, first_case[order])
    return Variants(tuple(seqs), counts[order], log.n_cases, first_case[order].astype(np.int64),
                    rank[case_variant])


def count_variants_by(log: EncodedLog, attribute: str) -> dict[str, Variants]:
    """Variants per segment of ``attribute`` (see engine.analyses.segments)."""
    seg, labels = case_segments(log, attribute)
    case_variant, first_case = assign_variants(log)
    nv = len(first_case)
    if nv and len(labels) * nv > 1 << 31:
        raise AnalysisError(f"Too many variants x segments to count by '{attribute}'", field=attribute)
    keep = seg >= 0
    pair = seg[keep].astype(np.int64) * nv + case_variant[keep]
    table = np.bincount(pair, minlength=len(labels) * nv).reshape(len(labels), nv) if nv else \
        np.zeros((len(labels), 0), dtype=np.int64)
    seqs = _sequences(log, first_case)
    # first case of each variant within each segment, as a segment-local case index
    seg_kept = seg[keep].astype(np.int64)
    before = np.concatenate(([0], np.cumsum(np.bincount(seg_kept, minlength=len(labels)))[:-1]))
    order = np.argsort(seg_kept, kind="stable")
    local = np.empty(len(seg_kept), dtype=np.int64)
    local[order] = np.arange(len(seg_kept)) - before[seg_kept[order]]
    first_in = np.full(len(labels) * nv, np.iinfo(np.int64).max, dtype=np.int64)
    pairs, first_at = np.unique(pair, return_index=True)
    first_in[pairs] = local[first_at]
    first_in = first_in.reshape(len(labels), nv) if nv else np.zeros((len(labels), 0), dtype=np.int64)
    out = {}
    for g, label in enumerate(labels):
        counts = table[g]
        present = np.flatnonzero(counts)
        order = present[np.lexsort((first_in[g, present], -counts[present]))]
        out[label] = Variants(tuple(seqs[v] for v in order), counts[order].astype(np.int64),
                              int(counts.sum()), first_in[g, order])
    return out
