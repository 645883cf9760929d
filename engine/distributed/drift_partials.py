"""Per-partition summaries for drift on Dask, and their exact merges (engine.distributed.drift runs them).

Every task encodes its partition with the activity codes of the whole log
(``activities``: the sorted union of every partition's labels, which is the
dictionary the single-machine encoding of the whole log has) and knows each
of its selected cases' *rank*: its position among the selected cases of the
whole log, the order the single-machine path analyses. Without a selection
the rank is the case's global position (``global_case_index``); with one,
it is found in the sorted global positions of every selected case
(``selected``, gathered by the catalogue pass).

- ``Catalogue``: labels (activities, the explanation attributes' values) and
  the selected cases' global positions (their count without a selection).
- ``UnitCounts``: per unit (a block of N contacts by rank, or the calendar
  day, week or month of the first event), the contacts, contacts with each
  edge and with each activity, SOP tokens, and the rank and start of the
  unit's first case: what the change-point search reads.
- ``CaseSample``: the cases (activity sequences, first-event times) whose
  ranks lie in given ranges: the units around a change, read contact by
  contact.
- ``StretchDetail``: per stretch between change points, the variants and,
  per value of each explanation attribute, the contacts and the contacts
  with each of the edges that moved.

With ``by`` (drift within each value of an attribute), every value is a log
of its own: its contacts in the whole log's order, the i-th being the
value's contact i (its *value rank*, found in the sorted ranks of the
value's contacts, ``ValueRanks``, gathered by the catalogue pass). The
units, sample and detail passes then return a ``PerValue``: the summary of
the whole log and one per value, each computed on the value's contacts
with their value ranks, so one pass serves the whole log and every value.
The units pass adds ``ValueVariants``: the whole log's variants with their
contacts per value, for comparing each value with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from engine.distributed.partials import encode_partition
from engine.errors import AnalysisError
from engine.log.encode import EncodedLog

ORDER_ERROR = "Calendar windows need cases in order of their first event, and these are not"
ORDER_HINT = "Use a window of N contacts, or re-ingest the log with cxmine ingest"


def _union(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted union of two sorted key arrays and where each one's keys land in it."""
    keys = np.union1d(a, b)
    return keys, np.searchsorted(keys, a), np.searchsorted(keys, b)


def _add_at(shape: tuple, parts: list[tuple[tuple, np.ndarray]]) -> np.ndarray:
    out = np.zeros(shape, dtype=np.int64)
    for index, values in parts:
        out[np.ix_(*index)] += values
    return out


def prepare_partition(path: str, where: dict | None, activities: tuple[str, ...], selected,
                      case_attributes: tuple[str, ...] = (), attributes: tuple[str, ...] = ()
                      ) -> tuple[EncodedLog, np.ndarray] | None:
    """The partition's selected cases, encoded with the whole log's activity codes, and their ranks."""
    encoded = encode_partition(path, where, attributes=attributes, case_attributes=case_attributes)
    if encoded is None or encoded[0].n_cases == 0:
        return None
    log, positions = encoded
    index = {a: i for i, a in enumerate(activities)}
    remap = np.array([index[a] for a in log.activities], dtype=np.int32)
    log = replace(log, activity_codes=remap[log.activity_codes] if len(remap) else log.activity_codes,
                  activities=activities)
    ranks = positions if selected is None else np.searchsorted(selected, positions).astype(np.int64)
    return log, ranks


def value_labels(labels) -> tuple[str, ...]:
    """An attribute's labels as a tuple of str (they may come as an Arrow array)."""
    return tuple(str(v) for v in (labels.to_pylist() if hasattr(labels, "to_pylist") else labels))


def _runs(keys: np.ndarray) -> np.ndarray:
    """Offsets (int64[R+1]) of the runs of equal consecutive keys."""
    cuts = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    return np.concatenate(([0], cuts, [len(keys)])).astype(np.int64)


def _merge(a, b):
    """``a + b`` with None (nothing in a partition) as the identity."""
    return b if a is None else a if b is None else a + b


@dataclass(frozen=True)
class ValueRanks:
    """Per value of the ``by`` attributes (key: (attribute, value)), the sorted ranks of its selected contacts."""

    keys: tuple[tuple[str, str], ...]
    ranks: tuple[np.ndarray, ...]

    def attributes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a for a, _ in self.keys))


