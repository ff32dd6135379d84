#!/usr/bin/env bash
# The whole Rust test suite: unit, property, contract, repository, worker, HTTP and CLI tests
# (cargo nextest), then the documentation examples (nextest does not run doctests).
#
# Backend: SQLite and the in-process cache unless MYQCM_TEST_DATABASE_URL=postgres://… and
# MYQCM_TEST_REDIS_URL=redis://… are set (CI runs both). Needs no running service by default.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "test: installing cargo-nextest (once)"
  cargo install cargo-nextest --locked --quiet
fi
cargo nextest run --workspace --no-fail-fast "$@"
cargo test --workspace --doc --quiet
