"""Selecting contacts of an encoded log: ``--where ATTR=VALUE``.

A log often mixes procedures (the simulator's sample and most real exports
carry every intent), while an SOP describes one of them. ``--where
intent=lost_card`` keeps the contacts whose first non-empty ``intent`` value
equals ``lost_card``; several values (``intent=lost_card,billing_dispute``)
keep any of them, and repeating the option for different attributes keeps
the contacts that match all of them.
"""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import pyarrow as pa

from engine.errors import InputError, UsageError
from engine.log.encode import EncodedLog, encode_log


def parse_where(expressions: tuple[str, ...] | list[str]) -> dict[str, set[str]]:
    """``["intent=a,b", "team=B"]`` -> ``{"intent": {"a", "b"}, "team": {"B"}}``."""
    where: dict[str, set[str]] = {}
    for expr in expressions:
        name, sep, values = expr.partition("=")
        name = name.strip()
        if not sep or not name or not values.strip():
            raise UsageError(f"--where '{expr}' is not ATTR=VALUE", hint="For example: --where intent=lost_card")
        where.setdefault(name, set()).update(v.strip() for v in values.split(",") if v.strip())
    return where


def select_cases(encoded: EncodedLog, keep: np.ndarray) -> EncodedLog:
    """The encoded log restricted to the cases where ``keep`` (bool[n_cases]) is true."""
    keep = np.asarray(keep, dtype=bool)
    if keep.shape != (encoded.n_cases,):
        raise ValueError(f"keep must have one entry per case ({encoded.n_cases}), got {keep.shape}")
    lengths = np.diff(encoded.case_offsets)
    events = np.repeat(keep, lengths)
    offsets = np.concatenate(([0], np.cumsum(lengths[keep]))).astype(np.int64)

    def pick(arr):
        return None if arr is None else arr[events]

    return replace(
        encoded,
        case_offsets=offsets,
        activity_codes=encoded.activity_codes[events],
        timestamps=encoded.timestamps[events],
        end_timestamps=pick(encoded.end_timestamps),
        attributes={k: (codes[events], labels) for k, (codes, labels) in encoded.attributes.items()},
        case_attributes={k: (codes[keep], labels) for k, (codes, labels) in encoded.case_attributes.items()},
        case_ids=None if encoded.case_ids is None else encoded.case_ids.filter(pa.array(keep)),
    )


def cases_where(encoded: EncodedLog, where: dict[str, set[str]]) -> np.ndarray:
    """bool[n_cases]: the cases whose per-case value of every named attribute is one of the wanted values."""
    keep = np.ones(encoded.n_cases, dtype=bool)
    for name, wanted in where.items():
        if name not in encoded.case_attributes:
            raise InputError(f"Column '{name}' is not in the event log", field=name,
                             hint="Use an attribute the log has (cxmine ingest keeps every source column)")
        codes, labels = encoded.case_attributes[name]
        labels = labels.to_pylist() if isinstance(labels, pa.Array) else list(labels)
        hit = np.array([label in wanted for label in labels] + [False], dtype=bool)
        keep &= hit[codes]  # code -1 (no value) indexes the trailing False
    return keep


def encode_where(source: str | os.PathLike | pa.Table, where: dict[str, set[str]] | None,
                 **kwargs) -> EncodedLog:
    """``encode_log`` followed by the ``--where`` selection (no selection when ``where`` is empty)."""
    if not where:
        return encode_log(source, **kwargs)
    case_attributes = tuple(dict.fromkeys(tuple(kwargs.pop("case_attributes", ())) + tuple(where)))
    encoded = encode_log(source, case_attributes=case_attributes, **kwargs)
    keep = cases_where(encoded, where)
    if not keep.any():
        wanted = "; ".join(f"{k} in {sorted(v)}" for k, v in where.items())
        raise InputError(f"No contact matches --where ({wanted})",
                         hint="Check the attribute values, e.g. with cxmine variants LOG --by ATTR")
    return select_cases(encoded, keep)
