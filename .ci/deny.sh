#!/usr/bin/env bash
# Dependency policy stage: licences, banned crates, sources (deny.toml at the repo root).
#
#   bash .ci/deny.sh
#
# Installs cargo-deny once into $MYQCM_TOOLS_ROOT (default ~/.cache/myqcm-tools; about 5 min on
# 2 cores the first time, skipped afterwards), runs `cargo fetch` so that every crate in
# Cargo.lock is in the local registry, then `cargo deny --offline check licenses bans sources`.
# No advisories check: the RustSec database cannot be fetched here.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_ROOT="${MYQCM_TOOLS_ROOT:-$HOME/.cache/myqcm-tools}"
CARGO_DENY_VERSION="0.20.2"
CARGO_DENY="$TOOLS_ROOT/bin/cargo-deny"

say() { echo "deny: $*"; }

if [ -x "$CARGO_DENY" ] && "$CARGO_DENY" --version 2>/dev/null | grep -qx "cargo-deny $CARGO_DENY_VERSION"; then
  say "using $("$CARGO_DENY" --version) from $TOOLS_ROOT"
else
  say "installing cargo-deny $CARGO_DENY_VERSION into $TOOLS_ROOT (cargo install, about 5 min)"
  start=$SECONDS
  # Own target dir: do not mix the tool's build into the workspace's CARGO_TARGET_DIR.
  (cd "${TMPDIR:-/tmp}" && env -u CARGO_TARGET_DIR CARGO_INSTALL_ROOT="$TOOLS_ROOT" \
    nice -n 10 cargo install cargo-deny --version "$CARGO_DENY_VERSION" --locked --quiet)
  say "installed cargo-deny in $((SECONDS - start)) s"
fi

cd "$ROOT"
say "cargo fetch --locked"
cargo fetch --locked --quiet

say "cargo deny --offline check licenses bans sources"
# cargo-deny is called directly (not as `cargo deny`) so that PATH does not matter.
"$CARGO_DENY" --offline --color never check --hide-inclusion-graph licenses bans sources
say "OK"
