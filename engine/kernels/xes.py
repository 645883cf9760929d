"""Numba kernels of the XES reader: scanning XML bytes into spans, and decoding spans.

``scan_xes`` walks a block of UTF-8 XML once and records where traces,
events and attributes are (byte offsets and small integer codes), never
building a tree or a Python object per event. The other kernels work on the
spans it found: counting and selecting attribute records per key, checking
UTF-8, copying spans with XML entities decoded, and parsing ISO 8601
date-times and integers. Everything is numpy arrays in and out.

Statuses written by ``scan_xes`` into ``out[0]``: ``OK``, ``NEED_MORE`` (no
complete element yet: give a longer block) or an error code >= 2, which
``engine.ingest.xes`` turns into a message.

``scan_xes`` stays one function of about 340 lines on purpose: split further
by phase (attribute parsing and key lookup as separate kernels returning
tuples, besides ``_skip_markup`` and ``_mark``) it was measurably slower.
Scanning the first 256 MiB (408,990 events) of the 1M-event log of
``benchmarks/bench_xes.py`` in 16 MiB blocks, best of 3 runs, 4 interleaved
rounds on a shared 2-core machine (load average 4 to 5): one kernel 0.76,
1.07, 1.06, 1.06 s; split 1.42, 1.39, 1.00, 1.04 s (median of the medians
1.1 s against 1.4 s); with the counters in an array instead of scalars the
split was slower still (1.24 to 1.52 s). Moving only markup skipping and
safe-point recording out cost nothing measurable (same set-up, load average
3 to 4: 0.53, 0.50, 0.60, 1.04 s before, 0.51, 0.56, 0.56, 1.41 s after, the
last round under a load spike).
"""

from __future__ import annotations

import numpy as np

from engine.kernels import kernel

MAX_DEPTH = 64
KEY_TABLE = 1 << 16
MAX_KEYS = 1 << 14

# element kinds
K_LOG, K_TRACE, K_EVENT, K_IGNORED, K_VALUES = 1, 2, 3, 4, 5
# attribute types (also element kinds, >= 10)
T_STRING, T_DATE, T_INT, T_FLOAT, T_BOOLEAN, T_ID, T_LIST, T_CONTAINER = 10, 11, 12, 13, 14, 15, 16, 17

# scanner status codes (errors are 2 and above)
OK, NEED_MORE = 0, 1
(E_TRUNCATED, E_MALFORMED_TAG, E_DOCTYPE, E_NOT_LOG, E_MISMATCH, E_UNOPENED, E_NESTING, E_AFTER_LOG, E_DEPTH,
 E_LT_IN_VALUE, E_NO_END, E_NO_LOG, E_DUPLICATE_ATTRIBUTE, E_ENTITY, E_TOO_MANY_KEYS) = range(2, 17)

@kernel
def _is_space(c):
    return c == 32 or c == 9 or c == 10 or c == 13


@kernel
def _name_is(buf, s, e, word):
    if e - s != len(word):
        return False
    for i in range(len(word)):
        if buf[s + i] != word[i]:
            return False
    return True


@kernel
def _kind_of(buf, s, e):
    n = e - s
    c = buf[s]
    if n == 3 and c == 108 and _name_is(buf, s, e, b"log"):
        return K_LOG
    if n == 5 and c == 116 and _name_is(buf, s, e, b"trace"):
        return K_TRACE
    if n == 5 and c == 101 and _name_is(buf, s, e, b"event"):
        return K_EVENT
    if n == 6 and c == 115 and _name_is(buf, s, e, b"string"):
        return T_STRING
    if n == 4 and c == 100 and _name_is(buf, s, e, b"date"):
        return T_DATE
    if n == 3 and c == 105 and _name_is(buf, s, e, b"int"):
        return T_INT
    if n == 5 and c == 102 and _name_is(buf, s, e, b"float"):
        return T_FLOAT
    if n == 7 and c == 98 and _name_is(buf, s, e, b"boolean"):
        return T_BOOLEAN
    if n == 2 and c == 105 and _name_is(buf, s, e, b"id"):
        return T_ID
    if n == 4 and c == 108 and _name_is(buf, s, e, b"list"):
        return T_LIST
    if n == 9 and c == 99 and _name_is(buf, s, e, b"container"):
        return T_CONTAINER
    if n == 6 and c == 118 and _name_is(buf, s, e, b"values"):
        return K_VALUES
    return K_IGNORED


