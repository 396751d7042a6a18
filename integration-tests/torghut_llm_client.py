#!/usr/bin/env python3
"""A stand-in for Torghut's LLM review client, written from the contract in
shared/design/decision-engine.md ("Torghut's client as it exists today"), standard library only.

It sends what Torghut sends (trigger.type "llm_review", symbol "LLM", a zero portfolio without a
position, null risk limits, an llm_review block with OpenAI chat messages), reads named decision.*
events, takes payload.llm_response.{content,usage} from decision.final and payload.{code,message}
from decision.error, treats a stream without a final as an error, and retries with the SAME
request_id and a fresh trigger.event_ts on network errors, timeouts, decision.error and HTTP
408/409/429/5xx. Prints one JSON object with the outcome.
"""
import argparse
import datetime
import json
import sys
import urllib.error
import urllib.request
import uuid

RETRY_STATUSES = {408, 409, 429}


def build_request(request_id, model):
    return {
        "request_id": request_id,
        "symbol": "LLM",
        "strategy_id": "torghut-llm-review",
        "trigger": {
            "type": "llm_review",
            "event_ts": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        },
        "portfolio": {"equity": "0", "buying_power": "0", "current_exposure": "0"},
        "risk_policy": {"max_notional_per_trade": None, "max_position_pct_equity": None, "kill_switch_enabled": False},
        "llm_review": {
            "model": model,
            "messages": [
                {"role": "system", "content": "You review trade decisions. Answer in JSON."},
                {"role": "user", "content": "Review: buy 10 AAPL at 190.00 on a MACD cross."},
            ],
            "temperature": 0.2,
            "max_tokens": 256,
        },
    }


class DecisionError(Exception):
    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


def stream_once(base_url, body, timeout):
    req = urllib.request.Request(
        base_url.rstrip("/") + "/api/torghut/decision-engine/stream",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "accept": "text/event-stream"},
        method="POST",
    )
    events = []
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        event, data = None, []
        for raw in resp:
            line = raw.decode("utf-8").rstrip("\r\n")
            if line == "":
                if event and data:
                    payload = json.loads("\n".join(data))["payload"]
                    events.append(event)
                    if event == "decision.final":
                        return events, payload
                    if event == "decision.error":
                        raise DecisionError(payload.get("code"), payload.get("message"))
                event, data = None, []
            elif line.startswith(":"):
                continue
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
    raise DecisionError("stream_ended", f"stream ended without decision.final after {events}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--request-id", default=str(uuid.uuid4()))
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--retries", type=int, default=1)
    args = ap.parse_args()

    attempts, last = 0, None
    while attempts <= args.retries:
        attempts += 1
        body = build_request(args.request_id, args.model)  # fresh event_ts on every attempt
        try:
            events, final = stream_once(args.base_url, body, args.timeout)
            llm = final["llm_response"]
            print(json.dumps({"ok": True, "attempts": attempts, "events": events, "content": llm["content"],
                              "usage": llm["usage"], "model": llm.get("model")}))
            return 0
        except DecisionError as e:
            last = {"ok": False, "attempts": attempts, "code": e.code, "message": e.message}
        except urllib.error.HTTPError as e:
            last = {"ok": False, "attempts": attempts, "code": f"http_{e.code}", "message": e.read().decode()}
            if not (e.code in RETRY_STATUSES or e.code >= 500):
                break
        except (urllib.error.URLError, TimeoutError) as e:
            last = {"ok": False, "attempts": attempts, "code": "timeout" if "timed out" in str(e) else "network", "message": str(e)}
    print(json.dumps(last))
    return 1


if __name__ == "__main__":
    sys.exit(main())
