"""Tests that need the shared corpus: skipped with the path when it is absent, failed when CI=true.

Each case runs pytest in a subprocess on a throw-away layout
(``tmp/repo/tests`` with this suite's conftest.py and corpus.py), with and
without ``tmp/shared/data`` beside the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import corpus

HERE = Path(__file__).resolve().parent

PROBE = '''
import pytest
import corpus

FOLDER = corpus.SHARED_DATA / "pm4py-tests"


@corpus.needs("pm4py-tests")
@pytest.mark.parametrize("path", sorted(FOLDER.glob("*.xes")))
def test_each_file(path):
    assert path.read_text() == "x"


def test_one_file():
    assert corpus.require(FOLDER / "a.xes").read_text() == "x"
'''


def run_probe(root: Path, ci: str | None) -> subprocess.CompletedProcess:
    tests = root / "repo" / "tests"
    tests.mkdir(parents=True)
    (root / "repo" / "pytest.ini").write_text("[pytest]\n")
    for name in ("conftest.py", "corpus.py"):
        shutil.copy(HERE / name, tests / name)
    (tests / "test_probe.py").write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(tests)],
                          cwd=root / "repo", env=env, capture_output=True, text=True, timeout=120)


def test_ci_run_fails_when_the_corpus_is_missing(tmp_path):
    res = run_probe(tmp_path, "true")
    assert res.returncode == 1, res.stdout
    missing = tmp_path / "shared" / "data" / "pm4py-tests"
    assert f"Shared test corpus not found: {missing} (CI=true" in res.stdout
    assert f"Shared test corpus not found: {missing / 'a.xes'} (CI=true" in res.stdout
    assert "shared test corpus missing" in res.stdout and "test(s) failed" in res.stdout
    assert "passed" not in res.stdout.splitlines()[-1]


def test_local_run_skips_with_the_reason(tmp_path):
    res = run_probe(tmp_path, None)
    assert res.returncode == 0, res.stdout
    assert "2 skipped" in res.stdout.splitlines()[-1]
    assert f"Shared test corpus not found: {tmp_path / 'shared' / 'data' / 'pm4py-tests'} (test skipped" \
        in res.stdout
    assert "test(s) skipped" in res.stdout


def test_ci_run_passes_with_the_corpus_beside_the_repository(tmp_path):
    folder = tmp_path / "shared" / "data" / "pm4py-tests"
    folder.mkdir(parents=True)
    (folder / "a.xes").write_text("x")
    res = run_probe(tmp_path, "true")
    assert res.returncode == 0, res.stdout
    assert res.stdout.splitlines()[-1].startswith("2 passed")
    assert "shared test corpus missing" not in res.stdout


@pytest.mark.parametrize("value,expected", [("true", True), ("True", True), ("1", True), ("false", False),
                                            ("0", False), ("", False), (None, False)])
def test_in_ci(value, expected):
    assert corpus.in_ci({} if value is None else {"CI": value}) is expected


def test_require_fails_under_ci_and_skips_otherwise(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "MISSING", {})
    with pytest.raises(pytest.fail.Exception, match="Shared test corpus not found"):
        corpus.require(tmp_path / "absent", {"CI": "true"})
    with pytest.raises(pytest.skip.Exception, match="with CI=true it would fail"):
        corpus.require(tmp_path / "absent", {})
    assert corpus.require(tmp_path, {"CI": "true"}) == tmp_path
    assert corpus.MISSING == {tmp_path / "absent": 2}


def test_shared_data_is_beside_the_repository():
    assert corpus.SHARED_DATA == HERE.parent.parent / "shared" / "data"
