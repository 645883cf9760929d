"""Kinds of attribute values of the canonical log, as the export formats type them.

A column's Arrow type decides whether its values are written as times,
booleans, integers, floats or text; XES and OCEL 2.0 name these kinds
differently (``date``/``time``, ``int``/``integer``).
"""

from __future__ import annotations

from typing import Literal

import pyarrow as pa

ValueKind = Literal["time", "boolean", "integer", "float", "decimal", "string"]


def value_kind(t: pa.DataType) -> ValueKind:
    """The kind of the values of a column of type ``t`` (a dictionary column: of its values)."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return "time"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_decimal(t):
        return "decimal"
    return "string"
