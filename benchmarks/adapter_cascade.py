"""The `cascade-adapter` policy's thresholds, chosen on the outcome corpus's held-out splits (dev and test: 3,321
requests none of the router, the verifier or the adapter was trained on) for 95% of all-cloud quality, what each
split alone would choose and what that keeps on the other, next to the `cascade` policy (base model).

    bash scripts/build_corpus.sh && bash scripts/build_adapter.sh      # base and adapted answers, both verifiers
    .venv/bin/python benchmarks/adapter_cascade.py ~/.cache/hybrid-ai/corpus/eval/report.json \\
        ~/.cache/hybrid-ai/corpus/eval-adapter/report.json [--suite SUITE_REPORT] [--cv] [--cost-aware] \\
        [--router ROUTER.npz]

Each report's `score` is the shipped prompt router's; the verifiers are the shipped files the two policies name.

With `--suite SUITE_REPORT` (`hybrid-ai eval --policy cascade-adapter --out DIR`: DIR/report.json) it grades each
held-out choice on that suite, which none of them saw. With `--cv` it also tries calibrating on the suite itself,
as `benchmarks/default_threshold.py` does for the default policy: the lowest in-sample target whose thresholds,
chosen on four fifths of the suite, keep >= 95% on the fifth (5 folds, 20 shuffles). With `--cost-aware` it tries
budget routing (FrugalGPT's trade of quality for cost): an expensive request must look surer to be sent to the
cloud, so the 5% of quality given up is given up where the cloud costs most. With `--router R` the prompt router R
scores every request in the shipped one's place (for example one trained on the adapter's outcomes:
`hybrid-ai router train --data CORPUS/eval-adapter/outcomes-train.jsonl --label weak_wrong --out R`)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from default_threshold import ladder
from slm_router import TARGET, rows_of

from hybrid_ai.evaluation import cascade_sweep, sweep
from hybrid_ai.policy import load_policy
from hybrid_ai.routing.scorer import load_scorer
from hybrid_ai.checks.verifier import DEFAULT_VERIFIER, load_verifier


def scored(report: str, verifier: str) -> dict[str, list[dict]]:
    v = load_verifier(verifier)
    rows = [{**r, "verify": v.score_text(r["text"], r["answer"], r["n_messages"])} for r in rows_of(Path(report))]
    return {s: [r for r in rows if r["split"] == s] for s in ("dev", "test")}


def at(rows: list[dict], t_route: float, t_verify: float) -> str:
    got, cloud = cascade_sweep.at(rows, t_route, t_verify), sweep.baselines(rows)["all_cloud"]
    return (f"local {1 - got.cloud_share:.1%}, retention {got.quality / cloud.quality:.1%}, cost saving "
            f"{1 - got.cost_usd / cloud.cost_usd:.1%}, energy saving {1 - got.energy_wh / cloud.energy_wh:.1%}")


def fit(rows: list[dict], target: float) -> tuple[float, float]:
    """Both thresholds of the fewest-cloud point keeping `target` of all-cloud quality on these rows (everything to
    the cloud when none does)."""
    p = sweep.choose(cascade_sweep.points(rows), sweep.baselines(rows)["all_cloud"], target_quality=target)
    return (p.threshold, p.verify_threshold) if p else (0.0, 0.0)


def calibrated_on_suite(rows: list[dict]) -> str:
    pick = ladder(rows, [], fit=fit, grade=lambda held, th: cascade_sweep.at(held, *th),
                  title="cascade-adapter: held-out retention on the suite by in-sample target")
    if pick is None:
        return "no in-sample target keeps 95% held out"
    target, (t_route, t_verify) = pick
    return (f"calibrated on the suite (in-sample target {target:.2f}): router {t_route:.4f}, verifier {t_verify:.4f}; "
            f"on the whole suite {at(rows, t_route, t_verify)}")


def cost_aware(held: list[dict], suite: list[dict] | None) -> None:
    """FrugalGPT-style budget routing tried offline: both scores divided by (expected cloud cost / its median) ** a,
    so an expensive request needs a surer doubt to be sent to the cloud; thresholds chosen on `held` as above. The
    expected cost is the prompt's length (known before the call) or, as an upper bound for any cost predictor, the
    cloud answer's actual cost."""
    proxies = {"prompt length": lambda r: len(r["text"]), "actual cloud cost": lambda r: r["cloud"]["cost_usd"]}
    for name, proxy in proxies.items():
        ref = float(np.median([proxy(r) for r in held]))

        def warp(rows: list[dict], a: float) -> list[dict]:
            return [{**r, "score": r["score"] / w, "verify": r["verify"] / w}
                    for r in rows for w in [(max(proxy(r), 1e-9) / ref) ** a]]

        for a in (0.25, 0.5, 1.0):
            th = fit(warp(held, a), TARGET)
            line = f"cost-aware ({name}, a={a}): dev + test (chosen there) {at(warp(held, a), *th)}"
            print(line + (f"; suite {at(warp(suite, a), *th)}" if suite is not None else ""))


def main() -> None:
    base_report, adapter_report = sys.argv[1:3]
    tuned = load_policy("cascade-adapter")
    adapted = scored(adapter_report, tuned.classifier.verifier.model)
    suite = None
    if "--suite" in sys.argv:
        suite = rows_of(Path(sys.argv[sys.argv.index("--suite") + 1]))
    if "--router" in sys.argv:  # another prompt router in the policy's place, e.g. one fitted to the adapter
        router = load_scorer(sys.argv[sys.argv.index("--router") + 1])

        def rescored(rows: list[dict]) -> list[dict]:
            return [{**r, "score": router.score_text(r["text"])} for r in rows]

        adapted = {k: rescored(rows) for k, rows in adapted.items()}
        suite = suite and rescored(suite)
    choices = {"dev + test": adapted["dev"] + adapted["test"], "dev": adapted["dev"], "test": adapted["test"]}
    for name, rows in choices.items():
        t_route, t_verify = fit(rows, TARGET)
        print(f"cascade-adapter thresholds chosen on {name} ({len(rows)} requests): router {t_route:.4f}, "
              f"verifier {t_verify:.4f}")
        other = {"dev": "test", "test": "dev"}.get(name)
        if other:
            print(f"  on {other} ({len(adapted[other])}): {at(adapted[other], t_route, t_verify)}")
        if suite is not None:
            print(f"  on the suite ({len(suite)}): {at(suite, t_route, t_verify)}")
    c = tuned.classifier
    print(f"the policy file: router {c.threshold}, verifier {c.verifier.threshold}")
    cascade = load_policy("cascade").classifier
    base = scored(base_report, str(DEFAULT_VERIFIER))
    print(f"cascade (base model) at its thresholds on the test split: "
          f"{at(base['test'], cascade.threshold, cascade.verifier.threshold)}")
    if "--cost-aware" in sys.argv:
        cost_aware(choices["dev + test"], suite)
    if suite is not None and "--cv" in sys.argv:
        print(calibrated_on_suite(suite))


if __name__ == "__main__":
    main()
