"""XES (IEEE 1849-2016) reader: ``.xes`` and ``.xes.gz`` into canonical events.

The file is streamed: gzip is inflated in blocks, and each block of XML is
scanned by a small numba byte scanner that records where traces, events and
attributes are (byte offsets), never building a tree or one Python object per
event. Columns are then cut out of the block with vectorised gathers. Memory
stays bounded by the block size plus the Arrow columns being built.

Mapping (what pm4py's ``read_xes`` produces, one row per event):

- trace ``concept:name`` -> ``case_id``; other trace attributes -> ``case:<key>``
- event ``concept:name`` -> ``activity``, ``time:timestamp`` -> ``timestamp``
  (UTC; offsets honoured), ``org:resource`` -> ``resource``,
  ``lifecycle:transition`` -> ``lifecycle`` (start/complete events stay
  separate rows, as in pm4py)
- any other event attribute -> a column named by its key, typed: string/id ->
  string, date -> timestamp[ns, UTC], int -> int64, float -> float64, boolean ->
  bool, list/container -> JSON text of the children. A key that carries
  different types in one log becomes a string column (int and float: float).

Records are events. An event is rejected (with its line and reason) when it
has no ``time:timestamp``, an unreadable one, no ``concept:name``, or sits
outside any trace. A trace without ``concept:name`` gets the case id
``trace-<n>`` (its 1-based position in the file) and a warning. Dates without
an offset are read as UTC (warning). Extensions, globals, classifiers and log
attributes are tolerated and not turned into events.

Security: any DOCTYPE or entity declaration is refused (nothing is expanded or
fetched); only the five predefined entities and character references are
decoded. Not XML, not XES, bad UTF-8, a truncated ``.xes.gz`` or a broken
structure raise ``InputError`` with the path and line.
"""

from __future__ import annotations

import codecs
import json
import re
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

from engine.errors import InputError
from engine.ingest import ReadOptions, ReadResult, Reject, register_reader

BLOCK = 16 << 20          # bytes of XML scanned at a time
READ = 16 << 20           # bytes read from disk at a time
MAX_DEPTH = 64
MAX_REJECT_TEXT = 300

# element kinds
K_LOG, K_TRACE, K_EVENT, K_IGNORED, K_VALUES = 1, 2, 3, 4, 5
# attribute types (also element kinds, >= 10)
T_STRING, T_DATE, T_INT, T_FLOAT, T_BOOLEAN, T_ID, T_LIST, T_CONTAINER = 10, 11, 12, 13, 14, 15, 16, 17
TYPE_NAMES = {T_STRING: "string", T_DATE: "date", T_INT: "int", T_FLOAT: "float", T_BOOLEAN: "boolean",
              T_ID: "id", T_LIST: "list", T_CONTAINER: "container"}

# scanner status codes
OK, NEED_MORE = 0, 1
ERRORS = {
    2: "The file ends inside an element or comment (is it truncated?)",
    3: "Malformed tag",
    4: "DOCTYPE or entity declarations are not accepted in XES input (nothing is expanded or fetched)",
    5: "The root element is not <log>: this is not an XES file",
    6: "A closing tag does not match the element it closes",
    7: "A closing tag has no element to close",
    8: "An event, trace or log element is nested where it is not allowed",
    9: "Content after the closing </log>",
    10: "Elements are nested too deeply",
    11: "A '<' inside an attribute value is not allowed in XML",
    12: "The file ends before </log> (is it truncated?)",
    13: "No <log> element found: this is not an XES file",
    14: "Duplicate attribute in a tag",
    15: "Unknown entity reference (only &lt; &gt; &amp; &quot; &apos; and &#...; are allowed)",
    16: "More distinct attribute keys than cxmine reads in one block of the file",
}
KEY_TABLE = 1 << 16
MAX_KEYS = 1 << 14


# --------------------------------------------------------------------------- numba scanner

@njit(cache=True, nogil=True)
def _is_space(c):
    return c == 32 or c == 9 or c == 10 or c == 13


