"""The `cascade-adapter` policy's thresholds, chosen on the outcome corpus's dev split (held out) for 95% of
all-cloud quality, and what they keep on the test split, next to the `cascade` policy (base model) on the same
requests.

    bash scripts/build_corpus.sh && bash scripts/build_adapter.sh      # base and adapted answers, both verifiers
    .venv/bin/python benchmarks/adapter_cascade.py ~/.cache/hybrid-ai/corpus/eval/report.json \\
        ~/.cache/hybrid-ai/corpus/eval-adapter/report.json

Each report's `score` is the shipped prompt router's; the verifiers are the shipped files the two policies name.

With `--cv SUITE_REPORT` (`hybrid-ai eval --policy cascade-adapter --out DIR`: DIR/report.json) it also estimates
what calibrating on a suite gives on requests it was not calibrated on: both thresholds chosen for 95% on four
fifths of the suite, graded on the fifth (5 folds, 20 shuffles), as `benchmarks/default_threshold.py` does for the
default policy."""

from __future__ import annotations

import json
import random
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


def cross_validated(report: str, shuffles: int = 20) -> str:
    rows = [it for it in json.loads(Path(report).read_text())["items"]
            if not (it["local"]["unscored"] or it["cloud"]["unscored"])]
    shares, retentions = [], []
    for seed in range(shuffles):
        idx = list(range(len(rows)))
        random.Random(seed).shuffle(idx)
        quality = cloud_quality = local = 0.0
        for k in range(5):
            held = [rows[i] for i in idx[k::5]]
            fit = [rows[i] for i in idx if i not in set(idx[k::5])]
            p = sweep.choose(cascade_sweep.points(fit), sweep.baselines(fit)["all_cloud"], target_quality=TARGET)
            got = cascade_sweep.at(held, p.threshold, p.verify_threshold)
            quality += got.quality * len(held)
            cloud_quality += sweep.baselines(held)["all_cloud"].quality * len(held)
            local += (1 - got.cloud_share) * len(held)
        shares.append(local / len(rows))
        retentions.append(quality / cloud_quality)
    return (f"{len(rows)} requests, {shuffles} shuffles: local {sum(shares) / shuffles:.1%} (min {min(shares):.1%}), "
            f"retention {sum(retentions) / shuffles:.1%} (min {min(retentions):.1%})")


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
    if "--cv" in sys.argv:
        print(f"cascade-adapter calibrated on 4/5 of the suite, graded on the rest: "
              f"{cross_validated(sys.argv[sys.argv.index('--cv') + 1])}")


if __name__ == "__main__":
    main()
