#!/usr/bin/env bash
# Fuzzes what the gateway parses from the network (fuzz/fuzz_targets/) for a bounded time:
# `scripts/fuzz.sh [seconds per target]`, 60 s by default; scripts/test.sh runs it.
#
# cargo-fuzz builds with `-Zsanitizer=address`, a nightly rustc flag. This machine has one
# stable toolchain and cannot fetch another, so RUSTC_BOOTSTRAP=1 lets it accept the flag for
# these builds only (the fuzz crate is outside the workspace; nothing else sees the variable).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT/fuzz"
seconds="${1:-60}"
export RUSTC_BOOTSTRAP=1
target_dir="$CARGO_TARGET_DIR-fuzz"
for target in request_body; do
  # The corpus libFuzzer grows lives beside the build, so it carries across runs on one
  # machine; the committed seeds are read only. A crash leaves its input in
  # fuzz/artifacts/<target>/ and fails this script.
  corpus="$target_dir/corpus/$target"
  mkdir -p "$corpus"
  echo "== fuzz $target for ${seconds} s"
  cargo fuzz run --target-dir "$target_dir" "$target" "$corpus" "seeds/$target" -- \
    -max_total_time="$seconds" -max_len=8192 -dict="$target.dict" -print_final_stats=1
done
