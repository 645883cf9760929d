"""Drift: when execution changed, with a stated false-alarm control, and what changed.

Method (decisions and why)
--------------------------
Features. Each contact is described by the directly-follows edges it contains
(with a start and an end marker, so a changed first or last step shows), as
presence per contact: "the share of contacts with Agent answer -> Verify
identity". Presence, not occurrence counts, keeps contacts the independent
units the test assumes (a loop repeated ten times in one contact is one
contact). Activities and variants are used to explain a change, not to find
it: a changed step, order or routing share moves at least one edge.

Windows. The log's cases, in their canonical order (first event, ties by input
order), are cut into units: blocks of ``window`` contacts, or calendar days,
weeks (Monday) or months of the contact's start in the log's time zone. One
numba pass (``engine.kernels.drift``) counts, per unit, the contacts with each
edge and each activity. ``window="auto"`` uses blocks of
``ceil(n_cases / 2,000)`` contacts (at most 2,000 units keep the search
fast; the change is then located contact by contact, see Localisation).

Detection: seeded binary segmentation with a two-sample G-test. The units are
covered by seeded intervals (Kovacs, Li, Buhlmann, Haubner and Munk,
Biometrika 2023): the whole log, then halves, quarters, ... each overlapping
the next by half, down to intervals that can hold ``min_cases`` contacts on
each side. In every interval, each split with at least ``min_cases`` contacts
on each side is scored by the largest 2x2 G statistic (contacts with /
without an edge, before / after) over the edges seen in at least 5 contacts
and missing from at least 5, counting only edges whose share moved by an
effect size |h| >= ``min_effect`` (Cohen's h, the difference of
arcsine-square-root shares: at 10 million contacts any shift is
"significant"; 0.1 is half of Cohen's "small"). Each interval's best split is
a candidate; candidates are taken most significant first while their p-value
(chi-square, 1 degree of freedom), multiplied by the number of (interval,
split, edge) triples tested in the whole log, stays below ``alpha``. A
candidate whose interval reaches within ``guard`` contacts of a change
already taken is skipped: real changes roll out over some contacts (the
published logs take 50-100 cases to switch) and the tail of a transition
would otherwise read as a second change. Short intervals find a change that
is short next to the log's length, which one split of the whole log dilutes.

False-alarm control. The Bonferroni factor counts every test made on the log,
so on a log without change (contacts independent with one distribution) the
probability of reporting any change point is at most ``alpha``, whatever the
log's length and whatever the dependence between edges and overlapping
intervals. ``alpha = 0.001`` keeps stationary logs far below the target of
one false change point per 100,000 contacts. The chi-square tail is an
approximation; edges rarer than 5 contacts on either side are not tested,
where it is poor. What the test cannot tell from a change is a log that is
not stationary by nature: a mix of intents that differs between weekdays and
weekends, or a simulator's warm-up, is real drift to it; weeks as windows
(``window="week"``) average the weekly cycle out.

Localisation. The split maximising the G statistic is the maximum-likelihood
change position within its interval. With units of several contacts, the two
units around the best boundary are rescanned contact by contact on the edges
that moved, so the case index is exact whatever the window.

Parameters (one setting for every log): ``alpha=0.001``, ``min_cases=100``,
``guard=100``, ``min_effect=0.1``. On the 13 published logs
(``benchmarks/bench_drift.py``) this setting gives F1 1.00 at lag 200 with a
mean delay of 48.7 cases.

Explanation. For each change point, the contacts since the previous change
and those up to the next are counted exactly (one kernel pass) and compared:
edges, activities and variants ranked by |h| with counts and shares before
and after and a Bonferroni-adjusted G-test p-value; and, for the edges that
moved, the segment values (team, site, shift, channel, queue) holding most of
the change, narrowest first ("team B" rather than the site team B works in).
With an SOP, the token-replay fitness before and after.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from engine.errors import AnalysisError
from engine.log.encode import EncodedLog

WINDOWS = ("auto", "day", "week", "month")
EXPLAIN_ATTRIBUTES = ("team", "site", "shift", "channel", "queue")
AUTO_UNITS = 2_000
MIN_TESTED = 5  # an edge is tested when at least this many contacts have it and lack it
START, END = "(start)", "(end)"


@dataclass(frozen=True)
class DriftSettings:
    """The method's parameters; the defaults are the one setting used for every log."""

    window: int | str = "auto"
    alpha: float = 0.001
    min_cases: int = 100
    guard: int = 100
    min_effect: float = 0.1
    top: int = 5

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Change:
    """One edge, activity or variant whose share of contacts moved at a change point."""

    kind: str
    label: str
    cases_before: int
    share_before: float
    cases_after: int
    share_after: float
    effect: float
    p_value: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SegmentShift:
    """Where a change happened: one attribute value, how much of the change lies in it.

    ``moved`` estimates the contacts of this value whose edges changed (the
    sum over the most-moved edges of |share after - share before| times the
    value's contacts after); ``share_of_change`` is that over the same sum for
    the whole log. ``edge`` is the value's most-moved edge with its shares.
    """

    attribute: str
    value: str
    cases_before: int
    cases_after: int
    moved: float
    share_of_change: float
    edge: str
    share_before: float
    share_after: float
    effect: float
    p_value: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ChangePoint:
    case_index: int
    timestamp: str | None
    confidence: float
    p_value: float
    statistic: float
    cases_before: int
    cases_after: int
    changes: tuple[Change, ...]
    where: tuple[SegmentShift, ...] = ()
    fitness: dict | None = None  # with an SOP: token-replay fitness and share of fitting contacts, before/after
    kpis: dict | None = None  # with kpis=True: each KPI before and after (engine.analyses.kpis)

    def summary(self) -> str:
        """One line a person reads: when, what moved most, where."""
        when = self.timestamp or f"case {self.case_index:,}"
        text = f"from {when} (case {self.case_index:,})"
        shown = [c for kind in ("activity", "edge") for c in self.changes if c.kind == kind][:1]
        shown += [c for c in self.changes if c.kind == "edge" and c not in shown][:1]
        if shown:
            text += ": " + "; ".join(f"{c.kind} '{c.label}' in {c.share_before:.1%} -> {c.share_after:.1%} of contacts"
                                     for c in shown)
        if self.where:
            w = self.where[0]
            text += (f"; {w.share_of_change:.0%} of the change in {w.attribute} {w.value} "
                     f"('{w.edge}' {w.share_before:.1%} -> {w.share_after:.1%})")
        if self.fitness:
            f = self.fitness
            text += (f"; fitness to the SOP {f['fitness_before']:.3f} -> {f['fitness_after']:.3f}, fitting contacts "
                     f"{f['fitting_before']:.1%} -> {f['fitting_after']:.1%}")
        return text

    def as_dict(self) -> dict:
        return {"case_index": self.case_index, "timestamp": self.timestamp, "confidence": self.confidence,
                "p_value": self.p_value, "statistic": self.statistic, "cases_before": self.cases_before,
                "cases_after": self.cases_after, "summary": self.summary(),
                "changes": [c.as_dict() for c in self.changes], "where": [w.as_dict() for w in self.where],
                "fitness": self.fitness, "kpis": self.kpis}


