#!/usr/bin/env bash
# Refreshes the screenshots of the admin guide (docs/ADMIN.md) from the browser suite.
#
#   scripts/admin-guide-shots.sh BINARY      e.g. scripts/admin-guide-shots.sh target/debug/myqcm
#
# Runs the admin journeys of e2e/ (a real Chromium on a fresh demo server; see e2e/run.sh),
# then copies the screenshots the guide shows from e2e/artifacts/ to docs/admin-guide/.
# (No screenshot of minted cards: their codes must not be published, even from a test server.)
# Not part of CI (CI never writes into the repository): run it by hand after a change to
# the admin pages and commit the images that changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin="${1:?usage: $0 BINARY}"
bash e2e/run.sh "$bin" e2e/tests/admin.test.mjs e2e/tests/admin-catalogue.test.mjs \
  e2e/tests/admin-commerce.test.mjs
shots=(
  admin-imports admin-import-report admin-ar-audit admin-ar-config
  admin-catalogue-curriculum admin-catalogue-kc-trees-edit admin-catalogue-blueprints
  admin-catalogue-institutions-error admin-commerce-ar-plan
)
mkdir -p docs/admin-guide
for s in "${shots[@]}"; do
  cp "e2e/artifacts/$s.png" "docs/admin-guide/$s.png"
done
echo "admin guide screenshots: ${#shots[@]} copied to docs/admin-guide/"
