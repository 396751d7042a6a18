#!/usr/bin/env python3
"""Checks on rendered Kubernetes manifests that a schema cannot make.

The JSON schemas (kubernetes-validate) say each object is well formed on its own. This says the
objects fit together and fit the binaries: every environment variable is one the binaries read
(docs/configuration.md, docs/providers.md) or one deploy/README.md lists as pending, every key of
a config file in a ConfigMap is a documented file key, the config file a container names
(TORGHUT_CONFIG_FILE) is mounted from a ConfigMap that has it, selectors select something,
references resolve, a disruption budget can be met, and no Secret value is in the manifests. Usage: check_manifests.py RENDERED.yaml... (one rendered kustomization each).
"""

import posixpath
import re
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "docs" / "configuration.md", ROOT / "docs" / "providers.md"]

# Set by the manifests (components temporal-mtls and temporal-api-key, and the overlay's
# ConfigMap) but not read by the binaries yet: deploy/README.md, "Follow-ups for the binaries".
# Remove a name from here once docs/configuration.md documents it.
PENDING_IN_BINARIES: set[str] = set()
# docs/configuration.md: "never set in production".
FORBIDDEN = {"TORGHUT_FAULTS"}


def documented_variables() -> set[str]:
    names = {"RUST_LOG"}
    for doc in DOCS:
        text = doc.read_text()
        names.update(re.findall(r"`((?:TORGHUT|TEMPORAL)_[A-Z0-9_]+)`", text))
        # "`TORGHUT_ALPACA_KEY_ID` / `_FILE`": the variable and its file form.
        names.update(n + "_FILE" for n in re.findall(r"`([A-Z0-9_]+)` / `_FILE`", text))
    return names


def documented_file_keys() -> set[str]:
    """First column of docs/configuration.md's settings rows: `file.key` | `VARIABLE` | ..."""
    text = (ROOT / "docs" / "configuration.md").read_text()
    return set(re.findall(r"^\| `([a-z][a-z0-9_.]*)` \| `(?:TORGHUT|TEMPORAL)_[A-Z0-9_]+` \|", text, re.M))


def file_keys(table: dict, prefix: str = "") -> list[str]:
    """Dotted keys of a TOML document, sections descended into."""
    keys = []
    for name, value in table.items():
        full = f"{prefix}{name}"
        keys.extend(file_keys(value, full + ".") if isinstance(value, dict) else [full])
    return keys


