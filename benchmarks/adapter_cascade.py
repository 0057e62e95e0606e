"""The `cascade-adapter` policy's thresholds, chosen on the outcome corpus's dev split (held out) for 95% of
all-cloud quality, and what they keep on the test split, next to the `cascade` policy (base model) on the same
requests.

    bash scripts/build_corpus.sh && bash scripts/build_adapter.sh      # base and adapted answers, both verifiers
    .venv/bin/python benchmarks/adapter_cascade.py ~/.cache/hybrid-ai/corpus/eval/report.json \\
        ~/.cache/hybrid-ai/corpus/eval-adapter/report.json

Each report's `score` is the shipped prompt router's; the verifiers are the shipped files the two policies name."""

from __future__ import annotations

import sys
from pathlib import Path

from slm_router import TARGET, rows_of

from hybrid_ai.evaluation import cascade_sweep, sweep
from hybrid_ai.policy import load_policy
from hybrid_ai.routing.verifier import DEFAULT_VERIFIER, load_verifier


def scored(report: str, verifier: str) -> dict[str, list[dict]]:
    v = load_verifier(verifier)
    rows = [{**r, "verify": v.score_text(r["text"], r["answer"], r["n_messages"])} for r in rows_of(Path(report))]
    return {s: [r for r in rows if r["split"] == s] for s in ("dev", "test")}


def at(rows: list[dict], t_route: float, t_verify: float) -> str:
    got, cloud = cascade_sweep.at(rows, t_route, t_verify), sweep.baselines(rows)["all_cloud"]
    return (f"local {1 - got.cloud_share:.1%}, retention {got.quality / cloud.quality:.1%}, cost saving "
            f"{1 - got.cost_usd / cloud.cost_usd:.1%}, energy saving {1 - got.energy_wh / cloud.energy_wh:.1%}")


def main() -> None:
    base_report, adapter_report = sys.argv[1:3]
    tuned = load_policy("cascade-adapter")
    adapted = scored(adapter_report, tuned.classifier.verifier.model)
    dev = adapted["dev"]
    p = sweep.choose(cascade_sweep.points(dev), sweep.baselines(dev)["all_cloud"], target_quality=TARGET)
    print(f"cascade-adapter thresholds chosen on dev ({len(dev)} requests): router {p.threshold:.4f}, verifier "
          f"{p.verify_threshold:.4f} (the policy file: {tuned.classifier.threshold}, "
          f"{tuned.classifier.verifier.threshold})")
    print(f"  on the test split ({len(adapted['test'])}): {at(adapted['test'], p.threshold, p.verify_threshold)}")
    cascade = load_policy("cascade").classifier
    base = scored(base_report, str(DEFAULT_VERIFIER))
    print(f"cascade (base model) at its thresholds on the test split: "
          f"{at(base['test'], cascade.threshold, cascade.verifier.threshold)}")


if __name__ == "__main__":
    main()
