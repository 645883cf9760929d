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
