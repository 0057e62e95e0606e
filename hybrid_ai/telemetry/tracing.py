"""OpenTelemetry traces (`telemetry.sinks: [..., opentelemetry]`; the `tracing` extra, opentelemetry-sdk): one span
per request and one per attempt, following the GenAI semantic conventions, built from the request's record.

Spans use the application's tracer provider (`opentelemetry.trace.set_tracer_provider`, or `Tracing(provider=)`)
and the caller's current context, so a request's span is a child of whatever span the caller is in. They carry
the recorded start and end times: the request's from its latency, each attempt's from its own latency, laid end
to end (the chain tries tiers one after another). The request's thread only notes the record, the time and the
caller's context; a background thread builds the spans (a bounded queue: when full, a record's spans are dropped
and counted in `dropped`), so tracing costs a request a few microseconds. `flush()` waits for the queue.

- Request span `chat hybrid` (kind INTERNAL): `gen_ai.operation.name` = chat, `gen_ai.provider.name` = hybrid_ai,
  `gen_ai.request.model` = hybrid, `gen_ai.response.model`, `gen_ai.usage.input_tokens` / `output_tokens`,
  `gen_ai.response.time_to_first_chunk` (s), `error.type` (when it failed), and `hybrid_ai.route`, `.reason`,
  `.score`, `.threshold`, `.cost_usd`, `.energy_wh`, `.co2_g`, `.fallback`, `.escalated`, `.verifier_score`,
  `.policy`, `.request_id`. The prompt and the answer (`hybrid_ai.prompt`, `hybrid_ai.answer`) only when the policy
  logs prompts (`telemetry.log_prompts`), secrets scrubbed as in every record.
- Attempt span `chat <model>`: kind INTERNAL for an in-process tier, CLIENT for a remote one;
  `gen_ai.provider.name` (the litellm provider prefix such as `openai`, or `hybrid_ai.<backend>` in-process),
  `gen_ai.request.model`, the usage, `gen_ai.response.time_to_first_chunk`, `error.type` (the error kind, e.g.
  `timeout`, `escalated`), `hybrid_ai.tier`, `.cost_usd`, `.energy_wh`.
A tracing failure never fails a request (it is a sink)."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

LOCAL_BACKENDS = ("transformers", "ctranslate2", "onnxruntime", "llama_cpp", "echo")


def _otel():
    try:
        from opentelemetry import trace
    except ImportError:
        from ..errors import MissingDependency

        raise MissingDependency("telemetry.sinks: opentelemetry needs opentelemetry-sdk: "
                                "pip install 'hybrid-ai[tracing]'") from None
    return trace


def _attrs(attrs: dict) -> dict:
    return {k: v for k, v in attrs.items() if v is not None}


class Tracing:
    def __init__(self, log_prompts: bool = False, provider: Any = None, queue_size: int = 10_000):
        from .processors import chain

        trace = _otel()
        from opentelemetry import context

        self._trace, self._context, self._chain = trace, context, chain(log_prompts)
        self.tracer = (provider or trace.get_tracer_provider()).get_tracer("hybrid_ai")
        self.dropped = 0
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        threading.Thread(target=self._run, name="hybrid-ai-tracing", daemon=True).start()

    def write(self, event: dict) -> None:
        """The sink method: one finished request's record (RouteRecord.model_dump()); spans are built off-thread."""
        try:
            self._queue.put_nowait((event, time.time_ns(), self._context.get_current()))
        except queue.Full:
            self.dropped += 1

    def flush(self) -> None:
        self._queue.join()

    def _run(self) -> None:
        while True:
            event, end, parent = self._queue.get()
            try:
                self._spans(event, end, parent)
            except Exception:  # noqa: BLE001  tracing never fails anything; a bad record loses its spans
                self.dropped += 1
            finally:
                self._queue.task_done()

    def _spans(self, event: dict, end: int, parent: Any) -> None:
        trace = self._trace
        for p in self._chain:  # secrets scrubbed; prompt and answer dropped unless the policy logs them
            event = p(None, "info", dict(event))
        start = end - int(event["latency_ms"] * 1e6)
        span = self.tracer.start_span("chat hybrid", context=parent, kind=trace.SpanKind.INTERNAL, start_time=start,
                                      attributes=_attrs({
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "hybrid_ai", "gen_ai.request.model": "hybrid",
            "gen_ai.response.model": event.get("model"), "gen_ai.usage.input_tokens": event.get("prompt_tokens"),
            "gen_ai.usage.output_tokens": event.get("completion_tokens"),
            "gen_ai.response.time_to_first_chunk": _seconds(event.get("ttft_ms")),
            "error.type": "all_failed" if event.get("error") and not event.get("route") else None,
            **{f"hybrid_ai.{k}": event.get(k) for k in (
                "route", "reason", "score", "threshold", "cost_usd", "energy_wh", "co2_g", "fallback", "escalated",
                "verifier_score", "policy", "request_id", "prompt", "answer")}}))
        ctx = trace.set_span_in_context(span)
        t = start
        for a in event.get("attempts") or []:
            t_end = min(end, t + int(a["latency_ms"] * 1e6))
            local = a.get("backend") in LOCAL_BACKENDS
            model = a.get("model") or a["tier"]
            child = self.tracer.start_span(f"chat {model}", context=ctx, start_time=t,
                                           kind=trace.SpanKind.INTERNAL if local else trace.SpanKind.CLIENT,
                                           attributes=_attrs({
                "gen_ai.operation.name": "chat", "gen_ai.request.model": model, "gen_ai.response.model": model,
                "gen_ai.provider.name": f"hybrid_ai.{a.get('backend')}" if local else _provider(model),
                "gen_ai.usage.input_tokens": a.get("prompt_tokens"),
                "gen_ai.usage.output_tokens": a.get("completion_tokens"),
                "gen_ai.response.time_to_first_chunk": _seconds(a.get("ttft_ms")),
                "error.type": a.get("error_kind") or ("error" if a.get("error") else None),
                "hybrid_ai.tier": a["tier"], "hybrid_ai.cost_usd": a.get("cost_usd"),
                "hybrid_ai.energy_wh": a.get("energy_wh")}))
            if a.get("error"):
                child.set_status(trace.Status(trace.StatusCode.ERROR, a["error"]))
            child.end(end_time=t_end)
            t = t_end
        if event.get("error"):
            span.set_status(trace.Status(trace.StatusCode.ERROR, event["error"]))
        span.end(end_time=end)


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000


def _provider(model: str) -> str:
    """The GenAI provider of a litellm model string (`openai/gpt-4o-mini` -> openai)."""
    return model.split("/", 1)[0] if "/" in model else "openai"
