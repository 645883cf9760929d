"""Every command is documented: a ``## cxmine NAME`` section in docs/ naming each of its options.

The convention (docs/README.md, "Documenting a command"): each command and
sub-command of ``cxmine`` has a section in one page of docs/ whose heading line
is ``## cxmine NAME`` (``## cxmine sop show``); the section mentions every
option of the command and shows an example. Also checked: the examples in
README.md and docs/ use only commands and options that exist, the files and
Python names they point to exist, links between the pages resolve, the index
lists every page, and no page outside benchmarks/
speaks of the machine the figures were measured on.
"""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path

import click
import pytest

from engine.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
HEADING = re.compile(r"^(#{1,6}) (.+?)\s*$")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def commands(group: click.Group = main, prefix: tuple[str, ...] = ()) -> dict[str, click.Command]:
    """Every leaf command of the group, by its full name (``sop show``)."""
    found = {}
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            found.update(commands(cmd, prefix + (name,)))
        else:
            found[" ".join(prefix + (name,))] = cmd
    return found


def headings(text: str) -> list[tuple[int, int, str]]:
    """(line index, level, title) of each Markdown heading outside fenced code blocks."""
    found, fenced = [], False
    for i, line in enumerate(text.splitlines()):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (m := HEADING.match(line)):
            found.append((i, len(m.group(1)), m.group(2)))
    return found


def command_sections(pages: list[Path] = PAGES) -> dict[str, list[tuple[Path, str]]]:
    """Command name -> (page, section text) for each ``## cxmine NAME`` heading in the pages."""
    sections: dict[str, list[tuple[Path, str]]] = {}
    for page in pages:
        lines = page.read_text().splitlines()
        marks = headings("\n".join(lines))
        for n, (start, level, title) in enumerate(marks):
            if level != 2 or not title.startswith("cxmine "):
                continue
            end = next((i for i, lvl, _ in marks[n + 1:] if lvl <= 2), len(lines))
            sections.setdefault(title.removeprefix("cxmine ").strip(), []).append(
                (page, "\n".join(lines[start + 1:end])))
    return sections


def option_names(cmd: click.Command) -> list[tuple[str, ...]]:
    """For each option, the spellings that must appear: its long names, or its short ones if it has none."""
    names = []
    for param in cmd.params:
        if isinstance(param, click.Option):
            spellings = param.opts + param.secondary_opts
            long = tuple(s for s in spellings if s.startswith("--"))
            names.append(long or tuple(spellings))
    return names


