#!/usr/bin/env python3
"""Torghut's market-context client, as issue 16 describes it, against a live gateway.

Run by integration-tests/tests/torghut_contract.rs, which starts the stack (Temporal, worker,
gateway with bearer tokens and TORGHUT_MARKET_CONTEXT_PUBLIC=true) and passes its URL.

What it does, for every embedded symbol on every trading day of its minute data, with and
without `asOf`, and for health:
  1. reads the answer the way Torghut's MarketContextClient does (GET, `accept:
     application/json`, no `authorization` header; a non-2xx status or `ok` not true is an error),
  2. checks it against the JSON Schema written from the contract
     (torghut-market-context.v1.schema.json) and against the gateway's OpenAPI document,
  3. validates it with pydantic models written from the contract, every one `extra="forbid"`
     but the domains object, whose unknown keys (news, fundamentals) are ignored,
  4. applies Torghut's gate: freshness is the maximum over technicals and regime, quality the
     minimum; blocked past 300 s or below 0.4, or on a blocking flag (`market_context_stale`,
     `technicals_error`, ...); flags of the domains Torghut retired (news, fundamentals) dropped.

The models and the gate are written from the issue's description, not copied from Torghut.
Exit status 0 when every check passed; each failure is printed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Optional

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

CONTEXT_VERSION = "torghut.market-context.v1"
State = Literal["ok", "stale", "missing", "error"]


class Citation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str
    url: Optional[str] = None
    published_at: datetime = Field(alias="publishedAt")


class Domain(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: Literal["technicals", "regime"]
    state: State
    as_of: Optional[datetime] = Field(alias="asOf")
    freshness_seconds: Optional[StrictInt] = Field(alias="freshnessSeconds")
    max_freshness_seconds: StrictInt = Field(alias="maxFreshnessSeconds")
    source_count: StrictInt = Field(alias="sourceCount")
    quality_score: float = Field(ge=0.0, le=1.0, alias="qualityScore")
    payload: dict[str, Any]
    citations: list[Citation]
    risk_flags: list[str] = Field(alias="riskFlags")


class Domains(BaseModel):
    # Unknown keys are ignored: Torghut reads technicals and regime only.
    model_config = ConfigDict(extra="ignore")

    technicals: Domain
    regime: Domain


class Bundle(BaseModel):
    model_config = ConfigDict(extra="forbid")

    context_version: Literal["torghut.market-context.v1"] = Field(alias="contextVersion")
    symbol: str
    as_of_utc: datetime = Field(alias="asOfUtc")
    freshness_seconds: StrictInt = Field(alias="freshnessSeconds")
    quality_score: float = Field(ge=0.0, le=1.0, alias="qualityScore")
    source_count: StrictInt = Field(alias="sourceCount")
    risk_flags: list[str] = Field(alias="riskFlags")
    domains: Domains


class HttpError(RuntimeError):
    def __init__(self, message: str, status: int, content_type: str, body: str) -> None:
        super().__init__(message)
        self.status = status
        self.content_type = content_type
        self.body = body


class MarketContextClient:
    """Reads the context as Torghut's client does: `{url}?symbol=..&asOf=..`, `{url}/health`."""

    def __init__(self, url: str, timeout: float = 120.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _get(self, url: str, failure: str, http: str = "market_context_http") -> dict[str, Any]:
        # Torghut's client sends this header and no other; in particular no authorization.
        request = urllib.request.Request(url, headers={"accept": "application/json"}, method="GET")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, body = response.status, response.read().decode("utf-8")
                content_type = response.headers.get("content-type", "")
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read().decode("utf-8", "replace")
            content_type = e.headers.get("content-type", "")
        if status < 200 or status >= 300:
            raise HttpError(f"{http}_{status}", status, content_type, body)
        data = json.loads(body)
        if not isinstance(data, dict) or data.get("ok") is not True:
            message = data.get("message") if isinstance(data, dict) else None
            raise RuntimeError(str(message or failure))
        return data

    @staticmethod
    def _query(symbol: str, as_of: Optional[str]) -> str:
        params = {"symbol": symbol}
        if as_of is not None:
            params["asOf"] = as_of
        return urllib.parse.urlencode(params)

    def fetch_raw(self, symbol: str, as_of: Optional[str] = None) -> dict[str, Any]:
        return self._get(f"{self.url}?{self._query(symbol, as_of)}", "market_context_request_failed")

    def fetch(self, symbol: str, as_of: Optional[str] = None) -> Bundle:
        data = self.fetch_raw(symbol, as_of)
        context = data.get("context")
        if not isinstance(context, dict):
            raise RuntimeError("market_context_missing_context")
        return Bundle.model_validate(context)

    def fetch_health(self, symbol: Optional[str] = None, as_of: Optional[str] = None) -> dict[str, Any]:
        query = "" if symbol is None and as_of is None else "?" + (
            self._query(symbol, as_of) if symbol else urllib.parse.urlencode({"asOf": as_of})
        )
        data = self._get(f"{self.url}/health{query}", "market_context_health_failed",
                         "market_context_health_http")
        health = data.get("health")
        if not isinstance(health, dict):
            raise RuntimeError("market_context_health_missing_health")
        return data


RETIRED_DOMAINS = ("news", "fundamentals")
BLOCKING_FLAGS = {
    "market_context_stale",
    "market_context_quality_low",
    "technicals_error",
    "regime_error",
    "market_context_domain_error",
}


@dataclass(frozen=True)
class Gate:
    allow: bool
    freshness_seconds: float
    quality_score: float
    blocking: tuple[str, ...]
    risk_flags: tuple[str, ...]


def evaluate(bundle: Bundle, max_staleness_seconds: int = 300, min_quality: float = 0.4) -> Gate:
    """Torghut's gate as the issue describes it. A domain without a freshness (no data) has no
    known age, which this gate counts as too old: it fails closed."""
    domains = [bundle.domains.technicals, bundle.domains.regime]
    flags = {f for f in bundle.risk_flags if not f.startswith(RETIRED_DOMAINS)}
    freshness = max(
        math.inf if d.freshness_seconds is None else float(d.freshness_seconds) for d in domains
    )
    quality = min(d.quality_score for d in domains)
    blocking = {f for f in flags if f in BLOCKING_FLAGS}
    if any(d.state == "error" for d in domains):
        blocking.add("market_context_domain_error")
    if freshness > max_staleness_seconds:
        blocking.add("market_context_stale")
    if quality < min_quality:
        blocking.add("market_context_quality_low")
    return Gate(
        allow=not blocking,
        freshness_seconds=freshness,
        quality_score=quality,
        blocking=tuple(sorted(blocking)),
        risk_flags=tuple(sorted(flags | blocking)),
    )


# The embedded minute data: SPY, IBM, BAC, AIG on 2013-10-04..11 and AAPL on 2014-06-05..09
# (trading days). 15:00Z is 11:00 in New York: mid-session on every one of them.
EMBEDDED = {
    **{s: ["2013-10-04", "2013-10-07", "2013-10-08", "2013-10-09", "2013-10-10", "2013-10-11"]
       for s in ["SPY", "IBM", "BAC", "AIG"]},
    "AAPL": ["2014-06-05", "2014-06-06", "2014-06-09"],
}


class Checks:
    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def check(self, name: str, condition: bool, detail: Any = "") -> None:
        if condition:
            self.passed += 1
        else:
            self.failed.append(f"{name}: {detail}")
            print(f"FAIL {name}: {detail}", flush=True)


def schema_validator(schema: dict[str, Any], ref: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        {**schema, "$ref": ref}, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def openapi_validator(openapi: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    # OpenAPI 3.1 schemas are JSON Schema 2020-12; refs resolve inside the document.
    return jsonschema.Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": openapi["components"]},
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def errors(validator: jsonschema.Draft202012Validator, doc: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def is_timestamp(raw: Any) -> bool:
    try:
        return isinstance(raw, str) and datetime.fromisoformat(raw.replace("Z", "+00:00")).tzinfo is not None
    except ValueError:
        return False


def all_timestamps(doc: Any, keys: set[str]) -> list[str]:
    """Every value under one of `keys` that is not null must be a timestamp with an offset
    (the format checker only checks `date-time` where an optional package is installed)."""
    bad: list[str] = []

    def walk(v: Any, path: str) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                if k in keys and x is not None and not is_timestamp(x):
                    bad.append(f"{path}/{k}={x!r}")
                walk(x, f"{path}/{k}")
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, f"{path}/{i}")

    walk(doc, "")
    return bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True, help="http://host:port/api/torghut/market-context")
    ap.add_argument("--schema", required=True)
    ap.add_argument("--openapi", required=True)
    ap.add_argument("--failing-symbol", required=True,
                    help="a symbol whose technicals source the worker is told to fail")
    args = ap.parse_args()
    schema = json.load(open(args.schema))
    openapi = json.load(open(args.openapi))
    answer_schema = schema_validator(schema, "#/$defs/contextAnswer")
    health_schema = schema_validator(schema, "#/$defs/healthAnswer")
    error_schema = schema_validator(schema, "#/$defs/errorAnswer")
    answer_openapi = openapi_validator(openapi, "TorghutMarketContextAnswer")
    health_openapi = openapi_validator(openapi, "TorghutMarketContextHealthAnswer")
    client = MarketContextClient(args.url)
    c = Checks()
    stamps = {"asOfUtc", "asOf", "publishedAt", "checkedAt", "lastSuccessAt", "lastErrorAt"}

    def read(symbol: str, as_of: Optional[str]) -> Optional[Gate]:
        name = f"{symbol} asOf={as_of}"
        raw = client.fetch_raw(symbol, as_of)
        c.check(f"{name}: contract schema", not errors(answer_schema, raw), errors(answer_schema, raw)[:5])
        c.check(f"{name}: OpenAPI schema", not errors(answer_openapi, raw), errors(answer_openapi, raw)[:5])
        c.check(f"{name}: timestamps", not all_timestamps(raw, stamps), all_timestamps(raw, stamps))
        try:
            bundle = Bundle.model_validate(raw["context"])
        except ValidationError as e:
            c.check(f"{name}: pydantic extra=forbid", False, e)
            return None
        c.check(f"{name}: symbol", bundle.symbol == symbol, bundle.symbol)
        c.check(f"{name}: domain names",
                (bundle.domains.technicals.domain, bundle.domains.regime.domain) == ("technicals", "regime"))
        c.check(f"{name}: extra domains are served",
                set(raw["context"]["domains"]) == {"technicals", "regime", "news", "fundamentals"},
                list(raw["context"]["domains"]))
        return evaluate(bundle)

    # 1. Every embedded symbol on every trading day, mid-session: fresh and good enough to trade on.
    for symbol, days in EMBEDDED.items():
        for day in days:
            as_of = f"{day}T15:00:00+00:00"
            gate = read(symbol, as_of)
            if gate is None:
                continue
            bundle = client.fetch(symbol, as_of)
            c.check(f"{symbol} {day}: asOfUtc is the asOf asked for",
                    bundle.as_of_utc == datetime.fromisoformat(as_of), bundle.as_of_utc)
            c.check(f"{symbol} {day}: the gate allows", gate.allow, gate)
            t = bundle.domains.technicals
            c.check(f"{symbol} {day}: technicals ok with Jangar's payload",
                    t.state == "ok" and {"price", "rsi14", "macd", "macdSignal", "volume", "spread"} <= set(t.payload),
                    (t.state, sorted(t.payload)))
            r = bundle.domains.regime
            c.check(f"{symbol} {day}: regime has volatility, trend, liquidity",
                    {"volatility", "trend", "liquidityScore"} <= set(r.payload), sorted(r.payload))
            c.check(f"{symbol} {day}: the bundle's aggregates are the gate's",
                    bundle.freshness_seconds == gate.freshness_seconds and bundle.quality_score == gate.quality_score,
                    (bundle.freshness_seconds, bundle.quality_score, gate))

    # 2. Without asOf: now, years after the embedded data; the gate blocks it as stale.
    for symbol in EMBEDDED:
        gate = read(symbol, None)
        if gate is not None:
            c.check(f"{symbol} now: blocked as stale", not gate.allow and "market_context_stale" in gate.blocking, gate)

    # 3. A technicals source that fails after its retries: technicals_error, which blocks.
    gate = read(args.failing_symbol, "2013-10-08T15:00:00+00:00")
    if gate is not None:
        c.check(f"{args.failing_symbol}: technicals_error blocks",
                not gate.allow and "technicals_error" in gate.blocking, gate)
        bundle = client.fetch(args.failing_symbol, "2013-10-08T15:00:00+00:00")
        c.check(f"{args.failing_symbol}: technicals state error",
                bundle.domains.technicals.state == "error" and bundle.domains.technicals.freshness_seconds is None,
                bundle.domains.technicals)

    # 4. What Torghut's client must see as a failure: an HTTP 400 with a JSON body, never a 200.
    for query, field, code in [
        ({"symbol": "ZZZZ", "asOf": "2013-10-08T15:00:00+00:00"}, "symbol", "unknown_symbol"),
        ({"symbol": "IBM", "asOf": "garbage"}, "asOf", "invalid_parameter"),
        ({"symbol": "IBM", "asOf": "2013-10-08T15:00:00"}, "asOf", "invalid_parameter"),
    ]:
        name = f"bad query {query}"
        try:
            client._get(f"{client.url}?{urllib.parse.urlencode(query)}", "market_context_request_failed")
            c.check(name, False, "answered 2xx")
        except HttpError as e:
            body = json.loads(e.body)
            c.check(f"{name}: 400 JSON", e.status == 400 and e.content_type.startswith("application/json"),
                    (e.status, e.content_type))
            c.check(f"{name}: envelope", not errors(error_schema, body), body)
            c.check(f"{name}: names {field}", body["error"]["field"] == field and body["error"]["code"] == code, body)
    try:
        client._get(f"{client.url}?symbol=IBM&asOf=2013-10-08T15:00:00Z&asOf=2013-10-08T15:01:00Z",
                    "market_context_request_failed")
        c.check("duplicate asOf", False, "answered 2xx")
    except HttpError as e:
        c.check("duplicate asOf: 400 duplicate_parameter",
                e.status == 400 and json.loads(e.body)["error"]["code"] == "duplicate_parameter", e.body)

    # 5. Health, as Torghut's client reads it: inside the data (ok), now (stale: degraded), and
    # the probe symbol by default.
    for symbol, as_of, expected in [
        ("IBM", "2013-10-08T15:00:00+00:00", "ok"),
        ("AAPL", "2014-06-06T15:00:00+00:00", "ok"),
        (None, "2013-10-08T15:00:00+00:00", "ok"),
        ("IBM", None, "degraded"),
    ]:
        name = f"health {symbol} asOf={as_of}"
        raw = client.fetch_health(symbol, as_of)
        c.check(f"{name}: contract schema", not errors(health_schema, raw), errors(health_schema, raw)[:5])
        c.check(f"{name}: OpenAPI schema", not errors(health_openapi, raw), errors(health_openapi, raw)[:5])
        c.check(f"{name}: timestamps", not all_timestamps(raw, stamps), all_timestamps(raw, stamps))
        h = raw["health"]
        # Torghut reads overallState and falls back to status.
        state = h.get("overallState") or h.get("status")
        c.check(f"{name}: overallState {expected}", state == expected, state)
        c.check(f"{name}: per-domain availability",
                h["domains"]["technicals"]["available"] is True and h["domains"]["regime"]["available"] is True,
                h["domains"])
        ing = h["ingestion"]
        c.check(f"{name}: ingestion state", ing["configured"] is True and ing["lastSuccessAt"] is not None
                and ing["consecutiveFailures"] == 0 and isinstance(ing["latencyMs"], int), ing)
    try:
        client.fetch_health("ZZZZ", "2013-10-08T15:00:00+00:00")
        c.check("health of an unknown symbol", False, "answered 2xx")
    except HttpError as e:
        c.check("health of an unknown symbol: 400", e.status == 400, e.status)

    print(f"contract: {c.passed} passed, {len(c.failed)} failed", flush=True)
    return 0 if not c.failed else 1


if __name__ == "__main__":
    sys.exit(main())
