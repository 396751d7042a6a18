#!/usr/bin/env bash
# The full test suite: formatting, lints, unit/property tests, and the integration tests that
# start a real Temporal dev server, worker and gateway. This is what CI runs.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

bash scripts/install-deps.sh suite
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== dependency policy (cargo deny: licences, bans, sources; see deny.toml)"
cargo deny --log-level error check bans licenses sources
echo "== OpenAPI document (openapi-spec-validator)"
python3 -m openapi_spec_validator gateway/openapi.json
echo "== Kubernetes manifests (kustomize render + kubernetes-validate + CRD schemas)"
bash scripts/validate-manifests.sh
echo "== Alerting rules (promtool check rules + promtool test rules)"
bash scripts/check-alerts.sh
# All targets in one build: the features then match `cargo test`'s, so nothing is built twice,
# and the binaries the integration tests run are there.
echo "== cargo build (all targets)"
cargo build --workspace --all-targets --quiet
echo "== cargo test"
cargo test --workspace --no-fail-fast
# Bounded fuzzing of the request parser; a crash fails the suite and leaves its input in
# fuzz/artifacts/.
bash scripts/fuzz.sh "${TORGHUT_FUZZ_SECONDS:-60}"
# The worker and gateway images built from deploy/docker/ (buildah, on base images made with
# debootstrap) and one decision made through them (podman); "skipped: <reason>" where the machine
# refuses containers.
echo "== container images (buildah + podman)"
bash scripts/images.sh check
