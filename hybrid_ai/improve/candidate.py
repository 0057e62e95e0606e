"""The candidate policies `hybrid-ai improve` makes from the current one and the new adapter, their thresholds,
and how each is judged (calibration, gate, forgetting check)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from . import gate

# The reference check's threshold is calibrated, but never above the agreement grader's own line: an answer that
# does not agree with its nearest training answer is escalated. The calibration examples are the training
# questions' own kind, on which the candidate rarely errs, so calibration alone would stop checking (it did:
# 1.0 on the replayed support log, and the held-out suite then kept 66.7% of quality instead of 100%).
REFERENCE_CHECK_MAX = 0.5


def candidate_policy(source: str, policy, adapter: str, references: str | None = None,
                     domain: bool = True, similarity: str = "embedding", context: int = 0) -> dict[str, Any]:
    """The current policy's YAML with the local tier's adapter replaced (`adapter`, relative to the new version);
    every other path the policy names made absolute (the version lives elsewhere); no canary. With `references`
    (a file of the version): cascade mode checks each local answer against the nearest teacher answer, and with
    `domain` the new adapter is the tier's `domain` adapter, answering only the requests near those references
    (the tier's own adapter keeps answering everything else: nothing is forgotten there). Both match a request's
    question to the references by `similarity` (the policy's `min_similarity` kept where it names the same
    measure); `context`: the domain adapter was trained with that many known answers in its prompt, and gets
    them."""
    from ..config import MIN_SIMILARITY
    from ..policy import resolve_policy_path

    raw = yaml.safe_load(resolve_policy_path(source).read_text(encoding="utf-8"))
    weak = policy.classifier.weak_tier
    v = policy.classifier.verifier
    nearness = {"similarity": similarity, "min_similarity": v.min_similarity if v.similarity == similarity
                else MIN_SIMILARITY[similarity], **({"embedding_model": v.embedding_model} if v.embedding_model else {})}
    for name, tier in raw.get("tiers", {}).items():
        loaded = policy.tiers[name]
        if name == weak and references and domain:
            if tier.get("adapter"):
                tier["adapter"] = loaded.adapter
            tier["domain"] = {"adapter": adapter, "references": references, **nearness,
                              **({"context": context} if context else {})}
        elif name == weak:
            tier["adapter"] = adapter
            tier.pop("domain", None)
        else:
            if tier.get("adapter"):
                tier["adapter"] = getattr(loaded, "adapter", None)
            if tier.get("domain"):
                tier["domain"] = loaded.domain.model_dump()
    classifier = raw.get("classifier") or {}
    if classifier.get("model"):
        classifier["model"] = policy.classifier.model
    if (classifier.get("verifier") or {}).get("model"):
        classifier["verifier"]["model"] = policy.classifier.verifier.model
    raw.pop("canary", None)
    if references:  # the check starts at its cap (REFERENCE_CHECK_MAX); the verifier keeps its own threshold
        classifier = raw.setdefault("classifier", {})
        classifier["mode"] = "cascade"
        classifier.setdefault("verifier", {}).update(references=references, reference_threshold=REFERENCE_CHECK_MAX,
                                                     **nearness)
    return raw


def _set_thresholds(raw: dict[str, Any], chosen: dict[str, Any], checked: str | None) -> None:
    """The calibration's thresholds into the candidate's YAML. With references (`checked`: the candidate's policy
    file), only the reference check's own threshold: the calibration examples are all the domain's, which the
    router never scores and the verifier never reads, so the router's and the verifier's thresholds stay as the
    current policy serves the rest of the traffic (calibrated on them, the router's went from 0.88 to 0.02:
    every general request to the cloud)."""
    def clipped(key: str) -> float | None:
        value = chosen.get(key)
        return None if value is None or value != value else min(1.0, max(0.0, float(value)))  # NaN: none

    classifier = raw.setdefault("classifier", {})
    verifier = classifier.setdefault("verifier", {})
    threshold, verify = clipped("threshold"), clipped("verify_threshold")
    if checked is not None:
        from ..checks.reference import off_scale
        from ..policy import load_policy

        if verify is not None:  # chosen on the policy's scale (the check's scores are put on it)
            own = off_scale(verify, REFERENCE_CHECK_MAX, load_policy(checked).classifier.verifier.threshold)
            verifier["reference_threshold"] = min(own, REFERENCE_CHECK_MAX)
        return
    if threshold is not None:
        classifier["threshold"] = threshold
    if verify is not None:
        verifier["threshold"] = verify


def usable(chosen: dict[str, Any] | None) -> dict[str, Any] | None:
    """The calibration's point, unless there is none or it sends everything to the cloud: a few calibration
    examples (14 of 72) cannot show 95% unless the candidate is never wrong on them, and "never local" would then
    be written as the threshold. Then the policy's thresholds stay, and the gate set judges them as served."""
    if chosen is None or chosen.get("cloud_share", 0.0) >= 1.0 - 1e-9:
        return None
    return chosen


SHAPES = ("domain", "replaces")
SHAPE_WORDS = {"domain": "for the domain's requests only (tiers.local.domain)", "replaces": "for every request"}


def judge(console, raw: dict[str, Any], path: Path, calib_suite: Path | None, suite: Path, cache: Path,
          target: float, current_run: dict, general: dict, trained: set[str], refs: bool, margin: float,
          llm: gate.JudgeBudget | None = None) -> dict:
    """One candidate policy (written to `path`): its thresholds calibrated on the calibration examples, then the
    gate against the current policy's run (graded by the LLM judge within its budget, with `llm`), and the
    forgetting check."""
    def write() -> None:
        path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")

    write()
    if calib_suite is not None:  # on the training side's calibration examples (not trained on; the gate set unseen)
        fitted = gate.evaluate(str(path), calib_suite, cache, target)
        chosen = usable((fitted.get("cascade") or {}).get("chosen") if refs else fitted.get("chosen"))
        if chosen is None:
            console.print(f"threshold: no point keeps {target:.0%} on the calibration examples but all cloud; the "
                          f"policy's thresholds are kept and the gate decides")
        _set_thresholds(raw, chosen or {}, str(path) if refs else None)
        write()
    ran = gate.evaluate(str(path), suite, cache, target, judge=llm)
    figures = {**gate.figures(ran, target), "as_served": gate.served(ran)}
    current = {**gate.figures(current_run, target), "as_served": gate.served(current_run)}
    interval = gate.bootstrap(ran, current_run, target)
    after = None
    if general["suite"] != "none":
        after = gate.figures(gate.evaluate(str(path), Path(general["suite"]), cache, target), target)[
            "all_local_quality"]
    promoted, reason = gate.verdict(figures, current, interval, {**general, "after": after}, target, margin)
    if promoted and (missing := gate.unscored(ran) + gate.unscored(current_run)):
        promoted, reason = False, (f"the judge gave no verdict on {missing} gate answers (its budget, "
                                   f"--judge-max-usd, was spent, or it failed): not judged, not promoted")
    console.print(f"{'passes' if promoted else 'fails'} the gate: {reason}")
    return {"raw": raw, "figures": figures, "current": current, "interval": interval, "general_after": after,
            "promoted": promoted, "reason": reason, "borrowed": gate.borrowed(ran["items"], trained)}
