"""Kernel outputs and scratch buffers are sized from bounds the inputs prove, never from a guess.

A compiled kernel that writes past a buffer does not fail: it corrupts memory and the run goes on
or aborts later. Each test here runs the kernel's plain Python body (``kernel.py_func``, where numpy
checks every index) on an input that reaches the bound, and the compiled kernel on the same input,
which must give the same result.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import InputError
from engine.ingest.xes import read_xes
from engine.kernels import xes as kx


def _scan(data: bytes, scan) -> np.ndarray:
    """out[] of scan_xes over the whole document, with the reader's own capacity (one record per '<')."""
    buf = np.frombuffer(data, np.uint8)
    cap = int(np.count_nonzero(buf == 60)) + 1
    arrays = [np.empty(cap, np.int32) for _ in range(12)]
    out = np.zeros(8, np.int64)
    scan(buf, True, np.zeros(3, np.int64), *arrays, np.empty(kx.MAX_KEYS, np.int64), out)
    return out


def _nested(n_open: int, inner: bytes) -> bytes:
    """An event whose attribute is wrapped in n_open containers, then ``inner``."""
    return (b'<log><trace><string key="concept:name" value="c1"/><event><string key="concept:name" value="a"/>'
            b'<date key="time:timestamp" value="2024-03-01T09:00:00Z"/>' + b'<container key="c">' * n_open
            + inner + b'</container>' * n_open + b'</event></trace></log>')


# <log>, <trace>, <event> and MAX_DEPTH - 3 containers: the innermost attribute opens at depth MAX_DEPTH
DEEPEST = kx.MAX_DEPTH - 3


@pytest.mark.parametrize("scan", ["python", "compiled"])
def test_xes_attribute_at_the_maximum_depth(scan):
    """A self-closing attribute at depth MAX_DEPTH is recorded (the scanner's per-depth record had one
    slot too few: the compiled scanner wrote past it)."""
    doc = _nested(DEEPEST, b'<string key="k" value="v"/>')
    out = _scan(doc, kx.scan_xes.py_func if scan == "python" else kx.scan_xes)
    assert out[0] == kx.OK
    assert out[2:5].tolist() == [1, 1, 2 + 1 + DEEPEST + 1]  # events, traces, attributes


@pytest.mark.parametrize("scan", ["python", "compiled"])
def test_xes_element_opened_past_the_maximum_depth(scan):
    doc = _nested(DEEPEST, b'<string key="k" value="v"></string>')
    out = _scan(doc, kx.scan_xes.py_func if scan == "python" else kx.scan_xes)
    assert out[0] == kx.E_DEPTH


def test_xes_reader_at_the_maximum_depth(tmp_path):
    ok = tmp_path / "deep.xes"
    ok.write_bytes(_nested(DEEPEST, b'<string key="k" value="v"/>'))
    table = read_xes(ok).table
    assert table.column("activity").to_pylist() == ["a"]
    too_deep = tmp_path / "too_deep.xes"
    too_deep.write_bytes(_nested(DEEPEST, b'<string key="k" value="v"></string>'))
    with pytest.raises(InputError) as err:
        read_xes(too_deep)
    assert "nested too deeply" in str(err.value) and err.value.line == 1
