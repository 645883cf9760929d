"""Selecting and segmenting contacts by attribute: the attributes a log offers, selections, ISO weeks.

A log often mixes procedures (the simulator's sample and most real exports
carry every intent), while an SOP describes one of them. The selection
``{"intent": {"lost_card"}}`` keeps the contacts whose first non-empty
``intent`` value equals ``lost_card``; several values keep any of them, and
several attributes keep the contacts that match all of them.

An attribute is a string column of the log other than the case id, the
activity, the times and the customer pseudonym (segment columns such as team
or site, case attributes such as intent or outcome), or ``week``: the ISO
calendar week (Monday to Sunday, UTC) of a contact's first event, labelled
``2026-W07``. ``check_attributes`` compares names with the stored schema
before anything is encoded.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
from dataclasses import replace

import numpy as np
import pyarrow as pa

from engine.errors import AnalysisError, InputError
from engine.log.encode import EncodedLog, encode_log
from engine.log.schema import SEGMENT_COLUMNS
from engine.log.store import open_log

WEEK = "week"
NOT_ATTRIBUTES = frozenset({"case_id", "activity", "timestamp", "end_timestamp", "case_index", "customer_id"})
_DAY_NS = 86_400 * 1_000_000_000


def parse_where(expressions: tuple[str, ...] | list[str] | dict) -> dict[str, set[str]]:
    """``["intent=a,b", "team=B"]`` -> ``{"intent": {"a", "b"}, "team": {"B"}}``.

    A selection already parsed (a dict, as the command line's ``--where`` hands it over) is returned as is.
    """
    if isinstance(expressions, dict):
        return {name: set(values) for name, values in expressions.items()}
    where: dict[str, set[str]] = {}
    for expr in expressions:
        name, sep, values = expr.partition("=")
        name = name.strip()
        wanted = {v.strip() for v in values.split(",") if v.strip()}
        if not sep or not name or not wanted:
            raise InputError(f"Selection '{expr}' is not ATTR=VALUE[,VALUE]", field=name or None,
                             hint="For example: intent=lost_card")
        where.setdefault(name, set()).update(wanted)
    return where


def log_attributes(path: str | os.PathLike) -> tuple[str, ...]:
    """The attributes of a stored log that contacts can be selected or segmented by, ``week`` last."""
    schema = open_log(path).schema_arrow
    names = []
    for f in schema:
        t = f.type.value_type if pa.types.is_dictionary(f.type) else f.type
        if f.name not in NOT_ATTRIBUTES and (pa.types.is_string(t) or pa.types.is_large_string(t)):
            names.append(f.name)
    return tuple(names) + (WEEK,)


def check_attributes(path: str | os.PathLike, by=(), where=()) -> None:
    """Raise InputError, before any encoding, if a segment (``by``) or selection (``where``) attribute is not
    in the stored log; the message offers the closest names first, then every attribute the log has."""
    available = log_attributes(path)
    for role, names in (("segment", by), ("select", where)):
        for name in names:
            if name in available:
                continue
            close = difflib.get_close_matches(name, available, n=3, cutoff=0.6)
            suggest = f"Did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
            raise InputError(f"Cannot {role} by '{name}': the log has no such attribute", path=str(path),
                             field=name, hint=f"{suggest}Attributes of this log: {', '.join(available)}")


def week_label(week: int) -> str:
    """ISO week label (e.g. 2026-W07) of a Monday-based week index counted from the epoch."""
    monday = dt.date(1970, 1, 1) + dt.timedelta(days=int(week) * 7 - 3)
    year, number, _ = monday.isocalendar()
    return f"{year}-W{number:02d}"


def case_weeks(encoded: EncodedLog) -> tuple[np.ndarray, tuple[str, ...]]:
    """ISO week of every case's first event: int32 codes into sorted labels such as ``2026-W07``."""
    if encoded.n_cases == 0:
        return np.empty(0, dtype=np.int32), ()
    starts = encoded.case_starts if encoded.case_starts is not None else \
        encoded.timestamps[encoded.case_offsets[:-1]]
    weeks = (np.floor_divide(starts, _DAY_NS) + 3) // 7
    lo = int(weeks.min())
    present = np.bincount(weeks - lo) > 0
    dense = np.cumsum(present) - 1
    return dense[weeks - lo].astype(np.int32), tuple(week_label(lo + w) for w in np.flatnonzero(present))


def select_cases(encoded: EncodedLog, keep: np.ndarray) -> EncodedLog:
    """The encoded log restricted to the cases where ``keep`` (bool[n_cases]) is true."""
    keep = np.asarray(keep, dtype=bool)
    if keep.shape != (encoded.n_cases,):
        raise AnalysisError(f"The case mask 'keep' must have one entry per case ({encoded.n_cases}), "
                            f"got shape {keep.shape}", field="keep")
    lengths = np.diff(encoded.case_offsets)
    events = np.repeat(keep, lengths)
    offsets = np.concatenate(([0], np.cumsum(lengths[keep]))).astype(np.int64)

    def pick(arr):
        return None if arr is None else arr[events]

    return replace(
        encoded,
        case_offsets=offsets,
        activity_codes=encoded.activity_codes[events],
        timestamps=(encoded.timestamps[events] if encoded.case_starts is None else  # zeros: case starts only
                    np.broadcast_to(np.zeros(1, dtype=np.int64), (int(offsets[-1]),))),
        case_starts=None if encoded.case_starts is None else encoded.case_starts[keep],
        end_timestamps=pick(encoded.end_timestamps),
        attributes={k: (codes[events], labels) for k, (codes, labels) in encoded.attributes.items()},
        case_attributes={k: (codes[keep], labels) for k, (codes, labels) in encoded.case_attributes.items()},
        case_ids=None if encoded.case_ids is None else encoded.case_ids.filter(pa.array(keep)),
    )


def cases_where(encoded: EncodedLog, where: dict[str, set[str]]) -> np.ndarray:
    """bool[n_cases]: the cases whose per-case value of every named attribute is one of the wanted values."""
    keep = np.ones(encoded.n_cases, dtype=bool)
    for name, wanted in where.items():
        if name == WEEK:
            codes, labels = case_weeks(encoded)
        elif name in encoded.case_attributes:
            codes, labels = encoded.case_attributes[name]
        else:
            raise InputError(f"Column '{name}' is not in the event log", field=name,
                             hint="Use an attribute the log has (cxmine ingest keeps every source column)")
        labels = labels.to_pylist() if isinstance(labels, pa.Array) else list(labels)
        hit = np.array([label in wanted for label in labels] + [False], dtype=bool)
        keep &= hit[codes]  # code -1 (no value) indexes the trailing False
    return keep


def match_cases(encoded: EncodedLog, where: dict[str, set[str]]) -> np.ndarray:
    """``cases_where``, raising InputError when no case matches."""
    keep = cases_where(encoded, where)
    if not keep.any():
        raise no_match_error(where)
    return keep


def no_match_error(where: dict[str, set[str]]) -> InputError:
    """The error for a selection that no contact of the log matches."""
    wanted = "; ".join(f"{k} in {sorted(v)}" for k, v in where.items())
    return InputError(f"No contact matches the selection ({wanted})", field=next(iter(where)),
                      hint="Check the values against those of the log (segmenting by the attribute lists them)")


def encode_where(source: str | os.PathLike | pa.Table, where: dict[str, set[str]] | None, *, by=(),
                 **kwargs) -> EncodedLog:
    """``encode_log`` followed by the selection ``where`` (none when empty).

    The ``where`` attributes, and the ``by`` attributes not encoded per event
    (``attributes``, default SEGMENT_COLUMNS), are encoded per case; ``week`` is
    computed, never read.
    """
    per_event = kwargs.get("attributes")
    per_event = SEGMENT_COLUMNS if per_event is None else tuple(per_event)
    wanted = [a for a in by if a not in per_event] + list(where or {})
    wanted = [a for a in wanted if a != WEEK]
    case_attributes = tuple(dict.fromkeys(tuple(kwargs.pop("case_attributes", ())) + tuple(wanted)))
    encoded = encode_log(source, case_attributes=case_attributes, **kwargs)
    if not where:
        return encoded
    return select_cases(encoded, match_cases(encoded, where))