def value_groups(log: EncodedLog, ranks: np.ndarray, values: ValueRanks | None, wanted=None):
    """(key, index of the key, case mask, value ranks) of each value of ``values`` the partition's cases hold
    (only the keys in ``wanted`` when given)."""
    if values is None:
        return
    lookup = {k: i for i, k in enumerate(values.keys)}
    for name in values.attributes():
        codes, labels = log.case_attributes[name]
        labels = value_labels(labels)
        for code in np.unique(codes[codes >= 0]):
            key = (name, labels[code])
            if wanted is not None and key not in wanted:
                continue
            i = lookup[key]
            mask = codes == code
            own = np.searchsorted(values.ranks[i], ranks[mask]).astype(np.int64)
            if np.any(own >= len(values.ranks[i])) or np.any(values.ranks[i][np.minimum(own, len(values.ranks[i]) - 1)]
                                                              != ranks[mask]):
                raise AnalysisError(f"The contacts of {name} {labels[code]} are not all known (internal error)")
            yield key, i, mask, own


@dataclass(frozen=True)
class PerValue:
    """A pass's summary of the whole log (``whole``, None when not asked for or empty) and of each value of
    ``by`` (``values``: key -> summary), and with the units pass the variants per value."""

    whole: object
    values: dict
    variants: "ValueVariants | None" = None

    def __add__(self, other: "PerValue") -> "PerValue":
        values = dict(self.values)
        for key, part in other.values.items():
            values[key] = _merge(values.get(key), part)
        return PerValue(_merge(self.whole, other.whole), values, _merge(self.variants, other.variants))


def _merge_variant_table(a: dict, b: dict) -> dict:
    """Merge {sequence: (first rank, counts)} tables: smallest first rank, counts added."""
    out = dict(a)
    for seq, (first, counts) in b.items():
        old = out.get(seq)
        out[seq] = (first, counts) if old is None else (min(old[0], first), old[1] + counts)
    return out


@dataclass(frozen=True)
class ValueVariants:
    """The whole (selected) log's variants: sequence -> (first rank, contacts per value of ``ValueRanks.keys``)."""

    table: dict[tuple[int, ...], tuple[int, np.ndarray]]

    def __add__(self, other: "ValueVariants") -> "ValueVariants":
        return ValueVariants(_merge_variant_table(self.table, other.table))


def _variant_table(log: EncodedLog, ranks: np.ndarray, cases: np.ndarray, columns: np.ndarray,
                   n_columns: int) -> dict[tuple[int, ...], tuple[int, np.ndarray]]:
    """{sequence: (first rank, int64[n_columns] contacts)}: every variant of the partition, with each contact
    ``cases[i]`` counted in column ``columns[i]`` (a contact may be listed in several columns, or none)."""
    from engine.analyses.variants import assign_variants
    from engine.kernels.variants import gather_sequences
    case_variant, first_case = assign_variants(log)
    nv = len(first_case)
    table = np.bincount(case_variant[cases].astype(np.int64) * n_columns + columns, minlength=nv * n_columns)
    table = table.reshape(nv, n_columns).astype(np.int64)
    offsets, codes = gather_sequences(log.case_offsets, log.activity_codes, first_case.astype(np.int64))
    return {tuple(codes[offsets[v]:offsets[v + 1]].tolist()): (int(ranks[first_case[v]]), table[v].copy())
            for v in range(nv)}


# --- catalogue ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Catalogue:
    n_cases: int
    positions: np.ndarray | None  # sorted global positions of the selected cases (None without a selection)
    activities: frozenset
    values: dict[str, frozenset]
    by_positions: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  # per value of ``by``, sorted

    def __add__(self, other: "Catalogue") -> "Catalogue":
        positions = None if self.positions is None else np.union1d(self.positions, other.positions)
        names = dict.fromkeys(list(self.values) + list(other.values))
        by_positions = dict(self.by_positions)
        for key, p in other.by_positions.items():
            by_positions[key] = np.union1d(by_positions[key], p) if key in by_positions else p
        return Catalogue(self.n_cases + other.n_cases, positions, self.activities | other.activities,
                         {n: self.values.get(n, frozenset()) | other.values.get(n, frozenset()) for n in names},
                         by_positions)


