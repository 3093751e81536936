#!/usr/bin/env bash
# Executes every notebook headless against a fresh build of the bundled sample, failing on the
# first error. Runs in the project venv (`./test --setup-only` makes it, with the pinned
# notebooks/requirements.txt); uses $ACRM if set, else the acrm binary of the workspace
# (built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/acrm-target}"

./test --setup-only
export PATH="$PWD/.venv/bin:$PATH"

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
