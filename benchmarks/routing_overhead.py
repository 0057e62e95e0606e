"""Routing overhead per request, excluding model time: validation + rules + classifier + decision +
record + sinks + building the ChatCompletion. Both tiers are served by EchoBackend (instant).

    .venv/bin/python benchmarks/routing_overhead.py [--n 10000]

Prints median / p99 per stage and for the whole create() call: no sink with and without the savings counterfactual
(telemetry/counterfactual.py; on by default), the stderr record, the SQLite route log,
the Prometheus metrics sink and the OpenTelemetry tracing sink (each alone, so the difference to "no sinks" is that
sink's cost)."""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time

from hybrid_ai import HybridClient
from hybrid_ai.testing import EchoBackend
from hybrid_ai.routing import decide
from hybrid_ai.telemetry.metrics import Metrics
from hybrid_ai.telemetry.tracing import Tracing
from hybrid_ai.telemetry.sinks import SQLiteSink, StderrSink
from hybrid_ai.request import parse_request

WORDS = ("the of and to in is you that it he was for on are as with his they at be this have from or one had by "
         "word but not what all were we when your can said there use an each which she do how their if will up "
         "prove explain calculate step by step python function compare design why 42 3.5 17 km hours").split()


def prompts(n: int, seed: int = 0) -> list[list[dict]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        length = rng.choice([20, 60, 200, 800, 2000, 4000])  # characters, mixed
        text = " ".join(rng.choice(WORDS) for _ in range(length // 4))[:length]
        if i % 50 == 0:
            text += " contact me at someone@example.com"
        msgs = [{"role": "user", "content": text}]
        if i % 5 == 0:
            msgs = [{"role": "system", "content": "Be brief."}, {"role": "assistant", "content": "ok"}, *msgs]
        out.append(msgs)
    return out


def stats(samples_s: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples_s)
    return (f"median {statistics.median(ms):.4f} ms  p99 {ms[int(len(ms) * 0.99) - 1]:.4f} ms  "
            f"mean {statistics.fmean(ms):.4f} ms")


def timed(fn, items) -> list[float]:
    out = []
    for it in items:
        t = time.perf_counter()
        fn(it)
        out.append(time.perf_counter() - t)
    return out


def tracer_provider():
    """The SDK's provider with a batch processor and an exporter that keeps nothing: span creation, attributes and
    queueing are measured; shipping spans happens off the request's thread in a real deployment too."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Drop(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop()))
    return provider


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    args = ap.parse_args()
    data = prompts(args.n)
    backends = {"local": EchoBackend("local"), "cloud": EchoBackend("cloud", runs_locally=False)}
    tmp = tempfile.mkdtemp()
    devnull = open(os.devnull, "w")
    configs = {
        "no sinks": [],
        "stderr JSON sink": [StderrSink(stream=devnull)],
        "SQLite sink (WAL)": [SQLiteSink(os.path.join(tmp, "bench.db"))],
        "Prometheus metrics sink": [Metrics()],
        "OpenTelemetry tracing sink": [Tracing(provider=tracer_provider())],
    }
    client = HybridClient("route-only", backends=backends, sinks=[])
    client.chat.completions.create(messages=data[0], max_tokens=16)  # warm imports (openai types)
    requests = [parse_request({"messages": m, "max_tokens": 16}) for m in data]

    print(f"routing overhead over {args.n:,} prompts of 20-4,000 characters (EchoBackend: no model time)")
    print("stages:")
    print(f"  {'parse_request':<28}", stats(timed(lambda m: parse_request({"messages": m, "max_tokens": 16}), data)))
    print(f"  {'classifier.score':<28}", stats(timed(client.classifier.score, requests)))
    print(f"  {'decide (rules + threshold)':<28}", stats(timed(lambda r: decide(client.policy, r, 0.3), requests)))
    echo = backends["local"]
    print(f"  {'EchoBackend.complete (excluded)':<28}",
          stats(timed(lambda r: echo.complete(r, client.policy.tiers["local"].generation), requests)))
    with_savings = client.policy
    without = with_savings.model_copy(update={"telemetry": with_savings.telemetry.model_copy(update={"savings": False})})
    configs = {"no sinks, savings off (telemetry.savings: false)": [], **configs}
    for name, sinks in configs.items():
        client.sinks = sinks
        client.policy = without if "savings off" in name else with_savings
        by_route: dict[str, list[float]] = {"local": [], "cloud": []}
        for m in data:
            t = time.perf_counter()
            r = client.chat.completions.create(messages=m, max_tokens=16)
            by_route[r.hybrid.route].append(time.perf_counter() - t)
        print(f"create() total, {name}:")
        print(f"  {'all requests':<28}", stats(by_route["local"] + by_route["cloud"]))
        for route, samples in by_route.items():
            print(f"  {f'routed {route} ({len(samples):,})':<28}", stats(samples))
    print("(cloud records include EcoLogits' energy model, about 1-2 ms, next to a cloud call of 300+ ms)")
    client.sinks = []
    events = [client.chat.completions.create(messages=m, max_tokens=16).hybrid.record.model_dump() for m in data[:2000]]
    print("one sink's write() alone, per request (the records above):")
    for name in ("stderr JSON sink", "Prometheus metrics sink", "OpenTelemetry tracing sink"):
        sink = configs[name][0]
        print(f"  {name:<28}", stats(timed(sink.write, events)))


if __name__ == "__main__":
    main()