def catalogue_partition(path: str, where: dict | None, case_attributes: tuple[str, ...],
                        positions: bool = False, by: tuple[str, ...] = ()) -> Catalogue | None:
    """The partition's labels, (with a selection, or with ``positions``) its selected cases' global
    positions, and the selected cases' global positions per value of each attribute of ``by``.

    The labels are those of every case of the partition, selected or not: the single-machine path selects
    after encoding the whole log, so its dictionaries hold the values of unselected contacts too."""
    from engine.log.select import WEEK, cases_where, select_cases
    wanted = tuple(a for a in (where or {}) if a != WEEK)
    encoded = encode_partition(path, None, attributes=(), case_attributes=tuple(dict.fromkeys(case_attributes + wanted)))
    if encoded is None:
        return None
    log, global_positions = encoded
    values = {n: frozenset(value_labels(log.case_attributes[n][1])) for n in case_attributes if n in log.case_attributes}
    if where:
        keep = cases_where(log, where)
        log, global_positions = select_cases(log, keep), global_positions[keep]
    kept = np.sort(global_positions) if where or positions else None
    by_positions = {}
    for name in by:
        if name not in log.case_attributes:
            continue
        codes, labels = log.case_attributes[name]
        labels = value_labels(labels)
        for code in np.unique(codes[codes >= 0]):
            by_positions[(name, labels[code])] = np.sort(global_positions[codes == code])
    return Catalogue(log.n_cases, kept, frozenset(log.activities), values, by_positions)


# --- units --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UnitCounts:
    """Counts per unit (rows, by ``keys``) and per edge (columns, by ``edge_keys``), int64.

    The contacts with each edge per unit are kept as their cells that are not 0: most edges are rare, and
    a few percent of the unit x edge cells hold a contact (a tenth of the dense array's bytes)."""

    keys: np.ndarray
    cases: np.ndarray
    edge_keys: np.ndarray
    edge_cells: tuple[np.ndarray, np.ndarray, np.ndarray]  # the cells of [U, F] that are not 0: row, column, count
    activities: np.ndarray  # [U, A]
    tokens: np.ndarray | None  # [U, 5]: missing, consumed, remaining, produced, fitting contacts
    first_rank: np.ndarray
    first_start: np.ndarray
    last_rank: np.ndarray

    def __add__(self, other: "UnitCounts") -> "UnitCounts":
        keys, ia, ib = _union(self.keys, other.keys)
        ekeys, fa, fb = _union(self.edge_keys, other.edge_keys)
        n, f, a = len(keys), len(ekeys), self.activities.shape[1]
        all_a = np.arange(a)
        first_rank = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        first_start = np.zeros(n, dtype=np.int64)
        last_rank = np.full(n, -1, dtype=np.int64)
        for idx, part in ((ia, self), (ib, other)):
            earlier = part.first_rank < first_rank[idx]
            first_rank[idx[earlier]], first_start[idx[earlier]] = part.first_rank[earlier], part.first_start[earlier]
            last_rank[idx] = np.maximum(last_rank[idx], part.last_rank)
        tokens = None if self.tokens is None else \
            _add_at((n, 5), [((ia, np.arange(5)), self.tokens), ((ib, np.arange(5)), other.tokens)])
        cells = _sum_cells(f, (ia[self.edge_cells[0]], fa[self.edge_cells[1]], self.edge_cells[2]),
                           (ib[other.edge_cells[0]], fb[other.edge_cells[1]], other.edge_cells[2]))
        return UnitCounts(keys, _add_at((n,), [((ia,), self.cases), ((ib,), other.cases)]), ekeys, cells,
                          _add_at((n, a), [((ia, all_a), self.activities), ((ib, all_a), other.activities)]),
                          tokens, first_rank, first_start, last_rank)

    @property
    def edges(self) -> np.ndarray:
        """int64[U, F]: contacts with each edge per unit."""
        rows, columns, counts = self.edge_cells
        out = np.zeros((len(self.keys), len(self.edge_keys)), dtype=np.int64)
        out[rows, columns] = counts
        return out


