"""Prometheus metrics (`telemetry.sinks: [..., prometheus]`; the `metrics` extra, prometheus-client): a sink that
turns each request's record into counters and histograms, named in the style LiteLLM and vLLM use.

| metric | type | labels |
|---|---|---|
| `hybrid_ai_requests_total` | counter | `tier` (that answered, `none` if none did), `reason` (score<threshold, rule:..., ...), `status` (ok, error) |
| `hybrid_ai_request_latency_seconds` | histogram | `tier` |
| `hybrid_ai_time_to_first_token_seconds` | histogram | `tier` (streams and engines that report it) |
| `hybrid_ai_tokens_total` | counter | `tier`, `direction` (input, output) |
| `hybrid_ai_cost_usd_total`, `hybrid_ai_energy_wh_total`, `hybrid_ai_co2_grams_total` | counters | `tier` (totals over every attempt: a failed local try counts where it ran) |
| `hybrid_ai_fallbacks_total` | counter | `from_tier`, `to_tier`, `reason` (the failed attempt's error kind: timeout, auth, escalated, ...) |
| `hybrid_ai_rejected_total` | counter | `status`, `code`: requests the server refused before they were routed (bad key, bad input, too large, queue full) |
| `hybrid_ai_escalations_total` | counter | `from_tier`, `to_tier` (cascade mode's verifier) |
| `hybrid_ai_variant_requests_total`, `hybrid_ai_variant_cost_usd_total`, `hybrid_ai_variant_latency_seconds` | counters, histogram | `variant` (`current`, `canary`; only with a canary, canary.py), with `tier` (that answered) and `status` for requests |
| `hybrid_ai_key_requests_total`, `hybrid_ai_key_tokens_total`, `hybrid_ai_key_cost_usd_total`, `hybrid_ai_key_counterfactual_cost_usd_total` | counters | `key` (the server's API key id, `key_<sha256 prefix>`; telemetry/caller.py), with `tier` / `direction` |
| `hybrid_ai_log_rows_total`, `hybrid_ai_log_store_errors_total` | counters | `outcome` (written, dropped), `store` (postgres): the PostgreSQL route log's writer (store/pg_sink.py) |
| `hybrid_ai_limit_store_errors_total` | counter | `outcome` (served: `fail_open`; refused: `fail_closed`): requests whose limits' Redis could not be reached (store/limits.py) |
| `hybrid_ai_counterfactual_cost_usd_total`, `hybrid_ai_counterfactual_energy_wh_total` | counters | `tier`: what the strongest tier would have cost and consumed for the requests this tier answered (telemetry/counterfactual.py); savings = these minus `cost_usd_total` / `energy_wh_total` of the same tier |

A client's metrics live in `client.metrics.registry` (a registry of its own, so two clients in one process do not
collide; `Metrics(registry=prometheus_client.REGISTRY)` joins the default one). `hybrid-ai serve` answers
`GET /metrics` from it (bearer key like every route but /healthz). `hybrid-ai serve --workers N` runs
prometheus-client's multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`), so any worker's /metrics answers the sums over
all of them; so does a process started with that variable set. A metrics update never fails a request (it is a
sink)."""

from __future__ import annotations

from typing import Any

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def _prometheus():
    try:
        import prometheus_client
    except ImportError:
        from ..errors import MissingDependency

        raise MissingDependency("telemetry.sinks: prometheus needs prometheus-client: "
                                "pip install 'hybrid-ai[metrics]'") from None
    return prometheus_client


