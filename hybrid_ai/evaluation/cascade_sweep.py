"""The 2-D sweep of cascade mode: both thresholds at once, offline, from the same per-item answers as sweep.py.

A row needs `verify` too: the verifier's P(not good enough) for its local answer. At (route threshold tr, verify
threshold tv), as the client does it: a forced row goes where its rule says; score >= tr goes to the cloud
(falling back to local if it failed and may); otherwise the local answer is tried; a failed one falls back as in
sweep.py, and a kept one with verify >= tv is escalated: the cloud answers, and the row pays both tiers' cost,
energy and latency. `cloud_share` is the share of rows the cloud answered (direct or escalated).

The grid: up to 41 route and 41 verify thresholds (quantiles of the scores, plus one above the maximum: never
to the cloud / never escalate). The frontier: the points no other point beats on both cloud share and quality."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRID = 41


@dataclass(frozen=True)
class CascadePoint:
    threshold: float  # the prompt router's: at or above it, straight to the cloud
    verify_threshold: float  # the verifier's: at or above it, a local answer is escalated
    cloud_share: float
    escalated_share: float
    quality: float
    cost_usd: float | None
    energy_wh: float | None
    latency_s: float | None


class _Columns:
    def __init__(self, rows: list[dict]):
        def col(tier, field):
            vals = [r[tier][field] for r in rows]
            return None if any(v is None for v in vals) else np.array(vals, dtype=float)

        self.n = len(rows)
        self.score = np.array([r["score"] for r in rows], dtype=float)
        self.verify = np.array([r["verify"] for r in rows], dtype=float)
        self.forced_cloud = np.array([r.get("forced") == "cloud" for r in rows])
        self.forced_local = np.array([r.get("forced") == "local" for r in rows])
        self.q = {t: np.array([r[t]["quality"] for r in rows], dtype=float) for t in ("local", "cloud")}
        self.err = {t: np.array([bool(r[t].get("error")) for r in rows]) for t in ("local", "cloud")}
        self.may = {t: np.array([o in r.get("fallback", {}).get(t, ()) for r in rows])
                    for t, o in (("local", "cloud"), ("cloud", "local"))}
        self.m = {(t, f): col(t, f) for t in ("local", "cloud") for f in ("cost_usd", "energy_wh", "latency_s")}


def _point(c: _Columns, tr: float, tv: float) -> CascadePoint:
    direct = c.forced_cloud | (~c.forced_local & (c.score >= tr))
    local_first = ~direct
    local_failed = local_first & c.err["local"] & c.may["local"]
    # a rule's route is never escalated, nor a local answer with nowhere to go; a failed one falls back instead
    checked = local_first & ~c.forced_local & ~c.err["local"] & c.may["local"]
    escalated = checked & (c.verify >= tv)
    cloud_failed = direct & c.err["cloud"] & c.may["cloud"]
    uses_local = local_first | cloud_failed
    uses_cloud = direct | local_failed | escalated
    by_cloud = (direct & ~cloud_failed) | local_failed | escalated
    quality = np.where(by_cloud, c.q["cloud"], c.q["local"]).mean()

    def total(field):
        lo, cl = c.m[("local", field)], c.m[("cloud", field)]
        if lo is None or cl is None:
            return None
        return float((lo * uses_local).sum() + (cl * uses_cloud).sum())

    latency = total("latency_s")
    return CascadePoint(float(tr), float(tv), float(by_cloud.mean()), float(escalated.mean()), float(quality),
                        total("cost_usd"), total("energy_wh"), None if latency is None else latency / c.n)


def _grid(values: np.ndarray) -> list[float]:
    return sorted(set(np.quantile(values, np.linspace(0, 1, GRID)).tolist())) + [float("inf")]


def points(rows: list[dict]) -> list[CascadePoint]:
    c = _Columns(rows)
    return [_point(c, tr, tv) for tr in _grid(c.score) for tv in _grid(c.verify)]


def frontier(pts: list[CascadePoint]) -> list[CascadePoint]:
    """The points with the best quality for their cloud share (and the lower cost at equal share and quality)."""
    best: list[CascadePoint] = []
    for p in sorted(pts, key=lambda p: (p.cloud_share, -p.quality, p.cost_usd or 0.0)):
        if not best or p.quality > best[-1].quality + 1e-12:
            best.append(p)
    return best


def at(rows: list[dict], threshold: float, verify_threshold: float) -> CascadePoint:
    return _point(_Columns(rows), threshold, verify_threshold)


def section(rows: list[dict], targets: dict, all_cloud, policy) -> dict:
    """The report's cascade section: the frontier, the point chosen for the target (sweep.choose's rules), its
    summary against all-cloud, and where the policy's own thresholds land when it is in cascade mode."""
    from dataclasses import asdict
    from typing import cast

    from . import sweep

    pts = points(rows)
    chosen = cast("CascadePoint | None", sweep.choose(pts, all_cloud, **targets))  # type: ignore[arg-type]
    out = {"frontier": [asdict(p) for p in frontier(pts)], "chosen": asdict(chosen) if chosen else None,
           "summary": {**sweep.summary(chosen, all_cloud), "verify_threshold": chosen.verify_threshold,  # type: ignore[arg-type]
                       "escalated_share": chosen.escalated_share} if chosen else None}
    c = policy.classifier
    if c.mode == "cascade":
        out["current"] = asdict(at(rows, c.threshold, c.verifier.threshold))
    return out