def _cells(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cells of a 2-d count array that are not 0, as (row, column, count)."""
    rows, columns = np.nonzero(dense)
    return rows.astype(np.int32), columns.astype(np.int32), dense[rows, columns].astype(np.int64)


def _sum_cells(n_columns: int, *parts: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray, ...]:
    """Cells (row, column, count) of several sparse arrays on the same grid, added cell by cell."""
    cell = np.concatenate([r.astype(np.int64) * n_columns + c for r, c, _ in parts])
    counts = np.concatenate([v for _, _, v in parts])
    order = np.argsort(cell, kind="stable")
    cell, counts = cell[order], counts[order]
    first = np.flatnonzero(np.concatenate(([True], cell[1:] != cell[:-1]))) if len(cell) else \
        np.zeros(0, dtype=np.int64)
    counts = np.add.reduceat(counts, first) if len(cell) else counts
    rows, columns = np.divmod(cell[first], n_columns)
    return rows.astype(np.int32), columns.astype(np.int32), counts.astype(np.int64)


def unit_keys(log: EncodedLog, ranks: np.ndarray, unit: tuple) -> np.ndarray:
    """int64 unit key of every case: rank // N for ``("block", N)``; the UTC ns start of the calendar period
    of its first event for ``("calendar", window, zone)``."""
    if unit[0] == "block":
        return ranks // unit[1]
    from engine.analyses.drift import _period_starts, case_starts
    starts = case_starts(log)
    if np.any(np.diff(starts) < 0):
        raise AnalysisError(ORDER_ERROR, hint=ORDER_HINT)
    bounds = np.asarray(_period_starts(int(starts[0]), int(starts[-1]), unit[1], unit[2]), dtype=np.int64)
    return bounds[np.searchsorted(bounds, starts, side="right") - 1]


def sop_tokens_of(log: EncodedLog, sop_path: str | None) -> np.ndarray | None:
    if sop_path is None:
        return None
    from engine.analyses.drift import sop_tokens
    from engine.model import load_sop
    return sop_tokens(log, load_sop(sop_path))


def _count_units(log: EncodedLog, ranks: np.ndarray, unit: tuple, tokens: np.ndarray | None) -> UnitCounts:
    from engine.analyses.drift import case_starts
    from engine.kernels.drift import count_windows, edge_keys_present
    keys = unit_keys(log, ranks, unit)
    offsets = _runs(keys)
    n_act = len(log.activities)
    edge_keys = edge_keys_present(log.case_offsets, log.activity_codes, n_act)
    edges, _, acts, _, _ = count_windows(log.case_offsets, log.activity_codes, offsets, edge_keys, n_act)
    if tokens is not None:
        tokens = np.add.reduceat(tokens, offsets[:-1], axis=0).astype(np.int64)
    first = offsets[:-1]
    return UnitCounts(keys[first], np.diff(offsets), edge_keys, _cells(edges), acts, tokens, ranks[first],
                      case_starts(log)[first], ranks[offsets[1:] - 1])


def count_partition_units(path: str, where: dict | None, activities: tuple[str, ...], selected, unit: tuple,
                          sop_path: str | None = None, values: ValueRanks | None = None,
                          value_units: dict | None = None) -> UnitCounts | PerValue | None:
    """Unit counts of the partition's selected cases; with ``values`` (``by``), a PerValue: those, each
    value's own unit counts (its contacts by value rank, cut by ``value_units[key]``) and the variants'
    contacts per value."""
    from engine.log.select import select_cases
    prepared = prepare_partition(path, where, activities, selected, () if values is None else values.attributes())
    if prepared is None:
        return None
    log, ranks = prepared
    tokens = sop_tokens_of(log, sop_path)
    whole = _count_units(log, ranks, unit, tokens)
    if values is None:
        return whole
    per_value, cases, columns = {}, [], []
    for key, i, mask, own in value_groups(log, ranks, values):
        per_value[key] = _count_units(select_cases(log, mask), own, value_units[key],
                                      None if tokens is None else tokens[mask])
        cases.append(np.flatnonzero(mask))
        columns.append(np.full(len(cases[-1]), i, dtype=np.int64))
    table = _variant_table(log, ranks, np.concatenate(cases) if cases else np.zeros(0, np.int64),
                           np.concatenate(columns) if columns else np.zeros(0, np.int64), len(values.keys))
    return PerValue(whole, per_value, ValueVariants(table))


# --- case samples -------------------------------------------------------------------------------

@dataclass(frozen=True)
class CaseSample:
    """Cases by rank: their activity sequences (CSR, the whole log's codes) and first-event times."""

    ranks: np.ndarray
    lengths: np.ndarray
    codes: np.ndarray
    starts: np.ndarray

    def __add__(self, other: "CaseSample") -> "CaseSample":
        return CaseSample(*(np.concatenate([x, y]) for x, y in zip(
            (self.ranks, self.lengths, self.codes, self.starts), (other.ranks, other.lengths, other.codes,
                                                                  other.starts))))

    def in_order(self) -> "CaseSample":
        order = np.argsort(self.ranks, kind="stable")
        offsets = np.concatenate(([0], np.cumsum(self.lengths))).astype(np.int64)
        events = np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in order]) if len(order) else \
            np.zeros(0, dtype=np.int64)
        return CaseSample(self.ranks[order], self.lengths[order], self.codes[events], self.starts[order])

    def log(self, activities: tuple[str, ...], lo: int, hi: int) -> EncodedLog:
        """The sampled cases of ranks [lo, hi) (all sampled, in order) as an encoded log."""
        a, b = np.searchsorted(self.ranks, [lo, hi])
        offsets = np.concatenate(([0], np.cumsum(self.lengths))).astype(np.int64)
        case_offsets = offsets[a:b + 1] - offsets[a]
        codes = self.codes[offsets[a]:offsets[b]]
        return EncodedLog(case_offsets, codes, np.zeros(len(codes), dtype=np.int64), activities)


