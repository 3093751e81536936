#!/usr/bin/env bash
# Draws one chart of each kind from a fresh build of the bundled sample into this folder
# (the gallery the README's "Charts" section points to): bars, grouped bars, lines,
# scatter, heat map, histograms. Uses $ACRM if set, else the workspace's debug binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
ACRM="${ACRM:-${CARGO_TARGET_DIR:-$HOME/.cache/acrm-target}/debug/acrm}"
out="notebooks/gallery"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r sample-data "$work/"
cd "$work"
export ACRM_LOG=warn
"$ACRM" build > /dev/null
"$ACRM" mine lifecycle --no-write --chart "$OLDPWD/$out/bars_lifecycle.png" > /dev/null
"$ACRM" mine segment --no-write --chart "$OLDPWD/$out/grouped_bars_segments.png" > /dev/null
"$ACRM" alerts --no-write --chart "$OLDPWD/$out/lines_alerts.png" > /dev/null
"$ACRM" mine basket --level subcategory --min-support 0.005 --min-confidence 0.2 --no-write \
  --chart "$OLDPWD/$out/scatter_rules.png" > /dev/null
"$ACRM" report cohort_retention --chart "$OLDPWD/$out/heatmap_cohorts.png" > /dev/null
"$ACRM" mine credit train > /dev/null 2>&1
"$ACRM" mine credit score --no-write --chart "$OLDPWD/$out/histogram_credit.png" > /dev/null
echo "charts drawn into $out/"
