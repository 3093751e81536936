#!/usr/bin/env bash
# Executes every notebook headless against a fresh build of the bundled sample, failing on the
# first error. Installs the pinned Python packages it needs; uses $ACRM if set, else the
# acrm binary of the workspace (built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/acrm-target}"

python3 -m pip install --quiet --disable-pip-version-check -r notebooks/requirements.txt

if [ -z "${ACRM:-}" ]; then
  cargo build --quiet --bin acrm
  ACRM="$CARGO_TARGET_DIR/debug/acrm"
fi
export ACRM

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export ACRM_WAREHOUSE="$work/warehouse"
"$ACRM" build --config sample-data/acrm.toml --warehouse "$ACRM_WAREHOUSE" --format json > "$work/build.json"

for notebook in notebooks/*.ipynb; do
  echo "running $notebook"
  python3 -m jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=600 \
    --output-dir "$work/executed" "$notebook"
done
echo "all notebooks ran"
