"""What kind of file this is, from its first bytes: to tell a user who gave the wrong file what it was.

``guess_kind(head)`` looks at the first few KiB of a file (magic numbers, the
root element of XML, the keys of JSON, the first line of text) and returns a
``FileKind`` with a short description such as "an XES event log" or "a PNG
image", or None when the bytes look like XML it cannot tell apart from BPMN.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

HEAD_BYTES = 64 * 1024

_MAGIC = (
    (b"PAR1", "a Parquet file (an event log or table)"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document such as an Excel workbook)"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"BM", None),  # BMP needs a second look (see _bitmap)
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office document (e.g. an .xls workbook or a Visio drawing)"),
)



@dataclass(frozen=True)
class FileKind:
    """What a file looks like: a description ("an XES event log"), whether it is XML, and whether
    it holds interaction or event data (a log or a table) rather than a model or a picture."""

    description: str
    xml: bool = False
    data: bool = False


_DATA_WORDS = ("event log", "Parquet", "table", "JSON", "database")

_ROOT = re.compile(rb"<(?![?!])(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")


def _bitmap(head: bytes) -> bool:
    return len(head) >= 26 and head[:2] == b"BM" and head[6:10] == b"\x00\x00\x00\x00"


def _gunzip_head(head: bytes) -> bytes:
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, HEAD_BYTES)
    except zlib.error:
        return b""


def _text(head: bytes) -> str | None:
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom):].decode(codec, errors="ignore")
    if b"\x00" in head:
        return None
    return head.decode("utf-8", errors="ignore")


def _xml_kind(text: str) -> str | None:
    """An XML file that is certainly not BPMN, from its root element; None to let the BPMN reader decide."""
    body = re.sub(r"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", "", text, flags=re.S)
    match = _ROOT.search(body.encode("utf-8", errors="ignore"))
    if not match:
        return None
    root = match.group(1).decode()
    lowered = text.lower()
    if root == "log":
        if "xes-standard" in lowered or "xes.version" in lowered:
            return "an XES event log"
        if "object-types" in lowered or "ocel" in lowered:
            return "an OCEL event log (XML)"
        return "an XML event log (root element <log>)"
    kinds = {"pnml": "a PNML Petri net", "svg": "an SVG image", "html": "an HTML page",
             "Package": "an XPDL process package", "mxGraphModel": "a draw.io diagram",
             "mxfile": "a draw.io diagram"}
    return kinds.get(root)


def _json_kind(text: str) -> str:
    lowered = text[:HEAD_BYTES].lower()
    if "objecttypes" in lowered or "ocel:" in lowered or ('"objects"' in lowered and '"events"' in lowered):
        return "an OCEL event log (JSON)"
    return "a JSON file"


_TOML_KEY = r"""(?:"[^"]*"|'[^']*'|[\w-]+)"""
_TOML_LINE = re.compile(rf"\s*(\[\[?[^\]]+\]\]?|{_TOML_KEY}(?:\s*\.\s*{_TOML_KEY})*\s*=.*)")


def _is_toml(text: str) -> bool:
    """The first line that is not blank or a comment is a TOML key = value or [table] line."""
    lines = (line for line in text.splitlines()[:40] if line.strip() and not line.lstrip().startswith("#"))
    first = next(lines, "")
    return bool(_TOML_LINE.fullmatch(first))


def _table_kind(text: str) -> str | None:
    first = text.splitlines()[0] if text.strip() else ""
    for sep, name in ((",", "CSV"), (";", "CSV"), ("\t", "tab-separated")):
        if first.count(sep) >= 1 and "<" not in first:
            columns = [c.strip().strip('"') for c in first.split(sep)][:6]
            more = ", ..." if first.count(sep) >= 6 else ""
            return f"a {name} table (columns {', '.join(columns)}{more})"
    return None


def _describe(head: bytes) -> str | None:
    if head.startswith(b"\x1f\x8b"):
        inner = _describe(_gunzip_head(head))
        return f"a gzip-compressed file ({inner})" if inner else "a gzip-compressed file"
    for magic, what in _MAGIC:
        if head.startswith(magic):
            if what is None:
                if _bitmap(head):
                    return "a BMP image"
                continue
            return what
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    text = _text(head)
    if text is None:
        return "a binary file"
    stripped = text.lstrip()
    if not stripped:
        return "an empty file"
    if stripped.startswith("<"):
        return _xml_kind(stripped)
    if stripped[0] in "{[":
        return _json_kind(stripped)
    if _is_toml(stripped):
        return "a TOML file (an SOP sidecar, a mapping or a settings file)"
    return _table_kind(stripped) or "plain text"


def guess_kind(head: bytes) -> FileKind | None:
    """What a file looks like from its first bytes, or None when it may be BPMN XML."""
    what = _describe(head)
    if what is None:
        return None
    text = _text(head) or ""
    return FileKind(description=what, xml=text.lstrip().startswith("<") and not head.startswith(b"\x1f\x8b"),
                    data=any(w in what for w in _DATA_WORDS))
