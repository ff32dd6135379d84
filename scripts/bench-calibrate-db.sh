#!/usr/bin/env bash
# Database-mode calibration benchmark (issue 13 acceptance: calibrating and evaluating
# 1,000,000 stored attempts in under 2 minutes, memory under 1 GiB). Builds a fresh SQLite
# database: the demo curriculum (`myqcm seed --demo`), 2,000 simulated QCS items imported with
# `myqcm import`, then the attempt log of the example `attempt_log` (20,000 learners × 50,
# seed 13) written straight into `training_session`, `session_item` and `attempt` by one
# bulk transaction (Python's sqlite3, foreign-key checks off while loading; learners are
# synthetic ids without accounts, which neither command reads). Then times
# `myqcm calibrate` and `myqcm evaluate` (no --input: from the database) under
# `/usr/bin/time -v`.
# Usage: scripts/bench-calibrate-db.sh [LEARNERS] [ATTEMPTS_PER_LEARNER]
# MYQCM_BIN and ATTEMPT_LOG reuse built binaries; PROFILE picks the cargo profile (default
# `load`); KEEP=1 keeps the work directory.
set -euo pipefail
LEARNERS="${1:-20000}"
PER="${2:-50}"
PROFILE="${PROFILE:-load}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
if [[ -z "${MYQCM_BIN:-}" ]]; then
  (cd "$ROOT" && cargo build --profile "$PROFILE" --bin myqcm >&2)
  MYQCM_BIN="$TARGET/$PROFILE/myqcm"
fi
if [[ -z "${ATTEMPT_LOG:-}" ]]; then
  (cd "$ROOT" && cargo build --profile "$PROFILE" --example attempt_log >&2)
  ATTEMPT_LOG="$TARGET/$PROFILE/examples/attempt_log"
fi
WORK="$(mktemp -d)"
if [[ -z "${KEEP:-}" ]]; then trap 'rm -rf "$WORK"' EXIT; else echo "work directory: $WORK"; fi
export MYQCM_DATA_DIR="$WORK/data" MYQCM_LOG="${MYQCM_LOG:-warn}" RUST_LOG="${RUST_LOG:-warn}"
"$MYQCM_BIN" seed --demo >/dev/null
"$ATTEMPT_LOG" "$LEARNERS" "$PER" 13 > "$WORK/attempts.csv"

echo "== loading $(( $(wc -l < "$WORK/attempts.csv") - 1 )) attempts"
start=$(date +%s.%N)
python3 - "$WORK" <<'PY'
import csv, sys
work = sys.argv[1]
# The demo curriculum's cardiology KCs; the simulator's KC k maps to CARDIO[k % 16].
CARDIO = ["kc-cardio-coro-angor", "kc-cardio-coro-sca-diag", "kc-cardio-coro-sca-ttt",
          "kc-cardio-ecg-conduction", "kc-cardio-ecg-fa", "kc-cardio-ecg-normal", "kc-cardio-ecg-repol",
          "kc-cardio-hta-bilan", "kc-cardio-hta-def", "kc-cardio-hta-mesure", "kc-cardio-hta-secondaire",
          "kc-cardio-hta-ttt", "kc-cardio-ic-diag", "kc-cardio-ic-physio", "kc-cardio-ic-semio", "kc-cardio-ic-ttt"]
COURSES = ["cardio-hta", "cardio-coro", "cardio-ecg", "cardio-ic"]
items = {}
with open(f"{work}/attempts.csv") as f:
    for r in csv.DictReader(f):
        if r["item"] not in items:
            kcs = sorted({CARDIO[int(k[1:]) % len(CARDIO)] for k in r["kc"].split(";") if k})
            items[r["item"]] = (int(r["options"]), r["difficulty"], kcs)
head = ["external_id", "type", "course", "stem", "option1", "option2", "option3", "option4",
        "option5", "correct", "explanation", "difficulty", "estimated_seconds", "kcs"]
