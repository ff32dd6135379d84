#!/usr/bin/env bash
# Compares two builds of the answer round trip back to back (not a test suite): runs
# scripts/load-test.sh with the binaries under BASE_TARGET, then under NEW_TARGET, for each
# backend and round, so both see the same machine at nearly the same time (the machine is
# shared; compare the ratios, not the absolute numbers).
#   scripts/load-compare.sh BASE_TARGET NEW_TARGET [rounds=3] [seconds=15] [backends="sqlite postgres"]
# Each target directory holds a `load` build: <target>/load/myqcm and
# <target>/load/examples/load_answers (copy the base binaries aside before rebuilding).
set -euo pipefail
cd "$(dirname "$0")/.."
base="${1:?base target dir}"; new="${2:?new target dir}"
rounds="${3:-3}"; seconds="${4:-15}"; backends="${5:-sqlite postgres}"
for round in $(seq 1 "$rounds"); do
  for b in $backends; do
    for side in base new; do
      dir="$base"; [[ "$side" == new ]] && dir="$new"
      echo "##### round $round $b $side"
      CARGO_TARGET_DIR="$dir" MYQCM_LOAD_SKIP_BUILD=1 MYQCM_LOAD_PROFILE=load \
        scripts/load-test.sh "$b" "$seconds" 64 800 | grep -E 'round trips|peak RSS'
    done
  done
done
