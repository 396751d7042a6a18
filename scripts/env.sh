# Shared settings of the project's scripts; sourced, not run.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
# The cargo target dir lives outside the clone so fresh clones (and CI) reuse the build where the
# machine keeps it; nothing depends on it being there. It is one per checkout path: two checkouts
# sharing a target dir overwrite each other's `target/debug/torghut-*` binaries, and cargo,
# finding its own fingerprints fresh, does not copy them back, so the tests would run another
# checkout's worker (with that checkout's compiled-in data paths).
CHECKOUT_KEY="$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/torghut-decision-engine/target-$CHECKOUT_KEY}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# pip installs the Temporal CLI next to the running python; make sure that bin dir is on PATH.
PY_BIN="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null || true)"
if [ -n "$PY_BIN" ]; then export PATH="$PY_BIN:$PATH"; fi
