#!/usr/bin/env bash
# Secret scan stage.
#
#   bash .ci/secret-scan.sh                     scan the tracked files (git ls-files)
#   bash .ci/secret-scan.sh --include-untracked also scan untracked, not-ignored files (before a commit)
#
# 1. Scans every tracked file except lock files (their checksums look random) and .ci/canary/,
#    and fails if anything is found. Findings are printed as path:line only, never the value.
# 2. Canary: plants fake but realistic secrets (built at run time by .ci/canary/plant.sh) into a
#    temporary directory, scans it the same way, and fails unless every planted file is flagged.
#    This proves the scanner is installed, wired up and still catches what it must.
#
# Engines, both run on the same file list:
#  - ripsecrets (crates.io), installed once into $MYQCM_TOOLS_ROOT (default ~/.cache/myqcm-tools).
#    It knows many token formats and flags random-looking values assigned to key/token/secret/
#    password names. One extra pattern is added for Rust constants (`X_SECRET: &str = "…"`).
#  - a deterministic prefix check (grep -E) for formats whose prefix alone is proof. ripsecrets
#    can miss these: in `api_key: "sk_live_…"` its key=value rule matches first, and when its
#    randomness test rejects the value (the readable prefix lowers the score) the provider rule is
#    never tried. Seen here in about 8 % of random canaries.
# A line holding `pragma: allowlist secret` is accepted by both engines (use it for test vectors).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_ROOT="${MYQCM_TOOLS_ROOT:-$HOME/.cache/myqcm-tools}"
RIPSECRETS_VERSION="0.1.11"
RIPSECRETS="$TOOLS_ROOT/bin/ripsecrets"

include_untracked=0
for arg in "$@"; do
  case "$arg" in
    --include-untracked) include_untracked=1 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "secret-scan: unknown argument: $arg" >&2; exit 64 ;;
  esac
done

say() { echo "secret-scan: $*"; }

