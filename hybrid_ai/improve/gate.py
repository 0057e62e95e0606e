"""The gate: the candidate policy against the current one on the same items with the same grader, and the
forgetting check on a general set. Figures come from `hybrid-ai eval`'s own sweep: at the target quality
(a share of all-cloud quality), the share of requests kept local and the cost and energy saved; the cost saving's
difference gets a paired bootstrap 95% interval (the same resampled items for both)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

BOOTSTRAP = 500


class JudgeBudget:
    """The LLM judge's spend over one run's evals (`--judge llm`, `--judge-max-usd`): each eval may spend what the
    ones before it left. Verdicts are cached, so an answer judged once is not paid for again."""

    def __init__(self, max_usd: float):
        self.max_usd, self.spent_usd, self.calls, self.model = max_usd, 0.0, 0, None

    def add(self, result: dict) -> None:
        j = result.get("judge") or {}
        self.spent_usd += j.get("spent_usd", 0.0)
        self.calls += j.get("calls", 0)
        self.model = j.get("model", self.model)

    def summary(self) -> dict[str, Any]:
        return {"grader": "llm", "model": self.model, "calls": self.calls, "spent_usd": round(self.spent_usd, 6),
                "max_usd": self.max_usd}


def evaluate(policy: str, suite: Path, cache: Path, target: float, progress=None,
             judge: JudgeBudget | None = None) -> dict:
    """`hybrid-ai eval` of one policy on one suite, the cloud replayed (a gate set's teacher answers stand in);
    with `judge`, the suite's `judge` items graded by the cloud tier live, within what is left of its budget."""
    from ..evaluation.evaluate import EvalConfig, run_eval

    result = run_eval(EvalConfig(policy=policy, suites=[str(suite)], target_quality=target, cloud="replay",
                                 cache=str(cache), judge=judge is not None,
                                 judge_max_usd=max(0.0, judge.max_usd - judge.spent_usd) if judge else None), progress)
    if judge is not None:
        judge.add(result)
    return result


def unscored(result: dict) -> int:
    """Answers the judge gave no verdict on (its budget spent, or it failed): they count as wrong."""
    return sum(result["tiers"][k].get("judge_unscored", 0) for k in ("local", "cloud"))


def _cascade(result: dict) -> bool:
    return result["policy"].get("mode") == "cascade"


def _at_target(rows: list[dict], target: float, cascade: bool = False) -> dict[str, Any]:
    """The figures at the target: on the router's curve, or for a cascade-mode policy on the 2-D sweep of both
    thresholds (the router's and the answer check's)."""
    from ..evaluation import cascade_sweep, sweep

    base = sweep.baselines(rows, seeds=1)
    points = cascade_sweep.points(rows) if cascade else sweep.curve(rows)
    chosen = sweep.choose(points, base["all_cloud"], target_quality=target)  # type: ignore[arg-type]
    out: dict[str, Any] = {"all_local_quality": base["all_local"].quality, "all_cloud_quality": base["all_cloud"].quality}
    if chosen is None:  # not even all-cloud meets it (an all-cloud quality of 0)
        return {**out, "local_share": 0.0, "quality_retention": None, "cost_saving": 0.0, "energy_saving": 0.0}
    s = sweep.summary(chosen, base["all_cloud"])
    return {**out, **{k: s[k] for k in ("local_share", "quality_retention", "cost_saving", "energy_saving")}}


def figures(result: dict, target: float) -> dict[str, Any]:
    """The gate's figures of one eval result, at the target quality."""
    return _at_target(result["items"], target, _cascade(result))


def served(result: dict) -> dict[str, Any]:
    """The figures at the policy's own threshold: what serving it does (not the best threshold for the set)."""
    s = _policy_point(result)
    return {k: s.get(k) for k in ("local_share", "quality_retention", "cost_saving", "energy_saving", "threshold")}


def _policy_point(result: dict) -> dict[str, Any]:
    from ..evaluation import sweep

    all_cloud = sweep.Point(**result["baselines"]["all_cloud"])
    if _cascade(result) and (result.get("cascade") or {}).get("current"):
        from ..evaluation.cascade_sweep import CascadePoint

        return sweep.summary(CascadePoint(**result["cascade"]["current"]), all_cloud)  # type: ignore[arg-type]
    return sweep.summary(sweep.Point(**result["current"]), all_cloud)


def bootstrap(candidate: dict, current: dict, target: float, n: int = BOOTSTRAP, seed: int = 0) -> dict[str, float]:
    """Mean and 95% interval of the candidate's cost saving minus the current one's (two eval results), items
    resampled in pairs."""
    cand, cur = candidate["items"], current["items"]
    assert len(cand) == len(cur)
    rng = random.Random(seed)
    diffs = []
    for _ in range(n):
        idx = [rng.randrange(len(cand)) for _ in cand]
        a = _at_target([cand[i] for i in idx], target, _cascade(candidate))["cost_saving"] or 0.0
        b = _at_target([cur[i] for i in idx], target, _cascade(current))["cost_saving"] or 0.0
        diffs.append(a - b)
    diffs.sort()
    return {"mean": sum(diffs) / n, "low": diffs[int(0.025 * n)], "high": diffs[int(0.975 * n) - 1]}


def verdict(candidate: dict, current: dict, interval: dict, general: dict, target: float,
            margin: float) -> tuple[bool, str]:
    """(promote?, why): the candidate keeps the target quality, saves more than the current policy with the
    interval clear of zero, and loses at most `margin` of local quality on the general set."""
    kept = candidate["quality_retention"]
    if kept is None or kept < target - 1e-9:
        return False, f"the candidate keeps {kept or 0:.1%} of all-cloud quality on the gate set (target {target:.0%})"
    served = (candidate.get("as_served") or {}).get("quality_retention")
    if served is not None and served < target - 1e-9:
        return False, (f"at the threshold calibrated on the training side the candidate keeps {served:.1%} of "
                       f"all-cloud quality on the gate set (target {target:.0%})")
    if interval["low"] <= 0:
        return False, (f"the candidate does not save more than the current policy beyond doubt: cost saving "
                       f"{candidate['cost_saving'] or 0:.1%} against {current['cost_saving'] or 0:.1%}, difference "
                       f"95% interval [{interval['low']:+.1%}, {interval['high']:+.1%}] "
                       f"{'includes 0' if interval['high'] >= 0 else 'is below 0'}")
    before, after = general.get("before"), general.get("after")
    if before is not None and after is not None and after < before - margin:
        return False, (f"the candidate forgets: local quality on the general set {before:.1%} -> {after:.1%} "
                       f"(more than {margin:.0%} lower)")
    return True, (f"cost saving {current['cost_saving'] or 0:.1%} -> {candidate['cost_saving'] or 0:.1%} "
                  f"(interval [{interval['low']:+.1%}, {interval['high']:+.1%}]) at {kept:.1%} of all-cloud quality")


def borrowed(items: list[dict], trained: set[str]) -> dict[str, Any]:
    """Facts or sentences: of the candidate's wrong local answers on the gate set, how many are a training answer
    word for word (the adapter answered with another question's sentence)."""
    wrong = [r for r in items if r["local"]["quality"] < 1.0 and r["local"]["answer"]]
    same = sum(" ".join(r["local"]["answer"].lower().split()) in trained for r in wrong)
    return {"wrong": len(wrong), "a_training_answer": same, "share": same / len(wrong) if wrong else None}