@kernel
def _hash(buf, s, e):
    h = np.uint64(14695981039346656037)
    for i in range(s, e):
        h = (h ^ np.uint64(buf[i])) * np.uint64(1099511628211)
    return h


def _hash_word(word: bytes) -> int:
    h = 14695981039346656037
    for c in word:
        h = ((h ^ c) * 1099511628211) % (1 << 64)
    return h


LOG_HASH = np.uint64(_hash_word(b"log"))


@kernel
def _find(buf, start, pat):
    """First index >= start where pat begins, or -1."""
    n = len(buf)
    m = len(pat)
    i = start
    while i + m <= n:
        if buf[i] == pat[0]:
            ok = True
            for j in range(1, m):
                if buf[i + j] != pat[j]:
                    ok = False
                    break
            if ok:
                return i
        i += 1
    return -1


@kernel
def _skip_markup(buf, i, final):
    """A processing instruction, comment or CDATA section at buf[i] ('<?' or '<!').

    Returns (status, end, kind): OK with the position after it and kind 1 (instruction), 2 (comment) or 3
    (CDATA); NEED_MORE when the block ends inside it (not final); or an error code, with end = i.
    """
    n = len(buf)
    if buf[i + 1] == 63:
        j, skip, kind = _find(buf, i + 2, b"?>"), 2, 1
    elif i + 4 <= n and buf[i + 2] == 45 and buf[i + 3] == 45:
        j, skip, kind = _find(buf, i + 4, b"-->"), 3, 2
    elif i + 9 <= n and _name_is(buf, i + 2, i + 9, b"[CDATA["):
        j, skip, kind = _find(buf, i + 9, b"]]>"), 3, 3
    else:
        return (NEED_MORE if i + 9 > n and not final else E_DOCTYPE), i, 0
    if j < 0:
        return (E_TRUNCATED if final else NEED_MORE), i, 0
    return OK, j + skip, kind


@kernel
def _mark(safe, pos, ne, nt, na, ignored, phase):
    """Record a safe point: its position and the counts and phase there."""
    safe[0] = pos
    safe[1] = ne
    safe[2] = nt
    safe[3] = na
    safe[4] = ignored
    safe[5] = phase