@njit(cache=True, nogil=True)
def _name_is(buf, s, e, word):
    if e - s != len(word):
        return False
    for i in range(len(word)):
        if buf[s + i] != word[i]:
            return False
    return True


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
def _scan(buf, final, state, ev_trace, ev_pos, tr_pos, at_scope, at_owner, at_parent, at_type,
          at_ks, at_ke, at_vs, at_ve, at_kid, key_first, out):
    """Scan XES bytes, recording traces, events and attributes up to the last safe point.

    buf: uint8[n], XML bytes. final: True when buf reaches the end of the file.
    state: int64[3] in/out: state[0] is 0 before <log>, 1 inside it, 2 after </log> (at the safe point).
    ev_trace, ev_pos: int64[cap] (trace of each event, block-local, -1 outside a trace; byte offset).
    tr_pos: int64[cap]. at_*: int64[cap] per attribute element (scope 0 log / 1 trace / 2 event,
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
    recs = np.full(MAX_DEPTH, -1, np.int64)  # attribute record of each open attribute element
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
    safe_ne = 0
    safe_nt = 0
    safe_na = 0
    safe_pos = 0
    safe_ignored = 0
    safe_phase = phase
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
                out[0] = 2
                out[1] = start
                return
            break
        c = buf[i + 1]
        if c == 63:  # <? ... ?>
            j = _find(buf, i + 2, b"?>")
            if j < 0:
                if final:
                    out[0] = 2
                    out[1] = start
                    return
                break
            i = j + 2
            if depth == 0:
                safe_pos = i
                safe_phase = phase
            continue
        if c == 33:  # <!
            if i + 4 <= n and buf[i + 2] == 45 and buf[i + 3] == 45:
                j = _find(buf, i + 4, b"-->")
                if j < 0:
                    if final:
                        out[0] = 2
                        out[1] = start
                        return
                    break
                i = j + 3
                if depth <= 1 and ignore_depth < 0:
                    safe_pos = i
                    safe_ne = ne
                    safe_nt = nt
                    safe_na = na
                    safe_ignored = ignored
                    safe_phase = phase
                continue
            if i + 9 <= n and _name_is(buf, i + 2, i + 9, b"[CDATA["):
                j = _find(buf, i + 9, b"]]>")
                if j < 0:
                    if final:
                        out[0] = 2
                        out[1] = start
                        return
                    break
                i = j + 3
                continue
            if i + 9 > n and not final:
                break
            out[0] = 4
            out[1] = start
            return
        closing = c == 47
        j = i + 2 if closing else i + 1
        ns = j
        while j < n and not _is_space(buf[j]) and buf[j] != 62 and buf[j] != 47 and buf[j] != 60:
            j += 1
        if j >= n:
            if final:
                out[0] = 2
                out[1] = start
                return
            break
        ne_ = j
        if ne_ == ns or buf[j] == 60:
            out[0] = 3
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
                        out[0] = 11
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
                        out[0] = 14
                        out[1] = start
                        return
                    ks = v0
                    ke = v1
                elif _name_is(buf, an_s, an_e, b"value"):
                    if vs >= 0:
                        out[0] = 14
                        out[1] = start
                        return
                    vs = v0
                    ve = v1
        if incomplete:
            if final:
                out[0] = 2
                out[1] = start
                return
            break
        if bad:
            out[0] = 3
            out[1] = start
            return
        i = j
        h = _hash(buf, ns, ne_)
        if closing:
            if depth == 0:
                out[0] = 7
                out[1] = start
                return
            if hashes[depth - 1] != h:
                out[0] = 6
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
                safe_pos = i
                safe_ne = ne
                safe_nt = nt
                safe_na = na
                safe_ignored = ignored
                safe_phase = phase
            continue
        # opening (or self-closing) tag
        k = _kind_of(buf, ns, ne_)
        if depth == 0:
            if phase == 2:
                out[0] = 9
                out[1] = start
                return
            if k != K_LOG:
                out[0] = 5
                out[1] = start
                return
            phase = 1
        elif ignore_depth >= 0:
            pass
        else:
            parent = kinds[depth - 1]
            if k == K_LOG:
                out[0] = 8
                out[1] = start
                return
            if k == K_TRACE:
                if parent != K_LOG:
                    out[0] = 8
                    out[1] = start
                    return
                tr_pos[nt] = start
                cur_trace = nt
                nt += 1
            elif k == K_EVENT:
                if parent != K_LOG and parent != K_TRACE:
                    out[0] = 8
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
                            out[0] = 16
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
                safe_pos = i
                safe_ne = ne
                safe_nt = nt
                safe_na = na
                safe_ignored = ignored
                safe_phase = phase
            if k == K_TRACE and ignore_depth < 0:
                cur_trace = -1
            if k == K_EVENT and ignore_depth < 0:
                cur_event = -1
            continue
        if depth >= MAX_DEPTH:
            out[0] = 10
            out[1] = start
            return
        kinds[depth] = k
        hashes[depth] = h
        depth += 1
    if final:
        if phase == 0:
            out[0] = 13
            out[1] = n
            return
        if depth > 0:
            out[0] = 12
            out[1] = n
            return
        safe_pos = n
        safe_ne = ne
        safe_nt = nt
        safe_na = na
        safe_ignored = ignored
        safe_phase = phase
    state[0] = safe_phase
    out[0] = OK if (final or safe_pos > 0) else NEED_MORE
    out[1] = 0
    out[2] = safe_ne
    out[3] = safe_nt
    out[4] = safe_na
    out[5] = safe_pos
    out[6] = safe_ignored
    out[7] = nkeys


@njit(cache=True, nogil=True)
def _count_keys(at_scope, at_parent, at_kid, scope, nkeys):
    """How many top-level attributes of the scope (1 trace, 2 event) use each key id."""
    counts = np.zeros(nkeys, np.int64)
    for r in range(len(at_scope)):
        if at_scope[r] == scope and at_parent[r] < 0 and at_kid[r] >= 0:
            counts[at_kid[r]] += 1
    return counts


@njit(cache=True, nogil=True)
def _select(at_scope, at_parent, at_kid, at_owner, at_type, scope, col_of, n_cols, n_own):
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


@njit(cache=True, nogil=True)
def _utf8_error(buf, final):
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


@njit(cache=True, nogil=True)
def _gather(buf, starts, ends, data, offsets, normalise):
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


@njit(cache=True, nogil=True)
def _digits(buf, s, n):
    v = 0
    for i in range(s, s + n):
        d = buf[i] - 48
        if d < 0 or d > 9:
            return -1
        v = v * 10 + d
    return v


@njit(cache=True, nogil=True)
def _days_from_civil(y, m, d):
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@njit(cache=True, nogil=True)
def _parse_dates(buf, starts, ends, out, flags):
    """ISO 8601 date-times (also 'YYYY/MM/DD hh:mm:ss') to int64 ns UTC. flags: 0 ok with offset, 1 ok without (read as UTC), 2 invalid."""
    for r in range(len(starts)):
        s = starts[r]
        e = ends[r]
        out[r] = 0
        if s < 0:
            flags[r] = 3
            continue
        while s < e and _is_space(buf[s]):
            s += 1
        while e > s and _is_space(buf[e - 1]):
            e -= 1
        flags[r] = 2
        if e - s < 10:
            continue
        sep = buf[s + 4]
        if (sep != 45 and sep != 47) or buf[s + 7] != sep:
            continue
        y = _digits(buf, s, 4)
        mo = _digits(buf, s + 5, 2)
        d = _digits(buf, s + 8, 2)
        if y < 0 or mo < 1 or mo > 12 or d < 1 or d > 31:
            continue
        hh = 0
        mi = 0
        ss = 0
        frac = 0
        p = s + 10
        if p < e and (buf[p] == 84 or buf[p] == 32):
            if e - p < 6 or buf[p + 3] != 58:
                continue
            hh = _digits(buf, p + 1, 2)
            mi = _digits(buf, p + 4, 2)
            p += 6
            if p < e and buf[p] == 58:
                if e - p < 3:
                    continue
                ss = _digits(buf, p + 1, 2)
                p += 3
            if hh < 0 or hh > 24 or mi < 0 or mi > 59 or ss < 0 or ss > 60:
                continue
            if p < e and (buf[p] == 46 or buf[p] == 44):
                p += 1
                nd = 0
                while p < e and 48 <= buf[p] <= 57:
                    if nd < 9:
                        frac = frac * 10 + (buf[p] - 48)
                    nd += 1
                    p += 1
                if nd == 0:
                    continue
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
            continue
        days = _days_from_civil(y, mo, d)
        secs = days * 86400 + hh * 3600 + mi * 60 + ss - off
        out[r] = secs * 1000000000 + frac
        flags[r] = 0 if has_tz else 1


@njit(cache=True, nogil=True)
def _parse_ints(buf, starts, ends, out, flags):
    """Decimal integers to int64; flags 0 ok, 2 invalid, 3 absent."""
    for r in range(len(starts)):
        s = starts[r]
        e = ends[r]
        out[r] = 0
        if s < 0:
            flags[r] = 3
            continue
        while s < e and _is_space(buf[s]):
            s += 1
        while e > s and _is_space(buf[e - 1]):
            e -= 1
        neg = False
        if s < e and (buf[s] == 45 or buf[s] == 43):
            neg = buf[s] == 45
            s += 1
        if s >= e or e - s > 18:
            flags[r] = 2
            continue
        v = 0
        good = True
        for i in range(s, e):
            d = buf[i] - 48
            if d < 0 or d > 9:
                good = False
                break
            v = v * 10 + d
        flags[r] = 0 if good else 2
        out[r] = -v if neg else v


# --------------------------------------------------------------------------- byte stream

def _iter_blocks(path: Path):
    """Yield decompressed bytes (gzip detected by its magic number, any number of members)."""
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise InputError(f"Cannot open the XES file: {exc.strerror}", path=str(path)) from exc
    with fh:
        head = fh.read(2)
        fh.seek(0)
        if head != b"\x1f\x8b":
            while True:
                data = fh.read(READ)
                if not data:
                    return
                yield data
        dec = zlib.decompressobj(wbits=47)
        fed = False
        while True:
            data = fh.read(max(READ // 8, 1))
            if not data:
                break
            while data:
                fed = True
                try:
                    out = dec.decompress(data)
                except zlib.error as exc:
                    raise InputError(f"The gzip data is corrupt ({exc})", path=str(path),
                                     hint="Re-create or re-download the .xes.gz file") from exc
                if out:
                    yield out
                if dec.eof:
                    data = dec.unused_data
                    dec = zlib.decompressobj(wbits=47)
                    fed = False
                    if not data.strip(b"\x00"):
                        data = b""
                else:
                    data = b""
        if fed and not dec.eof:
            raise InputError("The .xes.gz file is truncated (the gzip stream ends early)", path=str(path),
                             hint="Re-create or re-download the file")


_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']", re.S)


def _transcode_if_needed(first: bytes, path: Path) -> str | None:
    """The Python codec to decode the file with when it is not UTF-8, else None."""
    if first.startswith(codecs.BOM_UTF16_LE) or first.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    m = _XML_DECL.match(first[:400])
    if m:
        enc = m.group(1).decode("ascii").lower()
        if enc in ("utf-8", "utf8", "us-ascii", "ascii"):
            return None
        try:
            codecs.lookup(enc)
        except LookupError:
            raise InputError(f"Unknown character encoding '{enc}' declared", path=str(path),
                             hint="Re-encode the file as UTF-8") from None
        return enc
    return None


# --------------------------------------------------------------------------- columns from spans

EVENT_KEYS = {"concept:name": "activity", "time:timestamp": "timestamp", "org:resource": "resource",
              "lifecycle:transition": "lifecycle"}
RESERVED = {"case_id", "activity", "timestamp", "resource", "lifecycle", "case_index"}
_PSEUDONYM = r"^cus_[0-9a-f]{32}$"


class _Issues:
    """Counts of tolerated problems, each with its first location, turned into warnings at the end."""

    def __init__(self) -> None:
        self.items: dict[str, list] = {}

    def add(self, what: str, count: int, line: int | None) -> None:
        if count <= 0:
            return
        item = self.items.setdefault(what, [0, line])
        item[0] += count

    def warnings(self, path: Path) -> list[str]:
        return [f"{path}: {n} {what}" + (f" (first at line {line})" if line else "")
                for what, (n, line) in self.items.items()]


def _gather_strings(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, *, where: str,
                    lines) -> pa.Array:
    """String array of the spans (start -1: null), XML entities decoded."""
    m = len(starts)
    valid = starts >= 0
    total = int(np.sum(np.where(valid, ends - starts, 0)))
    data = np.empty(max(total, 1), np.uint8)
    offsets = np.empty(m + 1, np.int64)
    bad = _gather(buf, starts, ends, data, offsets, True)
    if bad >= 0:
        raise InputError(f"{ERRORS[15]} in {where}", path=lines.path, line=lines.line_of(bad),
                         hint="Escape '&' as &amp;")
    nulls = int(m - np.count_nonzero(valid))
    bitmap = None if nulls == 0 else pa.py_buffer(np.packbits(valid, bitorder="little"))
    if offsets[-1] < 2**31 - 1:
        return pa.StringArray.from_buffers(m, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data),
                                           bitmap, nulls)
    return pa.LargeStringArray.from_buffers(m, pa.py_buffer(offsets), pa.py_buffer(data), bitmap, nulls)


class _Lines:
    """Byte offset within the current block -> 1-based line of the file."""

    def __init__(self, path: Path, data: bytes, lines_before: int) -> None:
        self.path = str(path)
        self.data = data
        self.lines_before = lines_before
        self._nl = None

    def line_of(self, pos: int) -> int:
        return self.lines_before + self.data.count(b"\n", 0, pos) + 1

    def lines_of(self, pos: np.ndarray) -> np.ndarray:
        if self._nl is None:
            self._nl = np.flatnonzero(np.frombuffer(self.data, np.uint8) == 10)
        return self.lines_before + np.searchsorted(self._nl, pos) + 1


def _typed_column(buf, t: int, sel: np.ndarray, spans, key: str, lines: _Lines,
                  issues: _Issues, children) -> pa.Array:
    """One column of owners: sel[i] is the attribute record of owner i or -1."""
    at_vs, at_ve, at_pos = spans
    has = sel >= 0
    starts = np.where(has, at_vs[np.maximum(sel, 0)], -1).astype(np.int64)
    ends = np.where(has, at_ve[np.maximum(sel, 0)], -1).astype(np.int64)
    if t in (T_LIST, T_CONTAINER):
        values = [None if r < 0 else json.dumps(children(int(r)), ensure_ascii=False) for r in sel]
        return pa.array(values, pa.string())
    missing_value = has & (starts < 0)
    if missing_value.any():
        first = int(at_pos[sel[missing_value][0]])
        issues.add(f"'{key}' attribute(s) without a value, read as empty", int(missing_value.sum()),
                   lines.line_of(first))
    if t == T_DATE:
        out = np.empty(len(sel), np.int64)
        flags = np.empty(len(sel), np.int8)
        _parse_dates(buf, starts, ends, out, flags)
        bad = flags == 2
        if bad.any():
            issues.add(f"'{key}' value(s) not an ISO 8601 date-time, left empty", int(bad.sum()),
                       lines.line_of(int(at_pos[sel[bad][0]])))
        naive = flags == 1
        if naive.any():
            issues.add(f"'{key}' date(s) without a UTC offset, read as UTC", int(naive.sum()),
                       lines.line_of(int(at_pos[sel[naive][0]])))
        return pa.array(out, pa.int64(), mask=flags >= 2).cast(pa.timestamp("ns", tz="UTC"))
    if t == T_INT:
        out = np.empty(len(sel), np.int64)
        flags = np.empty(len(sel), np.int8)
        _parse_ints(buf, starts, ends, out, flags)
        bad = flags == 2
        if bad.any():
            issues.add(f"'{key}' value(s) not an integer, left empty", int(bad.sum()),
                       lines.line_of(int(at_pos[sel[bad][0]])))
        return pa.array(out, pa.int64(), mask=flags >= 2)
    text = _gather_strings(buf, starts, ends, where=f"attribute '{key}'", lines=lines)
    if t == T_FLOAT:
        try:
            return pc.cast(pc.utf8_trim_whitespace(text), pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            values = []
            bad_rows = []
            for i, v in enumerate(text.to_pylist()):
                try:
                    values.append(None if v is None else float(v))
                except ValueError:
                    values.append(None)
                    bad_rows.append(i)
            issues.add(f"'{key}' value(s) not a number, left empty", len(bad_rows),
                       lines.line_of(int(at_pos[sel[bad_rows[0]]])))
            return pa.array(values, pa.float64())
    if t == T_BOOLEAN:
        low = pc.utf8_lower(pc.utf8_trim_whitespace(text))
        is_true = pc.is_in(low, pa.array(["true", "1"]))
        is_false = pc.is_in(low, pa.array(["false", "0"]))
        known = pc.or_(is_true, is_false)
        bad = pc.and_(pc.is_valid(low), pc.invert(known)).to_numpy(zero_copy_only=False)
        if bad.any():
            issues.add(f"'{key}' value(s) not a boolean, left empty", int(bad.sum()),
                       lines.line_of(int(at_pos[sel[bad][0]])))
        return pc.if_else(known, is_true, pa.scalar(None, pa.bool_()))
    return text


def _unify(types: list[int]) -> int:
    kinds = set(types)
    if len(kinds) == 1:
        return types[0]
    if kinds <= {T_INT, T_FLOAT}:
        return T_FLOAT
    if kinds <= {T_STRING, T_ID}:
        return T_STRING
    return -1  # text of whatever was written


class _Block:
    """Turns one scanned block into the columns of its accepted events."""

    def __init__(self, path: Path, data: bytes, lines: _Lines, arrays: dict, ne: int, nt: int, na: int,
                 nkeys: int, trace_base: int, issues: _Issues) -> None:
        self.path, self.data, self.lines, self.issues = path, data, lines, issues
        self.buf = np.frombuffer(data, np.uint8)
        self.ne, self.nt, self.na = ne, nt, na
        self.a = {k: v[:na] for k, v in arrays.items() if k.startswith("at_")}
        self.ev_trace = arrays["ev_trace"][:ne]
        self.ev_pos = arrays["ev_pos"][:ne]
        self.tr_pos = arrays["tr_pos"][:nt]
        self.trace_base = trace_base
        self.nkeys = nkeys
        self.key_first = arrays["key_first"][:nkeys]
        self._kids = None

    def children(self, r: int):
        """JSON-ready value of a list (array of {key: value}) or container ({key: value})."""
        a = self.a
        if self._kids is None:
            kids: dict[int, list[int]] = {}
            for c in np.flatnonzero(a["at_parent"] >= 0):
                kids.setdefault(int(a["at_parent"][c]), []).append(int(c))
            self._kids = kids
        items = []
        for c in self._kids.get(r, []):
            key = self._text(a["at_ks"][c], a["at_ke"][c]) or ""
            t = int(a["at_type"][c])
            if t in (T_LIST, T_CONTAINER):
                value = self.children(c)
            else:
                value = self._text(a["at_vs"][c], a["at_ve"][c])
                if t == T_INT:
                    try:
                        value = int(value)
                    except (TypeError, ValueError):
                        pass
                elif t == T_FLOAT:
                    try:
                        value = float(value)
                    except (TypeError, ValueError):
                        pass
                elif t == T_BOOLEAN and value is not None:
                    value = {"true": True, "1": True, "false": False, "0": False}.get(value.strip().lower(), value)
            items.append((key, value))
        if int(a["at_type"][r]) == T_CONTAINER:
            return dict(items)
        return [{k: v} for k, v in items]

    def _text(self, s: int, e: int) -> str | None:
        if s < 0:
            return None
        arr = _gather_strings(self.buf, np.array([s], np.int64), np.array([e], np.int64), where="a list value",
                              lines=self.lines)
        return arr[0].as_py()

    def columns(self, scope: int) -> dict[str, tuple[int, pa.Array]]:
        """{key: (type, array over owners)} of the top-level attributes of traces (1) or events (2)."""
        a = self.a
        n_own = self.ne if scope == 2 else self.nt
        out: dict[str, tuple[int, pa.Array]] = {}
        if n_own == 0 or self.na == 0:
            return out
        top = (a["at_scope"] == scope) & (a["at_parent"] < 0) if scope == 1 else None
        if top is not None:
            no_key = np.flatnonzero(top & (a["at_kid"] < 0))
        else:
            no_key = np.flatnonzero((a["at_kid"] < 0) & (a["at_parent"] < 0) & (a["at_scope"] == 2))
        if len(no_key):
            self.issues.add("attribute element(s) without a key, ignored", len(no_key),
                            self.lines.line_of(int(a["at_pos"][no_key[0]])))
        counts = _count_keys(a["at_scope"], a["at_parent"], a["at_kid"], scope, self.nkeys)
        used = np.flatnonzero(counts)
        if not len(used):
            return out
        col_of = np.full(self.nkeys, -1, np.int64)
        col_of[used] = np.arange(len(used))
        sel_all, type_bits = _select(a["at_scope"], a["at_parent"], a["at_kid"], a["at_owner"], a["at_type"],
                                     scope, col_of, len(used), n_own)
        first = self.key_first[used]
        names = _gather_strings(self.buf, a["at_ks"][first].astype(np.int64), a["at_ke"][first].astype(np.int64),
                                where="an attribute key", lines=self.lines).to_pylist()
        spans = (a["at_vs"], a["at_ve"], a["at_pos"])
        for c, key in enumerate(names):
            types = [t for t in TYPE_NAMES if type_bits[c] & (1 << (t - 10))]
            t = _unify(types)
            sel = sel_all[c]
            if t == -1:
                self.issues.add(f"'{key}' written with several types ({', '.join(TYPE_NAMES[x] for x in types)}), "
                                "kept as text", 1, None)
                t = T_STRING
            if key == "time:timestamp" and scope == 2:
                t = T_DATE
            col = _typed_column(self.buf, t, sel, spans, key, self.lines, self.issues, self.children)
            if key in out:  # two keys with one hash cannot happen in practice; keep the first
                continue
            out[key] = (t, col)
        return out

    def table(self, rejects: list[Reject]) -> pa.Table:
        ne = self.ne
        ev = self.columns(2)
        tr = self.columns(1)
        # case ids: trace concept:name, else the trace's position in the file
        if "concept:name" in tr:
            case = tr.pop("concept:name")[1]
            if case.type != pa.string():
                case = pc.cast(case, pa.string())
        else:
            case = pa.nulls(self.nt, pa.string())
        unnamed = pc.is_null(case).to_numpy(zero_copy_only=False) if self.nt else np.zeros(0, bool)
        if unnamed.any():
            idx = np.flatnonzero(unnamed)
            self.issues.add("trace(s) without concept:name, named trace-<position>", len(idx),
                            self.lines.line_of(int(self.tr_pos[idx[0]])))
            fill = pa.array([f"trace-{self.trace_base + int(i) + 1}" for i in idx], pa.string())
            case = pc.replace_with_mask(case, pa.array(unnamed), fill)
        if self.nt:
            with_events = np.zeros(self.nt, bool)
            with_events[self.ev_trace[self.ev_trace >= 0]] = True
            empty = np.flatnonzero(~with_events)
            if len(empty):
                self.issues.add("trace(s) without events (no rows, as in pm4py)", len(empty),
                                self.lines.line_of(int(self.tr_pos[empty[0]])))
        # reasons to refuse an event
        reason = np.zeros(ne, np.int8)
        act = ev.pop("concept:name", (T_STRING, pa.nulls(ne, pa.string())))[1]
        if act.type != pa.string():
            act = pc.cast(act, pa.string())
        ts_t, ts = ev.pop("time:timestamp", (T_DATE, pa.nulls(ne, pa.timestamp("ns", tz="UTC"))))
        reason[pc.is_null(act).to_numpy(zero_copy_only=False)] = 3
        ts_null = pc.is_null(ts).to_numpy(zero_copy_only=False)
        reason[ts_null] = 2
        reason[self.ev_trace < 0] = 1
        bad = np.flatnonzero(reason)
        if len(bad):
            texts = {1: "event outside any <trace>", 2: "event has no readable time:timestamp",
                     3: "event has no concept:name (activity)"}
            lines = self.lines.lines_of(self.ev_pos[bad])
            for i, line in zip(bad.tolist(), lines.tolist()):
                p = int(self.ev_pos[i])
                raw = self.data[p:p + MAX_REJECT_TEXT]
                end = raw.find(b"</event>")
                raw = raw[:end + 8] if end >= 0 else raw
                rejects.append(Reject(str(self.path), int(line), texts[int(reason[i])],
                                      " ".join(raw.decode("utf-8", "replace").split())))
        keep = np.flatnonzero(reason == 0)
        take = pa.array(keep)
        trace_of = pa.array(self.ev_trace[keep])
        cols: dict[str, tuple[int, pa.Array]] = {
            "case_id": (T_STRING, case.take(trace_of) if self.nt else pa.array([], pa.string())),
            "activity": (T_STRING, act.take(take)),
            "timestamp": (T_DATE, ts.take(take)),
        }
        for key, (t, col) in ev.items():
            name = EVENT_KEYS.get(key, key)
            if name in RESERVED and key not in EVENT_KEYS or name in cols:
                name = "attr:" + key
            cols[name] = (t, col.take(take))
        for key, (t, col) in tr.items():
            name = "case:" + key
            while name in cols:
                name = "attr:" + name
            cols[name] = (t, col.take(trace_of))
        # strings repeat a lot (activities, agents, queues): keep them dictionary-encoded
        return pa.table({k: pc.dictionary_encode(v) if k != "case_id" and pa.types.is_string(v.type) else v
                         for k, (_, v) in cols.items()})


def _finish(tables: list[pa.Table], key: bytes | None, warnings: list[str]) -> pa.Table:
    """One table from the blocks' tables: columns in first-seen order, one type per column."""
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return pa.table({"case_id": pa.array([], pa.string()), "activity": pa.array([], pa.string()),
                         "timestamp": pa.array([], pa.timestamp("ns", tz="UTC"))})
    names: dict[str, list[pa.DataType]] = {}
    for t in tables:
        for f in t.schema:
            names.setdefault(f.name, []).append(f.type)
    target: dict[str, pa.DataType] = {}
    for name, types in names.items():
        kinds = set(types)
        if len(kinds) == 1:
            target[name] = types[0]
        elif kinds <= {pa.int64(), pa.float64()}:
            target[name] = pa.float64()
        else:
            target[name] = pa.string()
            warnings.append(f"attribute '{name}' has different types in different parts of the file; kept as text")
    out = []
    for t in tables:
        cols = []
        for name, typ in target.items():
            if name in t.column_names:
                col = t.column(name)
                if col.type != typ:
                    col = pc.cast(col, typ) if typ != pa.string() else _as_text(col)
            else:
                col = pa.nulls(t.num_rows, typ)
            cols.append(col)
        out.append(pa.table(cols, names=list(target)))
    table = pa.concat_tables(out)
    if "customer_id" in table.column_names:
        from engine.ingest.pseudonym import pseudonymise, run_key
        col = table.column("customer_id")
        if all(pc.all(pc.match_substring_regex(_dictionary_or_values(ch), _PSEUDONYM)).as_py() is not False
               for ch in col.chunks):
            return table  # written by cxmine: already pseudonymised
        k, warning = run_key(key)
        col = _as_text(col).combine_chunks()
        already = pc.fill_null(pc.match_substring_regex(col, _PSEUDONYM), False)
        hashed = pseudonymise(col, k)
        table = table.set_column(table.column_names.index("customer_id"), "customer_id",
                                 pc.if_else(already, col, hashed))
        if warning and not pc.all(already).as_py():
            warnings.append(warning)
    return table


