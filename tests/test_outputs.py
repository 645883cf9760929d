"""JSON documents: the text json.dumps(indent=2, ensure_ascii=False) gives, non-finite floats as null."""

import json
import math

import numpy as np
from hypothesis import given, settings, strategies as st

from engine.report.outputs import to_json

scalars = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False, allow_infinity=False) \
    | st.text()
documents = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                         | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_to_json_is_json_dumps_indented(doc):
    assert to_json(doc) == json.dumps(doc, indent=2, ensure_ascii=False)


def test_to_json_non_finite_numpy_and_keys():
    doc = {"a": [math.nan, math.inf, -math.inf, 1.5], "b": np.int64(3), "c": np.float64(0.25),
           "d": np.array([1, 2]), "e": {1: "x", 2.5: "y", True: "z", None: "w"}, "f": {"s"}, "g": [], "h": {},
           "é": "ü\n\"\\"}
    expect = json.dumps({"a": [None, None, None, 1.5], "b": 3, "c": 0.25, "d": [1, 2],
                         "e": {1: "x", 2.5: "y", True: "z", None: "w"}, "f": ["s"], "g": [], "h": {},
                         "é": "ü\n\"\\"}, indent=2, ensure_ascii=False)
    assert to_json(doc) == expect
    assert json.loads(to_json(doc))["a"][:3] == [None, None, None]


# tables: lists of 8 or more dicts with the same keys, written column by column (outputs._emit_rows)
cells = st.one_of(scalars, st.tuples(st.text(max_size=3), st.text(max_size=3)), st.lists(st.text(max_size=3),
                                                                                         max_size=3),
                  st.dictionaries(st.text(max_size=3), scalars, max_size=2), st.lists(scalars, max_size=2))
column_kinds = st.sampled_from(["str", "int", "float", "bool", "strings", "any"])
column_values = {"str": st.text(max_size=5), "int": st.integers(-2**70, 2**70), "bool": st.booleans(),
                 "float": st.floats(allow_nan=False, allow_infinity=False),
                 "strings": st.lists(st.text(max_size=4), max_size=3).map(tuple), "any": cells}


@st.composite
def tables(draw):
    keys = draw(st.lists(st.text(max_size=6), min_size=1, max_size=5, unique=True))
    kinds = [draw(column_kinds) for _ in keys]
    n = draw(st.integers(0, 14))
    rows = [{k: draw(column_values[kind]) for k, kind in zip(keys, kinds)} for _ in range(n)]
    if rows and draw(st.booleans()):  # one row that breaks the table: another key order, or a missing key
        i = draw(st.integers(0, n - 1))
        rows[i] = dict(reversed(list(rows[i].items()))) if draw(st.booleans()) else dict(list(rows[i].items())[1:])
    return rows


@settings(max_examples=300, deadline=None)
@given(tables(), st.integers(0, 2))
def test_tables_are_written_as_json_dumps_indented(rows, depth):
    doc = rows
    for _ in range(depth):
        doc = {"rows": doc, "n": len(rows)}
    assert to_json(doc) == json.dumps(doc, indent=2, ensure_ascii=False)


def test_a_table_with_non_finite_floats_and_percent_signs():
    rows = [{"a%s": i, "%d": math.nan if i % 2 else 0.5, "x": ("%", "b")} for i in range(10)]
    expect = [{"a%s": i, "%d": None if i % 2 else 0.5, "x": ["%", "b"]} for i in range(10)]
    assert to_json(rows) == json.dumps(expect, indent=2, ensure_ascii=False)