@kernel
def scan_xes(buf, final, state, ev_trace, ev_pos, tr_pos, at_scope, at_owner, at_parent, at_type,
             at_ks, at_ke, at_vs, at_ve, at_kid, key_first, out):
    """Scan XES bytes, recording traces, events and attributes up to the last safe point.

    buf: uint8[n], XML bytes. final: True when buf reaches the end of the file.
    state: int64[3] in/out: state[0] is 0 before <log>, 1 inside it, 2 after </log> (at the safe point).
    ev_trace, ev_pos: int32[cap] (trace of each event, block-local, -1 outside a trace; byte offset).
    tr_pos: int32[cap]. at_*: int32[cap] per attribute element (scope 0 log / 1 trace / 2 event,
    owner index, parent attribute or -1, type code, key and value byte spans, value start -1 if absent).
    at_kid: int32[cap] out, the attribute's key as a block-local id (-1: no key); key_first: int64[MAX_KEYS]
    out, the first record of each key id.
    out: int64[8] out: [status, error position, events, traces, attributes, safe position, ignored elements,
    key ids].
    A safe point is the end of any element directly inside <log> (or of the whole log); only what lies
    before it is reported, so a block may end anywhere.
    """
    n = len(buf)
    ktab_hash = np.zeros(KEY_TABLE, np.uint64)
    ktab_id = np.full(KEY_TABLE, -1, np.int64)
    nkeys = 0
    kinds = np.zeros(MAX_DEPTH, np.int64)
    hashes = np.zeros(MAX_DEPTH, np.uint64)
    # attribute record of each open attribute element; an attribute opened at depth MAX_DEPTH is recorded
    # before the depth check (a self-closing one is accepted there), hence MAX_DEPTH + 1 slots
    recs = np.full(MAX_DEPTH + 1, -1, np.int64)
    phase = state[0]
    depth = 0
    if phase == 1:
        kinds[0] = K_LOG
        hashes[0] = LOG_HASH
        depth = 1
    ne = 0
    nt = 0
    na = 0
    cur_trace = -1
    cur_event = -1
    ignore_depth = -1
    ignored = 0
    safe = np.zeros(6, np.int64)      # the last safe point: position, events, traces, attributes, ignored, phase
    safe[5] = phase
    i = 0
    while True:
        # find next '<'
        while i < n and buf[i] != 60:
            i += 1
        if i >= n:
            break
        start = i
        if i + 1 >= n:
            if final:
                out[0] = E_TRUNCATED
                out[1] = start
                return
            break
        c = buf[i + 1]
        if c == 63 or c == 33:  # <? ... ?>, <!-- ... -->, <![CDATA[ ... ]]> or a declaration
            status, i, kind = _skip_markup(buf, i, final)
            if status == NEED_MORE:
                break
            if status != OK:
                out[0] = status
                out[1] = start
                return
            if (kind == 1 and depth == 0) or (kind == 2 and depth <= 1 and ignore_depth < 0):
                _mark(safe, i, ne, nt, na, ignored, phase)
            continue
        closing = c == 47
        j = i + 2 if closing else i + 1
        ns = j
        while j < n and not _is_space(buf[j]) and buf[j] != 62 and buf[j] != 47 and buf[j] != 60:
            j += 1
        if j >= n:
            if final:
                out[0] = E_TRUNCATED
                out[1] = start
                return
            break
        ne_ = j
        if ne_ == ns or buf[j] == 60:
            out[0] = E_MALFORMED_TAG
            out[1] = start
            return
        ks = -1
        ke = -1
        vs = -1
        ve = -1
        selfclose = False
        incomplete = False
        bad = False
        if closing:
            while j < n and _is_space(buf[j]):
                j += 1
            if j >= n:
                incomplete = True
            elif buf[j] != 62:
                bad = True
            else:
                j += 1
        else:
            # attributes
            while True:
                while j < n and _is_space(buf[j]):
                    j += 1
                if j >= n:
                    incomplete = True
                    break
                b = buf[j]
                if b == 62:
                    j += 1
                    break
                if b == 47:
                    if j + 1 >= n:
                        incomplete = True
                        break
                    if buf[j + 1] != 62:
                        bad = True
                        break
                    selfclose = True
                    j += 2
                    break
                an_s = j
                while j < n and not _is_space(buf[j]) and buf[j] != 61 and buf[j] != 62 and buf[j] != 47:
                    j += 1
                an_e = j
                while j < n and _is_space(buf[j]):
                    j += 1
                if j >= n:
                    incomplete = True
                    break
                if buf[j] != 61 or an_e == an_s:
                    bad = True
                    break
                j += 1
                while j < n and _is_space(buf[j]):
                    j += 1
                if j >= n:
                    incomplete = True
                    break
                q = buf[j]
                if q != 34 and q != 39:
                    bad = True
                    break
                j += 1
                v0 = j
                while j < n and buf[j] != q:
                    if buf[j] == 60:
                        out[0] = E_LT_IN_VALUE
                        out[1] = j
                        return
                    j += 1
                if j >= n:
                    incomplete = True
                    break
                v1 = j
                j += 1
                if _name_is(buf, an_s, an_e, b"key"):
                    if ks >= 0:
                        out[0] = E_DUPLICATE_ATTRIBUTE
                        out[1] = start
                        return
                    ks = v0
                    ke = v1
                elif _name_is(buf, an_s, an_e, b"value"):
                    if vs >= 0:
                        out[0] = E_DUPLICATE_ATTRIBUTE
                        out[1] = start
                        return
                    vs = v0
                    ve = v1
        if incomplete:
            if final:
                out[0] = E_TRUNCATED
                out[1] = start
                return
            break
        if bad:
            out[0] = E_MALFORMED_TAG
            out[1] = start
            return
        i = j
        h = _hash(buf, ns, ne_)
        if closing:
            if depth == 0:
                out[0] = E_UNOPENED
                out[1] = start
                return
            if hashes[depth - 1] != h:
                out[0] = E_MISMATCH
                out[1] = start
                return
            depth -= 1
            k = kinds[depth]
            if ignore_depth >= 0:
                if depth == ignore_depth:
                    ignore_depth = -1
            elif k == K_TRACE:
                cur_trace = -1
            elif k == K_EVENT:
                cur_event = -1
            if depth == 0:
                phase = 2
            if depth <= 1 and ignore_depth < 0:
                _mark(safe, i, ne, nt, na, ignored, phase)
            continue
        # opening (or self-closing) tag
        k = _kind_of(buf, ns, ne_)
        if depth == 0:
            if phase == 2:
                out[0] = E_AFTER_LOG
                out[1] = start
                return
            if k != K_LOG:
                out[0] = E_NOT_LOG
                out[1] = start
                return
            phase = 1
        elif ignore_depth >= 0:
            pass
        else:
            parent = kinds[depth - 1]
            if k == K_LOG:
                out[0] = E_NESTING
                out[1] = start
                return
            if k == K_TRACE:
                if parent != K_LOG:
                    out[0] = E_NESTING
                    out[1] = start
                    return
                tr_pos[nt] = start
                cur_trace = nt
                nt += 1
            elif k == K_EVENT:
                if parent != K_LOG and parent != K_TRACE:
                    out[0] = E_NESTING
                    out[1] = start
                    return
                ev_trace[ne] = cur_trace
                ev_pos[ne] = start
                cur_event = ne
                ne += 1
            elif k >= T_STRING:
                pr = -1
                if parent >= T_STRING:
                    pr = recs[depth - 1]
                elif parent == K_VALUES:
                    pr = recs[depth - 2]
                scope = 0
                owner = -1
                if cur_event >= 0:
                    scope = 2
                    owner = cur_event
                elif cur_trace >= 0:
                    scope = 1
                    owner = cur_trace
                at_scope[na] = scope
                at_owner[na] = owner
                at_parent[na] = pr
                at_type[na] = k
                at_ks[na] = ks
                at_ke[na] = ke
                at_vs[na] = vs
                at_ve[na] = ve
                if ks >= 0:
                    kh = _hash(buf, ks, ke)
                    slot = np.int64(kh & np.uint64(KEY_TABLE - 1))
                    while ktab_id[slot] >= 0 and ktab_hash[slot] != kh:
                        slot = (slot + 1) & (KEY_TABLE - 1)
                    if ktab_id[slot] < 0:
                        if nkeys >= MAX_KEYS:
                            out[0] = E_TOO_MANY_KEYS
                            out[1] = start
                            return
                        ktab_id[slot] = nkeys
                        ktab_hash[slot] = kh
                        key_first[nkeys] = na
                        nkeys += 1
                    at_kid[na] = ktab_id[slot]
                else:
                    at_kid[na] = -1
                recs[depth] = na
                na += 1
            elif k == K_VALUES:
                if parent != T_LIST:
                    if not selfclose:
                        ignore_depth = depth
                    ignored += 1
            else:
                # extension, global, classifier or an element XES does not define: contents ignored
                if not selfclose:
                    ignore_depth = depth
                if not (parent == K_LOG and (_name_is(buf, ns, ne_, b"extension") or _name_is(buf, ns, ne_, b"global")
                                             or _name_is(buf, ns, ne_, b"classifier"))):
                    ignored += 1
        if selfclose:
            if depth == 0:
                phase = 2
            if depth <= 1 and ignore_depth < 0:
                _mark(safe, i, ne, nt, na, ignored, phase)
            if k == K_TRACE and ignore_depth < 0:
                cur_trace = -1
            if k == K_EVENT and ignore_depth < 0:
                cur_event = -1
            continue
        if depth >= MAX_DEPTH:
            out[0] = E_DEPTH
            out[1] = start
            return
        kinds[depth] = k
        hashes[depth] = h
        depth += 1
    if final:
        if phase == 0:
            out[0] = E_NO_LOG
            out[1] = n
            return
        if depth > 0:
            out[0] = E_NO_END
            out[1] = n
            return
        _mark(safe, n, ne, nt, na, ignored, phase)
    state[0] = safe[5]
    out[0] = OK if (final or safe[0] > 0) else NEED_MORE
    out[1] = 0
    out[2:5] = safe[1:4]
    out[5] = safe[0]
    out[6] = safe[4]
    out[7] = nkeys


