#!/usr/bin/env bash
# The demo: the main job on the bundled sample (eventlogs/sample/, 20,000 simulated contacts over
# the five SOPs in models/, with one drift point and injected deviations). `make demo` runs this
# after set-up; everything lands in reports/latest/, and the last line names the file to open.
set -euo pipefail
cd "$(dirname "$0")/.."
CXMINE=.venv/bin/cxmine
OUT=reports/latest
# A fixed demo key, so customer pseudonyms are stable between demo runs (set your own in production).
export CXMINE_PSEUDONYM_KEY="${CXMINE_PSEUDONYM_KEY:-cxmine-demo-key}"

# Without arguments, cxmine report ingests eventlogs/sample/ with its mapping and checks each
# contact against the SOP in models/ that applies to it.
"$CXMINE" report -o "$OUT" -q
"$CXMINE" export "$OUT/log.parquet" --to xes -o "$OUT/log.xes.gz" -q >/dev/null
"$CXMINE" export "$OUT/log.parquet" --to ocel-json -o "$OUT/log.jsonocel" -q >/dev/null
echo "Also written: $OUT/log.parquet (the canonical log), $OUT/log.xes.gz and $OUT/log.jsonocel (XES, OCEL 2.0)"
echo "Ground truth of the sample (injected deviations, drift point): eventlogs/sample/ground_truth/"
echo "Open $OUT/index.html"
