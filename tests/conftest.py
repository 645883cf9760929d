"""Session-wide checks: tests that need the shared corpus (../shared/data) fail under CI without it."""

from __future__ import annotations

import pytest

import corpus


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "corpus(*folders): the test needs these folders of ../shared/data")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("corpus"):
        for folder in mark.args:
            corpus.require(corpus.SHARED_DATA / folder)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not corpus.MISSING:
        return
    verb = "failed" if corpus.in_ci() else "skipped"
    terminalreporter.section("shared test corpus missing", sep="!", red=True, bold=True)
    for path, tests in sorted(corpus.MISSING.items()):
        terminalreporter.line(f"{path}: {tests} test(s) {verb}")
    terminalreporter.line(f"Expected beside the repository at {corpus.SHARED_DATA} (../shared/data); "
                          "these tests checked nothing.")