@kernel
def count_keys(at_scope, at_parent, at_kid, scope, nkeys):
    """How many top-level attributes of the scope (1 trace, 2 event) use each key id."""
    counts = np.zeros(nkeys, np.int64)
    for r in range(len(at_scope)):
        if at_scope[r] == scope and at_parent[r] < 0 and at_kid[r] >= 0:
            counts[at_kid[r]] += 1
    return counts


@kernel
def select_attributes(at_scope, at_parent, at_kid, at_owner, at_type, scope, col_of, n_cols, n_own):
    """sel[c, owner]: the attribute record giving column c of that owner (-1: none; a repeated key: the last).

    types[c]: bit (type - 10) set for every XES type seen in column c.
    """
    sel = np.full((n_cols, n_own), -1, np.int64)
    types = np.zeros(n_cols, np.int64)
    for r in range(len(at_scope)):
        if at_scope[r] == scope and at_parent[r] < 0 and at_kid[r] >= 0:
            c = col_of[at_kid[r]]
            sel[c, at_owner[r]] = r
            types[c] |= 1 << (at_type[r] - 10)
    return sel, types


@kernel
def find_utf8_error(buf, final):
    """-1 when buf is valid UTF-8, else the offset of the first bad byte (a sequence cut by the end is fine
    unless final)."""
    n = len(buf)
    i = 0
    while i < n:
        c = buf[i]
        if c < 0x80:
            i += 1
            continue
        if 0xC2 <= c <= 0xDF:
            k = 1
        elif 0xE0 <= c <= 0xEF:
            k = 2
        elif 0xF0 <= c <= 0xF4:
            k = 3
        else:
            return i
        if i + k >= n:
            if not final:
                return -1
            return i
        c1 = buf[i + 1]
        if c == 0xE0 and c1 < 0xA0 or c == 0xED and c1 > 0x9F or c == 0xF0 and c1 < 0x90 or c == 0xF4 and c1 > 0x8F:
            return i
        for j in range(1, k + 1):
            if buf[i + j] & 0xC0 != 0x80:
                return i
        i += k + 1
    return -1


