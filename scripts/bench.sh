#!/usr/bin/env bash
# The decision engine's benchmark: builds the release worker and gateway, starts them with an
# embedded Temporal dev server, measures decision latency and throughput against the Temporal
# floor, CPU and memory, and how many SSE streams one gateway holds; prints the figures and
# writes docs/performance.md with this command line in it.
#
#   scripts/bench.sh                  # the default sizes: a few minutes on a 2-core machine
#   scripts/bench.sh --decisions 20 --clients 4 --streams 200   # a quick smoke run
#   scripts/bench.sh --help           # every size
#
# Not part of CI (scripts/test.sh): its figures depend on the machine and on whatever else runs
# on it, so run it on a quiet one and compare runs made on the same machine.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

if ! command -v temporal >/dev/null 2>&1; then
  echo "the Temporal CLI is missing: run scripts/install-deps.sh first" >&2
  exit 1
fi

# Thousands of SSE streams need as many sockets on both ends; the stack's processes inherit
# this limit from the benchmark.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

for arg in "$@"; do
  case "$arg" in
    -h | --help)
      exec cargo bench --quiet -p torghut-integration-tests --bench decision_engine -- --help
      ;;
  esac
done

# The benchmark measures release binaries: `cargo bench` builds only its own target, and the
# harness runs the worker and gateway it finds next to it, in target/release.
cargo build --release --workspace --bins
quoted=""
if [ $# -gt 0 ]; then printf -v quoted ' %q' "$@"; fi
# Not TORGHUT_*: that prefix is the engine's settings, every one of which config/src/keys.rs
# lists (a test checks); this only tells the report how it was run.
export BENCH_COMMAND_LINE="scripts/bench.sh$quoted"
exec cargo bench -p torghut-integration-tests --bench decision_engine -- "$@"