@dataclass(frozen=True)
class DriftSeries:
    """The drift statistic and the shares of the most-moved edges, window by window (for charts and CSV)."""

    first_case: np.ndarray
    cases: np.ndarray
    starts: tuple[str | None, ...]
    statistic: np.ndarray
    threshold: float
    shares: dict[str, np.ndarray]
    fitness: np.ndarray | None = None  # token-replay fitness to the SOP per window, with an SOP

    def as_rows(self) -> list[list]:
        labels = list(self.shares)
        extra = [] if self.fitness is None else [self.fitness]
        return [[i, int(self.first_case[i]), int(self.cases[i]), self.starts[i], float(self.statistic[i])]
                + [float(self.shares[k][i]) for k in labels] + [float(x[i]) for x in extra]
                for i in range(len(self.cases))]


@dataclass(frozen=True)
class SegmentDrift:
    """One value of the ``by`` attribute: its own change points and how it differs from the rest of the log."""

    attribute: str
    value: str
    n_cases: int
    change_points: tuple[ChangePoint, ...]
    comparison: object = None  # engine.analyses.segment_comparison.SegmentComparison

    def as_dict(self) -> dict:
        return {"attribute": self.attribute, "value": self.value, "n_cases": self.n_cases,
                "change_points": [c.as_dict() for c in self.change_points],
                "comparison": None if self.comparison is None else self.comparison.as_dict()}


@dataclass(frozen=True)
class DriftResult:
    n_cases: int
    window: str
    timezone: str
    settings: DriftSettings
    change_points: tuple[ChangePoint, ...]
    series: DriftSeries
    segments: tuple[SegmentDrift, ...] = field(default=())

    def as_dict(self) -> dict:
        data = {"n_cases": self.n_cases, "window": self.window, "timezone": self.timezone,
                "parameters": self.settings.as_dict(), "method": "seeded binary segmentation, 2x2 G-test on "
                "edge presence, Bonferroni over every test",
                "change_points": [c.as_dict() for c in self.change_points]}
        if self.segments:
            data["segments"] = [s.as_dict() for s in self.segments]
        return data


# --- statistics ---------------------------------------------------------------------------------

def _xlogx(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0.0)


def g_statistic(k_before, n_before, k_after, n_after) -> np.ndarray:
    """2x2 G statistic (likelihood ratio) of k of n contacts before against k of n after; broadcasts."""
    kb, nb, ka, na = (np.asarray(v, dtype=np.float64) for v in (k_before, n_before, k_after, n_after))
    n, k = nb + na, kb + ka
    g = 2.0 * (_xlogx(kb) + _xlogx(nb - kb) + _xlogx(ka) + _xlogx(na - ka)
               - _xlogx(nb) - _xlogx(na) - _xlogx(k) - _xlogx(n - k) + _xlogx(n))
    return np.maximum(g, 0.0)