with open(f"{work}/items.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(head)
    for n, (label, (k, diff, kcs)) in enumerate(sorted(items.items())):
        opts = [f"Proposition {c} de la question simulée {label}" for c in "ABCDE"[:k]] + [""] * (5 - k)
        w.writerow([f"sim-{label}", "qcs", COURSES[n % 4],
                    f"Question simulée {label} : quelle proposition est exacte ?", *opts, "2",
                    "Explication.", diff, "45", ";".join(kcs)])
PY
"$MYQCM_BIN" import "$WORK/items.csv" --quiet | head -2
python3 - "$WORK" <<'PY'
import csv, sqlite3, sys, struct, os
work = sys.argv[1]
db = sqlite3.connect(f"{work}/data/myqcm.sqlite")
db.execute("PRAGMA foreign_keys = OFF")
db.execute("PRAGMA synchronous = OFF")
subject = db.execute("SELECT id FROM subject WHERE code = 'cardio'").fetchone()[0]
item = {ext[4:]: (i, r) for ext, i, r in db.execute(
    "SELECT external_id, id, current_revision_id FROM item WHERE external_id LIKE 'sim-%'")}
seq = [0]
def uid(ms):
    # Time-ordered like a UUIDv7: 48-bit milliseconds, then a counter (ids sort by time).
    seq[0] += 1
    return struct.pack(">Q", ms << 16 | 0x7000 | (seq[0] >> 48) & 0xFFF) + struct.pack(">Q", 0x8000000000000000 | seq[0] & 0x3FFFFFFFFFFFFFFF)
rows = {}
with open(f"{work}/attempts.csv") as f:
    for r in csv.DictReader(f):
        rows.setdefault(r["learner"], []).append((int(r["timestamp"]) * 1000, r["item"], r["score"] == "1"))
sessions, served, attempts = [], [], []
for learner, log in rows.items():
    log.sort()
    lid = uid(0)
    t0 = log[0][0]
    sid = uid(t0)
    sessions.append((sid, lid, subject, "custom", "tutor", "completed", "finished", "{}", "{}", "{}",
                     "default-1", 0, len(log), len(log), t0, log[-1][0], log[-1][0]))
    for pos, (ms, label, ok) in enumerate(log):
        iid, rid = item[label]
        si = uid(ms - 30000)
        served.append((si, sid, lid, pos, iid, rid, subject, "information", 0, "answered", ms - 30000, ms))
        attempts.append((uid(ms), si, sid, lid, iid, rid, '{"options":[1]}', 1.0 if ok else 0.0, int(ok),
                         "exact", "default-1", 0, 30000, ms))
with db:
    db.executemany("INSERT INTO training_session (id, learner_id, subject_id, mode, style, status, end_reason, "
                   "request, params, rules, rule_version, seed, item_count, served, created_at, updated_at, "
                   "completed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", sessions)
    db.executemany("INSERT INTO session_item (id, session_id, learner_id, position, item_id, revision_id, "
                   "subject_id, reason, parameter_set_id, state, served_at, closed_at) "
                   "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", served)
    db.executemany("INSERT INTO attempt (id, session_item_id, session_id, learner_id, item_id, revision_id, "
                   "response, ratio, correct, grader, rule_version, parameter_set_id, time_spent_ms, created_at) "
                   "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", attempts)
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
print(f"{len(sessions)} sessions, {len(attempts)} attempts loaded")
PY
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "bulk load: %.1f s\n", e - s }'
echo "database: $(du -h "$WORK/data/myqcm.sqlite" | cut -f1)"

echo "== myqcm calibrate (from the database)"
/usr/bin/time -v "$MYQCM_BIN" calibrate --quiet --json > "$WORK/calibrate.json" 2> "$WORK/calibrate.time"
grep -E "Elapsed \(wall clock\)|Maximum resident set size" "$WORK/calibrate.time"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print('candidate set', r['parameter_set_id'], '| attempts', r['attempts'], '| groups fitted', r['groups_fitted'], '| KCs fitted', r['kcs']['fitted'], '| converged', r['converged'])" "$WORK/calibrate.json"

echo "== myqcm evaluate (from the database)"
/usr/bin/time -v "$MYQCM_BIN" evaluate --report "$WORK/report" --quiet 2> "$WORK/evaluate.time"
grep -E "Elapsed \(wall clock\)|Maximum resident set size" "$WORK/evaluate.time"
python3 -c "
import json, sys
r = json.load(open(sys.argv[1]))
print('held out', r['counts']['held_out'], 'of', r['counts']['attempts'])
for m in r['models']:
    o = r['overall'][m]
    print(f\"  {m:<13} log-loss {o['log_loss']['estimate']:.4f}  ECE {o['ece']['estimate']:.4f}\")
" "$WORK/report/report.json"
