#!/usr/bin/env bash
# Checks the alerting rules of deploy/kustomize/components/monitoring/prometheus-rule.yaml with
# Prometheus' own tool: `promtool check rules` (syntax, PromQL, templates) on the rule groups of
# the PrometheusRule's spec, which is a Prometheus rule file as it is, then `promtool test rules`
# on the unit tests in tests/ (synthetic series, the alerts that must and must not fire).
# promtool comes from Debian's `prometheus` package (scripts/install-deps.sh); PyYAML from
# openapi-spec-validator's dependencies.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

MONITORING=deploy/kustomize/components/monitoring
command -v promtool >/dev/null 2>&1 || {
  echo "error: promtool not found; scripts/install-deps.sh installs it (Debian package prometheus)" >&2
  exit 1
}
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

python3 - "$MONITORING/prometheus-rule.yaml" "$WORK/torghut-decision-engine.rules.yaml" <<'PY'
import sys
import yaml

with open(sys.argv[1]) as f:
    rule = yaml.safe_load(f)
assert rule["kind"] == "PrometheusRule", f"{sys.argv[1]}: not a PrometheusRule"
with open(sys.argv[2], "w") as f:
    yaml.safe_dump(rule["spec"], f, sort_keys=False)
PY
promtool check rules "$WORK/torghut-decision-engine.rules.yaml"
# The tests name the extracted file by its base name; run them next to it.
cp "$MONITORING"/tests/*.yaml "$WORK/"
(cd "$WORK" && promtool test rules ./*.test.yaml)
echo "alerts ok: promtool $(promtool --version 2>&1 | awk 'NR==1 {print $3}'); $(ls "$MONITORING"/tests/*.test.yaml | wc -l) test files"
