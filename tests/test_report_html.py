"""The HTML report's layer: escaping of data strings, self-containment, sorting, charts, a real browser."""

from __future__ import annotations

import re

import pytest
from lxml import etree

from engine.errors import AnalysisError
from engine.report import charts
from engine.report.html import Figure, KeyFigures, Links, Note, Paragraph, Section, Table, inline_svg, render_html
from browser import open_page

HOSTILE = ['<script>alert("x")</script>', 'Tom & Jerry "quoted"', "Ünïcödé — 日本", "a<b>c", "' onmouseover='x"]


def _sections(svg: str) -> list[Section]:
    rows = [[h, f"{i * 7:,}"] for i, h in enumerate(HOSTILE)]
    return [
        Section("summary", "Summary " + HOSTILE[0], "What matters " + HOSTILE[1],
                [KeyFigures([(HOSTILE[2], "1,234"), ("contacts", "20,000")]), Paragraph("**bold** " + HOSTILE[3]),
                 Note(HOSTILE[4], tone="finding"), Links([("steps", "the steps")])]),
        Section("steps", "Steps", "Which steps",
                [Table(["activity", "contacts"], rows, caption=HOSTILE[1], numeric=[False, True],
                       sort_keys=[[r[0], i * 7] for i, r in enumerate(rows)], table_id="steps-table"),
                 Figure(svg, "A chart " + HOSTILE[0])]),
    ]


def _chart() -> str:
    return charts.line_chart({HOSTILE[0]: (["2026-W01", "2026-W02"], [0.1, 0.2]), "B & C": (["2026-W01", "2026-W02"],
                             [0.3, 0.25])}, title="Share <by> week", y_label="share of contacts (%)", x_label="ISO week",
                             percent=True)


def test_data_strings_are_escaped_everywhere():
    html = render_html("Report " + HOSTILE[0], HOSTILE[1], _sections(_chart()), [("input", HOSTILE[0])])
    assert "<script>alert" not in html
    assert html.count("<script>") == 1  # the table sorter, nothing else
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "Tom &amp; Jerry &#34;quoted&#34;" in html
    assert "Ünïcödé — 日本" in html
    assert "<strong>bold</strong>" in html
    assert "onmouseover='x" not in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing fetched from elsewhere


def test_inline_svg_refuses_scripts_and_non_svg():
    with pytest.raises(AnalysisError, match="script"):
        inline_svg('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    with pytest.raises(AnalysisError, match="script"):
        inline_svg('<svg xmlns="http://www.w3.org/2000/svg"><rect onclick="x()"/></svg>')
    with pytest.raises(AnalysisError, match="not an SVG"):
        inline_svg("<html></html>")
    assert inline_svg('<?xml version="1.0"?>\n<!DOCTYPE svg>\n<svg/>') == "<svg/>"


def test_charts_are_valid_svg_with_their_labels_and_deterministic():
    a, b = _chart(), _chart()
    assert a == b
    root = etree.fromstring(a.encode())
    text = " ".join(root.itertext())
    for label in ("Share <by> week", "ISO week", "share of contacts (%)", HOSTILE[0], "B & C"):
        assert label in text
    p = charts.pareto_chart(["1", "2", "3"], [50, 30, 20], 120, title="Variants", x_label="variant rank")
    assert "cumulative share" in " ".join(etree.fromstring(p.encode()).itertext())


def test_duplicate_section_ids_are_refused():
    s = Section("a", "A", "q")
    with pytest.raises(AnalysisError, match="same id"):
        render_html("t", "s", [s, s], [])


def test_report_in_a_real_browser(tmp_path):
    out = tmp_path / "index.html"
    out.write_text(render_html("Report", "sub", _sections(_chart()), [("cxmine version", "0")]), encoding="utf-8")
    with open_page(out) as (page, problems):
        for sid in ("summary", "steps"):
            assert page.locator(f"section#{sid}").inner_text().strip()
        assert page.locator("section#steps svg").count() == 1
        cells = lambda: page.locator("#steps-table tbody tr td:nth-child(2)").all_inner_texts()  # noqa: E731
        page.locator("#steps-table th").nth(1).click()
        assert cells() == ["0", "7", "14", "21", "28"]
        page.locator("#steps-table th").nth(1).click()
        assert cells() == ["28", "21", "14", "7", "0"]
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        assert not problems, problems
    assert (tmp_path / "report.png").stat().st_size > 10_000
