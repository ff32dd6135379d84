"""Policy checks on the rendered Kubernetes overlays (run by deploy/check.sh).

Usage: check_manifests.py STAGING.yaml PRODUCTION.yaml

- every container runs as non-root with a read-only root filesystem, no privilege
  escalation, all capabilities dropped, and resource requests and limits;
- web pods have startup, liveness and readiness probes on /health/*;
- no Secret object and no secret-looking value is rendered (secrets come from `myqcm-secrets`);
- the two overlays differ only in configuration: namespace, image tag, public address and host,
  replica bounds (and the generated ConfigMap's hash suffix).
"""
import copy
import sys

import yaml

SECRET_KEYS = ("MYQCM_SECRET_KEY", "MYQCM_DATABASE_URL", "MYQCM_REDIS_URL", "PASSWORD", "API_KEY", "CLIENT_SECRET")


def load(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def pod_spec(doc):
    kind = doc["kind"]
    if kind in ("Deployment", "Job"):
        return doc["spec"]["template"]["spec"]
    return None


def check_policies(docs, name):
    problems = []
    kinds = {d["kind"] for d in docs}
    for required in ("Deployment", "Job", "Service", "Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        if required not in kinds:
            problems.append(f"{name}: no {required}")
    for d in docs:
        where = f"{name}: {d['kind']}/{d['metadata']['name']}"
        if d["kind"] == "Secret":
            problems.append(f"{where}: Secret objects are created outside git")
        if d["kind"] == "ConfigMap":
            for k in d.get("data", {}):
                if any(s in k for s in SECRET_KEYS):
                    problems.append(f"{where}: {k} is a secret and belongs in myqcm-secrets")
        spec = pod_spec(d)
        if spec is None:
            continue
        psc = spec.get("securityContext", {})
        if not psc.get("runAsNonRoot"):
            problems.append(f"{where}: pod not runAsNonRoot")
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: service account token mounted")
        for c in spec["containers"]:
            sc = c.get("securityContext", {})
            if not sc.get("readOnlyRootFilesystem"):
                problems.append(f"{where}/{c['name']}: root filesystem writable")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}/{c['name']}: privilege escalation allowed")
            if sc.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{where}/{c['name']}: capabilities not all dropped")
            res = c.get("resources", {})
            for part in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(res.get(part, {})):
                    problems.append(f"{where}/{c['name']}: no cpu/memory {part}")
            refs = [e.get("secretRef", {}).get("name") for e in c.get("envFrom", [])]
            if "myqcm-secrets" not in refs:
                problems.append(f"{where}/{c['name']}: settings not read from myqcm-secrets")
            if d["metadata"]["name"] == "myqcm-web":
                for probe, path in (("startupProbe", "/health/live"), ("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready")):
                    got = c.get(probe, {}).get("httpGet", {}).get("path")
                    if got != path:
                        problems.append(f"{where}/{c['name']}: {probe} is {got}, not {path}")
    return problems


def normalised(docs):
    """The overlay with its configuration blanked out, to compare structure."""
    out = []
    for d in copy.deepcopy(docs):
        d["metadata"].pop("namespace", None)
        if d["kind"] == "ConfigMap":
            d["metadata"]["name"] = "myqcm-config"
            d["data"].pop("MYQCM_PUBLIC_BASE_URL", None)
        spec = pod_spec(d)
        if spec is not None:
            for c in spec["containers"]:
                c["image"] = c["image"].rsplit(":", 1)[0]
                for e in c.get("envFrom", []):
                    if "configMapRef" in e:
                        e["configMapRef"]["name"] = "myqcm-config"
        if d["kind"] == "Ingress":
            d["spec"]["tls"][0]["hosts"] = []
            d["spec"]["rules"][0]["host"] = ""
        if d["kind"] == "HorizontalPodAutoscaler":
            d["spec"]["minReplicas"] = d["spec"]["maxReplicas"] = 0
        out.append(d)
    return sorted(out, key=lambda d: (d["kind"], d["metadata"]["name"]))


def main():
    staging, production = load(sys.argv[1]), load(sys.argv[2])
    problems = check_policies(staging, "staging") + check_policies(production, "production")
    if normalised(staging) != normalised(production):
        problems.append("the overlays differ in more than configuration (namespace, tag, address, host, replica bounds)")
    for p in problems:
        print(p)
    if problems:
        sys.exit(1)
    print(f"policies hold on {len(staging)} + {len(production)} objects; the overlays differ only in configuration")


if __name__ == "__main__":
    main()
