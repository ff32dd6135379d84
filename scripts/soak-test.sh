#!/usr/bin/env bash
# Soak test (not a test suite): one open loop at a fixed rate for a long time against
# `myqcm serve --no-worker` on a loopback port, with the answer load driver of
# scripts/load-test.sh (crates/app/examples/load_answers.rs). The server's RSS (VmRSS) is
# sampled every 10 s. At the end it prints the rate offered and served, the 5xx count,
# p50/p99, the RSS after the warm-up and at the end with the largest deviation after the
# warm-up, and exits 1 when any check fails:
#   - a 5xx answer (503 or other);
#   - RSS more than MYQCM_SOAK_RSS_PCT % (default 10) above its value at the end of the warm-up;
#   - p99 above MYQCM_SOAK_P99_MS (default 25, the training benchmark's target).
#   scripts/soak-test.sh [sqlite|postgres] [seconds=600] [rate]
# Default rate: 300/s on SQLite, 400/s on PostgreSQL + Redis, about half of the capacity
# measured in docs/PERFORMANCE.md on this 2-core machine (a soak checks stability under a load
# the machine carries, not the ceiling). seconds ≤ 600 (the driver's cap), at least the
# warm-up (MYQCM_SOAK_WARMUP, default 60 s) plus 30 s. Learners: MYQCM_SOAK_LEARNERS (64).
# postgres uses MYQCM_LOAD_PG / MYQCM_LOAD_REDIS as load-test.sh does; MYQCM_LOAD_PROFILE picks
# the cargo profile (default `load`) and MYQCM_LOAD_SKIP_BUILD=1 reuses the built binaries.
# Loopback only; every loop is bounded by `seconds`.
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:-sqlite}"; seconds="${2:-600}"
case "$backend" in
  sqlite) rate="${3:-300}" ;;
  postgres) rate="${3:-400}" ;;
  *) echo "usage: $0 [sqlite|postgres] [seconds=600] [rate]" >&2; exit 2 ;;
esac
warmup="${MYQCM_SOAK_WARMUP:-60}"
p99_target="${MYQCM_SOAK_P99_MS:-25}"
rss_pct="${MYQCM_SOAK_RSS_PCT:-10}"
learners="${MYQCM_SOAK_LEARNERS:-64}"
if (( seconds > 600 || seconds < warmup + 30 )); then
  echo "seconds must be between $((warmup + 30)) and 600 (got $seconds)" >&2; exit 2
fi
target="${CARGO_TARGET_DIR:-target}"
profile="${MYQCM_LOAD_PROFILE:-load}"
if [[ -z "${MYQCM_LOAD_SKIP_BUILD:-}" ]]; then
  cargo build -q --profile "$profile" -p myqcm-app --bin myqcm --example load_answers
fi
out="$profile"; [[ "$profile" == dev ]] && out=debug
bin="$target/$out/myqcm"
driver="$target/$out/examples/load_answers"

tmp="$(mktemp -d)"
pid=""; sampler=""; db=""
cleanup() {
  [[ -n "$sampler" ]] && kill "$sampler" 2>/dev/null || true
  if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [[ -n "$db" ]]; then psql -q "$pg/postgres" -c "DROP DATABASE $db" >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
for v in $(env | grep -o '^MYQCM_[A-Z_]*' | grep -v '^MYQCM_SOAK_\|^MYQCM_LOAD_' || true); do unset "$v"; done
export MYQCM_DATA_DIR="$tmp" MYQCM_LISTEN="127.0.0.1:$port" MYQCM_PUBLIC_BASE_URL="$base" \
       MYQCM_METRICS_LISTEN="" MYQCM_TRUSTED_PROXIES="127.0.0.1/32" MYQCM_LOG=warn
if [[ "$backend" == postgres ]]; then
  db="soak_$(date +%s)_$$"
  pg="${MYQCM_LOAD_PG:-postgres://postgres@127.0.0.1:5432}"
  psql -q "$pg/postgres" -c "CREATE DATABASE $db" >/dev/null
  export MYQCM_DATABASE_URL="$pg/$db" MYQCM_REDIS_URL="${MYQCM_LOAD_REDIS:-redis://127.0.0.1:6379}" \
         MYQCM_REDIS_PREFIX="soak:$db:"
fi
"$bin" seed --demo >/dev/null
"$driver" seed --learners "$learners"
"$bin" serve --no-worker >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  curl -fsS "$base/health/ready" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/server.log"; exit 1; }
  sleep 0.1
done

# RSS every 10 s from the start of the run ("seconds since start, KiB"), bounded by the run.
(
  for ((t = 0; t <= seconds + 20; t += 10)); do
    kb="$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null)" || break
    [[ -n "$kb" ]] || break
    echo "$t $kb" >>"$tmp/rss"
    sleep 10
  done
) &
sampler=$!

echo "== soak: $backend, $seconds s at $rate/s offered, $learners learners (started $(date -u +%FT%TZ))"
"$driver" run --base "$base" --learners "$learners" --seconds "$seconds" --rate "$rate" | tee "$tmp/run"
kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true; sampler=""

python3 - "$tmp/run" "$tmp/rss" "$rate" "$seconds" "$warmup" "$p99_target" "$rss_pct" <<'PY'
import re, sys
run, rss_file, rate, seconds, warmup, p99_target, rss_pct = sys.argv[1:]
rate, seconds, warmup = float(rate), int(seconds), int(warmup)
p99_target, rss_pct = float(p99_target), float(rss_pct)
line = open(run).read()
def num(pattern):
    m = re.search(pattern, line)
    if not m:
        sys.exit(f"cannot read {pattern!r} in the driver's output")
    return float(m.group(1))
served = num(r"round trips, ([\d.]+)/s")
p50, p99 = num(r"p50 ([\d.]+)"), num(r"p99 ([\d.]+)")
s503, other5xx = num(r"\(503 (\d+)"), num(r"other 5xx (\d+)")
errors = num(r"errors (\d+)")
samples = [tuple(map(int, l.split())) for l in open(rss_file) if l.strip()]
after = [(t, kb) for t, kb in samples if t >= warmup]
if not after:
    sys.exit("no RSS sample after the warm-up")
warm = after[0][1]
end = after[-1][1]
deviation = max(abs(kb - warm) / warm * 100 for _, kb in after)
growth = max((kb - warm) / warm * 100 for _, kb in after)
mib = lambda kb: kb / 1024
print("RSS samples (s: MiB): " + ", ".join(f"{t}: {mib(kb):.1f}" for t, kb in samples))
print(f"offered {rate:.0f}/s, served {served:.0f}/s over {seconds} s; 5xx {s503 + other5xx:.0f} "
      f"(503 {s503:.0f}, other {other5xx:.0f}), all errors {errors:.0f}; "
      f"latency p50 {p50:.2f} ms, p99 {p99:.2f} ms (target {p99_target:g} ms)")
print(f"RSS after warm-up ({after[0][0]} s) {mib(warm):.1f} MiB, at the end ({after[-1][0]} s) "
      f"{mib(end):.1f} MiB ({(end - warm) / warm * 100:+.1f} %), max deviation {deviation:.1f} % "
      f"(limit +{rss_pct:g} %)")
failed = []
if s503 + other5xx > 0:
    failed.append("5xx answers")
if growth > rss_pct:
    failed.append(f"RSS grew {growth:.1f} % after the warm-up")
if p99 > p99_target:
    failed.append(f"p99 {p99:.2f} ms above {p99_target:g} ms")
print("soak: " + ("FAILED: " + "; ".join(failed) if failed else "passed"))
sys.exit(1 if failed else 0)
PY
