"""Could a cascade stream sooner? The verifier reads a local answer before any of it is streamed (the time to first
token is the whole local answer's). This measures what verifying only the answer's start would keep: the first
sentence, or the first N words, scored by the policy's own verifier in place of the whole answer, then the same
2-D sweep the eval makes (quality is always the whole answer's grade).

    .venv/bin/hybrid-ai eval --policy default --out /tmp/eval-default
    .venv/bin/python benchmarks/cascade_prefix.py /tmp/eval-default/report.json

For each prefix it prints, at the policy's own thresholds (as served), the local share, quality retention against
all-cloud and cost saving; at the 95% target (the sweep's best point with this prefix's scores), the local share;
and on how many items the escalation decision equals the whole answer's."""

from __future__ import annotations

import json
import re
import sys

from hybrid_ai.checks.cascade import load_policy_verifier
from hybrid_ai.evaluation import cascade_sweep, sweep
from hybrid_ai.policy import load_policy

TARGET = 0.95


def first_sentence(answer: str) -> str:
    end = re.search(r"[.!?](\s|$)|\n", answer)
    return answer[: end.end()].strip() if end else answer


def first_words(n: int):
    return lambda answer: " ".join(answer.split()[:n])


PREFIXES = {"whole answer (as shipped)": lambda a: a, "first sentence": first_sentence,
            "first 8 words": first_words(8), "first 16 words": first_words(16)}


def main() -> None:
    report = json.loads(open(sys.argv[1]).read())
    policy = load_policy(report["policy"]["source"])
    verifier = load_policy_verifier(policy)
    if verifier is None:
        raise SystemExit(f"policy {policy.name} is not in cascade mode: nothing is held")
    rows = report["items"]
    tr, tv = policy.classifier.threshold, policy.classifier.verifier.threshold
    cloud = sweep.baselines(rows)["all_cloud"]

    def request(row: dict) -> str:
        return "\n".join(m["content"] for m in row["messages"] if m["role"] == "user")

    suites = ", ".join(s["name"] for s in report["suites"])
    print(f"{policy.name} on {len(rows)} items ({suites}); thresholds: router {tr}, verifier {tv}")
    print(f"{'verifier reads':28s} {'local':>7s} {'retention':>9s} {'cost saving':>11s} {'local @95%':>10s} "
          f"{'same decision':>13s}")
    whole = None
    for name, cut in PREFIXES.items():
        scored = [{**r, "verify": verifier.score_text(request(r), cut(r["local"]["answer"] or ""), len(r["messages"]))}
                  for r in rows]
        decisions = [r["verify"] >= tv for r in scored]
        whole = whole or decisions
        p = cascade_sweep.at(scored, tr, tv)
        ok = [q for q in cascade_sweep.points(scored) if q.quality >= TARGET * cloud.quality]
        best = min(ok, key=lambda q: (q.cloud_share, -q.quality)) if ok else None
        print(f"{name:28s} {1 - p.cloud_share:7.1%} {p.quality / cloud.quality:9.1%} "
              f"{1 - p.cost_usd / cloud.cost_usd:11.1%} {(1 - best.cloud_share) if best else float('nan'):10.1%} "
              f"{sum(a == b for a, b in zip(decisions, whole)):>8d} / {len(rows)}")


if __name__ == "__main__":
    main()
