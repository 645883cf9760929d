"""The test set-up leaves nothing behind: each test process's run folder (pseudonym key, Dask scratch
space) is removed when the process ends, and the folders of test processes that were killed are
removed by the next run."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

PROBE = '''
import os
from pathlib import Path


def test_probe():
    seen = Path(os.environ["PROBE_OUT"])
    seen.write_text(os.environ["CXMINE_CONFIG_DIR"] + "\\n" + os.environ["DASK_TEMPORARY_DIRECTORY"])
    assert Path(os.environ["CXMINE_CONFIG_DIR"]).is_dir()
'''


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(done.stdout)


def test_run_folder_is_removed_and_stale_ones_swept(tmp_path):
    suite = tmp_path / "suite"
    suite.mkdir()
    for name in ("conftest.py", "corpus.py"):
        shutil.copy(HERE / name, suite / name)
    (suite / "test_probe.py").write_text(PROBE)
    temp = tmp_path / "temp"
    temp.mkdir()
    host = socket.gethostname()
    stale = temp / f"cxmine-test-run-{_dead_pid()}-{host}-abc"
    live = temp / f"cxmine-test-run-{os.getpid()}-{host}-abc"
    other_host = temp / f"cxmine-test-run-{_dead_pid()}-not-{host}-abc"
    for folder in (stale, live, other_host):
        (folder / "config").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("CXMINE_CONFIG_DIR", "DASK_TEMPORARY_DIRECTORY")}
    env.update(TMPDIR=str(temp), PROBE_OUT=str(tmp_path / "seen"), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)],
                          cwd=suite, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    config, dask = (Path(p) for p in (tmp_path / "seen").read_text().splitlines())
    assert config.parent == dask.parent and config.parent.parent == temp
    assert config.parent.name.startswith("cxmine-test-run-") and f"-{host}-" in config.parent.name
    assert not config.parent.exists()  # this run's folder: removed at the end
    assert not stale.exists()  # a killed run's folder: swept
    assert live.exists() and other_host.exists()  # a running process's, and another host's: kept
    assert sorted(p.name for p in temp.iterdir()) == sorted([live.name, other_host.name])
