#!/usr/bin/env bash
# Starts the whole stack on the embedded default — Temporal dev server (UI on :8233), worker,
# gateway — sends a sample decision request, and prints the streamed events and the final
# DecisionIntent. The stack keeps running so you can look at the run in the Temporal UI;
# `scripts/demo.sh stop` stops it.
#
# Ports (override with env): TEMPORAL_PORT=7233 TEMPORAL_UI_PORT=8233 GATEWAY_PORT=8080
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

STATE="$ROOT/.stack"
TEMPORAL_PORT="${TEMPORAL_PORT:-7233}"
TEMPORAL_UI_PORT="${TEMPORAL_UI_PORT:-8233}"
GATEWAY_PORT="${GATEWAY_PORT:-8080}"
GATEWAY="http://127.0.0.1:${GATEWAY_PORT}"

alive() { [ -f "$STATE/$1.pid" ] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

stop() {
  for p in gateway worker temporal; do
    if alive "$p"; then kill "$(cat "$STATE/$p.pid")" 2>/dev/null || true; echo "stopped $p"; fi
    rm -f "$STATE/$p.pid"
  done
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # name, seconds, command...
  local name=$1 secs=$2; shift 2
  for _ in $(seq 1 $((secs * 5))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "error: $name did not become ready within ${secs}s; see $STATE/$name.log" >&2
  tail -n 20 "$STATE/$name.log" >&2 || true
  exit 1
}

case "${1:-start}" in
  stop) stop; exit 0 ;;
  start) ;;
  *) echo "usage: scripts/demo.sh [start|stop]" >&2; exit 2 ;;
esac

if alive temporal || alive worker || alive gateway; then
  echo "The stack is already running (pids in $STATE). Stop it first: scripts/demo.sh stop" >&2
  exit 1
fi
for port in "$TEMPORAL_PORT" "$TEMPORAL_UI_PORT" "$GATEWAY_PORT"; do
  if port_in_use "$port"; then
    echo "error: port $port is already in use by another process; free it or set TEMPORAL_PORT / TEMPORAL_UI_PORT / GATEWAY_PORT" >&2
    exit 1
  fi
done

# Only what the demo runs (protoc, curl, the Temporal CLI); the suite installs its own tools.
bash scripts/install-deps.sh demo
echo "== building worker and gateway"
cargo build --quiet -p torghut-worker -p torghut-gateway
mkdir -p "$STATE"

echo "== starting Temporal dev server (UI http://127.0.0.1:${TEMPORAL_UI_PORT})"
nohup temporal server start-dev --ip 127.0.0.1 --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT" \
  --db-filename "$STATE/temporal.db" --log-level warn \
  --search-attribute Symbol=Keyword --search-attribute StrategyId=Keyword \
  --search-attribute DecisionAction=Keyword --search-attribute TradingMode=Keyword \
  >"$STATE/temporal.log" 2>&1 &
echo $! >"$STATE/temporal.pid"
wait_for temporal 60 temporal operator namespace describe --address "127.0.0.1:${TEMPORAL_PORT}" default
# start-dev registers them on a new database only; an existing .stack/temporal.db may predate them.
for sa in Symbol StrategyId DecisionAction TradingMode; do
  temporal operator search-attribute create --address "127.0.0.1:${TEMPORAL_PORT}" --namespace default \
    --name "$sa" --type Keyword >/dev/null 2>&1 || true
done
# The list is read whole before it is searched: `temporal ... | grep -q` under pipefail failed
# whenever grep stopped reading early (the CLI then dies of SIGPIPE), which read as "not
# registered" on some runs. A freshly created attribute may also take a moment to be listed.
registered() {
  local listed
  listed="$(temporal operator search-attribute list --address "127.0.0.1:${TEMPORAL_PORT}" --namespace default 2>/dev/null)" || return 1
  grep -qw "$1" <<<"$listed"
}
for sa in Symbol StrategyId DecisionAction TradingMode; do
  for _ in $(seq 1 50); do
    if registered "$sa"; then continue 2; fi
    sleep 0.2
  done
  echo "error: search attribute $sa is not registered on the dev server after 10 s; see $STATE/temporal.log" >&2
  exit 1
done

export TEMPORAL_ADDRESS="http://127.0.0.1:${TEMPORAL_PORT}"
export TORGHUT_GATEWAY_LISTEN="127.0.0.1:${GATEWAY_PORT}"
echo "== starting worker and gateway"
nohup "$CARGO_TARGET_DIR/debug/torghut-worker" >"$STATE/worker.log" 2>&1 &
echo $! >"$STATE/worker.pid"
nohup "$CARGO_TARGET_DIR/debug/torghut-gateway" >"$STATE/gateway.log" 2>&1 &
echo $! >"$STATE/gateway.pid"
wait_for gateway 30 curl -fsS "$GATEWAY/readyz"

request_id="$(python3 -c 'import uuid; print(uuid.uuid4())')"
body="$(sed "s/__REQUEST_ID__/${request_id}/" scripts/sample-request.json)"
echo "== POST $GATEWAY/api/torghut/decision-engine/stream (request_id ${request_id})"
events="$STATE/last-stream.txt"
curl -sN --max-time 120 -X POST -H 'content-type: application/json' --data "$body" \
  "$GATEWAY/api/torghut/decision-engine/stream" | tee "$events"
echo
echo "== final DecisionIntent"
python3 scripts/final_event.py "$events" --pretty
echo
echo "The stack is running. Temporal UI: http://127.0.0.1:${TEMPORAL_UI_PORT}"
echo "  temporal workflow list --address 127.0.0.1:${TEMPORAL_PORT} --query \"Symbol = 'IBM'\""
echo "  scripts/demo.sh stop"
