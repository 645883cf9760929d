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


# --- every kernel, run as plain Python on logs that reach its bounds, equals the compiled kernel ---

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from engine.kernels import dfg as kd, drift as kdr, handoffs as kh, kpis as kk, variants as kv  # noqa: E402
from engine.log.encode import NO_TIME  # noqa: E402

ADVERSARIAL = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def encoded_logs(draw, max_activities=4):
    """(case_offsets, codes, timestamps, end_timestamps, owners, routes): empty logs, empty and one-event
    cases, and cases where every event changes owner and route."""
    lengths = draw(st.lists(st.integers(0, 7), max_size=6))
    n = sum(lengths)
    offsets = np.zeros(len(lengths) + 1, np.int64)
    offsets[1:] = np.cumsum(lengths)
    codes = np.array(draw(st.lists(st.integers(0, max_activities - 1), min_size=n, max_size=n)), np.int32)
    ts = np.array(sorted(draw(st.lists(st.integers(0, 10**6), min_size=n, max_size=n))), np.int64)
    ends = np.array([NO_TIME if d < 0 else t + d for t, d in
                     zip(ts, draw(st.lists(st.integers(-1, 10**4), min_size=n, max_size=n)))], np.int64)
    if draw(st.booleans()):  # the worst case: owners and routes alternate at every event
        owners = routes = (np.arange(n) % 2).astype(np.int32)
    else:
        owners = np.array(draw(st.lists(st.integers(-1, 2), min_size=n, max_size=n)), np.int32)
        routes = np.array(draw(st.lists(st.integers(-1, 2), min_size=n, max_size=n)), np.int32)
    return offsets, codes, ts, ends, owners, routes


def _same(a, b) -> None:
    a = a if isinstance(a, tuple) else (a,)
    b = b if isinstance(b, tuple) else (b,)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _both(kernel, *args):
    """The kernel's result, checked equal between its Python body (every index checked) and the compiled kernel.
    The Python body reads byte buffers as int64: numpy's uint8 arithmetic wraps where numba's widens."""
    copies = [(a.astype(np.int64) if a.dtype == np.uint8 and i == 0 else a.copy()) if isinstance(a, np.ndarray)
              else a for i, a in enumerate(args)]
    python = kernel.py_func(*copies)
    _same(python, kernel(*args))
    for mine, theirs in zip(copies, args):  # arguments the kernel writes into
        if isinstance(theirs, np.ndarray):
            np.testing.assert_array_equal(mine, theirs)
    return python


@ADVERSARIAL
@given(encoded_logs(), st.booleans(), st.integers(0, 3))
def test_handoff_kernels_stay_in_bounds(log, with_end, transfer):
    offsets, codes, ts, ends, owners, routes = log
    roles = np.array([kk.ROLE_TALK, kk.ROLE_VERIFY, kh.ROLE_OTHER, kk.ROLE_QUEUE], np.int8)
    roles[transfer] = kk.ROLE_TRANSFER
    end = ends if with_end else np.empty(0, np.int64)
    rows = _both(kh.scan_handoffs, offsets, codes, ts, end, owners, routes, roles, NO_TIME)
    assert len(rows[0]) <= 2 * len(codes)
    _both(kh.time_contacts, offsets, codes, ts, end, owners, 3, roles, NO_TIME)


@ADVERSARIAL
@given(encoded_logs(), st.integers(1, 3), st.integers(1, 5))
def test_dfg_kernels_stay_in_bounds(log, n_groups, n_chunks):
    offsets, codes, ts, ends, owners, _ = log
    n = len(offsets) - 1
    group = (np.arange(n) % (n_groups + 1) - 1).astype(np.int32)  # -1 (left out) and every group
    _both(kd.count_dfg, offsets, codes, group, n_groups, 4, n_chunks)
    _both(kd.count_dfg, offsets, codes, np.empty(0, np.int32), 1, 4, n_chunks)
    key_offsets, durations = _both(kd.edge_durations, offsets, codes, ts, ts, group, 4, n_groups * 16, n_chunks)
    _both(kd.summarise_durations, key_offsets, durations)
    _both(kd.profile_cases, offsets, ts, ends, NO_TIME)
    _both(kd.first_code_per_case, offsets, owners)


@ADVERSARIAL
@given(encoded_logs(), st.lists(st.integers(0, 6), max_size=4), st.booleans())
def test_drift_kernels_stay_in_bounds(log, cuts, with_variants):
    offsets, codes = log[0], log[1]
    n = len(offsets) - 1
    windows = np.array(sorted({0, n, *(min(c, n) for c in cuts)}), np.int64)
    keys = np.arange(25, dtype=np.int64)  # every edge of 4 activities, start and end edges included
    index = kdr._edge_index(keys, 4)
    variant = (np.arange(n) % 3 - 1).astype(np.int32) if with_variants else np.empty(0, np.int32)
    _both(kdr._count_windows, offsets, codes, windows, index, len(keys), 4, variant, 2)
    _both(kdr._cases_with_edges, offsets, codes, index, len(keys), 4)