@kernel
def gather_spans(buf, starts, ends, data, offsets, normalise):
    """Copy byte spans into one buffer, decoding XML entities; returns -1 or the position of a bad entity.

    starts, ends: int64[m] (start -1: null, empty value). data: uint8[>= sum of span lengths].
    offsets: int32[m+1] out. normalise: replace literal tab/newline/CR by a space (XML attribute values).
    """
    at = 0
    offsets[0] = 0
    for r in range(len(starts)):
        s = starts[r]
        if s >= 0:
            e = ends[r]
            i = s
            while i < e:
                c = buf[i]
                if c == 38:  # &
                    j = i + 1
                    while j < e and buf[j] != 59 and j - i < 12:
                        j += 1
                    if j >= e or buf[j] != 59:
                        return i
                    ln = j - i - 1
                    if ln == 2 and buf[i + 1] == 108 and buf[i + 2] == 116:
                        data[at] = 60
                        at += 1
                    elif ln == 2 and buf[i + 1] == 103 and buf[i + 2] == 116:
                        data[at] = 62
                        at += 1
                    elif ln == 3 and buf[i + 1] == 97 and buf[i + 2] == 109 and buf[i + 3] == 112:
                        data[at] = 38
                        at += 1
                    elif ln == 4 and buf[i + 1] == 113 and buf[i + 2] == 117 and buf[i + 3] == 111 and buf[i + 4] == 116:
                        data[at] = 34
                        at += 1
                    elif ln == 4 and buf[i + 1] == 97 and buf[i + 2] == 112 and buf[i + 3] == 111 and buf[i + 4] == 115:
                        data[at] = 39
                        at += 1
                    elif ln >= 2 and buf[i + 1] == 35:
                        cp = 0
                        k = i + 2
                        base = 10
                        if buf[k] == 120:
                            base = 16
                            k += 1
                        if k >= j:
                            return i
                        while k < j:
                            d = buf[k]
                            if 48 <= d <= 57:
                                v = d - 48
                            elif base == 16 and 97 <= d <= 102:
                                v = d - 87
                            elif base == 16 and 65 <= d <= 70:
                                v = d - 55
                            else:
                                return i
                            cp = cp * base + v
                            if cp > 0x10FFFF:
                                return i
                            k += 1
                        if cp == 0 or (0xD800 <= cp <= 0xDFFF):
                            return i
                        if cp < 0x80:
                            data[at] = cp
                            at += 1
                        elif cp < 0x800:
                            data[at] = 0xC0 | (cp >> 6)
                            data[at + 1] = 0x80 | (cp & 0x3F)
                            at += 2
                        elif cp < 0x10000:
                            data[at] = 0xE0 | (cp >> 12)
                            data[at + 1] = 0x80 | ((cp >> 6) & 0x3F)
                            data[at + 2] = 0x80 | (cp & 0x3F)
                            at += 3
                        else:
                            data[at] = 0xF0 | (cp >> 18)
                            data[at + 1] = 0x80 | ((cp >> 12) & 0x3F)
                            data[at + 2] = 0x80 | ((cp >> 6) & 0x3F)
                            data[at + 3] = 0x80 | (cp & 0x3F)
                            at += 4
                    else:
                        return i
                    i = j + 1
                    continue
                if normalise and (c == 9 or c == 10 or c == 13):
                    if c == 13 and i + 1 < e and buf[i + 1] == 10:
                        i += 1
                    c = 32
                data[at] = c
                at += 1
                i += 1
        offsets[r + 1] = at
    return -1


