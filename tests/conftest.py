"""Session-wide checks and shared fixtures.

Tests that need the shared corpus (../shared/data) fail under CI without it;
``small_log`` is the committed small sample as a stored log.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

import corpus

SMALL = Path(__file__).resolve().parents[1] / "eventlogs" / "small"


RUN_PREFIX = "cxmine-test-run-"
# what each test process changes in its environment: the installation pseudonym key lives in a throw-away
# folder, not the user's configuration, and Dask's local clusters keep their scratch space beside it
RUN_ENV = {"CXMINE_CONFIG_DIR": "config", "DASK_TEMPORARY_DIRECTORY": "dask"}
_run_folder = pytest.StashKey[tuple[Path, dict]]()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True


def run_prefix() -> str:
    """Start of this process's run folder name: process id and host, so that only this host's
    processes are looked up."""
    return f"{RUN_PREFIX}{os.getpid()}-{socket.gethostname()}-"


def remove_stale_runs(parent: Path) -> None:
    """Remove the run folders of this host's test processes that ended without cleaning up (killed, or
    out of time)."""
    for folder in parent.glob(RUN_PREFIX + "*"):
        pid, _, rest = folder.name[len(RUN_PREFIX):].partition("-")
        if pid.isdigit() and rest.startswith(socket.gethostname() + "-") and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def pytest_configure(config: pytest.Config) -> None:
    # every test process (under pytest-xdist: the controller and each worker) has its own run folder
    # and removes it when it ends
    remove_stale_runs(Path(tempfile.gettempdir()))
    folder = Path(tempfile.mkdtemp(prefix=run_prefix()))
    before = {name: os.environ.get(name) for name in RUN_ENV}
    for name, sub in RUN_ENV.items():
        (folder / sub).mkdir()
        os.environ[name] = str(folder / sub)
    config.stash[_run_folder] = (folder, before)
    config.addinivalue_line("markers", "corpus(*folders): the test needs these folders of ../shared/data")


def pytest_unconfigure(config: pytest.Config) -> None:
    folder, before = config.stash.get(_run_folder, (None, {}))
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


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
