"""How the bundled route-only policy's threshold is chosen: for >= 95% of all-cloud quality on data it was not chosen
on, with the shipped router and the shipped local engine.

    .venv/bin/hybrid-ai eval --policy route-only --out /tmp/eval-default       # the default suite
    .venv/bin/hybrid-ai eval --policy route-only --suite gsm8k-sample --suite mmlu-sample --out /tmp/eval-other
    .venv/bin/python benchmarks/default_threshold.py /tmp/eval-default/report.json /tmp/eval-other/report.json

For each in-sample target (the fraction of all-cloud quality a threshold must keep on the data it is chosen on), it
prints the held-out estimate: 5-fold cross-validation over the default suite, 20 shuffles, the threshold chosen on
the other four folds plus the other suites, and graded on the fifth. The policy's is the threshold of the lowest
in-sample target whose held-out retention is >= 95% on average and >= 94% in every shuffle, chosen on all the data.
Then what that threshold keeps and saves on the default suite."""

from __future__ import annotations

import json
import random
import sys

from hybrid_ai.evaluation import sweep

TARGETS = (0.95, 0.96, 0.97, 0.98, 0.99, 1.0)


def choose(rows: list[dict], target: float) -> float:
    chosen = sweep.choose(sweep.curve(rows), sweep.baselines(rows)["all_cloud"], target_quality=target)
    return chosen.threshold if chosen is not None else 0.0


def held_out(default: list[dict], other: list[dict], target: float, shuffles: int = 20, fit=None,
             grade=None) -> list[tuple[float, float]]:
    """(retention, local share) of each shuffle's cross-validated thresholds on the default suite: chosen by
    `fit(rows, target)` on four folds plus `other`, graded by `grade(rows, thresholds)` (a sweep point) on the fifth.
    By default the route-mode threshold (choose, sweep.at_threshold)."""
    fit = fit or choose
    grade = grade or sweep.at_threshold
    out = []
    for seed in range(shuffles):
        idx = list(range(len(default)))
        random.Random(seed).shuffle(idx)
        quality = cloud_quality = local = 0.0
        for k in range(5):
            test_ids = set(idx[k::5])
            test = [default[i] for i in sorted(test_ids)]
            train = [default[i] for i in idx if i not in test_ids] + other
            p = grade(test, fit(train, target))
            quality += p.quality * len(test)
            cloud_quality += sweep.baselines(test)["all_cloud"].quality * len(test)
            local += (1 - p.cloud_share) * len(test)
        out.append((quality / cloud_quality, local / len(default)))
    return out


def ladder(default: list[dict], other: list[dict], fit=None, grade=None, title: str = "") -> tuple | None:
    """Prints the held-out retention of each in-sample target and returns (target, thresholds chosen on all the
    data) for the lowest target that keeps >= 95% held out on average and >= 94% in every shuffle, else None."""
    from rich.console import Console
    from rich.table import Table

    fit = fit or choose
    t = Table(title=title or "Held-out retention on the default suite by in-sample target (5-fold CV x 20 shuffles)")
    for col in ("in-sample target", "held-out retention (mean)", "min over shuffles", "local share (mean)",
                "thresholds on all data"):
        t.add_column(col)
    pick = None
    for target in TARGETS:
        res = held_out(default, other, target, fit=fit, grade=grade)
        mean, worst = sum(r[0] for r in res) / len(res), min(r[0] for r in res)
        chosen = fit(default + other, target)
        t.add_row(f"{target:.2f}", f"{mean:.1%}", f"{worst:.1%}", f"{sum(r[1] for r in res) / len(res):.1%}",
                  ", ".join(f"{x:.6f}" for x in (chosen if isinstance(chosen, tuple) else (chosen,))))
        if pick is None and mean >= 0.95 and worst >= 0.94:
            pick = (target, chosen)
    Console().print(t)
    return pick


def main() -> None:
    default = json.load(open(sys.argv[1]))["items"]
    other = json.load(open(sys.argv[2]))["items"]
    pick = ladder(default, other)
    if pick is None:
        print("no target keeps 95% held out")
        return
    threshold = pick[1]
    base = sweep.baselines(default)["all_cloud"]
    p = sweep.at_threshold(default, threshold)
    summary = {"threshold": round(threshold, 6), "local_share": 1 - p.cloud_share,
               "quality_retention": p.quality / base.quality, "cost_saving": 1 - p.cost_usd / base.cost_usd,
               "energy_saving": 1 - p.energy_wh / base.energy_wh}
    print(f"default threshold {threshold:.6f}: on the default suite {summary['local_share']:.1%} local, "
          f"{summary['quality_retention']:.1%} of all-cloud quality, cost saving {summary['cost_saving']:.1%}, "
          f"energy saving {summary['energy_saving']:.1%}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