class Metrics:
    def __init__(self, registry: Any = None, prefix: str = "hybrid_ai"):
        pc = _prometheus()
        self.registry = registry if registry is not None else pc.CollectorRegistry()
        p, r = prefix, self.registry
        self.requests = pc.Counter(f"{p}_requests", "Requests by answering tier, route reason and status",
                                   ["tier", "reason", "status"], registry=r)
        self.latency = pc.Histogram(f"{p}_request_latency_seconds", "Request latency", ["tier"],
                                    buckets=LATENCY_BUCKETS, registry=r)
        self.ttft = pc.Histogram(f"{p}_time_to_first_token_seconds", "Time to first token", ["tier"],
                                 buckets=TTFT_BUCKETS, registry=r)
        self.tokens = pc.Counter(f"{p}_tokens", "Tokens", ["tier", "direction"], registry=r)
        self.cost = pc.Counter(f"{p}_cost_usd", "Cost in USD, over every attempt", ["tier"], registry=r)
        self.energy = pc.Counter(f"{p}_energy_wh", "Energy in Wh, over every attempt", ["tier"], registry=r)
        self.co2 = pc.Counter(f"{p}_co2_grams", "CO2 in grams, over every attempt", ["tier"], registry=r)
        self.fallbacks = pc.Counter(f"{p}_fallbacks", "Attempts handed to the next tier",
                                    ["from_tier", "to_tier", "reason"], registry=r)
        self.cf_cost = pc.Counter(f"{p}_counterfactual_cost_usd", "What the strongest tier would have cost for "
                                  "the requests this tier answered", ["tier"], registry=r)
        self.cf_energy = pc.Counter(f"{p}_counterfactual_energy_wh", "What the strongest tier would have consumed "
                                    "for the requests this tier answered", ["tier"], registry=r)
        self.key_requests = pc.Counter(f"{p}_key_requests", "Requests per API key id (the server's callers)",
                                       ["key", "tier"], registry=r)
        self.key_tokens = pc.Counter(f"{p}_key_tokens", "Tokens per API key id", ["key", "direction"], registry=r)
        self.key_cost = pc.Counter(f"{p}_key_cost_usd", "Cost in USD per API key id", ["key"], registry=r)
        self.key_cf_cost = pc.Counter(f"{p}_key_counterfactual_cost_usd", "What the strongest tier would have "
                                      "cost per API key id (requests answered elsewhere)", ["key"], registry=r)
        self.escalations = pc.Counter(f"{p}_escalations", "Local answers the verifier escalated",
                                      ["from_tier", "to_tier"], registry=r)
        self.rejected = pc.Counter(f"{p}_rejected", "Requests the server refused before routing (401, 400, 413, "
                                   "429, 503), by status and error code", ["status", "code"], registry=r)
        self.v_requests = pc.Counter(f"{p}_variant_requests", "Requests per policy variant (with a canary) and "
                                     "answering tier", ["variant", "tier", "status"], registry=r)
        self.v_cost = pc.Counter(f"{p}_variant_cost_usd", "Cost in USD per policy variant", ["variant"], registry=r)
        self.v_latency = pc.Histogram(f"{p}_variant_latency_seconds", "Request latency per policy variant",
                                      ["variant"], buckets=LATENCY_BUCKETS, registry=r)
        self.log_rows = pc.Counter(f"{p}_log_rows", "Route log rows the PostgreSQL writer wrote, or dropped "
                                   "(its spool full)", ["outcome"], registry=r)
        self.log_errors = pc.Counter(f"{p}_log_store_errors", "Failed attempts to write the route log to its "
                                     "database (the rows stay spooled)", ["store"], registry=r)
        self.limit_errors = pc.Counter(f"{p}_limit_store_errors", "Requests whose shared limits' store (Redis) "
                                       "could not be reached: served without them (fail_open) or refused "
                                       "(fail_closed)", ["outcome"], registry=r)
        self._generate = pc.generate_latest
        self.content_type = pc.CONTENT_TYPE_LATEST

    def store_count(self, name: str, n: int) -> None:
        """The shared store's counts: the PostgreSQL writer's rows `written` or `dropped` and its `errors`
        (store/pg_sink.py); requests `served` or `refused` while the limits' Redis was away (store/limits.py)."""
        if name == "errors":
            self.log_errors.labels("postgres").inc(n)
        elif name in ("served", "refused"):
            self.limit_errors.labels(name).inc(n)
        else:
            self.log_rows.labels(name).inc(n)

    def write(self, event: dict) -> None:
        """The sink method: one finished request's record (RouteRecord.model_dump())."""
        tier = event.get("route") or "none"
        if event.get("variant"):
            self._variant(event)
        self.requests.labels(tier, event["reason"], "error" if event.get("error") else "ok").inc()
        self.latency.labels(tier).observe(event["latency_ms"] / 1000)
        if event.get("ttft_ms") is not None:
            self.ttft.labels(tier).observe(event["ttft_ms"] / 1000)
        for direction, key in (("input", "prompt_tokens"), ("output", "completion_tokens")):
            if event.get(key):
                self.tokens.labels(tier, direction).inc(event[key])
        caller = event.get("caller")
        if caller:
            self.key_requests.labels(caller, tier).inc()
            for direction, k in (("input", "prompt_tokens"), ("output", "completion_tokens")):
                if event.get(k):
                    self.key_tokens.labels(caller, direction).inc(event[k])
            if event.get("cost_usd"):
                self.key_cost.labels(caller).inc(event["cost_usd"])
            if (event.get("counterfactual") or {}).get("cost_usd") is not None:
                self.key_cf_cost.labels(caller).inc(event["counterfactual"]["cost_usd"])
        cf = event.get("counterfactual") or {}
        if cf.get("cost_usd") is not None:
            self.cf_cost.labels(tier).inc(cf["cost_usd"])
        if cf.get("energy_wh") is not None:
            self.cf_energy.labels(tier).inc(cf["energy_wh"])
        attempts = event.get("attempts") or []
        for a in attempts:
            for counter, key in ((self.cost, "cost_usd"), (self.energy, "energy_wh"), (self.co2, "co2_g")):
                if a.get(key):
                    counter.labels(a["tier"]).inc(a[key])
        for a, nxt in zip(attempts, attempts[1:]):
            if a.get("error"):
                self.fallbacks.labels(a["tier"], nxt["tier"], a.get("error_kind") or "error").inc()
                if a.get("error_kind") == "escalated":
                    self.escalations.labels(a["tier"], nxt["tier"]).inc()

    def _variant(self, event: dict) -> None:
        v = event["variant"]
        self.v_requests.labels(v, event.get("route") or "none", "error" if event.get("error") else "ok").inc()
        self.v_latency.labels(v).observe(event["latency_ms"] / 1000)
        if event.get("cost_usd"):
            self.v_cost.labels(v).inc(event["cost_usd"])

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format (what GET /metrics returns). In prometheus-client's
        multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`, set by `hybrid-ai serve --workers`): every process's values,
        summed."""
        import os

        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            pc = _prometheus()
            from prometheus_client import multiprocess

            registry = pc.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return self._generate(registry)
        return self._generate(self.registry)
