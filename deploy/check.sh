#!/usr/bin/env bash
# Offline checks of the deployment files (a CI stage): the Kubernetes overlays render with
# kustomize and validate against the Kubernetes schemas (kubernetes-validate, strict), the
# policies of deploy/check_manifests.py hold, the Prometheus alert rules pass `promtool check`
# and their unit tests, and every query of the Grafana dashboard parses.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
tools="${MYQCM_TOOLS_DIR:-$HOME/.cache/myqcm-tools}"
apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }; }

command -v kubectl >/dev/null || { echo "installing kubectl (Debian kubernetes-client)"; apt_install kubernetes-client; }
command -v promtool >/dev/null || { echo "installing promtool (Debian prometheus)"; apt_install prometheus; }
if [ ! -x "$tools/pyenv/bin/kubernetes-validate" ]; then
  echo "installing kubernetes-validate (PyPI) into $tools/pyenv"
  python3 -m venv "$tools/pyenv"
  "$tools/pyenv/bin/pip" install -q "kubernetes-validate==1.37.0" "PyYAML==6.0.4"
fi
py="$tools/pyenv/bin/python"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

for env in staging production; do
  kubectl kustomize "k8s/overlays/$env" > "$out/$env.yaml"
  "$tools/pyenv/bin/kubernetes-validate" --strict --quiet "$out/$env.yaml"
  echo "k8s/$env: $(grep -c '^kind:' "$out/$env.yaml") objects render and validate (strict)"
done
"$py" check_manifests.py "$out/staging.yaml" "$out/production.yaml"

promtool check rules observability/alerts.yaml
(cd observability && promtool test rules alerts.test.yaml)

# Every dashboard query, as a recording rule, through promtool's parser.
"$py" - "$out/dashboard-rules.yaml" <<'PY'
import json, sys
dash = json.load(open("observability/grafana-dashboard.json", encoding="utf-8"))
rules = []
for p in dash["panels"]:
    for t in p["targets"]:
        rules.append({"record": f"dashboard:panel{p['id']}:{t['refId']}", "expr": t["expr"].replace("$__rate_interval", "5m")})
json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(sys.argv[1], "w"))
print(f"dashboard: {len(dash['panels'])} panels, {len(rules)} queries")
PY
promtool check rules "$out/dashboard-rules.yaml"
