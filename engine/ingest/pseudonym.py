"""Pseudonymisation of customer identifiers (phone numbers, e-mails, account ids).

A keyed hash (HMAC-SHA256, first 16 bytes, hex, prefixed ``cus_``) replaces
each identifier before anything is written. The key comes from
``CXMINE_PSEUDONYM_KEY``, else the installation key (``engine.settings``);
a library caller that passes no key gets a random key for the run
(pseudonyms are then stable within the run only) and a warning. Identifiers are normalised first (trimmed, e-mails lower-cased,
phone numbers reduced to ``+`` and digits), so the same customer written two
ways gets one pseudonym.
"""

from __future__ import annotations

import hmac
import re
import secrets

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_PHONE = re.compile(r"^[\s+()\-.\d]{6,}$")
_run_key: bytes | None = None
RANDOM_KEY_WARNING = ("No pseudonymisation key set (CXMINE_PSEUDONYM_KEY) and the installation key could not be "
                      "stored in the configuration folder (CXMINE_CONFIG_DIR): a random key was used, so customer "
                      "pseudonyms are stable within this run only. Set the key to link customers across runs.")


def run_key(key: bytes | None) -> tuple[bytes, str | None]:
    """The key to use and a warning when none was configured."""
    global _run_key
    if key:
        return key, None
    if _run_key is None:
        _run_key = secrets.token_bytes(32)
    return _run_key, RANDOM_KEY_WARNING


_NON_DIGIT = re.compile(r"\D")


def normalise_identifier(value: str) -> str:
    v = value.strip()
    if "@" in v:
        return v.lower()
    if _PHONE.match(v):
        return ("+" if v.startswith("+") else "") + _NON_DIGIT.sub("", v)
    return v


def pseudonymise_value(value: str, key: bytes) -> str:
    digest = hmac.digest(key, normalise_identifier(value).encode("utf-8"), "sha256")
    return "cus_" + digest[:16].hex()


def pseudonymise(values: pa.Array | pa.ChunkedArray, key: bytes) -> pa.Array:
    """Pseudonymise a string column; nulls stay null. Each distinct value is hashed once."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = pc.cast(values, pa.string())
    enc = pc.dictionary_encode(values)
    hashed = pa.array([pseudonymise_value(v, key) for v in enc.dictionary.to_pylist()], pa.string())
    idx = enc.indices
    out = pc.take(hashed, idx) if len(hashed) else pa.nulls(len(values), pa.string())
    return out


def is_pseudonym(values: np.ndarray | list[str]) -> bool:
    return all(v is None or (isinstance(v, str) and v.startswith("cus_") and len(v) == 36) for v in values)
