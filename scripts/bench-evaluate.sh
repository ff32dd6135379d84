#!/usr/bin/env bash
# Research-mode evaluation benchmark (issue 13 acceptance: 1,000,000 attempts in < 60 s, peak
# RSS < 1 GiB). Generates a seeded attempt log with the psychometrics simulator (example
# `attempt_log`, bounded to 20M attempts), then times `myqcm evaluate --input` under
# `/usr/bin/time -v`. Usage: scripts/bench-evaluate.sh [LEARNERS] [ATTEMPTS_PER_LEARNER]
# (default 20,000 × 50 = 1,000,000). MYQCM_BIN reuses a built binary; PROFILE picks the cargo
# profile (default `load`).
set -euo pipefail
LEARNERS="${1:-20000}"
PER="${2:-50}"
PROFILE="${PROFILE:-load}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
if [[ -z "${MYQCM_BIN:-}" ]]; then
  (cd "$ROOT" && cargo build --profile "$PROFILE" -p myqcm-app --bin myqcm >&2)
  MYQCM_BIN="$TARGET/$PROFILE/myqcm"
fi
(cd "$ROOT" && cargo build --profile "$PROFILE" -p myqcm-psychometrics --example attempt_log >&2)
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$TARGET/$PROFILE/examples/attempt_log" "$LEARNERS" "$PER" 13 > "$WORK/attempts.csv"
echo "attempts: $(( $(wc -l < "$WORK/attempts.csv") - 1 )) ($(du -h "$WORK/attempts.csv" | cut -f1))"
/usr/bin/time -v "$MYQCM_BIN" evaluate --input "$WORK/attempts.csv" \
  --predictions "$WORK/out.csv" --report "$WORK/report" 2> "$WORK/time.txt"
grep -E "Elapsed \(wall clock\)|Maximum resident set size" "$WORK/time.txt"
echo "predictions: $(( $(wc -l < "$WORK/out.csv") - 1 )) rows"