@kernel
def _value_span(buf, starts, ends, r):
    """Span r without leading and trailing XML white space; (-1, -1) when absent."""
    s = starts[r]
    e = ends[r]
    if s < 0:
        return -1, -1
    while s < e and _is_space(buf[s]):
        s += 1
    while e > s and _is_space(buf[e - 1]):
        e -= 1
    return s, e


@kernel
def _digits(buf, s, n):
    v = 0
    for i in range(s, s + n):
        d = buf[i] - 48
        if d < 0 or d > 9:
            return -1
        v = v * 10 + d
    return v


@kernel
def _days_from_civil(y, m, d):
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@kernel
def parse_dates(buf, starts, ends, out, flags):
    """ISO 8601 date-times of the spans to int64 ns UTC (see ``_parse_date``); flags 3 where absent."""
    _parse_spans(buf, starts, ends, out, flags, True)


@kernel
def parse_ints(buf, starts, ends, out, flags):
    """Decimal integers of the spans to int64; flags 0 ok, 2 invalid, 3 absent."""
    _parse_spans(buf, starts, ends, out, flags, False)


@kernel
def _parse_spans(buf, starts, ends, out, flags, dates):
    """out[r], flags[r] of span r (start -1: absent, flag 3), as a date-time or an integer."""
    for r in range(len(starts)):
        s, e = _value_span(buf, starts, ends, r)
        if s < 0:
            out[r] = 0
            flags[r] = 3
        elif dates:
            out[r], flags[r] = _parse_date(buf, s, e)
        else:
            out[r], flags[r] = _parse_int(buf, s, e)


