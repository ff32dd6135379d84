#!/usr/bin/env bash
# Side-by-side comparison of our psychometrics engine with peer libraries on the same data.
#
#   bash bench/peers.sh            # all tasks; PEERS_TIMEOUT (s, default 600) bounds every run
#
# 1. Builds our `peers` example (release) and exports the simulated data sets to bench/out/:
#    2PL and 3PL on 20,000 learners × 500 items × 50 answers, BKT on 20,000 learners × 50 KCs
#    (1,000,000 responses each), with the truth.
# 2. Creates bench/.venv (gitignored) and installs mirt==1.2.0, girth (numpy<2) and pybkt
#    built from source (scikit-learn<1.5, numpy<2). A peer that cannot be installed is
#    reported and skipped.
# 3. Runs ours and each peer with the same number of quadrature nodes (41) and tolerance
#    (1e-4) where the peer accepts them, each under `timeout`, and prints the table.
#    PEERS_ONLY="irt2pl bkt" limits the tasks (irt2pl, irt3pl, irt3pl-ml, bkt) and keeps the
#    other tasks' earlier results; PEERS_SKIP="girth pybkt" skips tools (ours, mirt, girth,
#    pybkt).
set -u
cd "$(dirname "$0")/.."
OUT=bench/out
RES=$OUT/results
TIMEOUT=${PEERS_TIMEOUT:-600}
Q=41
TOL=1e-4
VENV=bench/.venv
PY=$VENV/bin/python
mkdir -p "$RES"
[ -z "${PEERS_ONLY:-}" ] && rm -f "$RES"/*.json "$RES"/*.csv

note() { printf '\n>>> %s\n' "$*"; }

note "building our example (release)"
cargo build --release -q -p myqcm-psychometrics --example peers || { echo "cargo build failed"; exit 1; }
OURS=(cargo run --release -q -p myqcm-psychometrics --example peers --)

note "exporting simulated data to $OUT"
"${OURS[@]}" export "$OUT" || { echo "export failed"; exit 1; }

note "python environment in $VENV"
[ -x "$PY" ] || python3 -m venv "$VENV" || { echo "cannot create a virtualenv: peers skipped"; }
HAVE_MIRT=0; HAVE_GIRTH=0; HAVE_PYBKT=0
if [ -x "$PY" ]; then
  "$PY" -m pip install -q --upgrade pip >/dev/null 2>&1
  "$PY" -m pip install -q "numpy<2" pandas >/dev/null 2>&1 || echo "numpy<2/pandas: cannot install"
  if "$PY" -m pip install -q "mirt==1.2.0"; then HAVE_MIRT=1; else echo "mirt 1.2.0: CANNOT INSTALL, skipped"; fi
  if "$PY" -m pip install -q girth "numpy<2"; then HAVE_GIRTH=1; else echo "girth: CANNOT INSTALL, skipped"; fi
  if "$PY" -m pip install -q "scikit-learn<1.5" "numpy<2" && "$PY" -m pip install -q --no-binary pybkt pybkt; then
    HAVE_PYBKT=1; else echo "pybkt (from source): CANNOT INSTALL, skipped"; fi
  "$PY" -c "import mirt" 2>/dev/null || HAVE_MIRT=0
  "$PY" -c "import girth" 2>/dev/null || HAVE_GIRTH=0
  "$PY" -c "import pyBKT" 2>/dev/null || HAVE_PYBKT=0
fi

# run NAME TASK KIND PARAMS_OUT -- command...  : time-bounded run, result JSON in $RES/NAME.json
run() {
  local name=$1 task=$2 params=$3; shift 3
  local tool=${name#*__}
  if [[ " ${PEERS_SKIP:-} " == *" ${tool%-ml} "* ]]; then echo "skipping $name (PEERS_SKIP)"; return 0; fi
  note "$name"
  local log=$RES/$name.log
  if timeout "$TIMEOUT" "$@" >"$log" 2>"$RES/$name.err"; then
    local common
    if [ "$task" = bkt ]; then
      common=$("${OURS[@]}" bktll "$OUT/bkt.csv" "$params" | tail -1)
    else
      common=$("${OURS[@]}" ll "$OUT/$task.csv" "$params" 81 | tail -1)
    fi
    python3 - "$log" "$params" "$common" "$RES/$name.json" <<'PYEOF'
import json, sys
log, params, common, out = sys.argv[1:]
r = json.loads(open(log).read().strip().splitlines()[-1])
r.update(status="ok", params=params, common_ll=json.loads(common)["log_lik"])
json.dump(r, open(out, "w"))
print(r)
PYEOF
  else
    local rc=$?
    local status=failed; [ $rc -eq 124 ] && status=timeout
    echo "$name: $status (exit $rc); last error lines:"; tail -3 "$RES/$name.err"
    printf '{"status": "%s"}\n' "$status" >"$RES/$name.json"
  fi
}

want() { [ -z "${PEERS_ONLY:-}" ] || [[ " $PEERS_ONLY " == *" $1 "* ]]; }

for task in irt2pl irt3pl; do
  want "$task" || continue
  model=${task#irt}
  run "${task}__ours" "$task" "$RES/${task}__ours.csv" \
    "${OURS[@]}" irt "$OUT/$task.csv" "$model" "$Q" "$TOL" "$RES/${task}__ours.csv" "$OUT/${task}_truth.csv"
  [ $HAVE_MIRT = 1 ] && run "${task}__mirt" "$task" "$RES/${task}__mirt.csv" \
    "$PY" bench/peers.py mirt-irt "$model" "$OUT/$task.csv" "$RES/${task}__mirt.csv" "$Q" "$TOL"
  [ $HAVE_GIRTH = 1 ] && run "${task}__girth" "$task" "$RES/${task}__girth.csv" \
    "$PY" bench/peers.py girth-irt "$model" "$OUT/$task.csv" "$RES/${task}__girth.csv" "$Q"
done
# 3PL by maximum likelihood too: mirt's 3PL with priors leaves its native fast path.
if want irt3pl-ml; then
  run "irt3pl__ours-ml" irt3pl "$RES/irt3pl__ours-ml.csv" \
    "${OURS[@]}" irt "$OUT/irt3pl.csv" 3pl-ml "$Q" "$TOL" "$RES/irt3pl__ours-ml.csv" "$OUT/irt3pl_truth.csv"
  [ $HAVE_MIRT = 1 ] && run "irt3pl__mirt-ml" irt3pl "$RES/irt3pl__mirt-ml.csv" \
    "$PY" bench/peers.py mirt-irt 3pl-ml "$OUT/irt3pl.csv" "$RES/irt3pl__mirt-ml.csv" "$Q" "$TOL"
fi
if want bkt; then
  run "bkt__ours" bkt "$RES/bkt__ours.csv" "${OURS[@]}" bkt "$OUT/bkt.csv" 1e-9 "$RES/bkt__ours.csv"
  [ $HAVE_MIRT = 1 ] && run "bkt__mirt" bkt "$RES/bkt__mirt.csv" \
    "$PY" bench/peers.py mirt-bkt "$OUT/bkt.csv" "$RES/bkt__mirt.csv" "$TOL"
  [ $HAVE_PYBKT = 1 ] && run "bkt__pybkt" bkt "$RES/bkt__pybkt.csv" \
    "$PY" bench/peers.py pybkt "$OUT/bkt.csv" "$RES/bkt__pybkt.csv"
fi

note "side by side (machine: $(nproc) cores)"
if [ -x "$PY" ]; then "$PY" bench/peers.py table "$OUT"; else python3 bench/peers.py table "$OUT"; fi
