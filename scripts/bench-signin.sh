#!/usr/bin/env bash
# Sign-in benchmark (not a test): sign-ins over 50 client addresses (X-Forwarded-For, trusted
# proxy 127.0.0.1/32) against a fresh local server; prints sign-ins/s, peak RSS and the p99 of
# /health/live during the run. Loopback only; bounded by the duration (default 20 s, max 300).
#   scripts/bench-signin.sh [seconds] [concurrency]
# MYQCM_BIN selects the server binary (default: target/debug/myqcm, built here). argon2 is
# optimised even in debug builds (Cargo.toml), so debug numbers are meaningful for hashing.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
if [[ -z "${MYQCM_BIN:-}" ]]; then
  cargo build -q -p myqcm-app --bin myqcm
  export MYQCM_BIN="$target/debug/myqcm"
fi
cargo run -q -p myqcm-app --example bench_signin -- "${1:-20}" "${2:-8}"
