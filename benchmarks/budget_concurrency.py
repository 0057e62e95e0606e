"""The budget rule under 1,000 concurrent requests against a small daily cap: how much is spent against the cap
(admission by reservation: the target is an overspend of at most one request's cost).

    .venv/bin/python benchmarks/budget_concurrency.py [--n 1000] [--threads 64] [--cap-requests 50]

Both tiers are instant doubles (EchoBackend), so requests really overlap; the cloud tier is costed at
gpt-4o-mini's prices from its token counts, as a live one would be; the spend goes to a real SQLite route log."""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from hybrid_ai import HybridClient
from hybrid_ai.testing import EchoBackend


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=64)
    ap.add_argument("--cap-requests", type=int, default=50, help="the cap, in requests' worth of cloud cost")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    policy = {"name": "budget-bench",
              "tiers": {"local": {"backend": "transformers"},
                        "cloud": {"backend": "litellm", "model": "openai/gpt-4o-mini", "api_key_env": None}},
              "classifier": {"type": "heuristic", "threshold": 0.0},
              "telemetry": {"sinks": ["sqlite"], "sqlite_path": f"{tmp}/routes.db"}, "budget": {}}
    backends = {"local": EchoBackend("local"), "cloud": EchoBackend("cloud", runs_locally=False)}
    probe = HybridClient(policy, backends=backends, sinks=[])
    one = probe.chat.completions.create(messages=[{"role": "user", "content": "How are you today?"}],
                                        max_tokens=16).hybrid.record.cost_usd
    cap = args.cap_requests * one
    policy["budget"] = {"cloud_usd_per_day": cap}
    client = HybridClient(policy, backends=backends, sinks=[])
    t0 = time.perf_counter()
    with ThreadPoolExecutor(args.threads) as pool:
        records = list(pool.map(lambda _: client.chat.completions.create(
            messages=[{"role": "user", "content": "How are you today?"}], max_tokens=16).hybrid.record,
            range(args.n)))
    wall = time.perf_counter() - t0
    cloud = [a.cost_usd for r in records for a in r.attempts if a.tier == "cloud"]
    print(f"{args.n} requests on {args.threads} threads in {wall:.2f} s; cap {cap:.3e} USD "
          f"({args.cap_requests} requests' worth, one = {one:.3e})")
    print(f"cloud answers {len(cloud)}, spent {sum(cloud):.3e} USD = {sum(cloud) / cap:.1%} of the cap; overspend "
          f"{max(0.0, sum(cloud) - cap):.3e} USD (target: at most one request, {one:.3e})")
    print(f"sent local by the budget: {sum(r.budget is not None for r in records)}")


if __name__ == "__main__":
    main()