@ADVERSARIAL
@given(encoded_logs(), st.integers(1, 4))
def test_kpi_kernels_stay_in_bounds(log, n_chunks):
    offsets, codes, ts, ends, owners, routes = log
    n = len(offsets) - 1
    customer = (np.arange(n) % 3 - 1).astype(np.int32)
    links = _both(kk.link_contacts, customer, ts[offsets[:-1].clip(0, max(len(ts) - 1, 0))] if len(ts) else
                  np.zeros(n, np.int64), (np.arange(n) % 2).astype(np.int32), np.int64(10**5))
    roles = np.array([kk.ROLE_TALK, kk.ROLE_TRANSFER, kk.ROLE_HOLD, kk.ROLE_VERIFY], np.int8)
    slots = np.stack([np.zeros(n, np.int32), (np.arange(n) % 3 - 1).astype(np.int32)], axis=1).reshape(n, 2)
    _both(kk.measure_contacts, offsets, codes, ts, ends, roles, np.array([1, 2, 0, 4], np.uint64), np.uint64(7),
          np.array([1, 0, 0, 0], np.int8), True, owners, routes, owners, customer, links, slots, 3, n_chunks, NO_TIME)


def test_variant_table_grows_past_its_first_capacity():
    """More variants than the first table (1,024 slots, 256 entries), every hash equal: ids stay exact."""
    n = 3000
    offsets = np.arange(n + 1, dtype=np.int64) * 2
    codes = np.stack([np.arange(n) // 60, np.arange(n) % 60], axis=1).ravel().astype(np.int32)
    for hashes in (kv.hash_cases(offsets, codes), np.zeros(n, np.uint64)):
        case_variant, first = _both(kv.assign_variants, offsets, codes, hashes)
        assert case_variant.tolist() == list(range(n)) and first.tolist() == list(range(n))
    _both(kv.gather_sequences, offsets, codes, first)


def _xes_document(draw) -> bytes:
    parts = [b'<?xml version="1.0"?>\n<log xes.version="1.0"><string key="concept:name" value="l"/>']
    for t in range(draw(st.integers(0, 3))):
        parts.append(b'<trace><string key="concept:name" value="c%d"/>' % t)
        for _ in range(draw(st.integers(0, 3))):
            parts.append(b'<event><string key="concept:name" value="a&amp;&#233;&#x1F600;"/>'
                         b'<date key="time:timestamp" value="2024-03-01T09:00:00.5+01:00"/>'
                         b'<list key="l"><values><int key="i" value="-7"/></values></list><!-- c --></event>')
        parts.append(b'</trace>')
    parts.append(b'</log>\n')
    return b"".join(parts)


@ADVERSARIAL
@given(st.data())
def test_xes_scanner_stays_in_bounds_on_any_cut(data):
    """A document cut anywhere (a block boundary, or a truncated file) is scanned within its buffers."""
    doc = _xes_document(data.draw)
    cut = data.draw(st.integers(0, len(doc)))
    final = data.draw(st.booleans())
    buf = np.frombuffer(doc[:cut], np.uint8)
    cap = int(np.count_nonzero(buf == 60)) + 1
    arrays = [np.empty(cap, np.int32) for _ in range(12)]
    outs = []
    for scan in (kx.scan_xes.py_func, kx.scan_xes):
        out = np.zeros(8, np.int64)
        scan(buf, final, np.zeros(3, np.int64), *[a.copy() for a in arrays], np.empty(kx.MAX_KEYS, np.int64), out)
        outs.append(out)
    _same(outs[0], outs[1])
    _both(kx.find_utf8_error, buf, final)


@ADVERSARIAL
@given(st.lists(st.sampled_from([b"a", b"&amp;", b"&lt;", b"&#65;", b"&#x1F600;", b"&#1114111;", b"&#xE9;", b"\r\n",
                                 b"\t", b"&", b"&#;", b"&#x;", b"&bogus;", b"&#0;"]), max_size=12), st.booleans())
def test_xes_span_decoding_stays_in_bounds(pieces, normalise):
    """Decoded text never needs more room than its span (the reader sizes the output from the spans)."""
    text = b"".join(pieces)
    buf = np.frombuffer(text + b"x", np.uint8)
    starts = np.array([0, -1, 0], np.int64)
    ends = np.array([len(text), -1, len(text) // 2], np.int64)
    data = np.zeros(max(len(text) + len(text) // 2, 1), np.uint8)
    _both(kx.gather_spans, buf, starts, ends, data, np.zeros(4, np.int64), normalise)
    out, flags = np.zeros(3, np.int64), np.zeros(3, np.int8)
    _both(kx.parse_dates, buf, starts, ends, out, flags)
    _both(kx.parse_ints, buf, starts, ends, out, flags)