def chi2_log_sf(g: np.ndarray | float) -> np.ndarray:
    """log P(chi-square with 1 degree of freedom > g), accurate far into the tail."""
    from scipy.stats import chi2
    return chi2.logsf(g, 1)


def effect_size(share_before, share_after) -> np.ndarray:
    """Cohen's h, signed (after minus before)."""
    return 2.0 * np.arcsin(np.sqrt(share_after)) - 2.0 * np.arcsin(np.sqrt(share_before))


# --- windows ------------------------------------------------------------------------------------

def _zone(timezone: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise AnalysisError(f"Unknown time zone '{timezone}'", field="timezone",
                            hint="Give an IANA name such as Europe/Lisbon") from exc


def _period_starts(first_ns: int, last_ns: int, window: str, zone: ZoneInfo) -> list[int]:
    """UTC ns of the local starts of every day, week (Monday) or month from the first to the last case."""
    first = datetime.fromtimestamp(first_ns / 1e9, zone)
    day = first.replace(hour=0, minute=0, second=0, microsecond=0)
    if window == "week":
        day -= timedelta(days=day.weekday())
    elif window == "month":
        day = day.replace(day=1)
    out = []
    while True:
        start = datetime(day.year, day.month, day.day, tzinfo=zone)
        ns = int(start.timestamp()) * 10**9
        if ns > last_ns:
            break
        out.append(ns)
        if window == "day":
            day += timedelta(days=1)
        elif window == "week":
            day += timedelta(days=7)
        else:
            day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return out


def iso_time(ns: int, zone: ZoneInfo) -> str:
    """ISO 8601 with the zone's offset, to the second."""
    return datetime.fromtimestamp(ns // 10**9, zone).isoformat()


def case_starts(log: EncodedLog) -> np.ndarray:
    """int64 ns of each case's first event (events are stored in time order within a case)."""
    offsets = log.case_offsets
    starts = np.full(log.n_cases, np.iinfo(np.int64).min, dtype=np.int64)
    nonempty = offsets[1:] > offsets[:-1]
    starts[nonempty] = log.timestamps[offsets[:-1][nonempty]]
    return starts


def window_offsets(log: EncodedLog, window: int | str, zone: ZoneInfo) -> tuple[np.ndarray, str]:
    """First case of every unit (int64[U+1]) and the window's name."""
    n = log.n_cases
    if isinstance(window, str) and window.isdigit():
        window = int(window)
    if window == "auto":
        window = max(1, math.ceil(n / AUTO_UNITS))
    if isinstance(window, int) and not isinstance(window, bool):
        if window < 1:
            raise AnalysisError(f"A window of {window} contacts is not possible", field="window",
                                hint="Give a window of 1 or more")
        return np.append(np.arange(0, n, window, dtype=np.int64), n), f"{window} contact{'s' if window > 1 else ''}"
    if window not in WINDOWS:
        raise AnalysisError(f"Unknown window '{window}' (valid: a number of contacts, {', '.join(WINDOWS[1:])})",
                            field="window")
    starts = case_starts(log)
    if np.any(np.diff(starts) < 0):
        raise AnalysisError("Calendar windows need cases in order of their first event, and these are not",
                            hint="Use a window of N contacts, or re-ingest the log with cxmine ingest")
    bounds = _period_starts(int(starts[0]), int(starts[-1]), window, zone)
    cuts = np.searchsorted(starts, np.asarray(bounds[1:], dtype=np.int64), side="left")
    return np.concatenate(([0], cuts, [n])).astype(np.int64), window


def unit_starts(log: EncodedLog, offsets: np.ndarray, window: str, zone: ZoneInfo) -> tuple[str | None, ...]:
    """Start of every unit, ISO 8601: the local start of a calendar period (day, week, month), or the first
    contact's start for a block of contacts (None for an empty block)."""
    starts = case_starts(log)
    if window in WINDOWS[1:] and log.n_cases:
        bounds = _period_starts(int(starts[0]), int(starts[-1]), window, zone)
        return tuple(iso_time(b, zone) for b in bounds)
    return tuple(iso_time(int(starts[a]), zone) if b > a else None for a, b in zip(offsets[:-1], offsets[1:]))


# --- detection ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Counts:
    """Per-unit counts as prefix sums: contacts, contacts with each edge, contacts with each activity."""

    offsets: np.ndarray  # int64[U+1]: first case of each unit
    edge_keys: np.ndarray  # int64[F]
    edges: np.ndarray  # int64[U+1, F]
    activities: np.ndarray  # int64[U+1, A]

    def cases(self, a: int, b: int) -> int:
        return int(self.offsets[b] - self.offsets[a])


def count_units(log: EncodedLog, offsets: np.ndarray) -> _Counts:
    """One kernel pass: contacts with each edge and each activity per unit, as prefix sums."""
    from engine.kernels.drift import count_windows, edge_keys_present
    n_act = len(log.activities)
    keys = edge_keys_present(log.case_offsets, log.activity_codes, n_act)
    edge_cases, _, act_cases, _, _ = count_windows(log.case_offsets, log.activity_codes, offsets, keys, n_act)

    def prefix(x: np.ndarray) -> np.ndarray:
        return np.vstack([np.zeros((1, x.shape[1]), np.int64), np.cumsum(x, axis=0)])

    return _Counts(offsets, keys, prefix(edge_cases), prefix(act_cases))


@dataclass(frozen=True)
class _Split:
    a: int  # the interval of units searched: [a, b)
    b: int
    unit: int  # unit boundary index of the best split
    case: int  # the first case after the change
    statistic: float
    log_sf: float  # natural log of the chi-square tail of the statistic (unadjusted)
    tests: int  # edges tested times splits tried in the interval
    features: np.ndarray  # edges ordered by G at the split, most moved first


def _scan(kb: np.ndarray, nb: np.ndarray, total: np.ndarray, n: int, min_effect: float) -> np.ndarray:
    """G per (split, edge), zero where the edge's share moved by less than ``min_effect``."""
    ka = total[None, :] - kb
    na = n - nb
    g = g_statistic(kb, nb[:, None], ka, na[:, None])
    h = effect_size(kb / nb[:, None], ka / na[:, None])
    g[np.abs(h) < min_effect] = 0.0
    return g


def _best_split(c: _Counts, a: int, b: int, s: DriftSettings) -> _Split | None:
    """The best split of units [a, b) and its adjusted p-value, or None when no split is allowed."""
    n_cum = c.offsets
    splits = np.arange(a + 1, b)
    nb = (n_cum[splits] - n_cum[a]).astype(np.float64)
    n = float(n_cum[b] - n_cum[a])
    splits, nb = splits[(nb >= s.min_cases) & (n - nb >= s.min_cases)], nb[(nb >= s.min_cases) & (n - nb >= s.min_cases)]
    total = c.edges[b] - c.edges[a]
    tested = np.flatnonzero((total >= MIN_TESTED) & (n - total >= MIN_TESTED))
    if not len(splits) or not len(tested):
        return None
    best_g, best_i, best_row = 0.0, -1, None
    for lo in range(0, len(splits), 2048):  # blocks bound the memory of the split x edge arrays
        rows = splits[lo:lo + 2048]
        g = _scan((c.edges[rows] - c.edges[a])[:, tested], nb[lo:lo + 2048], total[tested], n, s.min_effect)
        i = int(g.max(axis=1).argmax())
        if g[i].max() > best_g:
            best_g, best_i, best_row = float(g[i].max()), lo + i, g[i]
    if best_g <= 0:
        return None
    order = tested[np.argsort(-best_row, kind="stable")]
    order = order[: max(1, int(np.count_nonzero(best_row > 0)))]
    unit = int(splits[best_i])
    return _Split(a, b, unit, int(n_cum[unit]), best_g, float(chi2_log_sf(best_g)), len(tested) * len(splits), order)


def _refine(log: EncodedLog, c: _Counts, a: int, b: int, split: _Split, s: DriftSettings) -> int:
    """The exact first case after the change: rescan the units around the best boundary contact by contact."""
    from engine.kernels.drift import count_windows
    u = split.unit
    lo, hi = int(c.offsets[max(a, u - 1)]), int(c.offsets[min(b, u + 1)])
    if hi - lo <= 2 or np.all(np.diff(c.offsets[max(a, u - 1):min(b, u + 1) + 1]) <= 1):
        return split.case
    feats = split.features[:10]
    x, *_ = count_windows(log.case_offsets, log.activity_codes, np.arange(lo, hi + 1, dtype=np.int64),
                          c.edge_keys[feats], len(log.activities))
    base = int(c.offsets[a])
    inner = np.vstack([np.zeros((1, len(feats)), np.int64), np.cumsum(x, axis=0)])
    before = (c.edges[max(a, u - 1)] - c.edges[a])[feats]
    cand = np.arange(lo, hi + 1)
    nb = (cand - base).astype(np.float64)
    n = float(c.offsets[b] - base)
    ok = (nb >= s.min_cases) & (n - nb >= s.min_cases)
    if not ok.any():
        return split.case
    kb = before[None, :] + inner[cand - lo]
    total = (c.edges[b] - c.edges[a])[feats]
    g = _scan(kb[ok], nb[ok], total, n, s.min_effect)
    return int(cand[ok][int(g.max(axis=1).argmax())])


def seeded_intervals(offsets: np.ndarray, min_cases: int) -> list[tuple[int, int]]:
    """Seeded intervals (Kovacs et al. 2023) over the units: the whole log, then halves, quarters, ...

    Level k has intervals of 1/2^k of the units, each overlapping the next by
    half; levels stop when an interval cannot hold ``min_cases`` on both sides.
    """
    n_units = len(offsets) - 1
    out = [(0, n_units)]
    k = 1
    while True:
        length = n_units / 2 ** k
        if length < 2:
            break
        step = length / 2
        level = []
        for i in range(int(math.ceil((n_units - length) / step)) + 1):
            a, b = int(round(i * step)), min(n_units, int(round(i * step + length)))
            if offsets[b] - offsets[a] >= 2 * min_cases:
                level.append((a, b))
        if not level:
            break
        out += level
        k += 1
    return list(dict.fromkeys(out))


def segment_log(log: EncodedLog, c: _Counts, s: DriftSettings) -> tuple[list[tuple[int, _Split, float]], float]:
    """Seeded binary segmentation: (first case after the change, its split, adjusted log p) by case, and the
    log of the Bonferroni factor (the number of tests).

    The best split of every seeded interval is a candidate; candidates are
    taken most significant first, with the p-value adjusted by Bonferroni over
    every (interval, split, edge) tested, while it stays below ``alpha``; a
    candidate whose interval reaches within ``guard`` contacts of a change
    already taken is skipped (it would measure that change again).
    """
    candidates = [x for x in (_best_split(c, a, b, s) for a, b in seeded_intervals(c.offsets, s.min_cases))
                  if x is not None]
    if not candidates:
        return [], 0.0
    penalty = math.log(sum(x.tests for x in candidates))
    found: list[tuple[int, _Split, float]] = []
    for split in sorted(candidates, key=lambda x: x.log_sf):
        log_p = split.log_sf + penalty
        if log_p >= math.log(s.alpha):
            break
        lo, hi = int(c.offsets[split.a]), int(c.offsets[split.b])
        if any(lo < case + s.guard and hi > case - s.guard for case, _, _ in found):
            continue
        found.append((_refine(log, c, split.a, split.b, split, s), split, log_p))
    return sorted(found, key=lambda x: x[0]), penalty


# --- explanation --------------------------------------------------------------------------------

def edge_label(key: int, activities: tuple[str, ...]) -> str:
    """``Agent answer -> Verify identity``; the start and end markers read (start) and (end)."""
    marker = len(activities)
    a, b = divmod(int(key), marker + 1)
    return f"{START if a == marker else activities[a]} -> {END if b == marker else activities[b]}"


def rank_changes(kind: str, labels: list[str], kb: np.ndarray, nb: int, ka: np.ndarray, na: int,
            s: DriftSettings) -> list[Change]:
    """Items whose share moved, most first (|h|), kept when Bonferroni-significant at ``alpha``."""
    if nb == 0 or na == 0 or len(labels) == 0:
        return []
    h = effect_size(kb / nb, ka / na)
    log_p = chi2_log_sf(g_statistic(kb, nb, ka, na)) + math.log(len(labels))
    keep = np.flatnonzero((log_p < math.log(s.alpha)) & (np.abs(h) >= s.min_effect / 2))
    keep = keep[np.argsort(-np.abs(h[keep]), kind="stable")][: s.top]
    return [Change(kind, labels[i], int(kb[i]), float(kb[i] / nb), int(ka[i]), float(ka[i] / na),
                   round(float(h[i]), 4), float(min(1.0, math.exp(log_p[i])))) for i in keep]


def rank_variant_changes(log: EncodedLog, first_case: np.ndarray, var_cases: np.ndarray, s: DriftSettings) -> list[Change]:
    """Variants whose share moved, from their counts before and after (``var_cases[2, V]``)."""
    if not len(first_case):
        return []
    from engine.kernels.variants import gather_sequences
    kb, ka = var_cases
    nb, na = int(kb.sum()), int(ka.sum())
    # variants of at least 1% of either stretch: the long tail has no stable share to compare
    common = np.flatnonzero((kb >= 0.01 * max(1, nb)) | (ka >= 0.01 * max(1, na)))
    offsets, codes = gather_sequences(log.case_offsets, log.activity_codes, first_case[common].astype(np.int64))
    labels = [" > ".join(log.activities[k] for k in codes[offsets[i]:offsets[i + 1]]) for i in range(len(common))]
    return rank_changes("variant", labels, kb[common], nb, ka[common], na, s)


def _count_by_value(codes: np.ndarray, has: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Contacts per value (int64[m]) and contacts with each edge per value (float64[m, k]); code -1 is skipped."""
    c, w = codes[codes >= 0], has[codes >= 0]
    return np.bincount(c, minlength=m), np.stack([np.bincount(c, weights=w[:, j], minlength=m)
                                                  for j in range(w.shape[1])], axis=1)


def _where(log: EncodedLog, keys: np.ndarray, labels: list[str], before: tuple[int, int], after: tuple[int, int],
           s: DriftSettings, skip: str | None) -> tuple[SegmentShift, ...]:
    """The attribute values holding most of the change of the edges ``keys`` (the most-moved ones)."""
    from engine.kernels.drift import cases_with_edges
    if not len(keys):
        return ()
    has = cases_with_edges(log.case_offsets, log.activity_codes, keys, len(log.activities))
    by_value = {}
    for name in [n for n in EXPLAIN_ATTRIBUTES if n != skip and n in log.case_attributes]:
        codes, values = log.case_attributes[name]
        values = values.to_pylist() if hasattr(values, "to_pylist") else list(values)
        by_value[name] = (values, *(_count_by_value(codes[lo:hi], has[lo:hi], len(values))
                                    for lo, hi in (before, after)))
    return rank_where(by_value, *((has[lo:hi].sum(axis=0), hi - lo) for lo, hi in (before, after)), labels, s)


def rank_where(by_value: dict, before: tuple, after: tuple, labels: list[str],
               s: DriftSettings) -> tuple[SegmentShift, ...]:
    """``_where`` from counts (``by_value``: attribute -> (values, (contacts, with each edge) per value before, after);
    ``before``, ``after``: (with each edge, contacts)). Half the change or more, then densest: team B, not its site."""
    overall = np.abs(after[0] / after[1] - before[0] / before[1]).sum() * after[1]
    n_tests = max(1, sum(len(v[0]) for v in by_value.values()) * len(labels))
    shifts = []
    for name, (values, (nb, kbs), (na, kas)) in by_value.items():
        for v in np.flatnonzero((nb >= 4 * MIN_TESTED) & (na >= 4 * MIN_TESTED)):
            kb, ka = kbs[v], kas[v]
            h = effect_size(kb / nb[v], ka / na[v])
            log_p = chi2_log_sf(g_statistic(kb, nb[v], ka, na[v])) + math.log(n_tests)
            e = int(np.argmax(np.abs(h)))
            if log_p[e] >= math.log(s.alpha) or abs(h[e]) < s.min_effect:
                continue
            moved = float(np.abs(ka / na[v] - kb / nb[v]).sum() * na[v])
            shifts.append(SegmentShift(name, str(values[v]), int(nb[v]), int(na[v]), round(moved, 1),
                                       round(float(min(1.0, moved / overall)), 4) if overall > 0 else 0.0, labels[e],
                                       float(kb[e] / nb[v]), float(ka[e] / na[v]), round(float(h[e]), 4),
                                       float(min(1.0, math.exp(log_p[e])))))
    return tuple(sorted(shifts, key=lambda x: (x.share_of_change < 0.5, -x.moved / x.cases_after))[:3])


def explain_change(log: EncodedLog, c: _Counts, stretch: tuple[int, int, int], split: _Split, log_p: float,
                   zone: ZoneInfo, s: DriftSettings, variants=None, skip: str | None = None) -> ChangePoint:
    """What moved between the contacts [first, case) before the change and [case, end) after it.

    ``stretch`` = (first, case, end): from the previous change (or the log's
    start) to the next (or the log's end). Counted exactly by one kernel pass
    over these contacts, whatever the windows.
    """
    from engine.kernels.drift import count_windows
    first, case, end = stretch
    case_variant, first_case = variants if variants is not None else (None, np.zeros(0, np.int64))
    case_variant = None if case_variant is None else case_variant.astype(np.int32, copy=False)
    edge_cases, _, act_cases, _, var_cases = count_windows(
        log.case_offsets, log.activity_codes, np.array([first, case, end], dtype=np.int64), c.edge_keys,
        len(log.activities), case_variant, len(first_case))
    nb, na = case - first, end - case
    before, after = (first, case), (case, end)
    all_labels = [edge_label(k, log.activities) for k in c.edge_keys]
    edges = rank_changes("edge", all_labels, edge_cases[0], nb, edge_cases[1], na, s)
    acts = rank_changes("activity", list(log.activities), act_cases[0], nb, act_cases[1], na, s)
    changes = edges + acts + rank_variant_changes(log, first_case, var_cases, s)
    moved = [all_labels.index(e.label) for e in edges] or [int(split.features[0])]
    where = _where(log, c.edge_keys[moved], [all_labels[i] for i in moved], before, after, s, skip)
    starts = case_starts(log)
    when = iso_time(int(starts[case]), zone) if case < log.n_cases else None
    p = min(1.0, math.exp(log_p))
    return ChangePoint(case, when, round(1.0 - p, 12), p, round(split.statistic, 3), nb, na, tuple(changes), where)


# --- series and the whole analysis --------------------------------------------------------------

MAX_CHART_WINDOWS = 120


def _profile(c: _Counts, a: int, b: int, s: DriftSettings, penalty: float) -> np.ndarray:
    """-log10 adjusted p (log Bonferroni factor ``penalty``) of splitting units [a, b) at each boundary."""
    out = np.zeros(max(0, b - a - 1))
    n = float(c.offsets[b] - c.offsets[a])
    splits = np.arange(a + 1, b)
    nb = (c.offsets[splits] - c.offsets[a]).astype(np.float64)
    allowed = (nb >= s.min_cases) & (n - nb >= s.min_cases)
    total = c.edges[b] - c.edges[a]
    tested = np.flatnonzero((total >= MIN_TESTED) & (n - total >= MIN_TESTED))
    if not allowed.any() or not len(tested):
        return out
    for lo in range(0, len(splits), 2048):
        rows = splits[lo:lo + 2048]
        g = _scan((c.edges[rows] - c.edges[a])[:, tested], np.maximum(nb[lo:lo + 2048], 1.0), total[tested], n,
                  s.min_effect).max(axis=1)
        log_p = np.where(g > 0, chi2_log_sf(g), 0.0) + penalty
        out[lo:lo + 2048] = np.where(allowed[lo:lo + 2048], np.maximum(-log_p / math.log(10), 0.0), 0.0)
    return out


def drift_series(c: _Counts, starts: tuple[str | None, ...], change_units: list[int],
                 features: dict[str, tuple[str, int]], s: DriftSettings, penalty: float) -> DriftSeries:
    """Per window (units grouped to at most 120): evidence of a change at its start and shares.

    The evidence is the detection statistic itself: -log10 of the adjusted
    p-value of splitting the stretch between the neighbouring change points
    at this boundary (each change point's stretch runs from the change before
    to the change after), so it crosses the false-alarm level at the change
    points found. ``features``: label -> ("edge" | "activity", index).
    """
    n_units = len(c.offsets) - 1
    evidence = np.zeros(n_units + 1)
    marks = [0] + sorted(set(change_units)) + [n_units]
    stretches = [(marks[i - 1], marks[i + 1]) for i in range(1, len(marks) - 1)] or [(0, n_units)]
    for a, b in stretches:
        evidence[a + 1:b] = np.maximum(evidence[a + 1:b], _profile(c, a, b, s, penalty))
    group = max(1, math.ceil(n_units / MAX_CHART_WINDOWS))
    idx = np.append(np.arange(0, n_units, group), n_units)
    first = c.offsets[idx]
    cases = np.diff(first)
    stat = np.array([evidence[u:v].max() if v > u else 0.0 for u, v in zip(idx[:-1], idx[1:])])
    shares = {}
    for label, (kind, f) in features.items():
        k = np.diff((c.edges if kind == "edge" else c.activities)[idx, f])
        shares[label] = np.divide(k, cases, out=np.zeros(len(cases)), where=cases > 0)
    return DriftSeries(first[:-1], cases, tuple(starts[i] for i in idx[:-1]), stat, -math.log10(s.alpha), shares)


def sop_tokens(log: EncodedLog, sop) -> np.ndarray:
    """int64[n_cases, 5]: missing, consumed, remaining and produced tokens of each contact replayed on the SOP
    (``engine.model.Sop``; pm4py's token replay semantics), and 1 for a fitting contact."""
    from engine.analyses.replay import replay_tokens
    from engine.model import compile_net
    net = compile_net(sop.net, sop.initial_marking, sop.final_marking)
    replay = replay_tokens(log.case_offsets, log.activity_codes, log.activities, net, label_map=sop.label_map,
                           locate=False)
    per_variant = np.column_stack([replay.counts[:, :4], replay.is_fit]).astype(np.int64)
    return per_variant[replay.case_variant]


def _fitness(prefix: np.ndarray, a: int, b: int) -> tuple[float, float]:
    """Log fitness (pm4py's formula over the summed tokens) and share of fitting contacts of cases [a, b)."""
    m, c, r, p, fit = (prefix[b] - prefix[a]).tolist()
    value = 0.5 * (1 - m / c) + 0.5 * (1 - r / p) if c > 0 and p > 0 else 1.0
    return value, fit / (b - a) if b > a else 0.0


def _fitness_change(prefix: np.ndarray | None, stretch: tuple[int, int, int]) -> dict | None:
    if prefix is None:
        return None
    (fb, sb), (fa, sa) = _fitness(prefix, stretch[0], stretch[1]), _fitness(prefix, stretch[1], stretch[2])
    return {"fitness_before": round(fb, 6), "fitness_after": round(fa, 6), "fitting_before": round(sb, 6),
            "fitting_after": round(sa, 6)}


def _detect(log: EncodedLog, settings: DriftSettings, zone: ZoneInfo, skip: str | None = None,
            variants: bool = True, tokens: np.ndarray | None = None
            ) -> tuple[list[ChangePoint], _Counts, np.ndarray, str, float]:
    offsets, window = window_offsets(log, settings.window, zone)
    counts = count_units(log, offsets)
    found, penalty = segment_log(log, counts, settings)
    case_variant = None
    if variants and found:
        from engine.analyses.variants import assign_variants
        case_variant = assign_variants(log)
    cuts = [0] + [case for case, _, _ in found] + [log.n_cases]
    prefix = None if tokens is None else np.vstack([np.zeros((1, 5), np.int64), np.cumsum(tokens, axis=0)])
    points = [replace(explain_change(log, counts, (cuts[i], cuts[i + 1], cuts[i + 2]), split, log_p, zone,
                                     settings, case_variant, skip),
                      fitness=_fitness_change(prefix, (cuts[i], cuts[i + 1], cuts[i + 2])))
              for i, (_, split, log_p) in enumerate(found)]
    return points, counts, offsets, window, penalty


def detect_drift(log: EncodedLog, settings: DriftSettings | None = None, *, by: str | Sequence[str] = (),
                 timezone: str | None = None, sop=None, kpis: bool = False) -> DriftResult:
    """Change points of the whole log (and of each value of each attribute in ``by``), each explained.

    ``log`` needs per-case attributes for the explanation (``encode_log(...,
    case_attributes=EXPLAIN_ATTRIBUTES)``) and for ``by``. ``timezone`` (IANA)
    sets calendar windows and the offsets of the reported times (default UTC).
    ``sop`` (an ``engine.model.Sop``): token-replay fitness to it per window and
    before and after each change (detection itself does not use it).
    ``kpis``: the KPIs of the contacts before and after each change (the log
    encoded as ``encode_for_kpis`` does, plus the explanation attributes).
    """
    settings = settings or DriftSettings()
    _check_settings(settings)
    zone = _zone(timezone)
    if log.n_cases < 2 * settings.min_cases:
        raise AnalysisError(f"The log has {log.n_cases:,} contacts; drift detection needs at least "
                            f"{2 * settings.min_cases:,} (min_cases on each side of a change)",
                            hint="Analyse a longer period, or lower min_cases")
    tokens = None if sop is None else sop_tokens(log, sop)
    points, counts, offsets, window, penalty = _detect(log, settings, zone, tokens=tokens)
    if kpis:
        from engine.analyses.kpi_shift import kpis_around
        cuts = [0] + [p.case_index for p in points] + [log.n_cases]
        points = [replace(p, kpis=kpis_around(log, cuts[i], cuts[i + 1], cuts[i + 2])) for i, p in enumerate(points)]
    series = drift_series(counts, unit_starts(log, offsets, window, zone),
                          [int(np.searchsorted(offsets, p.case_index, side="right")) - 1 for p in points],
                          _charted(log, counts, points), settings, penalty)
    if tokens is not None:
        prefix = np.vstack([np.zeros((1, 5), np.int64), np.cumsum(tokens, axis=0)])
        bounds = np.append(series.first_case, log.n_cases)
        series = replace(series, fitness=np.array([_fitness(prefix, int(a), int(b))[0]
                                                   for a, b in zip(bounds[:-1], bounds[1:])]))
    attributes = (by,) if isinstance(by, str) else tuple(dict.fromkeys(by or ()))
    segments = tuple(s for a in attributes for s in _segments(log, a, settings, zone, tokens))
    return DriftResult(log.n_cases, window, str(zone.key), settings, tuple(points), series, segments)


def _charted(log: EncodedLog, c: _Counts, points: list[ChangePoint]) -> dict[str, tuple[str, int]]:
    """For the chart: the edge that moved most at each change point (at most 3) and the most-moved activity."""
    edges = list(dict.fromkeys(next(ch.label for ch in p.changes if ch.kind == "edge") for p in points
                               if any(ch.kind == "edge" for ch in p.changes)))[:3]
    acts = list(dict.fromkeys(ch.label for p in points for ch in p.changes if ch.kind == "activity"))[:1]
    labels = [edge_label(k, log.activities) for k in c.edge_keys]
    out = {f"edge {x}": ("edge", labels.index(x)) for x in edges}
    out.update({f"activity {x}": ("activity", log.activities.index(x)) for x in acts})
    return out


def _segments(log: EncodedLog, by: str, settings: DriftSettings, zone: ZoneInfo, tokens: np.ndarray | None):
    from engine.log.select import select_cases
    if by not in log.case_attributes:
        raise AnalysisError(f"Attribute '{by}' is not in the event log",
                            hint=f"Use one the log has: {', '.join(sorted(log.case_attributes)) or 'none'}")
    from engine.analyses.segment_comparison import compare_segments
    codes, labels = log.case_attributes[by]
    labels = labels.to_pylist() if hasattr(labels, "to_pylist") else list(labels)
    compared = {c.value: c for c in compare_segments(log, by, settings, tokens)}
    for v, label in enumerate(labels):
        keep = codes == v
        n = int(np.count_nonzero(keep))
        if n < 2 * settings.min_cases:
            yield SegmentDrift(by, str(label), n, (), compared[str(label)])
            continue
        sub = select_cases(log, keep)
        points, *_ = _detect(sub, settings, zone, skip=by, tokens=None if tokens is None else tokens[keep])
        index = np.flatnonzero(keep)
        # case indices are positions in the whole log, so a segment's change can be found in it
        yield SegmentDrift(by, str(label), n, tuple(replace(p, case_index=int(index[p.case_index])) for p in points),
                           compared[str(label)])


def _check_settings(s: DriftSettings) -> None:
    if not 0 < s.alpha < 1:
        raise AnalysisError(f"alpha must lie in (0, 1), got {s.alpha}", field="alpha")
    if s.min_cases < 1 or s.guard < 0:
        raise AnalysisError(f"min_cases must be >= 1 and guard >= 0, got {s.min_cases} and {s.guard}",
                            field="min_cases")
    if not 0 <= s.min_effect < math.pi:
        raise AnalysisError(f"min_effect (Cohen's h) must lie in [0, pi), got {s.min_effect}", field="min_effect")
