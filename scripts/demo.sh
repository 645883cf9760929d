#!/usr/bin/env bash
# The demo: the main job on the bundled sample (eventlogs/sample/, 20,000 simulated contacts over
# the five SOPs in models/, with one drift point and injected deviations). `make demo` runs this
# after set-up; everything lands in reports/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
CXMINE=.venv/bin/cxmine
SAMPLE=eventlogs/sample
OUT=reports/demo
# A fixed demo key, so customer pseudonyms are stable between demo runs (set your own in production).
export CXMINE_PSEUDONYM_KEY="${CXMINE_PSEUDONYM_KEY:-cxmine-demo-key}"
mkdir -p "$OUT"

echo "== 1. ingest $SAMPLE/contacts.csv.gz -> $OUT/log.parquet"
"$CXMINE" ingest "$SAMPLE/contacts.csv.gz" --mapping "$SAMPLE/mapping.toml" -o "$OUT/log.parquet" -q

echo; echo "== 2. variants (top 10)"
"$CXMINE" variants "$OUT/log.parquet" --top 10 --csv "$OUT/variants" -q

echo; echo "== 3. process-health KPIs by team"
"$CXMINE" kpi "$OUT/log.parquet" --by team --csv "$OUT/kpi" -q

echo; echo "== 4. conformance of every contact against the SOP that applies to it (models/, applies_to)"
"$CXMINE" conform "$OUT/log.parquet" --sop models/ --top 8 --examples 3 --csv "$OUT/conform" -q
for sop in models/*.bpmn; do
  "$CXMINE" sop render "$sop" -o "$OUT/sop/$(basename "$sop" .bpmn).svg" >/dev/null
done

echo; echo "== 5. exports"
"$CXMINE" export "$OUT/log.parquet" --to xes -o "$OUT/log.xes.gz" -q
"$CXMINE" export "$OUT/log.parquet" --to ocel-json -o "$OUT/log.jsonocel" -q

echo; echo "Outputs in $OUT/: log.parquet, variants/, kpi/, conform/ (sops.csv, <sop>/), sop/<sop>.svg, log.xes.gz, log.jsonocel"
echo "Ground truth of the sample (injected deviations, drift point): $SAMPLE/ground_truth/"
