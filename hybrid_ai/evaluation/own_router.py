"""A router trained on the suite's own outcomes, scored out-of-fold: what calibrating the classifier on *your*
traffic would give, next to the policy's router, without scoring any item with a model that saw it.

Each item's outcome is (local quality, cloud quality); `routing.train.out_of_fold` trains on K-1 folds
(stratified by the item's first tag) and scores the held-out fold. The threshold is then chosen on the same items,
as it is for the policy's router. Needs the `train` extra (scikit-learn) and enough items (20+ per training fold
and both right and wrong local answers); otherwise it is skipped with the reason."""

from __future__ import annotations

import json
from dataclasses import asdict, astuple

from ..errors import HybridAIError
from . import sweep


def cross_validated(rows: list[dict], folds: int, targets: dict, all_cloud, memo=None) -> dict:
    """`memo(key, compute)`: where the out-of-fold scores are kept (the eval's answer cache), so a re-run of the
    same items trains nothing."""
    from ..learning.data import Outcome, messages_text

    if folds < 2:
        return {"skipped": "--router-folds 0"}
    need = -(-20 * folds // (folds - 1))  # each training fold needs 20 rows
    if len(rows) < need:
        return {"skipped": f"{len(rows)} items; {folds}-fold training needs at least {need}"}
    def outcome(r: dict) -> Outcome:
        text, n = messages_text(r["messages"], str(r.get("id", "eval item")))
        return Outcome(text, r["local"]["quality"], r["cloud"]["quality"], (r["tags"] or ["-"])[0], n)

    outcomes = [outcome(r) for r in rows]
    if len({o.weak >= 0.5 for o in outcomes}) < 2:
        return {"skipped": "the local tier was right on every item or on none: nothing to learn"}
    try:
        from ..learning.train import out_of_fold

        # tags are strata of one traffic: their levels count (no centring), and a suite has too few items per
        # tag for the nested group classifier of the group prior (on the default suite it lowered the local share)
        key = json.dumps(["own-router-oof", folds, [astuple(o) for o in outcomes]], default=str)
        scores = memo(key, lambda: out_of_fold(outcomes, folds, center=False, group_prior=False)) if memo \
            else out_of_fold(outcomes, folds, center=False, group_prior=False)
    except (HybridAIError, ValueError) as e:
        return {"skipped": f"training failed: {e}"}
    scored = [{**r, "score": s} for r, s in zip(rows, scores)]
    curve = sweep.curve(scored)
    chosen = sweep.choose(curve, all_cloud, **targets)
    return {"folds": folds, "scores": scores, "curve": [asdict(p) for p in curve],
            "chosen": asdict(chosen) if chosen else None,
            "summary": sweep.summary(chosen, all_cloud) if chosen else None}
