#!/usr/bin/env bash
# Browser end-to-end tests.
#
#   bash e2e/run.sh BINARY [TEST_FILE...]   e.g. bash e2e/run.sh target/debug/myqcm
#                                           or   bash e2e/run.sh target/debug/myqcm e2e/tests/xss.test.mjs
#
# Installs Debian's chromium when missing, installs the pinned npm packages (npm ci), starts
# `BINARY serve` on a free loopback port with a fresh data directory (after `migrate` and
# `seed --demo` when the binary has them), waits for /health/ready, runs `node --test e2e/tests/`
# and exits with node's status. Server output goes to e2e/artifacts/server.log, screenshots to
# e2e/artifacts/. Set MYQCM_E2E_KEEP_DATA=1 to keep the data directory for inspection.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 BINARY [TEST_FILE...]" >&2
  exit 64
fi

CALLER_DIR="$PWD"
E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT_DIR="$(cd "$E2E_DIR/.." && pwd)"
ARTIFACTS="$E2E_DIR/artifacts"

BIN="$1"
shift
TESTS=("$@")
case "$BIN" in
  /*) ;;
  *) BIN="$PWD/$BIN" ;;
esac
if [ ! -x "$BIN" ]; then
  echo "e2e: binary not found or not executable: $BIN" >&2
  exit 66
fi

log() { echo "e2e: $*"; }

rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS"

# --- browser -------------------------------------------------------------------------------
if [ ! -x /usr/bin/chromium ]; then
  log "installing Debian chromium (apt-get; output in e2e/artifacts/apt.log)"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  if ! { $SUDO apt-get update && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; } \
      >"$ARTIFACTS/apt.log" 2>&1; then
    tail -n 30 "$ARTIFACTS/apt.log" >&2
    log "could not install chromium"
    exit 1
  fi
fi
log "browser: $(/usr/bin/chromium --version 2>/dev/null || echo 'chromium (version unknown)')"

# --- node and npm --------------------------------------------------------------------------
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  log "installing Debian nodejs and npm (apt-get; output in e2e/artifacts/apt-node.log)"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  if ! { $SUDO apt-get update && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm; } \
      >"$ARTIFACTS/apt-node.log" 2>&1; then
    tail -n 30 "$ARTIFACTS/apt-node.log" >&2
    log "could not install nodejs and npm"
    exit 1
  fi
fi
log "node $(node --version)"

# --- npm packages --------------------------------------------------------------------------
log "npm ci"
(cd "$E2E_DIR" && npm ci --no-audit --no-fund --loglevel=error)

# --- fresh state ---------------------------------------------------------------------------
DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/myqcm-e2e.XXXXXX")"

# A free loopback port.
free_port() {
  node -e '
    const s = require("net").createServer();
    s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });
  '
}

PORT="$(free_port)"
BASE_URL="http://127.0.0.1:${PORT}"

export MYQCM_DATA_DIR="$DATA_DIR"
export MYQCM_LISTEN="127.0.0.1:${PORT}"
export MYQCM_PUBLIC_BASE_URL="$BASE_URL"
export MYQCM_CONTACT_EMAIL="contact@myqcm.test"

SERVER_PID=""
NODE_PID=""
FAKE_PID=""
LLM_PID=""
cleanup() {
  local rc=$?
  for pid in "$FAKE_PID" "$LLM_PID"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [ -n "$NODE_PID" ] && kill -0 "$NODE_PID" 2>/dev/null; then
    kill -TERM "$NODE_PID" 2>/dev/null || true
    wait "$NODE_PID" 2>/dev/null || true
  fi
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
      log "server did not stop within 10 s, killing it"
      kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "${MYQCM_E2E_KEEP_DATA:-0}" = "1" ]; then
    log "data directory kept: $DATA_DIR"
  else
    rm -rf "$DATA_DIR"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "binary: $BIN"
log "data dir: $DATA_DIR"
log "listen: $MYQCM_LISTEN"

# --- schema and demo data ------------------------------------------------------------------
if "$BIN" migrate --help >/dev/null 2>&1; then
  log "migrate"
  if ! "$BIN" migrate >"$ARTIFACTS/migrate.log" 2>&1; then
    log "WARNING: '$BIN migrate' failed (see e2e/artifacts/migrate.log); continuing"
  fi
fi
if "$BIN" seed --help >/dev/null 2>&1; then
  log "seed --demo"
  # The seed prints staff TOTP secrets; tests that need them read this file.
  if ! "$BIN" seed --demo >"$ARTIFACTS/seed.log" 2>&1; then
    log "WARNING: '$BIN seed --demo' failed (see e2e/artifacts/seed.log); continuing without demo data"
  fi
else
  log "WARNING: the binary has no 'seed' command; continuing without demo data"
fi
export MYQCM_E2E_SEED_LOG="$ARTIFACTS/seed.log"
# Hostile items (script tags, event handlers, javascript: links) in a subject of their own, for
# xss.test.mjs: approved, so that sessions serve them.
if "$BIN" import --help >/dev/null 2>&1; then
  log "import e2e/fixtures/xss-bank.json"
  if ! "$BIN" import "$E2E_DIR/fixtures/xss-bank.json" --status approved \
      --author author@demo.myqcm.local --quiet >"$ARTIFACTS/import.log" 2>&1; then
    log "WARNING: the hostile fixture did not import (see e2e/artifacts/import.log); continuing"
  fi
fi

# --- fake payment provider -----------------------------------------------------------------
# With `myqcm-fakes` beside the binary (cargo build -p myqcm-app -p myqcm-testkit --bins), the
# fake Chargily server runs on another free port and the app is configured for it (test mode);
# billing.test.mjs reads MYQCM_E2E_CHARGILY. Without it, online payment stays hidden.
FAKES="$(dirname "$BIN")/myqcm-fakes"

# start_fake NAME KEY CONTROL_PATH: runs `myqcm-fakes NAME` on a free port with KEY and waits
# up to 5 s for CONTROL_PATH to answer; sets FAKE_STARTED_PORT and FAKE_STARTED_PID (the port
# is empty when it did not answer; its output goes to e2e/artifacts/fake-NAME.log).
start_fake() {
  local name="$1" key="$2" control="$3" port
  port="$(free_port)"
  "$FAKES" "$name" --listen "127.0.0.1:${port}" --key "$key" >"$ARTIFACTS/fake-${name}.log" 2>&1 &
  FAKE_STARTED_PID=$!
  FAKE_STARTED_PORT=""
  for _ in $(seq 1 50); do
    if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:${port}${control}"; then
      FAKE_STARTED_PORT="$port"
      return
    fi
    sleep 0.1
  done
}

if [ -x "$FAKES" ]; then
  FAKE_KEY="test_sk_e2e_fake_chargily"
  start_fake chargily "$FAKE_KEY" /_control/checkouts
  FAKE_PID="$FAKE_STARTED_PID"
  if [ -n "$FAKE_STARTED_PORT" ]; then
    export MYQCM_CHARGILY_MODE=test
    export MYQCM_CHARGILY_SECRET_KEY="$FAKE_KEY"
    export MYQCM_CHARGILY_API_BASE="http://127.0.0.1:${FAKE_STARTED_PORT}/test/api/v2"
    export MYQCM_E2E_CHARGILY="http://127.0.0.1:${FAKE_STARTED_PORT}"
    log "fake Chargily at $MYQCM_E2E_CHARGILY"
  else
    log "WARNING: $FAKES chargily did not answer (see e2e/artifacts/fake-chargily.log); online payment stays off"
  fi
fi

# --- fake language model -------------------------------------------------------------------
# With `myqcm-fakes` beside the binary, the fake OpenAI-compatible model runs on another free
# port and the app is configured for it, so the AI pages exist (staff.test.mjs asks for drafts,
# visits the assisted QROC grading page and the AI usage page when MYQCM_E2E_LLM is set).
# Without it, AI features stay hidden.
if [ -x "$FAKES" ]; then
  LLM_KEY="fake-llm-e2e-key"
  start_fake llm "$LLM_KEY" /_control/calls
  LLM_PID="$FAKE_STARTED_PID"
  if [ -n "$FAKE_STARTED_PORT" ]; then
    export MYQCM_LLM_BASE_URL="http://127.0.0.1:${FAKE_STARTED_PORT}/v1"
    export MYQCM_LLM_API_KEY="$LLM_KEY"
    export MYQCM_LLM_MODEL="fake-model"
    export MYQCM_E2E_LLM="http://127.0.0.1:${FAKE_STARTED_PORT}"
    log "fake language model at $MYQCM_E2E_LLM"
  else
    log "WARNING: $FAKES llm did not answer (see e2e/artifacts/fake-llm.log); AI features stay hidden"
  fi
fi

# --- server --------------------------------------------------------------------------------
log "starting server (log: e2e/artifacts/server.log)"
"$BIN" serve >"$ARTIFACTS/server.log" 2>&1 &
SERVER_PID=$!

ready=0
started=$SECONDS
deadline=$((SECONDS + 60))
while [ "$SECONDS" -lt "$deadline" ]; do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    wait "$SERVER_PID" 2>/dev/null && server_rc=0 || server_rc=$?
    SERVER_PID=""
    log "server exited early (status $server_rc); last lines of server.log:"
    tail -n 40 "$ARTIFACTS/server.log" >&2 || true
    exit 1
  fi
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE_URL/health/ready" || true)"
  if [ "$code" = "200" ]; then
    ready=1
    break
  fi
  sleep 0.5
done
if [ "$ready" -ne 1 ]; then
  log "server not ready after 60 s (last /health/ready status: ${code:-none}); last lines of server.log:"
  tail -n 40 "$ARTIFACTS/server.log" >&2 || true
  exit 1
fi
log "server ready at $BASE_URL after $((SECONDS - started)) s"

# --- tests ---------------------------------------------------------------------------------
export MYQCM_E2E_BASE_URL="$BASE_URL"
export MYQCM_E2E_ARTIFACTS="$ARTIFACTS"
export MYQCM_E2E_DATA_DIR="$DATA_DIR"
# The binary itself, for tests that run a command beside the server (e.g. minting cards).
export MYQCM_E2E_BIN="$BIN"

if [ "${#TESTS[@]}" -eq 0 ]; then
  TESTS=(e2e/tests/)
else
  # Paths given relative to the caller's directory.
  for i in "${!TESTS[@]}"; do
    case "${TESTS[$i]}" in
      /*) ;;
      *) TESTS[$i]="$CALLER_DIR/${TESTS[$i]}" ;;
    esac
  done
fi
cd "$ROOT_DIR"
# In the background + wait, so that a signal stops the run (and the server) at once.
set +e
node --test "${TESTS[@]}" &
NODE_PID=$!
wait "$NODE_PID"
status=$?
NODE_PID=""
set -e
log "node --test exited with status $status; artifacts in e2e/artifacts/"
exit "$status"