@kernel
def _parse_date(buf, s, e):
    """(int64 ns UTC, flag) of the ISO 8601 date-time buf[s:e] (also 'YYYY/MM/DD hh:mm:ss'): flag 0 with an
    offset, 1 without (read as UTC), 2 invalid."""
    if e - s < 10:
        return 0, 2
    sep = buf[s + 4]
    if (sep != 45 and sep != 47) or buf[s + 7] != sep:
        return 0, 2
    y = _digits(buf, s, 4)
    mo = _digits(buf, s + 5, 2)
    d = _digits(buf, s + 8, 2)
    if y < 0 or mo < 1 or mo > 12 or d < 1 or d > 31:
        return 0, 2
    hh = 0
    mi = 0
    ss = 0
    frac = 0
    p = s + 10
    if p < e and (buf[p] == 84 or buf[p] == 32):
        if e - p < 6 or buf[p + 3] != 58:
            return 0, 2
        hh = _digits(buf, p + 1, 2)
        mi = _digits(buf, p + 4, 2)
        p += 6
        if p < e and buf[p] == 58:
            if e - p < 3:
                return 0, 2
            ss = _digits(buf, p + 1, 2)
            p += 3
        if hh < 0 or hh > 24 or mi < 0 or mi > 59 or ss < 0 or ss > 60:
            return 0, 2
        if p < e and (buf[p] == 46 or buf[p] == 44):
            p += 1
            nd = 0
            while p < e and 48 <= buf[p] <= 57:
                if nd < 9:
                    frac = frac * 10 + (buf[p] - 48)
                nd += 1
                p += 1
            if nd == 0:
                return 0, 2
            for _ in range(nd, 9):
                frac *= 10
    off = 0
    has_tz = False
    ok = True
    if p < e:
        if buf[p] == 90 and p + 1 == e:
            has_tz = True
        elif (buf[p] == 43 or buf[p] == 45) and (e - p == 6 or e - p == 5 or e - p == 3):
            oh = _digits(buf, p + 1, 2)
            om = 0
            if e - p == 6:
                if buf[p + 3] != 58:
                    ok = False
                om = _digits(buf, p + 4, 2)
            elif e - p == 5:
                om = _digits(buf, p + 3, 2)
            if oh < 0 or om < 0 or oh > 23 or om > 59:
                ok = False
            off = (oh * 60 + om) * 60
            if buf[p] == 45:
                off = -off
            has_tz = True
        else:
            ok = False
    if not ok:
        return 0, 2
    days = _days_from_civil(y, mo, d)
    secs = days * 86400 + hh * 3600 + mi * 60 + ss - off
    return secs * 1000000000 + frac, (0 if has_tz else 1)


@kernel
def _parse_int(buf, s, e):
    """(int64, flag) of the decimal integer buf[s:e]: flag 0 ok, 2 invalid."""
    neg = False
    if s < e and (buf[s] == 45 or buf[s] == 43):
        neg = buf[s] == 45
        s += 1
    if s >= e or e - s > 18:
        return 0, 2
    v = 0
    good = True
    for i in range(s, e):
        d = buf[i] - 48
        if d < 0 or d > 9:
            good = False
            break
        v = v * 10 + d
    return (-v if neg else v), (0 if good else 2)
