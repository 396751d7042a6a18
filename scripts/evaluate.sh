#!/usr/bin/env bash
# Regenerates the embedded dataset's evaluation (docs/reports/evaluation/) and the shipped
# calibration (policy/calibration/default.json) with one walk-forward run: the calibration is
# fitted on 2013-10-04..2013-10-08 only, and reported on 2013-10-09..2013-10-11 and the AAPL days.
# The artifact is compiled into the gateway: rebuild after running this.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
cargo build --workspace --all-targets --quiet
"$CARGO_TARGET_DIR/debug/decisionctl" evaluate scripts/evaluate-config.json \
  --train 2013-10-04..2013-10-08 --test 2013-10-09..2014-06-09 \
  -o docs/reports/evaluation --write-calibration policy/calibration/default.json
cargo build --workspace --all-targets --quiet