# Paths (relative to the repo root) never scanned.
is_excluded() {
  case "$1" in
    Cargo.lock|*/Cargo.lock) return 0 ;;
    package-lock.json|*/package-lock.json) return 0 ;;
    .ci/canary/*) return 0 ;;
  esac
  return 1
}

# Extra ripsecrets pattern: a Rust constant or static whose name says secret/key/token/password.
# The group is tested for randomness by ripsecrets, so `const TOKEN_HEADER: &str = "x-token"` passes.
RUST_CONST_PATTERN='(?i)(?:secret|api_?key|token|password|passwd|pepper)[a-z0-9_]*\s*:\s*&(?:'"'"'static\s+)?str\s*=\s*"([A-Za-z0-9+/=_\-]{16,})"'

# Deterministic prefix rules (POSIX ERE). Built from pieces so that this file matches none of them.
BEGIN_MARK='-----BEGIN'
PREFIX_RULES=(
  "${BEGIN_MARK} ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----"
  '[rs]k_li''ve_[0-9A-Za-z]{24,}'
  'live_s''k_[0-9A-Za-z]{20,}'
  '(gh[oprsu]|github_pat)_[0-9A-Za-z_]{36,}'
  'glpat-[0-9A-Za-z_=-]{20,}'
  'AKI''A[0-9A-Z]{16}'
  'xox[aboprs]-[0-9]+-[0-9A-Za-z-]+'
  'npm_[0-9A-Za-z]{36}'
  'AIz''a[0-9A-Za-z_-]{35}'
  'MYQCM_[A-Z0-9_]*(SECRET|PASSWORD|API_KEY)[A-Z0-9_]*=["'"'"']?[A-Za-z0-9+/_=-]{32,}'
)

ensure_ripsecrets() {
  if [ -x "$RIPSECRETS" ] && "$RIPSECRETS" --version 2>/dev/null | grep -qx "ripsecrets $RIPSECRETS_VERSION"; then
    return 0
  fi
  say "installing ripsecrets $RIPSECRETS_VERSION into $TOOLS_ROOT (cargo install, about 1 min)"
  local start=$SECONDS
  # Own target dir: do not mix the tool's build into the workspace's CARGO_TARGET_DIR.
  (cd "${TMPDIR:-/tmp}" && env -u CARGO_TARGET_DIR CARGO_INSTALL_ROOT="$TOOLS_ROOT" \
    nice -n 10 cargo install ripsecrets --version "$RIPSECRETS_VERSION" --locked --quiet)
  say "installed ripsecrets in $((SECONDS - start)) s"
}

# scan DIR LISTFILE OUTFILE: scan the NUL-separated paths (relative to DIR) listed in LISTFILE.
# Writes "path:line engine" lines to OUTFILE. Returns 0 when clean, 1 when something was found,
# 2 when a scanner failed (unreadable file, bad pattern...).
scan() {
  local dir="$1" list="$2" out="$3"
  local rs_out rs_err gr_out gr_err rc=0
  rs_out="$(mktemp)"; rs_err="$(mktemp)"; gr_out="$(mktemp)"; gr_err="$(mktemp)"
  : >"$out"
  if [ -s "$list" ]; then
    (cd "$dir" && xargs -0 "$RIPSECRETS" --additional-pattern "$RUST_CONST_PATTERN" -- <"$list") \
      >"$rs_out" 2>"$rs_err" || true
    local rule args=()
    for rule in "${PREFIX_RULES[@]}"; do args+=(-e "$rule"); done
    (cd "$dir" && xargs -0 grep -I -n -H -E "${args[@]}" -- <"$list") >"$gr_out" 2>"$gr_err" || true
    if [ -s "$rs_err" ] || [ -s "$gr_err" ]; then
      say "scanner error:"
      sed 's/^/  /' "$rs_err" "$gr_err" >&2
      rc=2
    fi
    # Keep path:line only; the value itself is never printed.
    { cut -d: -f1,2 "$rs_out" | sed 's/$/ ripsecrets/'
      grep -v 'pragma: allowlist secret' "$gr_out" | cut -d: -f1,2 | sed 's/$/ prefix-rule/'
    } | sed 's#^\./##' | sort -u >"$out"
  fi
  rm -f "$rs_out" "$rs_err" "$gr_out" "$gr_err"
  if [ "$rc" -ne 0 ]; then return "$rc"; fi
  if [ -s "$out" ]; then return 1; fi
  return 0
}

workdir="$(mktemp -d "${TMPDIR:-/tmp}/myqcm-secret-scan.XXXXXX")"
trap 'rm -rf "$workdir"' EXIT

ensure_ripsecrets
say "engines: $("$RIPSECRETS" --version) + ${#PREFIX_RULES[@]} prefix rules (grep -E)"

status=0

# --- 1. the repository ----------------------------------------------------------------------
cd "$ROOT"
ls_args=(--cached)
if [ "$include_untracked" -eq 1 ]; then ls_args+=(--others --exclude-standard); fi
total=0; excluded=0; scanned=0
: >"$workdir/repo.list"
while IFS= read -r -d '' path; do
  total=$((total + 1))
  if is_excluded "$path"; then excluded=$((excluded + 1)); continue; fi
  [ -f "$path" ] || continue # deleted in the work tree, or a submodule
  printf '%s\0' "$path" >>"$workdir/repo.list"
  scanned=$((scanned + 1))
done < <(git ls-files -z "${ls_args[@]}" | sort -zu)

what="tracked"
if [ "$include_untracked" -eq 1 ]; then what="tracked and untracked"; fi
set +e
scan "$ROOT" "$workdir/repo.list" "$workdir/repo.found"
rc=$?
set -e
if [ "$rc" -eq 0 ]; then
  say "repo: scanned $scanned $what files ($excluded excluded: lock files, .ci/canary/): no secret found"
elif [ "$rc" -eq 1 ]; then
  say "repo: scanned $scanned $what files: POSSIBLE SECRETS (value hidden) at:"
  sed 's/^/  /' "$workdir/repo.found"
  say "remove them, or mark a deliberate test vector with a 'pragma: allowlist secret' comment on its line"
  status=1
else
  say "repo: scan failed"
  status=1
fi

# --- 2. canary ------------------------------------------------------------------------------
canary="$workdir/canary"
mkdir -p "$canary"
# A real source file receives one planted secret too (first tracked Rust file, if any).
sample="$(git ls-files '*.rs' | head -n 1 || true)"
mapfile -t planted < <(bash "$ROOT/.ci/canary/plant.sh" "$canary" "${sample:+$ROOT/$sample}")
# Also copy a few clean tracked files beside them: they must stay unflagged.
decoys=()
for d in Cargo.toml rust-toolchain.toml .ci/secret-scan.sh; do
  if [ -f "$ROOT/$d" ]; then
    mkdir -p "$canary/decoy/$(dirname "$d")"
    cp "$ROOT/$d" "$canary/decoy/$d"
    decoys+=("decoy/$d")
  fi
done
(cd "$canary" && find . -type f -printf '%P\0' | sort -z) >"$workdir/canary.list"

set +e
scan "$canary" "$workdir/canary.list" "$workdir/canary.found"
rc=$?
set -e
if [ "$rc" -eq 2 ]; then
  say "canary: scan failed"
  status=1
else
  caught=0
  for f in "${planted[@]}"; do
    engines="$(grep -F "$f:" "$workdir/canary.found" | awk '{print $2}' | sort -u | paste -sd+ -)"
    if [ -n "$engines" ]; then
      caught=$((caught + 1))
      say "canary: flagged   $f (by $engines)"
    else
      say "canary: MISSED    $f"
    fi
  done
  false_pos=0
  for d in "${decoys[@]}"; do
    if grep -qF "$d:" "$workdir/canary.found"; then
      say "canary: decoy flagged (false positive): $d"
      false_pos=$((false_pos + 1))
    fi
  done
  if [ "${#planted[@]}" -gt 0 ] && [ "$caught" -eq "${#planted[@]}" ] && [ "$false_pos" -eq 0 ]; then
    say "canary: planted ${#planted[@]} fake secrets in a temp dir, scanner flagged ${caught}/${#planted[@]}; ${#decoys[@]} clean decoys unflagged"
  else
    say "canary: FAILED, scanner flagged ${caught}/${#planted[@]} planted secrets, $false_pos decoys"
    status=1
  fi
fi

if [ "$status" -eq 0 ]; then
  say "OK"
else
  say "FAILED"
fi
exit "$status"
