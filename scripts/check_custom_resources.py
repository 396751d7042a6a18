#!/usr/bin/env python3
"""Validates the custom resources of rendered manifests against their CRDs' own schemas, strictly.

kubernetes-validate knows the built-in kinds only; a KEDA ScaledObject or a prometheus-operator
PrometheusRule is checked here instead, against the openAPIV3Schema of the CRD vendored in
deploy/crds/ (deploy/crds/README.md says where each comes from). Strict as the built-in check is:
an object schema that lists its properties admits no other field (unless the CRD marks it
x-kubernetes-preserve-unknown-fields), so a misspelled field fails here rather than being pruned
by the API server without a word.

Usage:
  check_custom_resources.py SPLIT_DIR RENDERED.yaml...
      validates every custom resource of each render and writes the render's other objects to
      SPLIT_DIR/<same name>, for kubernetes-validate
  check_custom_resources.py --self-test
      checks that the checker rejects what it must (an unknown field, a wrong type, metadata it
      does not know) and accepts a well-formed object
"""

import copy
import sys
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
CRDS = ROOT / "deploy" / "crds"
# The API server validates metadata itself (ObjectMeta), not through the CRD's schema; what a
# manifest in this repository may set there.
METADATA_SCHEMA = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def strict(schema):
    """The schema with `additionalProperties: false` on every object that lists its properties
    and says nothing else about extra ones (the API server's strict field validation)."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if ("properties" in out and "additionalProperties" not in out
                and not out.get("x-kubernetes-preserve-unknown-fields")):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    return schema


def load_schemas() -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> the strict JSON schema of every served version of every CRD."""
    schemas = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if not version.get("served", False):
                continue
            schema = strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
            schema["properties"]["metadata"] = METADATA_SCHEMA
            schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata"})
            schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def errors_of(obj: dict, schemas: dict) -> list[str]:
    schema = schemas[(obj["apiVersion"], obj["kind"])]
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))]


def where(obj: dict) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def split_and_check(split_dir: Path, renders: list[str]) -> int:
    schemas = load_schemas()
    failed = False
    for render in renders:
        objs = [o for o in yaml.safe_load_all(Path(render).read_text()) if o]
        builtin, custom = [], []
        for o in objs:
            (custom if (o.get("apiVersion"), o.get("kind")) in schemas else builtin).append(o)
        render_errors = [f"ERROR {render}: {where(o)} ({o['apiVersion']}): {e}"
                         for o in custom for e in errors_of(o, schemas)]
        for e in render_errors:
            print(e)
        failed = failed or bool(render_errors)
        (split_dir / Path(render).name).write_text(yaml.safe_dump_all(builtin, sort_keys=False))
        if custom and not render_errors:
            print(f"ok: render {Path(render).stem}: {', '.join(where(o) for o in custom)} valid "
                  "against their CRDs (strict)")
    return 1 if failed else 0


def self_test() -> int:
    schemas = load_schemas()
    good = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "w", "namespace": "n", "labels": {"a": "b"}},
        "spec": {
            "scaleTargetRef": {"name": "w"},
            "minReplicaCount": 1,
            "triggers": [{"type": "temporal", "metadata": {"taskQueue": "q"}}],
        },
    }
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "r"},
        "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0", "for": "5m"}]}]},
    }
    bad = []
    b = copy.deepcopy(good); b["spec"]["minReplicas"] = 1; bad.append(("unknown spec field", b))
    b = copy.deepcopy(good); b["spec"]["triggers"][0]["metadataa"] = {}; bad.append(("unknown trigger field", b))
    b = copy.deepcopy(good); b["spec"]["minReplicaCount"] = "one"; bad.append(("wrong type", b))
    b = copy.deepcopy(good); b["metadata"]["uid"] = "x"; bad.append(("metadata field", b))
    b = copy.deepcopy(good); del b["spec"]["scaleTargetRef"]; bad.append(("missing required", b))
    b = copy.deepcopy(rule); b["spec"]["groups"][0]["rules"][0]["for"] = "5 minutes"; bad.append(("bad duration", b))
    b = copy.deepcopy(rule); b["spec"]["groups"][0]["rules"][0]["severity"] = "page"; bad.append(("unknown rule field", b))
    problems = []
    for name, obj in [("scaledobject", good), ("prometheusrule", rule)]:
        if errs := errors_of(obj, schemas):
            problems.append(f"a valid {name} was rejected: {errs}")
    for name, obj in bad:
        if not errors_of(obj, schemas):
            problems.append(f"not rejected: {name}")
    for p in problems:
        print(f"ERROR self-test: {p}")
    if not problems:
        print(f"ok: the custom-resource check rejects {len(bad)} kinds of mistake and accepts valid "
              f"objects ({', '.join(f'{k} {v}' for v, k in sorted(schemas))})")
    return 1 if problems else 0


def main() -> int:
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    return split_and_check(Path(sys.argv[1]), sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
