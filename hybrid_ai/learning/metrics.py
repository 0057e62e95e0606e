"""Router metrics exactly as defined in data/routellm/README.md of the repository (RouteLLM, arXiv 2406.18665).

A score per prompt; "strong" where score >= threshold. Thresholds: the 11 edges of 10 equal-count bins
of the scores (pandas qcut, i.e. the 0, 10, ..., 100% quantiles); the last edge uses ">" instead of ">=".
Each threshold gives (% strong calls, mean quality of the mixed answers). APGR: area under that curve over
0..100% normalised by the weak and strong areas (trapezoid rule). CPT(x): strong-call % needed to recover
x of the weak-to-strong gap (linear interpolation on the curve)."""

from __future__ import annotations

import random
from collections.abc import Sequence


def _quantile_edges(scores: Sequence[float], bins: int = 10) -> list[float]:
    s = sorted(scores)
    n = len(s)
    edges = []
    for k in range(bins + 1):  # linear interpolation, as numpy / pandas
        pos = (n - 1) * k / bins
        lo = int(pos)
        hi = min(lo + 1, n - 1)
        edges.append(s[lo] + (s[hi] - s[lo]) * (pos - lo))
    return edges


def curve(scores, weak, strong) -> list[tuple[float, float]]:
    """[(strong-call %, quality)] sorted by strong-call %."""
    n = len(scores)
    edges = _quantile_edges(scores)
    pts = []
    for i, t in enumerate(edges):
        last = i == len(edges) - 1
        routed = [(s > t) if last else (s >= t) for s in scores]
        q = sum(st if r else wk for r, st, wk in zip(routed, strong, weak)) / n
        pts.append((100.0 * sum(routed) / n, q))
    return sorted(pts)


def _auc(pts) -> float:
    return sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in zip(pts, pts[1:]))


def apgr(pts, weak_q: float, strong_q: float) -> float:
    full = [(0.0, pts[0][1])] + pts if pts[0][0] > 0 else pts
    full = full + [(100.0, full[-1][1])] if full[-1][0] < 100 else full
    return (_auc(full) - weak_q * 100) / ((strong_q - weak_q) * 100)


def cpt(pts, weak_q: float, strong_q: float, x: float) -> float | None:
    target = weak_q + x * (strong_q - weak_q)
    prev = None
    for p in pts:
        if p[1] >= target:
            if prev is None or p[1] == prev[1]:
                return p[0]
            return prev[0] + (target - prev[1]) * (p[0] - prev[0]) / (p[1] - prev[1])
        prev = p
    return None


def summarize(scores, weak, strong) -> dict:
    n = len(scores)
    wq, sq = sum(weak) / n, sum(strong) / n
    pts = curve(scores, weak, strong)
    return {"apgr": apgr(pts, wq, sq), "cpt50": cpt(pts, wq, sq, 0.5), "cpt80": cpt(pts, wq, sq, 0.8),
            "curve": [{"strong_pct": x, "quality": q} for x, q in pts]}


def evaluate(scores, weak, strong, prompts, seeds: int = 10) -> dict:
    """The router's metrics next to random (mean of `seeds` seeds), prompt length and the oracle."""
    n = len(scores)
    if n < 10:
        raise ValueError(f"need at least 10 rows to evaluate, got {n}")
    wq, sq = sum(weak) / n, sum(strong) / n
    out = {"rows": n, "weak_quality": wq, "strong_quality": sq, "router": summarize(scores, weak, strong)}
    rnd = [summarize(_uniform(seed, n), weak, strong) for seed in range(seeds)]
    out["random"] = {k: _mean([r[k] for r in rnd]) for k in ("apgr", "cpt50", "cpt80")}
    out["length"] = summarize([float(len(p)) for p in prompts], weak, strong)
    out["oracle"] = summarize([1.0 if (w < s) else 0.0 for w, s in zip(weak, strong)], weak, strong)
    for k in ("length", "oracle"):
        out[k].pop("curve")
    return out


def auc(high: Sequence[float], low: Sequence[float]) -> float:
    """P(a score from `high` > a score from `low`), ties counting half: how well a router separates two sets."""
    return sum((h > lo) + 0.5 * (h == lo) for h in high for lo in low) / (len(high) * len(low))


def _uniform(seed: int, n: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.random() for _ in range(n)]


def _mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None
