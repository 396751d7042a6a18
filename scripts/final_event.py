#!/usr/bin/env python3
"""Reads a decision's SSE stream as curl saved it and checks how it ended.

usage: final_event.py STREAM [--request-id ID] [--pretty]

Prints the terminal event's type and payload (indented with --pretty, else one line cut at 300
characters). Exits 0 only when the stream ended in decision.final (for request ID, if given);
any other end (decision.error, a cut stream, another request's final) exits 1 saying why.
Shared by scripts/demo.sh and scripts/images.sh.
"""
import argparse
import json
import sys

parser = argparse.ArgumentParser()
parser.add_argument("stream")
parser.add_argument("--request-id")
parser.add_argument("--pretty", action="store_true")
args = parser.parse_args()

event, final = None, None
with open(args.stream, encoding="utf-8") as f:
    for line in f:
        line = line.rstrip("\n")
        if line.startswith("event: "):
            event = line[len("event: "):]
        elif line.startswith("data: ") and event in ("decision.final", "decision.error"):
            final = (event, json.loads(line[len("data: "):]))
if final is None:
    sys.exit("no decision.final or decision.error arrived")
kind, data = final
payload = json.dumps(data["payload"], indent=2) if args.pretty else json.dumps(data["payload"])[:300]
print(f"{kind} for {data['request_id']}: {payload}" if not args.pretty else f"{kind}\n{payload}")
if kind != "decision.final":
    sys.exit(f"the run ended with {kind}")
if args.request_id and data["request_id"] != args.request_id:
    sys.exit(f"decision.final for request {data['request_id']}, expected {args.request_id}")