def _sample(log: EncodedLog, ranks: np.ndarray, ranges) -> CaseSample | None:
    from engine.analyses.drift import case_starts
    from engine.log.select import select_cases
    keep = np.zeros(log.n_cases, dtype=bool)
    for lo, hi in ranges:
        keep |= (ranks >= lo) & (ranks < hi)
    if not keep.any():
        return None
    sub = select_cases(log, keep)
    return CaseSample(ranks[keep], np.diff(sub.case_offsets), sub.activity_codes.astype(np.int32), case_starts(sub))


def sample_partition_cases(path: str, where: dict | None, activities: tuple[str, ...], selected,
                           ranges: list[tuple[int, int]], values: ValueRanks | None = None,
                           value_ranges: dict | None = None) -> CaseSample | PerValue | None:
    """The cases whose ranks lie in ``ranges``; with ``values``, a PerValue with, per value, the value's
    cases whose value ranks lie in ``value_ranges[key]``."""
    from engine.log.select import select_cases
    prepared = prepare_partition(path, where, activities, selected, () if values is None else values.attributes())
    if prepared is None:
        return None
    log, ranks = prepared
    whole = _sample(log, ranks, ranges)
    if values is None:
        return whole
    per_value = {key: _sample(select_cases(log, mask), own, value_ranges[key])
                 for key, _, mask, own in value_groups(log, ranks, values, wanted=value_ranges)}
    return PerValue(whole, {k: v for k, v in per_value.items() if v is not None})


# --- stretches between change points ------------------------------------------------------------

@dataclass(frozen=True)
class StretchDetail:
    """Per stretch j (cases of ranks [cuts[j], cuts[j+1])): variants, and per attribute value contacts and
    contacts with each edge of ``edge_keys``."""

    variants: dict[tuple[int, ...], tuple[int, np.ndarray]]  # sequence -> (first rank, contacts per stretch)
    values: dict[str, tuple[tuple[str, ...], np.ndarray, np.ndarray]]  # name -> (labels, [J, V], [J, V, F])
    kpis: np.ndarray | None = None  # [J, measures]: KPI sums of each stretch (engine.analyses.kpis.KpiSummary)

    def __add__(self, other: "StretchDetail") -> "StretchDetail":
        variants = _merge_variant_table(self.variants, other.variants)
        values = dict(self.values)
        for name, (labels, cases, edges) in other.values.items():
            if name in values:
                values[name] = (labels, values[name][1] + cases, values[name][2] + edges)
            else:
                values[name] = (labels, cases, edges)
        return StretchDetail(variants, values, None if self.kpis is None else self.kpis + other.kpis)


