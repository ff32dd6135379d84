#!/usr/bin/env bash
# Plant fake, realistic-looking secrets into a directory, for .ci/secret-scan.sh to prove that
# its scanner still catches them. Every value is random and built at run time, and the well-known
# prefixes are split so that this file itself holds no secret-looking literal.
#
#   bash .ci/canary/plant.sh DIR [SOURCE_FILE]
#
# Prints the relative path of each planted file, one a line. When SOURCE_FILE is given, a copy of
# it with one secret appended is planted too (a secret slipped into real code).
set -euo pipefail

dir="${1:?usage: plant.sh DIR [SOURCE_FILE]}"
src="${2:-}"
mkdir -p "$dir/config" "$dir/src" "$dir/deploy" "$dir/keys"

# rnd LENGTH: random letters and digits, with at least two digits, two capitals and two small
# letters (real keys look like that, and scanners' randomness checks rightly skip all-letter words).
rnd() {
  local out=""
  while :; do
    out="$(head -c 512 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c "$1")"
    [ "${#out}" -eq "$1" ] || continue
    [ "$(tr -dc '0-9' <<<"$out" | wc -c)" -ge 2 ] || continue
    [ "$(tr -dc 'A-Z' <<<"$out" | wc -c)" -ge 2 ] || continue
    [ "$(tr -dc 'a-z' <<<"$out" | wc -c)" -ge 2 ] || continue
    break
  done
  printf '%s' "$out"
}

# 1. A private key in PEM form (a real one from openssl when available).
pem_begin="-----BEGIN"" PRIVATE KEY-----"
pem_end="-----END"" PRIVATE KEY-----"
if command -v openssl >/dev/null 2>&1 && openssl genpkey -algorithm ed25519 -out "$dir/keys/signing.pem" 2>/dev/null; then
  :
else
  { echo "$pem_begin"; head -c 48 /dev/urandom | base64 -w 64; echo "$pem_end"; } >"$dir/keys/signing.pem"
fi
echo "keys/signing.pem"

# 2. A live payment-provider style key in a settings file.
printf 'payments:\n  provider: stripe\n  api_key: "%s"\n' "sk""_live_$(rnd 24)" >"$dir/config/payments.yaml"
echo "config/payments.yaml"

# 3. A GitHub personal access token in a CI file.
printf 'env:\n  GITHUB_TOKEN: %s\n' "gh""p_$(rnd 36)" >"$dir/deploy/ci.yml"
echo "deploy/ci.yml"

# 4. A filled-in production env file with our own secret key (64 random bytes, base64).
{
  echo "MYQCM_ENV=production"
  echo "MYQCM_PUBLIC_BASE_URL=https://qcm.example.org"
  printf 'MYQCM_SECRET_KEY=%s\n' "$(head -c 64 /dev/urandom | base64 -w 0)"
} >"$dir/deploy/myqcm.env"
echo "deploy/myqcm.env"

# 5. A secret slipped into a copy of real source code.
if [ -n "$src" ] && [ -f "$src" ]; then
  base="$(basename "$src")"
  cp "$src" "$dir/src/$base"
  printf '\nconst CHARGILY_SECRET_KEY: &str = "%s";\n' "$(rnd 40)" >>"$dir/src/$base"
  echo "src/$base"
fi
