"""What a local tier's `domain` costs: memory with one model and with two, and the time to pick one per request.

    .venv/bin/python benchmarks/domain_split.py B/current/policy.yaml [--suite examples/support/heldout]

The policy's local tier must have a `domain` (what `hybrid-ai improve` writes). Each setting is loaded in a fresh
process (the tier without its domain, then with it) and warmed up; the script prints each process's resident
memory after the load, then the per-request cost of choosing the model (the nearest reference, by the domain's
`similarity`) over the suite's prompts, and how many of them go to the domain adapter."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

CHILD = """
import json, resource, sys
from hybrid_ai.backends.registry import build_backend
from hybrid_ai.policy import load_policy
p = load_policy(sys.argv[1]); weak = p.classifier.weak_tier; tier = p.tiers[weak]
if sys.argv[2] == "without":
    tier = tier.model_copy(update={"domain": None})
build_backend(weak, tier).warmup()
print(json.dumps({"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("policy")
    ap.add_argument("--suite", default=None, help="an eval suite whose prompts are routed (default: the bundled one)")
    args = ap.parse_args()
    for setting in ("without", "with"):
        got = subprocess.run([sys.executable, "-c", CHILD, args.policy, setting], capture_output=True, text=True)
        if got.returncode != 0:
            sys.exit(got.stderr[-2000:])
        rss = json.loads(got.stdout.strip().splitlines()[-1])["peak_rss_mib"]
        print(f"local tier {setting} its domain adapter: peak RSS after load {rss:,.0f} MiB")

    from hybrid_ai.evaluation import DEFAULT_SUITE
    from hybrid_ai.evaluation.evaluate import combined_suite
    from hybrid_ai.policy import load_policy
    from hybrid_ai.references import load_references
    from hybrid_ai.request import parse_request

    policy = load_policy(args.policy)
    domain = policy.tiers[policy.classifier.weak_tier].domain
    if domain is None:
        sys.exit(f"{args.policy}: the local tier has no domain")
    refs = load_references(domain.references, domain.min_similarity, domain.similarity, domain.embedding_model)
    prompts = [parse_request({"messages": item.messages}).question
               for item in combined_suite([args.suite or DEFAULT_SUITE], None)[0].items]
    refs.near("warm-up")  # the embedding model, when matching by meaning, is loaded by now
    t0 = time.perf_counter()
    near = sum(refs.near(p + " ") for p in prompts)  # " ": past its memo
    per = (time.perf_counter() - t0) / max(1, len(prompts))
    print(f"{len(prompts)} prompts of {args.suite or DEFAULT_SUITE}: {near} to the domain adapter "
          f"({domain.similarity} >= {domain.min_similarity:g}); "
          f"choosing took {per * 1e6:,.0f} us per request")


if __name__ == "__main__":
    main()
