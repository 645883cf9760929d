"""Where the shared third-party test corpus lives, and what a test does without it.

The corpus (pm4py's test files, the OMG BPMN MIWG suite, bpmn-moddle's parser
fixtures, Camunda examples) is not copied into the repository: it sits beside
it, in ``../shared/data`` (its README says what each folder holds and where it
comes from). A test that needs it is marked ``@corpus.needs("folder")`` or
calls ``corpus.require(path)``. When a file is missing the test is skipped
with the path in the reason, and the run ends with a summary of what was not
checked; when the environment says ``CI=true`` the test fails instead, so a CI
run never passes with nothing checked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
SHARED_DATA = REPOSITORY.parent / "shared" / "data"

# path -> number of tests that needed it, for the end-of-run summary (see conftest.py)
MISSING: dict[Path, int] = {}


def in_ci(environ: Mapping[str, str] = os.environ) -> bool:
    """True when the environment declares a CI run (``CI=true``, as CI services set it)."""
    return environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def missing_message(path: Path, ci: bool) -> str:
    """What is missing, where it was looked for, and how to provide it."""
    outcome = ("CI=true, so the test fails rather than pass with nothing checked" if ci
               else "test skipped; with CI=true it would fail")
    return (f"Shared test corpus not found: {path} ({outcome}). Place the third-party test data "
            f"beside the repository as ../shared/data (expected at {SHARED_DATA}; its README lists the "
            f"folders and their sources).")


def require(path: Path, environ: Mapping[str, str] = os.environ) -> Path:
    """Return ``path`` when it exists; otherwise fail the test under CI and skip it elsewhere."""
    if path.exists():
        return path
    MISSING[path] = MISSING.get(path, 0) + 1
    ci = in_ci(environ)
    if ci:
        pytest.fail(missing_message(path, ci), pytrace=False)
    pytest.skip(missing_message(path, ci))


def needs(*folders: str) -> pytest.MarkDecorator:
    """Mark a test as needing these folders of the shared corpus; conftest.py checks them before it runs.

    Unlike a ``skipif`` computed at import time, the check also covers a test
    parametrized over the corpus's files, which has no parameters when the
    corpus is absent.
    """
    return pytest.mark.corpus(*folders)