def _dictionary_or_values(chunk: pa.Array) -> pa.Array:
    return chunk.dictionary if pa.types.is_dictionary(chunk.type) else pc.cast(chunk, pa.string())


def _as_text(col):
    if pa.types.is_timestamp(col.type):
        return pc.strftime(col, format="%Y-%m-%dT%H:%M:%S.%f%z")
    if pa.types.is_boolean(col.type):
        return pc.if_else(col, "true", "false")
    return pc.cast(col, pa.string())


# --------------------------------------------------------------------------- the reader

def _blocks_utf8(path: Path):
    """Blocks of UTF-8 XML: files in another declared encoding are re-encoded first."""
    blocks = _iter_blocks(path)
    first = next(blocks, b"")
    while len(first) < 400:
        more = next(blocks, None)
        if more is None:
            break
        first += more
    codec = _transcode_if_needed(first, path)
    if codec is None:
        if first.startswith(codecs.BOM_UTF8):
            first = first[3:]
        yield first
        yield from blocks
        return
    raw = first + b"".join(blocks)
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as exc:
        raise InputError(f"The file is not valid {codec} text (byte {exc.start})", path=str(path),
                         hint="Re-encode the file as UTF-8") from None
    yield text.lstrip("\ufeff").encode("utf-8")


def read_xes(path: str | Path, options: ReadOptions | None = None) -> ReadResult:
    """Read one XES file into canonical events (see the module docstring for the mapping)."""
    path = Path(path)
    options = options or ReadOptions()
    issues = _Issues()
    rejects: list[Reject] = []
    tables: list[pa.Table] = []
    state = np.zeros(3, np.int64)
    out = np.zeros(8, np.int64)
    blocks = _blocks_utf8(path)
    carry = b""
    eof = False
    want = BLOCK
    lines_before = 0
    trace_base = 0
    events_read = 0
    ignored = 0
    builder = ThreadPoolExecutor(max_workers=1)
    pending: list = []
    try:
        while True:
            parts = [carry]
            size = len(carry)
            while size < want and not eof:
                nxt = next(blocks, None)
                if nxt is None:
                    eof = True
                    break
                parts.append(nxt)
                size += len(nxt)
            data = b"".join(parts)
            parts = None
            buf = np.frombuffer(data, np.uint8)
            bad = _utf8_error(buf, eof)
            if bad >= 0:
                line = lines_before + data.count(b"\n", 0, bad) + 1
                raise InputError(f"The file is not valid UTF-8 (byte {data[bad]:#04x} at line {line})",
                                 path=str(path), line=line,
                                 hint="Re-encode the file as UTF-8, or declare its encoding in the <?xml ...?> line")
            cap = int(np.count_nonzero(buf == 60)) + 1
            arrays = {name: np.empty(cap, np.int32) for name in
                      ("ev_trace", "ev_pos", "tr_pos", "at_scope", "at_owner", "at_parent", "at_type",
                       "at_ks", "at_ke", "at_vs", "at_ve", "at_kid")}
            arrays["at_pos"] = arrays["at_ks"]  # the key's offset locates the attribute well enough
            arrays["key_first"] = np.empty(MAX_KEYS, np.int64)
            out[:] = 0
            _scan(buf, eof, state, arrays["ev_trace"], arrays["ev_pos"], arrays["tr_pos"], arrays["at_scope"],
                  arrays["at_owner"], arrays["at_parent"], arrays["at_type"], arrays["at_ks"], arrays["at_ke"],
                  arrays["at_vs"], arrays["at_ve"], arrays["at_kid"], arrays["key_first"], out)
            status = int(out[0])
            lines = _Lines(path, data, lines_before)
            if status >= 2:
                pos = int(out[1])
                line = lines.line_of(min(pos, len(data)))
                hint = {2: "Re-create the file or re-download it", 12: "Re-create the file or re-download it",
                        5: "Give an XES file (root element <log>), or pick the right --format",
                        13: "Give an XES file (root element <log>), or pick the right --format",
                        4: "Remove the DOCTYPE from the file"}.get(status, "Fix the XML at that line")
                if status in (5, 13) and _looks_binary(data):
                    raise InputError("The file is not XML (binary content)", path=str(path), line=None, hint=hint)
                raise InputError(ERRORS[status], path=str(path), line=line, hint=hint)
            if status == NEED_MORE:
                carry = data
                want = max(want, 2 * len(data))
                continue
            ne, nt, na, safe = int(out[2]), int(out[3]), int(out[4]), int(out[5])
            ignored += int(out[6])
            if ne or nt:
                # columns of this block are built on a second thread while the next block is scanned
                block = _Block(path, data, lines, arrays, ne, nt, na, int(out[7]), trace_base, issues)
                pending.append(builder.submit(block.table, rejects))
                while len(pending) > 1:
                    tables.append(pending.pop(0).result())
            events_read += ne
            trace_base += nt
            lines_before += data.count(b"\n", 0, safe)
            carry = data[safe:]
            want = BLOCK
            if eof:
                break
        tables.extend(f.result() for f in pending)
    finally:
        for f in pending:
            f.cancel()
        builder.shutdown(wait=True)
    if ignored:
        issues.add("element(s) XES does not define, ignored", ignored, None)
    warnings = issues.warnings(path)
    table = _finish(tables, options.pseudonym_key, warnings)
    meta = {"xes": {"source": str(path), "traces": trace_base, "events": events_read}}
    return ReadResult(table=table, records_read=events_read, rejects=rejects, warnings=warnings, metadata=meta)


def _looks_binary(data: bytes) -> bool:
    head = data[:512]
    return b"\x00" in head


@register_reader("xes")
def read_xes_file(path: Path, options: ReadOptions) -> ReadResult:
    return read_xes(path, options)
