"""Prometheus metrics from the records, read back with prometheus-client's own parser: counts per tier, reason and
status, latency, tokens, cost, energy, fallbacks and escalations; `GET /metrics` on the real FastAPI app; a clear
error when the extra is missing."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import user, without_package
from doubles import ScriptedBackend
from hybrid_ai import HybridClient

POLICY = {"name": "metrics",
          "tiers": {"local": {"backend": "transformers"},
                    "cloud": {"backend": "litellm", "model": "openai/gpt-4o-mini", "api_key_env": None}},
          "classifier": {"type": "heuristic", "threshold": 0.5}, "rules": [{"type": "pinned"}],
          "telemetry": {"sinks": ["prometheus"]}}


def samples(client) -> dict:
    out = {}
    for fam in text_string_to_metric_families(client.metrics.exposition().decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(got: dict, name: str, **labels) -> float:
    return got.get((name, tuple(sorted(labels.items()))), 0.0)


def test_records_become_counters_and_histograms():
    from hybrid_ai.telemetry.metrics import Metrics

    m = Metrics()  # one registry for two clients: what an app embedding both would do
    c = HybridClient(POLICY, backends={"local": ScriptedBackend("local"), "cloud": ScriptedBackend("cloud")}, sinks=[m])
    for _ in range(3):
        c.chat.completions.create(messages=user("hi"), route="local")
    failing = HybridClient(POLICY, backends={"local": ScriptedBackend("local", fail_at=0),
                                             "cloud": ScriptedBackend("cloud")}, sinks=[m])
    failing.chat.completions.create(messages=user("hi"), route="local")  # local fails, cloud answers
    assert c.metrics is failing.metrics is m
    got = samples(c)
    assert value(got, "hybrid_ai_requests_total", tier="local", reason="rule:pinned", status="ok") == 3
    assert value(got, "hybrid_ai_requests_total", tier="cloud", reason="rule:pinned", status="ok") == 1
    assert value(got, "hybrid_ai_request_latency_seconds_count", tier="local") == 3
    assert value(got, "hybrid_ai_tokens_total", tier="local", direction="output") == 3 * 2
    assert value(got, "hybrid_ai_fallbacks_total", from_tier="local", to_tier="cloud", reason="generation") == 1
    assert value(got, "hybrid_ai_cost_usd_total", tier="local") > 0  # the local tier's hourly rate x its time


def test_metrics_route_on_the_app_and_off_by_default(tmp_path):
    from fastapi.testclient import TestClient

    from hybrid_ai import AsyncHybridClient
    from hybrid_ai.serving import create_app

    on = AsyncHybridClient(POLICY, backends={"local": ScriptedBackend("local"), "cloud": ScriptedBackend("cloud")})
    app = TestClient(create_app(on, auth=True, api_keys=["k" * 24]))
    assert app.get("/metrics").status_code == 401  # like every route but /healthz
    h = {"authorization": f"Bearer {'k' * 24}"}
    assert app.post("/v1/chat/completions", json={"messages": user("hi"), "route": "local"}, headers=h).status_code == 200
    r = app.get("/metrics", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert 'hybrid_ai_requests_total{reason="rule:pinned",status="ok",tier="local"} 1.0' in r.text
    off = AsyncHybridClient({**POLICY, "telemetry": {"sinks": []}},
                            backends={"local": ScriptedBackend("local"), "cloud": ScriptedBackend("cloud")})
    r = TestClient(create_app(off, auth=False)).get("/metrics")
    assert r.status_code == 404 and "telemetry.sinks" in r.json()["error"]["message"]


def test_a_missing_extra_is_named_only_when_metrics_are_on(monkeypatch):
    from hybrid_ai import MissingDependency

    without_package(monkeypatch, "prometheus_client")
    with pytest.raises(MissingDependency, match=r"hybrid-ai\[metrics\]"):
        HybridClient(POLICY, backends={"local": ScriptedBackend("local"), "cloud": ScriptedBackend("cloud")})
    HybridClient({**POLICY, "telemetry": {"sinks": []}},
                 backends={"local": ScriptedBackend("local"), "cloud": ScriptedBackend("cloud")})
