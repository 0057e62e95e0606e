"""Is the local model's self-consistency a signal of a right answer (the AutoMix / semantic-entropy idea)? For each
request of an eval report, two sampled answers (temperature 0.7, seeds 7 and 8) are compared with the report's
greedy local answer (word-set Jaccard), and "disagreement" (1 - the mean overlap) is scored against the grade,
next to the shipped verifier and the two added together.

    .venv/bin/hybrid-ai eval --out /tmp/eval-default
    .venv/bin/python benchmarks/self_consistency.py /tmp/eval-default/report.json                 # ~1 minute
    .venv/bin/python benchmarks/self_consistency.py ~/.cache/hybrid-ai/corpus/eval/report.json 400  # test split

Session 12 (onnxruntime int8): AUROC of disagreement 0.556 on the default suite and 0.557 on 400 requests of the
corpus's test split, against the verifier's 0.841 and 0.851; added to the verifier it lowered both (0.825, 0.850),
so the cascade does not pay for a second generation."""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

from slm_router import auroc

WORD = re.compile(r"[a-z0-9]+")
SEEDS = (7, 8)


def overlap(a: str, b: str) -> float:
    x, y = set(WORD.findall(a.lower())), set(WORD.findall(b.lower()))
    return len(x & y) / max(1, len(x | y))


def main() -> None:
    from hybrid_ai.backends.onnx_backend import OnnxBackend, OnnxTier
    from hybrid_ai.config import Generation
    from hybrid_ai.policy import load_policy
    from hybrid_ai.request import parse_request
    from hybrid_ai.checks.verifier import DEFAULT_VERIFIER, load_verifier

    items = [it for it in json.loads(Path(sys.argv[1]).read_text())["items"] if not it["local"]["unscored"]
             and not it["id"].startswith(("corpus-train", "corpus-dev"))]  # the verifier trained on those
    if len(sys.argv) > 2:
        random.Random(0).shuffle(items)
        items = items[: int(sys.argv[2])]
    local = load_policy("route-only").tiers["local"]
    assert isinstance(local, OnnxTier), "the bundled default policy's local tier is the onnxruntime kind"
    backend = OnnxBackend("local", local)
    sampled = Generation(max_tokens=48, temperature=0.7, repetition_penalty=local.generation.repetition_penalty)
    verifier = load_verifier(str(DEFAULT_VERIFIER))
    wrong, disagree, verify = [], [], []
    for it in items:
        greedy = it["local"]["answer"] or ""
        outs = [backend.complete(parse_request({"messages": it["messages"], "seed": s}), sampled).text for s in SEEDS]
        wrong.append(it["local"]["quality"] < 1)
        disagree.append(1 - sum(overlap(greedy, o) for o in outs) / len(outs))
        text = "\n".join(m["content"] for m in it["messages"] if isinstance(m.get("content"), str))
        verify.append(verifier.score_text(text, greedy, len(it["messages"])))
    print(f"{len(items)} requests, {sum(wrong)} local answers wrong")
    print(f"AUROC 'local answer wrong': disagreement {auroc(disagree, wrong):.3f}, verifier {auroc(verify, wrong):.3f}, "
          f"verifier + disagreement {auroc([v + d for v, d in zip(verify, disagree)], wrong):.3f}, "
          f"verifier + half of it {auroc([v + d / 2 for v, d in zip(verify, disagree)], wrong):.3f}")


if __name__ == "__main__":
    main()
