"""What cascade mode costs in time: the verifier's own cost per request, and the time to first token of a local
answer streamed in route mode (tokens as they come) against cascade mode (held until the verifier has read it).

    .venv/bin/python benchmarks/cascade_latency.py [--n 20]

The local tier is the shipped default's (CTranslate2 int8, 48 tokens); the cloud tier is never reached (the
verifier's threshold is 1.0, so nothing escalates): this measures the hold, not a cloud round trip. An escalated
request adds its cloud latency to the local answer's full time (the eval's cascade rows count both)."""

from __future__ import annotations

import argparse
import statistics
import time

from hybrid_ai import HybridClient, load_policy
from hybrid_ai.checks.verifier import DEFAULT_VERIFIER, load_verifier

PROMPTS = ["What is the capital of Italy?", "Classify the sentiment: 'The kettle stopped working.'",
           "How many days are in a week?", "Extract the city: 'Ines flew to Oslo on Monday.'",
           "Write the word 'river' in capital letters.", "Which planet is known as the Red Planet?"]


def ttft(client, prompt: str) -> tuple[float, float]:
    t0 = time.perf_counter()
    first = None
    with client.chat.completions.create(messages=[{"role": "user", "content": prompt}], max_tokens=48,
                                        stream=True) as s:
        for chunk in s:
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter() - t0
    return (first or 0.0), time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20)
    n = ap.parse_args().n
    v = load_verifier(str(DEFAULT_VERIFIER))
    answer = "The capital of Italy is Rome, a city with a long history."
    t0 = time.perf_counter()
    for _ in range(2000):
        v.score_text(PROMPTS[0], answer)
    print(f"verifier: {(time.perf_counter() - t0) / 2000 * 1000:.3f} ms per request")
    base = load_policy("route-only").model_dump(mode="json")
    base["telemetry"] = {"sinks": []}
    base["classifier"]["threshold"] = 1.0  # everything to the local tier first
    results = {}
    for mode in ("route", "cascade"):
        pol = {**base, "classifier": {**base["classifier"], "mode": mode, "verifier": {"threshold": 1.0}}}
        with HybridClient(pol) as c:
            c.warmup()
            runs = [ttft(c, PROMPTS[i % len(PROMPTS)]) for i in range(n)]
        results[mode] = runs
        print(f"{mode:8s} TTFT median {statistics.median(r[0] for r in runs) * 1000:.0f} ms, "
              f"total median {statistics.median(r[1] for r in runs) * 1000:.0f} ms ({n} local answers, 48 tokens max)")


if __name__ == "__main__":
    main()
