#!/usr/bin/env bash
# Answer load test (not a test suite): builds the server and the driver
# (crates/app/examples/load_answers.rs), seeds the demo bank and N learners, starts
# `myqcm serve --no-worker` on a loopback port and runs a closed loop (N concurrent learners)
# and an open loop (fixed rate), then prints the server's peak RSS (VmHWM). One round trip =
# one POST /api/v1/training-sessions/{id}/answers returning the grade and the next item.
#   scripts/load-test.sh [sqlite|postgres|both] [seconds] [learners] [rate]
# Defaults: both, 20 s, 64 learners, 800/s. postgres uses MYQCM_LOAD_PG (default
# postgres://postgres@127.0.0.1:5432) with a fresh database, and MYQCM_LOAD_REDIS (default
# redis://127.0.0.1:6379) with a fresh key prefix. MYQCM_LOAD_PROFILE picks the cargo profile
# (default `load`: release without LTO, quicker to build; `release` for the shipped one).
set -euo pipefail
cd "$(dirname "$0")/.."
backends="${1:-both}"; seconds="${2:-20}"; learners="${3:-64}"; rate="${4:-800}"
target="${CARGO_TARGET_DIR:-target}"
profile="${MYQCM_LOAD_PROFILE:-load}"
# MYQCM_LOAD_SKIP_BUILD=1 reuses the binaries already built for the profile.
if [[ -z "${MYQCM_LOAD_SKIP_BUILD:-}" ]]; then
  cargo build -q --profile "$profile" -p myqcm-app --bin myqcm --example load_answers
fi
out="$profile"; [[ "$profile" == dev ]] && out=debug
bin="$target/$out/myqcm"
driver="$target/$out/examples/load_answers"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_server: starts the server with the current MYQCM_* environment; sets $pid.
start_server() {
  "$bin" serve --no-worker >"$tmp/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    if curl -fsS "$base/health/ready" >/dev/null 2>&1; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/server.log"; return 1; }
    sleep 0.1
  done
  echo "server not ready" >&2; return 1
}

run_backend() {
  local name="$1"
  tmp="$(mktemp -d)"
  port="$(free_port)"
  base="http://127.0.0.1:$port"
  for v in $(env | grep -o '^MYQCM_[A-Z_]*' || true); do unset "$v"; done
  export MYQCM_DATA_DIR="$tmp" MYQCM_LISTEN="127.0.0.1:$port" MYQCM_PUBLIC_BASE_URL="$base" \
         MYQCM_METRICS_LISTEN="" MYQCM_TRUSTED_PROXIES="127.0.0.1/32" MYQCM_LOG=warn
  if [[ "$name" == postgres ]]; then
    local db="load_$(date +%s)_$$"
    local pg="${MYQCM_LOAD_PG:-postgres://postgres@127.0.0.1:5432}"
    psql -q "$pg/postgres" -c "CREATE DATABASE $db" >/dev/null
    export MYQCM_DATABASE_URL="$pg/$db" MYQCM_REDIS_URL="${MYQCM_LOAD_REDIS:-redis://127.0.0.1:6379}" \
           MYQCM_REDIS_PREFIX="load:$db:"
  fi
  "$bin" seed --demo >/dev/null
  "$driver" seed --learners "$learners"
  start_server
  echo "== $name: closed loop"
  "$driver" run --base "$base" --learners "$learners" --seconds "$seconds"
  echo "== $name: open loop"
  "$driver" run --base "$base" --learners "$learners" --seconds "$seconds" --rate "$rate"
  echo "== $name: peak RSS $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' "/proc/$pid/status")"
  kill -TERM "$pid"; wait "$pid" || true
  rm -rf "$tmp"
  if [[ "$name" == postgres ]]; then psql -q "$pg/postgres" -c "DROP DATABASE $db" >/dev/null || true; fi
}

case "$backends" in
  sqlite) run_backend sqlite ;;
  postgres) run_backend postgres ;;
  both) run_backend sqlite; run_backend postgres ;;
  *) echo "usage: $0 [sqlite|postgres|both] [seconds] [learners] [rate]" >&2; exit 2 ;;
esac
