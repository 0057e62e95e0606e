"""The threshold sweep: given each item's router score and what each tier's answer scored and cost, evaluate
every threshold offline (no model runs) and the baselines on the same items.

A row per item: `score`, and per tier (`local`, `cloud`) its `quality` (grade in [0, 1]), `cost_usd`,
`energy_wh` and `latency_s` (None where unknown: totals then count it as missing, never as 0).
Routing: cloud where score >= threshold, except where a hard rule of the policy forces the route (`forced`:
"local" / "cloud" / None; e.g. personal data stays local), as the client would. Thresholds: every distinct score,
plus one above the maximum, so the curve runs from the fewest to the most cloud calls the rules allow. The
baselines (all-local, all-cloud, random, oracle) ignore the rules: they are what the tiers alone would give.

Fallback, as the client's chain does it: a routed answer that failed (`error` set) is answered by the other tier
where the row allows it (`fallback`: the tiers the decision would try after the first, by route), and the row then
counts both tiers' cost, energy and latency. Baselines do not fall back: a tier alone is a tier alone."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Point:
    threshold: float
    cloud_share: float
    quality: float
    cost_usd: float | None
    energy_wh: float | None
    latency_s: float | None


def _answered(row: dict, cloud: bool, fallback: bool) -> list[dict]:
    """The answers a routed row costs: the first tier's, and the other's when the first failed and may fall back."""
    first, other = ("cloud", "local") if cloud else ("local", "cloud")
    if fallback and row[first].get("error") and other in row.get("fallback", {}).get(first, ()):
        return [row[first], row[other]]
    return [row[first]]


def _mix(rows, to_cloud: list[bool], threshold: float, fallback: bool = False) -> Point:
    n = len(rows)
    used = [_answered(r, c, fallback) for r, c in zip(rows, to_cloud)]

    def total(field):
        vals = [a[field] for answers in used for a in answers]
        return None if any(v is None for v in vals) else sum(vals)

    quality = sum(answers[-1]["quality"] for answers in used) / n
    latency = total("latency_s")
    return Point(threshold, sum(to_cloud) / n, quality, total("cost_usd"), total("energy_wh"),
                 None if latency is None else latency / n)


def routed(rows, threshold: float) -> list[bool]:
    """Per row: goes to the cloud at this threshold (a forced route wins)."""
    return [r.get("forced") == "cloud" or (r.get("forced") is None and r["score"] >= threshold) for r in rows]


def curve(rows: list[dict]) -> list[Point]:
    thresholds = sorted({r["score"] for r in rows}) + [float("inf")]
    return sorted((_mix(rows, routed(rows, t), t, fallback=True) for t in thresholds), key=lambda p: p.cloud_share)


def at_threshold(rows: list[dict], threshold: float) -> Point:
    """The point a given threshold (e.g. the policy's current one) gives."""
    return _mix(rows, routed(rows, threshold), threshold, fallback=True)


def summary(point: Point, all_cloud: Point) -> dict:
    """The point as fractions of the all-cloud figures (None where a figure is unknown or all-cloud's is 0)."""
    def saving(field):
        a, b = getattr(point, field), getattr(all_cloud, field)
        return None if a is None or not b else 1 - a / b

    return {"quality_retention": point.quality / all_cloud.quality if all_cloud.quality else None,
            "local_share": 1 - point.cloud_share, "cost_saving": saving("cost_usd"),
            "energy_saving": saving("energy_wh"), "latency_saving": saving("latency_s"),
            "threshold": point.threshold, "quality": point.quality, "all_cloud_quality": all_cloud.quality}


def baselines(rows: list[dict], seeds: int = 10) -> dict:
    n = len(rows)
    out: dict = {"all_local": _mix(rows, [False] * n, float("inf")), "all_cloud": _mix(rows, [True] * n, 0.0)}
    out["oracle"] = _mix(rows, [r["cloud"]["quality"] > r["local"]["quality"] for r in rows], float("nan"))
    rnd = []
    for k in range(0, 11):  # random routing at 0, 10, ..., 100% cloud, averaged over seeds
        pts = [_mix(rows, _random_mask(n, k / 10, seed), float("nan")) for seed in range(seeds)]
        rnd.append(Point(float("nan"), k / 10, sum(p.quality for p in pts) / seeds,
                         *(_mean([getattr(p, f) for p in pts]) for f in ("cost_usd", "energy_wh", "latency_s"))))
    out["random"] = rnd
    return out


def _random_mask(n: int, share: float, seed: int) -> list[bool]:
    chosen = set(random.Random(seed).sample(range(n), round(share * n)))
    return [i in chosen for i in range(n)]


def _mean(xs):
    return None if any(x is None for x in xs) else sum(xs) / len(xs)


def choose(points: list[Point], all_cloud: Point, *, target_quality: float | None = None,
           cloud_share: float | None = None, budget_usd: float | None = None) -> Point | None:
    """The cheapest point (fewest cloud calls) meeting the target; None if none does.
    target_quality: fraction of all-cloud quality to keep; cloud_share: at most this share to the cloud;
    budget_usd: total cost at most this (the point with the best quality within it)."""
    if target_quality is not None:
        ok = [p for p in points if p.quality >= target_quality * all_cloud.quality - 1e-12]
        return min(ok, key=lambda p: p.cloud_share) if ok else None
    if cloud_share is not None:
        ok = [p for p in points if p.cloud_share <= cloud_share + 1e-12]
        return max(ok, key=lambda p: (p.quality, -p.cloud_share)) if ok else None
    if budget_usd is not None:
        ok = [p for p in points if p.cost_usd is not None and p.cost_usd <= budget_usd]
        return max(ok, key=lambda p: (p.quality, -p.cloud_share)) if ok else None
    raise ValueError("give one of target_quality, cloud_share, budget_usd")
