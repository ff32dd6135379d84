#!/usr/bin/env bash
# API fuzzing: schemathesis (PyPI, pinned) against /api/v1/openapi.json of a freshly seeded
# server, once as the demo learner and once as the demo author (signed in with their bearer
# tokens). Checks: no 5xx, every response's status, content type and body match the document
# (errors are application/problem+json). Bounded: MYQCM_FUZZ_SECONDS per role (default 60).
#
#   scripts/api-fuzz.sh target/debug/myqcm
#
# Operations that would end the fuzzer's own session or account (sign-out, password, email,
# two-step settings, account deletion, session revocation) and the payment webhook (its
# signature is checked before anything else) are left out. Loopback only.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${1:?usage: scripts/api-fuzz.sh BINARY}"
case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
SECONDS_PER_ROLE="${MYQCM_FUZZ_SECONDS:-60}"
VERSION="4.32.5"
TOOLS="${MYQCM_TOOLS_DIR:-$HOME/.cache/myqcm-tools}"
VENV="$TOOLS/schemathesis-$VERSION"
OUT="${MYQCM_FUZZ_ARTIFACTS:-$ROOT/target/api-fuzz}"
mkdir -p "$OUT"

if [ ! -x "$VENV/bin/st" ]; then
  echo "api-fuzz: installing schemathesis $VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
fi

DATA="$(mktemp -d "${TMPDIR:-/tmp}/myqcm-fuzz.XXXXXX")"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
export MYQCM_DATA_DIR="$DATA" MYQCM_LISTEN="127.0.0.1:$PORT" MYQCM_PUBLIC_BASE_URL="$BASE"
export MYQCM_SECRET_KEY="$(head -c 48 /dev/urandom | base64 -w0)"
export MYQCM_CONTACT_EMAIL="contact@myqcm.test" MYQCM_LOG=warn
PID=""
cleanup() {
  local rc=$?
  if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$DATA"
  exit "$rc"
}
trap cleanup EXIT

"$BIN" migrate >"$OUT/migrate.log" 2>&1
"$BIN" seed --demo >"$OUT/seed.log" 2>&1
"$BIN" serve >"$OUT/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 60); do curl -sf "$BASE/health/ready" >/dev/null && break; sleep 1; done
curl -sf "$BASE/health/ready" >/dev/null || { echo "api-fuzz: server did not come up"; tail -20 "$OUT/server.log"; exit 1; }

# A bearer token for a demo account (the staff ones answer a TOTP code computed here, RFC 6238).
token() {
  python3 - "$OUT/seed.log" "$BASE" "$1" <<'PY'
import base64, hashlib, hmac, json, re, struct, sys, time, urllib.request
log, base, role = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(log, encoding="utf-8").read()
email, password = re.search(rf"^\s*{role}\s+(\S+)\s+password: (\S+)$", text, re.M).groups()
body = {"grant_type": "password", "email": email, "password": password}
secret = re.search(rf"^\s*{role}\s+\S+\s+TOTP secret[^:]*: (\S+)$", text, re.M)
if secret:
    key = base64.b32decode(secret.group(1) + "=" * (-len(secret.group(1)) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    o = mac[-1] & 15
    body["totp_code"] = "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 10**6)
req = urllib.request.Request(base + "/api/v1/auth/token", json.dumps(body).encode(),
                             {"content-type": "application/json"})
print(json.load(urllib.request.urlopen(req))["access_token"])
PY
}

status=0
for role in student author; do
  t="$(token "$role")"
  echo "api-fuzz: $role, $SECONDS_PER_ROLE s"
  if ! (cd "$OUT" && "$VENV/bin/st" run "$BASE/api/v1/openapi.json" \
      -H "Authorization: Bearer $t" \
      --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
      --exclude-path-regex '^/api/v1/(auth/(sign-out|sign-out-everywhere|password-reset|google)|account/(delete|password|email|mfa|sessions)|payments/chargily/webhook)' \
      --phases examples,coverage,fuzzing --max-time "$SECONDS_PER_ROLE" --workers 2 --seed 1 \
      --no-color) >"$OUT/$role.log" 2>&1; then
    # A failure (5xx, a status, type or body the document does not allow) or an error on our
    # side (a response that cannot be read) fails the run. "Runtime Error" is the generator
    # failing inside schemathesis/hypothesis on some schema, not a server finding: listed only.
    summary="$(sed -n '/SUMMARY/,$p' "$OUT/$role.log")"
    if grep -q "^Failures:" <<<"$summary" \
        || grep -A20 "^Errors:" <<<"$summary" | grep "🚫" | grep -vq "Runtime Error"; then
      status=1
    fi
  fi
  sed -n '/SUMMARY/,$p' "$OUT/$role.log"
done
[ "$status" = 0 ] && echo "api-fuzz: no server error, no schema or content-type violation" \
  || { echo "api-fuzz: failures, see $OUT/*.log"; grep -n "^- ST\|Server error\|Network Error" "$OUT"/student.log "$OUT"/author.log | head -40; }
exit "$status"