def mentions(text: str, option: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


def slug(title: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", title.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


SECTIONS = command_sections()


def test_pages_exist():
    assert (DOCS / "README.md").exists() and len(PAGES) >= 5


@pytest.mark.parametrize("name", sorted(commands()))
def test_every_command_has_one_section(name):
    found = SECTIONS.get(name, [])
    assert len(found) == 1, (f"'cxmine {name}' needs exactly one '## cxmine {name}' section in docs/*.md "
                             f"(found in: {[p.name for p, _ in found]})")


def test_no_section_for_a_command_that_does_not_exist():
    assert sorted(set(SECTIONS) - set(commands())) == []


def section_of(name: str) -> tuple[Path, str]:
    if name not in SECTIONS:
        pytest.fail(f"'cxmine {name}' has no '## cxmine {name}' section in docs/*.md")
    return SECTIONS[name][0]


@pytest.mark.parametrize("name", sorted(commands()))
def test_every_option_is_mentioned_in_its_section(name):
    page, text = section_of(name)
    missing = [" / ".join(o) for o in option_names(commands()[name]) if not all(mentions(text, s) for s in o)]
    assert missing == [], f"options of 'cxmine {name}' not mentioned in its section of {page.name}"


@pytest.mark.parametrize("name", sorted(commands()))
def test_every_section_has_an_example(name):
    _, text = section_of(name)
    assert re.search(rf"^cxmine {re.escape(name)} \S", text, re.M), f"no example of 'cxmine {name}' in its section"


def example_lines(text: str) -> list[str]:
    """The ``cxmine ...`` command lines of the ``sh`` code blocks, continuation lines joined, comments cut."""
    found, fenced, line_so_far = [], False, ""
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = line.strip() == "```sh" and not fenced
            continue
        line = re.sub(r"\s+#.*$", "", line).strip()
        if fenced and (line_so_far or re.match(r"(\.venv/bin/)?cxmine ", line)):
            line_so_far = f"{line_so_far} {line}".strip()
            if line_so_far.endswith("\\"):
                line_so_far = line_so_far[:-1].rstrip()
            else:
                found.append(line_so_far)
                line_so_far = ""
    return found


def unknown_options(line: str) -> list[str]:
    """Options a documented command line uses that its command does not have (synopsis brackets allowed)."""
    words = shlex.split(line)[1:]
    known = commands()
    name = next((" ".join(words[:n]) for n in (2, 1) if " ".join(words[:n]) in known), None)
    if name is None:
        return [f"no command in '{line}'"]
    allowed = {"-h", "--help"} | {s for cmd in (main, known[name]) for p in cmd.params if isinstance(p, click.Option)
                                  for s in p.opts + p.secondary_opts}
    used = []
    for word in words:
        for part in word.strip("[]").split("|"):
            if re.match(r"--?[a-zA-Z]", part):
                used.append(part.split("=")[0].rstrip("].,"))
    return [u for u in used if u not in allowed]


@pytest.mark.parametrize("page", [ROOT / "README.md", *PAGES], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_examples_use_only_existing_commands_and_options(page):
    wrong = {line: bad for line in example_lines(page.read_text()) if (bad := unknown_options(line))}
    assert wrong == {}


def test_global_options_are_documented():
    index = (DOCS / "README.md").read_text()
    for option in option_names(main):
        assert any(mentions(index, s) for s in option), option


def test_index_lists_every_page():
    index = (DOCS / "README.md").read_text()
    for page in PAGES:
        if page.name != "README.md":
            assert f"]({page.name})" in index, f"docs/README.md does not link to {page.name}"


@pytest.mark.parametrize("page", [ROOT / "README.md", *PAGES], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_links_resolve(page):
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        assert dest.exists(), f"{page.name}: link to {target} points to nothing"
        if anchor and dest.suffix == ".md":
            anchors = {slug(title) for _, _, title in headings(dest.read_text())}
            assert anchor in anchors, f"{page.name}: no heading for #{anchor} in {dest.name}"


@pytest.mark.parametrize("page", [ROOT / "README.md", *PAGES], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_named_modules_and_functions_exist(page):
    """Files (engine/log/xes.py) and Python names (engine.model.load_sop) the docs point to are there."""
    text = page.read_text()
    for path in re.findall(r"\bengine/[\w/]*[\w/.]*\w/?", text):
        assert (ROOT / path).exists(), f"{page.name} names {path}, which does not exist"
    for dotted in re.findall(r"\bengine(?:\.\w+)+", text):
        try:
            importlib.import_module(dotted)
        except ModuleNotFoundError:
            module, _, name = dotted.rpartition(".")
            assert hasattr(importlib.import_module(module), name), f"{page.name} names {dotted}, which does not exist"


MACHINE_WORDS = re.compile(r"\d+[- ]cores?\b|shared machine|this machine|the machine|GiB machine", re.I)


@pytest.mark.parametrize("page", [ROOT / "README.md", *PAGES], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_wording_about_the_measuring_machine(page):
    hits = [line for line in page.read_text().splitlines() if MACHINE_WORDS.search(line)]
    assert hits == [], "machine details belong in benchmarks/RESULTS.md"


def test_the_checks_catch_a_missing_option(tmp_path):
    """The section parser really sees what is there: a page without --where fails the option check."""
    page = tmp_path / "x.md"
    page.write_text("# X\n\n## cxmine variants\n\n```sh\n## cxmine dfg\ncxmine variants LOG --top 3\n```\n\n"
                    "`--by`, `--json`\n\n## Other\n\n`--where`\n")
    sections = command_sections([page])
    assert list(sections) == ["variants"]
    text = sections["variants"][0][1]
    assert mentions(text, "--top") and mentions(text, "--by") and not mentions(text, "--where")
    assert not mentions("--topology", "--top")
    assert unknown_options("cxmine variants LOG [--top K] [--wherever X]") == ["--wherever"]
    assert unknown_options("cxmine sop show MODEL [--json]") == []
    block = "```sh\ncxmine dfg LOG \\\n    --top 3  # edges\necho\n```\ncxmine kpi\n"
    assert example_lines(block) == ["cxmine dfg LOG --top 3"]
