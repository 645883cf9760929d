#!/usr/bin/env bash
# The demo: ingest the bundled sample (simulated contact-center export, eventlogs/sample/) into a
# canonical event log and print the run summary. `make demo` runs this after set-up.
set -euo pipefail
cd "$(dirname "$0")/.."
CXMINE=.venv/bin/cxmine
SAMPLE=eventlogs/sample
OUT=reports/demo
# A fixed demo key, so customer pseudonyms are stable between demo runs (set your own in production).
export CXMINE_PSEUDONYM_KEY="${CXMINE_PSEUDONYM_KEY:-cxmine-demo-key}"
mkdir -p "$OUT"
echo "== ingest $SAMPLE/contacts.csv.gz"
"$CXMINE" ingest "$SAMPLE/contacts.csv.gz" --mapping "$SAMPLE/mapping.toml" -o "$OUT/log.parquet"
echo
echo "== ground truth of the sample: $SAMPLE/ground_truth/ (injected deviations, drift points)"