KPI_ATTRIBUTES = ("owner", "queue", "channel")  # per event, as ``cxmine drift --kpis`` encodes the log


def _stretch_kpis(log: EncodedLog, stretch: np.ndarray, n_stretch: int) -> np.ndarray:
    """KPI sums of the contacts of each stretch, repeat contacts linked within the stretch: exact per
    partition, as a partition holds every contact of its customers (engine.log.partitions)."""
    from engine.analyses.kpis import compute_kpis
    from engine.kernels.kpis import MEASURES
    from engine.log.select import select_cases
    out = np.zeros((n_stretch, len(MEASURES)), dtype=np.int64)
    for j in np.unique(stretch):
        out[j] = compute_kpis(select_cases(log, stretch == j)).overall.totals
    return out


def _detail(log: EncodedLog, ranks: np.ndarray, cuts: np.ndarray, edge_keys: np.ndarray,
            labels: dict[str, tuple[str, ...]], kpis: bool = False) -> StretchDetail:
    from engine.kernels.drift import cases_with_edges
    n_stretch = len(cuts) - 1
    stretch = np.searchsorted(cuts, ranks, side="right") - 1
    variants = _variant_table(log, ranks, np.arange(log.n_cases, dtype=np.int64), stretch.astype(np.int64), n_stretch)
    has = cases_with_edges(log.case_offsets, log.activity_codes, edge_keys, len(log.activities)).astype(np.int64)
    values = {}
    for name, wanted in labels.items():
        if name not in log.case_attributes:
            continue
        own, own_labels = log.case_attributes[name]
        index = {v: i for i, v in enumerate(wanted)}
        remap = np.array([index[v] for v in value_labels(own_labels)] + [-1], dtype=np.int64)
        value = remap[own]  # code -1 (no value) stays -1 through the appended entry
        ok = value >= 0
        group = stretch[ok] * len(wanted) + value[ok]
        cases = np.bincount(group, minlength=n_stretch * len(wanted)).reshape(n_stretch, len(wanted))
        edges = np.zeros((n_stretch * len(wanted), len(edge_keys)), dtype=np.int64)
        np.add.at(edges, group, has[ok])
        values[name] = (tuple(wanted), cases.astype(np.int64), edges.reshape(n_stretch, len(wanted), -1))
    return StretchDetail(variants, values, _stretch_kpis(log, stretch, n_stretch) if kpis else None)


def detail_partition_stretches(path: str, where: dict | None, activities: tuple[str, ...], selected,
                               cuts: np.ndarray | None, edge_keys: np.ndarray | None,
                               labels: dict[str, tuple[str, ...]], values: ValueRanks | None = None,
                               value_stretches: dict | None = None, kpis: bool = False
                               ) -> StretchDetail | PerValue | None:
    """Per stretch between the ranks ``cuts``: variants, and per value of each attribute of ``labels`` the
    contacts and contacts with each edge of ``edge_keys``; with ``kpis``, the KPI sums of each stretch.
    With ``values``, a PerValue with that for the whole log (when ``cuts`` is given) and for each value of
    ``value_stretches`` (key -> (cuts in value ranks, edge keys)), the value's own attribute left out of its
    labels, without KPIs."""
    from engine.log.select import select_cases
    by = () if values is None else values.attributes()
    per_case = tuple(dict.fromkeys(tuple(labels) + by + (("customer_id",) if kpis else ())))
    prepared = prepare_partition(path, where, activities, selected, per_case, KPI_ATTRIBUTES if kpis else ())
    if prepared is None:
        return None
    log, ranks = prepared
    whole = None if cuts is None else _detail(log, ranks, cuts, edge_keys, labels, kpis)
    if values is None:
        return whole
    per_value = {}
    for key, _, mask, own in value_groups(log, ranks, values, wanted=value_stretches):
        value_cuts, keys = value_stretches[key]
        per_value[key] = _detail(select_cases(log, mask), own, value_cuts, keys,
                                 {n: v for n, v in labels.items() if n != key[0]})
    return PerValue(whole, per_value)
