#!/usr/bin/env bash
# Create .venv when missing, install cxmine with its dependencies, and make sure
# Graphviz's `dot` is on the PATH (installing Debian's graphviz when we are root),
# and Chromium for the report's browser test (Debian's chromium, when we are root).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! command -v dot >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's graphviz (dot not found)" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null
  else
    echo "setup: Graphviz's 'dot' is not installed. Install it (Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install graphviz) and run make again." >&2
    exit 1
  fi
fi
# Headless Chromium: the report's browser test opens the HTML report in it.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's chromium (for the report's browser test)" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "setup: Chromium is not installed; the report's browser test will be skipped (Debian/Ubuntu: sudo apt-get install chromium)." >&2
  fi
fi
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PY" -m venv .venv
fi
stamp=.venv/.cxmine-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing cxmine and its dependencies into .venv" >&2
  log=.venv/install.log
  if ! { .venv/bin/python -m pip install --upgrade pip && .venv/bin/python -m pip install -e ".[test,bench,distributed]"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "setup: installing the dependencies failed (full log: $log)" >&2
    exit 1
  fi
  touch "$stamp"
fi
