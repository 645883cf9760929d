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
    times slower on results with tens of thousands of rows)."""
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
        inner = newline + "  "
        sep = "[" + inner
        for v in value:
            put(sep)
            _emit(v, inner, put)
            sep = "," + inner
        put(newline + "]")
    else:
        _emit(_plain(value), newline, put)


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
