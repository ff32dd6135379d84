#!/usr/bin/env bash
# Import benchmark: 10,000 items from CSV into a fresh SQLite database (or the database in
# MYQCM_DATABASE_URL), timed; then the same file with one bad row, which must import nothing
# and name the row. Usage: scripts/bench-import.sh [ROWS]   (MYQCM_BIN to reuse a built binary)
set -euo pipefail
ROWS="${1:-10000}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [[ -z "${MYQCM_BIN:-}" ]]; then
  (cd "$ROOT" && cargo build --release -p myqcm-app --bin myqcm >&2)
  MYQCM_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/myqcm"
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export MYQCM_DATA_DIR="$WORK/data" MYQCM_LOG="${MYQCM_LOG:-warn}" RUST_LOG="${RUST_LOG:-warn}"
# The demo seed provides the curriculum and KC codes the rows refer to.
"$MYQCM_BIN" seed --demo >/dev/null
python3 - "$ROWS" "$WORK" <<'PY'
import csv, sys, random
rows, work = int(sys.argv[1]), sys.argv[2]
random.seed(7)
courses = {"cardio-hta": "kc-cardio-hta-def", "pneumo-asthme": "kc-pneumo-asthme-physio", "nephro-ira": "kc-nephro-ira-def"}
head = ["external_id", "type", "course", "stem", "option1", "option1_explanation", "option2", "option2_explanation",
        "option3", "option4", "option5", "correct", "expected", "variants", "numeric_value", "numeric_tolerance",
        "explanation", "references", "difficulty", "estimated_seconds", "kcs", "source_kind", "source_label"]
def write(path, bad_at=None):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(head)
        for n in range(rows):
            course = list(courses)[n % 3]
            kc = courses[course]
            kind = ["qcm", "qcs", "qroc"][n % 3]
            stem = f"Question de banc d'essai numéro {n} : quelle proposition est exacte concernant le cas {random.randint(1, 10**9)} ?"
            opts = [f"Proposition {k} de la question {n}" for k in "ABCDE"]
            if kind == "qroc":
                r = [f"bench-{n}", kind, course, stem, "", "", "", "", "", "", "", "", "135", "135 mmHg|cent trente-cinq", "135", "2"]
            else:
                correct = "2" if kind == "qcs" else "1;3"
                r = [f"bench-{n}", kind, course, stem, opts[0], "Faux.", opts[1], "Vrai.", opts[2], opts[3], opts[4], correct, "", "", "", ""]
            if n == bad_at:
                r[11] = "7"  # option 7 does not exist
            r += ["Explication **générale**.", "Référence 2024", ["easy", "medium", "hard"][n % 3], "45", kc, "series", "Banc d'essai"]
            w.writerow(r)
write(f"{work}/good.csv")
write(f"{work}/one_bad_row.csv", bad_at=rows // 2 + 1)
PY
echo "== importing $ROWS items from CSV"
start=$(date +%s.%N)
"$MYQCM_BIN" import "$WORK/good.csv" --quiet | head -5
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" -v n="$ROWS" 'BEGIN { printf "wall time: %.2f s for %d rows (target < 30 s)\n", e - s, n }'
echo "== the same file again (idempotent)"
"$MYQCM_BIN" import "$WORK/good.csv" --quiet | head -1
echo "== a file with one bad row (all-or-nothing by default)"
sed -i 's/bench-/bench2-/' "$WORK/one_bad_row.csv"
if "$MYQCM_BIN" import "$WORK/one_bad_row.csv" --quiet; then
  echo "FAIL: a file with a bad row was accepted" >&2
  exit 1
fi
echo "== the same file with --partial"
"$MYQCM_BIN" import "$WORK/one_bad_row.csv" --partial --quiet | head -3
