"""Session-wide checks and shared fixtures.

Tests that need the shared corpus (../shared/data) fail under CI without it;
``small_log`` is the committed small sample as a stored log.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import corpus

SMALL = Path(__file__).resolve().parents[1] / "eventlogs" / "small"


def pytest_configure(config: pytest.Config) -> None:
    # the installation pseudonym key of test runs lives in a throw-away folder, not the user's configuration
    import os
    import tempfile
    os.environ["CXMINE_CONFIG_DIR"] = tempfile.mkdtemp(prefix="cxmine-test-config-")
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


@pytest.fixture(scope="session")
def small_log(tmp_path_factory) -> str:
    """eventlogs/small/contacts.csv ingested with its mapping (200 contacts, ground truth beside it)."""
    from click.testing import CliRunner

    from engine.cli import main
    log = tmp_path_factory.mktemp("small") / "small.parquet"
    res = CliRunner().invoke(main, ["ingest", str(SMALL / "contacts.csv"), "--mapping", str(SMALL / "mapping.toml"),
                                    "-o", str(log), "-q"], env={"CXMINE_PSEUDONYM_KEY": "k"})
    assert res.exit_code == 0, res.output
    return str(log)
