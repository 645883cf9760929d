"""The HTML report: one self-contained file a person can e-mail and print.

A report is a list of sections; a section is a list of blocks (paragraphs,
key figures, tables, figures, notes). ``render_html`` lays them out with one
Jinja template, inline CSS and a few lines of inline script that sort tables
when a column header is clicked. Nothing is fetched from the network: maps and
charts are inline SVG.

Every string that comes from the data (activity, agent, queue and attribute
values) is escaped by the template's autoescaping; only SVG that cxmine drew
itself is inlined as markup, after its XML prologue is removed and any script
element refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence, Union

from engine.errors import AnalysisError

_TEMPLATES = Path(__file__).with_name("templates")
_PROLOGUE = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?(<!--.*?-->\s*)*", re.S)


@dataclass(frozen=True)
class Paragraph:
    """Plain text; ``**bold**`` spans are the only markup honoured."""

    text: str


@dataclass(frozen=True)
class Note:
    """A highlighted remark: what is missing and how to get it, or a caveat."""

    text: str
    tone: str = "info"  # info | warning | finding


@dataclass(frozen=True)
class KeyFigures:
    """A row of large figures with a label each, e.g. ("Contacts", "20,000")."""

    items: Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Table:
    """A sortable table. ``rows`` hold display strings; ``sort_keys`` (same shape, optional)
    hold the values a click sorts by (numbers sort as numbers)."""

    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    caption: str = ""
    sort_keys: Sequence[Sequence[Union[float, str, None]]] | None = None
    numeric: Sequence[bool] | None = None
    table_id: str = ""


@dataclass(frozen=True)
class Figure:
    """Inline SVG drawn by cxmine (graphviz or a chart) with its caption."""

    svg: str
    caption: str
    alt: str = ""


@dataclass(frozen=True)
class Links:
    """Cross-references: (section id, text) pairs."""

    items: Sequence[tuple[str, str]]


Block = Union[Paragraph, Note, KeyFigures, Table, Figure, Links]


@dataclass(frozen=True)
class Section:
    """One part of the report: ``question`` says in one sentence what it answers."""

    id: str
    title: str
    question: str
    blocks: Sequence[Block] = field(default_factory=tuple)


def inline_svg(svg: str) -> str:
    """SVG text ready to sit inside HTML: prologue removed, anything that could run refused.

    The drawing is parsed as XML (no entities, no network); a script or
    foreignObject element, an event-handler attribute (on...) or a
    ``javascript:`` link refuses it.
    """
    from lxml import etree
    body = _PROLOGUE.sub("", svg, count=1)
    try:
        root = etree.fromstring(body.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise AnalysisError("A drawing for the report is not an SVG document",
                            hint="Draw it as SVG (graphviz format='svg', matplotlib format='svg')") from exc
    if etree.QName(root).localname != "svg":
        raise AnalysisError("A drawing for the report is not an SVG document",
                            hint="Draw it as SVG (graphviz format='svg', matplotlib format='svg')")
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if etree.QName(el).localname in ("script", "foreignObject"):
            raise AnalysisError("A drawing for the report carries script; it is not inlined",
                                hint="Draw it again without interactive elements")
        for name, value in el.attrib.items():
            local = etree.QName(name).localname.lower()
            if local.startswith("on") or (local == "href" and value.strip().lower().startswith("javascript:")):
                raise AnalysisError("A drawing for the report carries script (an event handler or a script link); "
                                    "it is not inlined", hint="Draw it again without interactive elements")
    return body


def _environment():
    import jinja2
    from markupsafe import Markup, escape

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)

    def bold(text: str) -> Markup:
        parts = str(text).split("**")
        return Markup("").join(escape(p) if i % 2 == 0 else Markup("<strong>") + escape(p) + Markup("</strong>")
                               for i, p in enumerate(parts))

    env.filters["bold"] = bold
    env.filters["svg"] = lambda s: Markup(inline_svg(s))
    env.filters["kind"] = lambda b: type(b).__name__
    env.filters["sortkey"] = lambda v: "" if v is None else (repr(float(v)) if isinstance(v, (int, float)) else str(v))
    return env


def render_html(title: str, subtitle: str, sections: Sequence[Section], audit: Sequence[tuple[str, str]]) -> str:
    """The whole report as one HTML string.

    ``audit`` is the trail printed in the footer (version, input hashes,
    parameters, counts, times), as (label, value) pairs.
    """
    ids = [s.id for s in sections]
    if len(set(ids)) != len(ids):
        raise AnalysisError("Two report sections have the same id", field="sections")
    template = _environment().get_template("report.html.j2")
    return template.render(title=title, subtitle=subtitle, sections=sections, audit=audit)
