"""Headless Chromium for tests that look at a page as a person would.

Chromium comes from the system (Debian's ``chromium``, installed by the set-up
when missing); Playwright drives it. ``open_page`` loads a file, collects
console errors and failed requests, and hands back the page.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    """The browser's path; a loud skip (a failure under CI) when it is not installed."""
    path = chromium_path()
    if path is None:
        message = ("CHROMIUM IS NOT INSTALLED: the browser test of the HTML report did not run. "
                   "Install Debian's chromium (make setup does it when run as root).")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@contextmanager
def open_page(html_file: Path, width: int = 1280, height: int = 900):
    """Yield (page, problems): problems lists console errors, page errors and any network request."""
    from playwright.sync_api import sync_playwright

    executable = require_chromium()
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("request", lambda r: problems.append(f"request: {r.url}")
                    if not r.url.startswith(("file:", "data:", "about:")) else None)
            page.goto(Path(html_file).resolve().as_uri())
            page.wait_for_load_state("load")
            yield page, problems
        finally:
            browser.close()