def where(obj: dict) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def matches(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check(path: str, known: set[str], known_file_keys: set[str]) -> list[str]:
    objs = [o for o in yaml.safe_load_all(Path(path).read_text()) if o]
    by_kind: dict[str, list[dict]] = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    deployments = {d["metadata"]["name"]: d for d in by_kind.get("Deployment", [])}
    configmaps = {c["metadata"]["name"]: c for c in by_kind.get("ConfigMap", [])}
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in by_kind.get("HorizontalPodAutoscaler", [])}
    errors = []
    # A KEDA ScaledObject drives its target through an HPA of its own: for the checks below it
    # is an autoscaler like an HPA, with its bounds under other names.
    for so in by_kind.get("ScaledObject", []):
        target = so["spec"]["scaleTargetRef"]["name"]
        if target in hpas:
            errors.append(f"{where(so)}: scales Deployment/{target}, which "
                          f"HorizontalPodAutoscaler/{hpas[target]['metadata']['name']} scales too; "
                          "two autoscalers fight over its replicas (remove the HPA)")
        errors += check_scaled_object(so, configmaps)
        hpas[target] = {
            "kind": "ScaledObject",
            "metadata": so["metadata"],
            "spec": {
                "minReplicas": so["spec"].get("minReplicaCount", 0),
                "metrics": [{"resource": {"name": t["type"]}} for t in so["spec"]["triggers"]
                            if t["type"] in ("cpu", "memory")],
            },
        }

    for name, cm in configmaps.items():
        for key, text in cm.get("data", {}).items():
            if not key.endswith(".toml"):
                continue
            try:
                doc = tomllib.loads(text)
            except tomllib.TOMLDecodeError as e:
                errors.append(f"ConfigMap/{name} {key}: not valid TOML: {e}")
                continue
            for k in file_keys(doc):
                if k not in known_file_keys:
                    errors.append(f"ConfigMap/{name} {key}: `{k}` is not a file key of "
                                  "docs/configuration.md (a typo, or a secret, which is never in "
                                  "the file); the binaries would refuse to start")

    for s in by_kind.get("Secret", []):
        errors.append(f"{where(s)}: a Secret is in the manifests; reference it, create it outside "
                      "the repository (deploy/secret.example.yaml)")

    for name, d in deployments.items():
        spec = d["spec"]
        pod = spec["template"]
        if not matches(spec["selector"].get("matchLabels", {}), pod["metadata"].get("labels", {})):
            errors.append(f"{where(d)}: spec.selector does not match the pod template's labels")
        if name in hpas and "replicas" in spec:
            errors.append(f"{where(d)}: has spec.replicas but {hpas[name].get('kind', 'HorizontalPodAutoscaler')}/"
                          f"{hpas[name]['metadata']['name']} owns it; remove replicas")
        for c in pod["spec"]["containers"]:
            ctx = f"{where(d)} container {c['name']}"
            ports = {p.get("name") for p in c.get("ports", [])}
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                port = c.get(probe, {}).get("httpGet", {}).get("port")
                if isinstance(port, str) and port not in ports:
                    errors.append(f"{ctx}: {probe} uses port {port!r}, which the container does not name")
            variables = {e["name"]: "env" for e in c.get("env", [])}
            config_file = next((e.get("value") for e in c.get("env", [])
                                if e["name"] == "TORGHUT_CONFIG_FILE"), None)
            if config_file:
                volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
                mount = next((m for m in c.get("volumeMounts", [])
                              if posixpath.dirname(config_file) == m["mountPath"].rstrip("/")), None)
                cm_name = ((volumes.get(mount["name"]) or {}).get("configMap") or {}).get("name") if mount else None
                cm = configmaps.get(cm_name or "")
                if cm is None or posixpath.basename(config_file) not in cm.get("data", {}):
                    errors.append(f"{ctx}: TORGHUT_CONFIG_FILE={config_file} is not a key of a "
                                  "ConfigMap mounted at its directory")
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("configMapKeyRef")
                if ref and ref["name"] not in configmaps and not ref.get("optional"):
                    errors.append(f"{ctx}: env {e['name']} refers to ConfigMap {ref['name']}, not in the manifests")
            for src in c.get("envFrom", []):
                ref = src.get("configMapRef")
                if not ref:
                    continue
                if ref["name"] not in configmaps:
                    errors.append(f"{ctx}: envFrom refers to ConfigMap {ref['name']}, not in the manifests")
                    continue
                for key in configmaps[ref["name"]].get("data", {}):
                    variables.setdefault(key, f"ConfigMap {ref['name']}")
            for var, source in sorted(variables.items()):
                if var in FORBIDDEN:
                    errors.append(f"{ctx}: {var} (from {source}) must never be set in a deployment")
                elif var not in known and var not in PENDING_IN_BINARIES:
                    errors.append(f"{ctx}: {var} (from {source}) is not a variable the binaries read "
                                  "(docs/configuration.md, docs/providers.md) nor one pending in "
                                  "deploy/README.md; a typo?")
        if name in hpas:
            uses_cpu = any(m.get("resource", {}).get("name") == "cpu" for m in hpas[name]["spec"].get("metrics", []))
            for c in pod["spec"]["containers"]:
                if uses_cpu and "cpu" not in c.get("resources", {}).get("requests", {}):
                    errors.append(f"{where(d)} container {c['name']}: scaled on CPU utilization "
                                  "but has no CPU request")

    for target, h in hpas.items():
        if target not in deployments:
            errors.append(f"{h.get('kind', 'HorizontalPodAutoscaler')}/{h['metadata']['name']}: "
                          f"scales Deployment/{target}, not in the manifests")

    def selected(obj: dict, selector: dict) -> list[dict]:
        found = [d for d in deployments.values()
                 if matches(selector, d["spec"]["template"]["metadata"].get("labels", {}))]
        if not found:
            errors.append(f"{where(obj)}: its selector {selector} matches no Deployment's pods")
        return found

    for s in by_kind.get("Service", []):
        for d in selected(s, s["spec"].get("selector", {})):
            names = {p.get("name") for c in d["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
            for p in s["spec"]["ports"]:
                if isinstance(p.get("targetPort"), str) and p["targetPort"] not in names:
                    errors.append(f"{where(s)}: targetPort {p['targetPort']!r} is not a port of {where(d)}")

    gateway = deployments.get(GATEWAY)
    if gateway:
        errors += check_gateway_restart(gateway, by_kind.get("PodDisruptionBudget", []), configmaps)

    for b in by_kind.get("PodDisruptionBudget", []):
        spec = b["spec"]
        if ("minAvailable" in spec) == ("maxUnavailable" in spec):
            errors.append(f"{where(b)}: set exactly one of minAvailable and maxUnavailable")
        for d in selected(b, spec["selector"].get("matchLabels", {})):
            name = d["metadata"]["name"]
            floor = hpas[name]["spec"].get("minReplicas", 1) if name in hpas else d["spec"].get("replicas", 1)
            if isinstance(spec.get("minAvailable"), int) and spec["minAvailable"] >= floor:
                errors.append(f"{where(b)}: minAvailable {spec['minAvailable']} with as few as {floor} "
                              f"replicas of {where(d)} blocks every node drain")
    return errors


GATEWAY = "torghut-decision-gateway"


def check_scaled_object(so: dict, configmaps: dict) -> list[str]:
    """A `temporal` trigger watches the queue the workers poll: the namespace, task queue and
    endpoint of the config file's [temporal] section (the overlay's own)."""
    errors = []
    temporal = {}
    for cm in configmaps.values():
        for key, text in cm.get("data", {}).items():
            if key.endswith(".toml"):
                try:
                    temporal = tomllib.loads(text).get("temporal", temporal)
                except tomllib.TOMLDecodeError:
                    pass
    address = temporal.get("address", "")
    want = {
        "namespace": temporal.get("namespace", "default"),
        "taskQueue": temporal.get("task_queue"),
        "endpoint": re.sub(r"^[a-z]+://", "", address).rstrip("/") if address else None,
    }
    for t in so["spec"]["triggers"]:
        if t["type"] != "temporal":
            continue
        meta = t.get("metadata", {})
        for field, value in want.items():
            if value is not None and meta.get(field) != value:
                errors.append(f"{where(so)}: its temporal trigger's {field} is {meta.get(field)!r}, "
                              f"but the workers' config.toml says {value!r}: it would scale on "
                              "another queue's backlog")
    return errors


def prestop_seconds(container: dict) -> int | None:
    """The preStop delay: `sleep N` as an exec command or a sleep action."""
    pre = container.get("lifecycle", {}).get("preStop", {})
    if "sleep" in pre:
        return int(pre["sleep"].get("seconds", 0))
    cmd = pre.get("exec", {}).get("command", [])
    if len(cmd) == 2 and cmd[0] in ("sleep", "/bin/sleep") and cmd[1].isdigit():
        return int(cmd[1])
    return None


def check_gateway_restart(d: dict, pdbs: list[dict], configmaps: dict) -> list[str]:
    """A rolling restart must not fail a client's retry (Torghut retries a broken stream once,
    0.5 s later): a ready peer always exists, and readiness fails before a gateway drains."""
    errors = []
    spec, pod = d["spec"], d["spec"]["template"]
    replicas = spec.get("replicas", 1)
    if replicas < 2:
        errors.append(f"{where(d)}: {replicas} replica(s); run at least 2 so a restarting gateway "
                      "has a ready peer for the client's retry")
    labels = pod["metadata"].get("labels", {})
    budgets = [b for b in pdbs if matches(b["spec"]["selector"].get("matchLabels", {}), labels)]
    keeps_one = any(
        (isinstance(b["spec"].get("minAvailable"), int) and b["spec"]["minAvailable"] >= 1)
        or (isinstance(b["spec"].get("maxUnavailable"), int) and b["spec"]["maxUnavailable"] < replicas)
        for b in budgets)
    if not keeps_one:
        errors.append(f"{where(d)}: no PodDisruptionBudget keeps a gateway running through a drain")
    delay = 0
    for cm in configmaps.values():
        for key, text in cm.get("data", {}).items():
            if key.endswith(".toml"):
                try:
                    delay = max(delay, int(tomllib.loads(text).get("gateway", {}).get("shutdown_delay_seconds", 0)))
                except (tomllib.TOMLDecodeError, ValueError, TypeError):
                    pass
    grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
    for c in pod["spec"]["containers"]:
        ctx = f"{where(d)} container {c['name']}"
        sleep = prestop_seconds(c)
        if not sleep:
            errors.append(f"{ctx}: no preStop delay; the endpoint must be withdrawn before the "
                          "gateway stops accepting")
            continue
        if grace <= sleep + delay:
            errors.append(f"{ctx}: terminationGracePeriodSeconds {grace} leaves no time to drain "
                          f"after the preStop sleep ({sleep} s) and gateway.shutdown_delay_seconds ({delay} s)")
        probe = c.get("readinessProbe", {})
        noticed = probe.get("periodSeconds", 10) * probe.get("failureThreshold", 3)
        if delay and noticed > delay:
            errors.append(f"{ctx}: the readiness probe notices a failure after up to {noticed} s, "
                          f"longer than gateway.shutdown_delay_seconds ({delay} s): the gateway "
                          "would drain while still marked ready")
    return errors


def main() -> int:
    known = documented_variables()
    known_file_keys = documented_file_keys()
    failed = False
    for path in sys.argv[1:]:
        for e in check(path, known, known_file_keys):
            print(f"ERROR {path}: {e}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
