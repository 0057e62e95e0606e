"""Speed and memory of the shipped router (and the heuristic baseline) on one core.

    .venv/bin/python benchmarks/classifier_speed.py [--n 10000] [--model PATH]

Scores prompts of 20 to 4,000 characters built from the RouteLLM prompts (and a 1 MB prompt for the
bounded-work check); prints median / p99 per score, the load time and the memory of the loaded scorer.
`--model` times another router file (for instance one trained with the group prior) instead of the shipped one."""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
import tracemalloc
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "routellm"


def prompts(n: int) -> list[str]:
    from hybrid_ai.learning.data import load_outcomes

    pool = [o.prompt for o in load_outcomes(DATA / "gsm8k")] + [o.prompt for o in load_outcomes(DATA / "mmlu")]
    rng = random.Random(0)
    out = []
    for _ in range(n):
        target = rng.choice([20, 100, 300, 1000, 2000, 4000])
        text = ""
        while len(text) < target:
            text += rng.choice(pool) + "\n"
        out.append(text[:target])
    return out


def stats(xs: list[float]) -> str:
    ms = sorted(x * 1000 for x in xs)
    return f"median {statistics.median(ms):.3f} ms  p99 {ms[int(len(ms) * 0.99) - 1]:.3f} ms  max {ms[-1]:.3f} ms"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--model", default=None, help="router .npz (default: the shipped one)")
    args = ap.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    from hybrid_ai.routing.classifier import HeuristicClassifier
    from hybrid_ai.routing.features import MAX_CHARS
    from hybrid_ai.routing.scorer import DEFAULT_MODEL, LinearScorer
    from hybrid_ai.request import parse_request

    model = Path(args.model) if args.model else DEFAULT_MODEL
    tracemalloc.start()
    t = time.perf_counter()
    scorer = LinearScorer.load(model)
    load_s = time.perf_counter() - t
    mem = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    texts = prompts(args.n)
    reqs = [parse_request({"messages": [{"role": "user", "content": x}]}) for x in texts]
    print(f"router {model.name}{' (group prior)' if scorer.group else ''}: file {model.stat().st_size / 1024:.0f} KiB, "
          f"loaded in {load_s * 1000:.0f} ms, {mem / 2**20:.1f} MiB in memory; one core, {args.n:,} prompts")
    for name, clf in (("trained router", scorer), ("heuristic baseline", HeuristicClassifier())):
        for r in reqs[:200]:
            clf.score(r)
        samples = []
        for r in reqs:
            t = time.perf_counter()
            clf.score(r)
            samples.append(time.perf_counter() - t)
        print(f"  {name:<20} {stats(samples)}")
        for size in (20, 4000):
            sub = [s for s, x in zip(samples, texts) if len(x) == size]
            print(f"    {size:>5}-char prompts   {stats(sub)}")
    big = parse_request({"messages": [{"role": "user", "content": "x " * 500_000}]})
    t = time.perf_counter()
    scorer.score(big)
    print(f"  1 MB prompt: {(time.perf_counter() - t) * 1000:.2f} ms (bounded: only the first {MAX_CHARS:,} characters are read)")


if __name__ == "__main__":
    main()
