#!/usr/bin/env bash
# Kill test: learners answer in a closed loop while the server is killed with SIGKILL and
# restarted on the same database; the driver logs the served id of every answer whose
# response reached it, and afterwards every one of them must have its attempt stored.
#   scripts/load-kill.sh [sqlite|postgres|both] [learners]
# Same environment knobs as scripts/load-test.sh. Exits non-zero if an acknowledged answer is
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."
backends="${1:-both}"; learners="${2:-32}"
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

start_server() {
  "$bin" serve --no-worker >>"$tmp/server.log" 2>&1 &
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
  local db="" pg="${MYQCM_LOAD_PG:-postgres://postgres@127.0.0.1:5432}"
  if [[ "$name" == postgres ]]; then
    db="kill_$(date +%s)_$$"
    psql -q "$pg/postgres" -c "CREATE DATABASE $db" >/dev/null
    export MYQCM_DATABASE_URL="$pg/$db" MYQCM_REDIS_URL="${MYQCM_LOAD_REDIS:-redis://127.0.0.1:6379}" \
           MYQCM_REDIS_PREFIX="kill:$db:"
  fi
  "$bin" seed --demo >/dev/null
  "$driver" seed --learners "$learners"
  start_server
  "$driver" run --base "$base" --learners "$learners" --seconds 20 --ack "$tmp/ack.txt" &
  local load=$!
  # Kill once answers flow (at least 50 acknowledged), mid-run.
  local before=0
  for _ in $(seq 1 600); do
    before=$(wc -l <"$tmp/ack.txt" 2>/dev/null || echo 0)
    [[ "$before" -ge 50 ]] && break
    sleep 0.1
  done
  sleep 1
  kill -KILL "$pid"; wait "$pid" 2>/dev/null || true
  echo "== $name: SIGKILL sent during the load (about $before answers acknowledged so far)"
  sleep 1
  start_server
  wait "$load" || true
  kill -TERM "$pid"; wait "$pid" || true
  echo "== $name: verifying"
  local rc=0
  "$driver" verify --ack "$tmp/ack.txt" || rc=$?
  rm -rf "$tmp"
  if [[ -n "$db" ]]; then psql -q "$pg/postgres" -c "DROP DATABASE $db" >/dev/null || true; fi
  return $rc
}

case "$backends" in
  sqlite) run_backend sqlite ;;
  postgres) run_backend postgres ;;
  both) run_backend sqlite; run_backend postgres ;;
  *) echo "usage: $0 [sqlite|postgres|both] [learners]" >&2; exit 2 ;;
esac
