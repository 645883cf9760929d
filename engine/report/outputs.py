"""Output destinations: JSON documents, and checks that a folder or file can be written.

The checks run before any heavy work, so a typo in an output path costs a
second, not the minutes of an analysis. They raise InputError naming the path
and what stands in the way.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from engine.errors import InputError

_quote = json.encoder.c_encode_basestring or json.encoder.py_encode_basestring  # ensure_ascii=False


def _plain(value):
    """numpy scalars and arrays, sets and paths as JSON values; non-finite floats as null."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


def to_json(data) -> str:
    """A result document as JSON text: full precision, canonical units, UTF-8 kept.

    The text is ``json.dumps(data, indent=2, ensure_ascii=False)``'s, non-finite floats written
    as null, written by one recursive pass (json's own indented encoder is pure Python and three
    times slower on results with tens of thousands of rows); tables (lists of dicts with the same
    keys) are written column by column, twice as fast again."""
    out: list[str] = []
    _emit(data, "\n", out.append)
    return "".join(out)


def _key(key) -> str:
    if isinstance(key, str):
        return _quote(key)
    if key is True or key is False or key is None:
        return _quote(json.dumps(key))
    if isinstance(key, (int, float)):
        return _quote(json.dumps(key))
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _emit(value, newline: str, put) -> None:
    """Append value's JSON text at the indentation of ``newline`` (a newline and the current indent)."""
    if isinstance(value, str):
        put(_quote(value))
    elif value is None:
        put("null")
    elif value is True:
        put("true")
    elif value is False:
        put("false")
    elif isinstance(value, int):
        put(int.__repr__(value))
    elif isinstance(value, float):
        put(float.__repr__(value) if math.isfinite(value) else "null")
    elif isinstance(value, dict):
        if not value:
            put("{}")
            return
        inner = newline + "  "
        sep = "{" + inner
        for k, v in value.items():
            put(sep)
            put(_key(k))
            put(": ")
            _emit(v, inner, put)
            sep = "," + inner
        put(newline + "}")
    elif isinstance(value, (list, tuple)):
        if not value:
            put("[]")
            return
        if len(value) >= _ROWS and type(value[0]) is dict and _emit_rows(value, newline, put):
            return
        inner = newline + "  "
        sep = "[" + inner
        for v in value:
            put(sep)
            _emit(v, inner, put)
            sep = "," + inner
        put(newline + "]")
    else:
        _emit(_plain(value), newline, put)


#: lists of at least this many dicts are tried as rows of a table (``_emit_rows``)
_ROWS = 8


def _column_texts(values: list, newline: str) -> list[str]:
    """The JSON text of each value of one column at the indentation of ``newline``: whole columns of
    str, int, float, bool or flat tuples of str at C speed, anything else value by value."""
    kinds = set(map(type, values))
    if kinds == {str}:
        return list(map(_quote, values))
    if kinds == {int}:
        return list(map(int.__repr__, values))
    if kinds == {float}:
        return [float.__repr__(v) if math.isfinite(v) else "null" for v in values]
    if kinds <= {bool}:
        return ["true" if v else "false" for v in values]
    if kinds <= {tuple, list}:
        inner = newline + "  "
        sep, close = "," + inner, newline + "]"
        try:  # flat sequences of str (a str subclass is written as a str, as _emit does)
            return ["[" + inner + sep.join(map(_quote, v)) + close if v else "[]" for v in values]
        except TypeError:  # something else than a str in them
            pass
    out = []
    for v in values:
        parts: list[str] = []
        _emit(v, newline, parts.append)
        out.append("".join(parts))
    return out


def _emit_rows(rows: list, newline: str, put) -> bool:
    """A list of dicts that all have the same str keys (the rows of a table), column by column; the
    text is what ``_emit`` writes row by row. False, and nothing written, when the rows differ."""
    keys = tuple(rows[0])
    if not keys or not all(type(k) is str for k in keys):
        return False
    n = len(keys)
    for row in rows:
        if type(row) is not dict or len(row) != n or tuple(row) != keys:
            return False
    inner = newline + "  "
    field = inner + "  "
    columns = [_column_texts([row[k] for row in rows], field) for k in keys]
    # one list of every piece of text: before each value its key (and, before the first, the end of
    # the row before and the start of this one), joined once
    heads = [("{" if i == 0 else ",") + field + _quote(k) + ": " for i, k in enumerate(keys)]
    pieces: list = [None] * (2 * n * len(rows))
    step = 2 * n
    for i, (head, texts) in enumerate(zip(heads, columns)):
        pieces[2 * i::step] = [head] * len(rows)
        pieces[2 * i + 1::step] = texts
    pieces[0] = "[" + inner + heads[0]
    close = inner + "}"
    pieces[step::step] = [close + "," + inner + heads[0]] * (len(rows) - 1)
    put("".join(pieces) + close + newline + "]")
    return True


def write_json(path: str | os.PathLike, data) -> Path:
    """Write a result document as a JSON file atomically."""
    from engine.atomic import atomic_path
    target = Path(path)
    with atomic_path(target) as tmp:
        tmp.write_text(to_json(data) + "\n", encoding="utf-8")
    return target


def _first_existing(path: Path) -> Path:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def _require_writable_folder(folder: Path, path: Path, what: str) -> None:
    """``folder`` (``path`` itself or its nearest existing ancestor) must be a folder one may write in."""
    if not folder.is_dir():
        raise InputError(f"Cannot write the {what}: '{folder}' is a file, a folder is needed there", path=str(path),
                         hint="Choose a path whose parent folders are folders")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"Cannot write the {what}: no permission to write in '{folder}'", path=str(path),
                         hint="Choose a folder you can write to")


def check_output_folder(path: str | os.PathLike, what: str = "output folder") -> Path:
    """Raise InputError unless ``path`` is a writable folder or can be created as one."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"Cannot write the {what}: it is a file, a folder is needed", path=str(path),
                         hint="Give a folder name (it is created if missing)")
    _require_writable_folder(_first_existing(path), path, what)
    return path


def check_output_file(path: str | os.PathLike, what: str = "output file") -> Path:
    """Raise InputError unless ``path`` can be written as a file (created, or replaced)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"Cannot write the {what}: it is a folder, a file name is needed", path=str(path),
                         hint="Give a file name, e.g. out/log.parquet")
    _require_writable_folder(_first_existing(path.parent), path, what)
    return path
