"""OpenTelemetry spans from the records, read from the SDK's in-memory exporter: one span per request and one per
attempt, GenAI semantic-convention attributes, parentage (under the caller's span, attempts under the request),
kinds, errors, and prompts only when the policy logs them."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from conftest import user, without_package
from doubles import ScriptedBackend
from hybrid_ai import HybridClient
from hybrid_ai.telemetry.tracing import Tracing

POLICY = {"name": "traced",
          "tiers": {"local": {"backend": "transformers"},
                    "cloud": {"backend": "litellm", "model": "openai/gpt-4o-mini", "api_key_env": None}},
          "classifier": {"type": "heuristic", "threshold": 0.5}, "rules": [{"type": "pinned"}],
          "telemetry": {"sinks": []}}


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def client(provider, local_fails=False, log_prompts=False):
    class Local(ScriptedBackend):
        name = "transformers"  # an in-process engine, as the record's backend says

    policy = {**POLICY, "telemetry": {"sinks": [], "log_prompts": log_prompts}}
    return HybridClient(policy, backends={"local": Local("local", fail_at=0 if local_fails else None),
                                          "cloud": ScriptedBackend("cloud")},
                        sinks=[Tracing(log_prompts, provider=provider)])


def test_a_request_span_with_one_span_per_attempt_under_the_callers_span(spans):
    provider, exporter = spans
    c = client(provider, local_fails=True)
    with provider.get_tracer("app").start_as_current_span("handle request") as outer:
        c.chat.completions.create(messages=user("hi, my key is sk-abcdefghijklmnopqrstuvwx"), route="local")
    c.sinks[0].flush()  # spans are built off the request's thread
    got = {s.attributes.get("hybrid_ai.tier", s.name): s for s in exporter.get_finished_spans()}
    req, app, local, cloud = got["chat hybrid"], got["handle request"], got["local"], got["cloud"]
    assert cloud.name == "chat cloud-model" and local.name.startswith("chat ")
    assert req.parent.span_id == app.context.span_id == outer.get_span_context().span_id
    assert local.parent.span_id == cloud.parent.span_id == req.context.span_id
    a = req.attributes
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.response.model"] == "cloud-model"
    assert a["hybrid_ai.route"] == "cloud" and a["hybrid_ai.fallback"] is True and a["gen_ai.usage.output_tokens"] == 2
    assert "hybrid_ai.prompt" not in a  # the policy does not log prompts
    assert local.kind == trace.SpanKind.INTERNAL and local.attributes["gen_ai.provider.name"] == "hybrid_ai.transformers"
    assert local.attributes["error.type"] == "generation" and local.status.status_code == trace.StatusCode.ERROR
    assert cloud.kind == trace.SpanKind.CLIENT and "error.type" not in cloud.attributes
    assert local.start_time <= local.end_time <= cloud.start_time <= cloud.end_time <= req.end_time
    assert req.start_time <= local.start_time


def test_prompts_only_when_the_policy_logs_them_and_never_secrets(spans):
    provider, exporter = spans
    c = client(provider, log_prompts=True)
    c.chat.completions.create(messages=user("hi, my key is sk-abcdefghijklmnopqrstuvwx"), route="local")
    c.sinks[0].flush()
    req = next(s for s in exporter.get_finished_spans() if s.name == "chat hybrid")
    assert "hi, my key is" in req.attributes["hybrid_ai.prompt"]
    assert "sk-abcdefghijklmnopqrstuvwx" not in req.attributes["hybrid_ai.prompt"]


def test_the_policy_enables_tracing_and_names_the_extra_when_missing(monkeypatch):
    from hybrid_ai import MissingDependency

    on = {**POLICY, "telemetry": {"sinks": ["opentelemetry"]}}
    c = HybridClient(on, backends={"local": ScriptedBackend("local"), "cloud": ScriptedBackend("cloud")})
    assert any(isinstance(s, Tracing) for s in c.sinks)
    without_package(monkeypatch, "opentelemetry")
    with pytest.raises(MissingDependency, match=r"hybrid-ai\[tracing\]"):
        HybridClient(on, backends={"local": ScriptedBackend("local"), "cloud": ScriptedBackend("cloud")})


def test_an_exporter_that_is_down_never_fails_or_slows_a_request():
    import time

    from opentelemetry.sdk.trace.export import SpanExporter

    class Down(SpanExporter):
        calls = 0

        def export(self, spans):
            Down.calls += 1
            raise ConnectionError("collector unreachable")

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Down()))
    c = client(provider)
    t0 = time.perf_counter()
    r = c.chat.completions.create(messages=user("hi"), route="local")
    c.sinks[0].flush()
    assert r.choices[0].message.content == "hello world" and Down.calls >= 1 and time.perf_counter() - t0 < 5
    assert c.sink_failures == 0  # the SDK absorbed the exporter's error; nothing reached the request
