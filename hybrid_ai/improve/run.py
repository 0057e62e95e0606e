"""`hybrid-ai improve`: the stages and the bundle version they write.

Stages: data (collect, fold, split) -> fine-tune (continuing from the current policy's adapter) -> candidate policy
-> gate (both policies answer the gate set; the bootstrap; the forgetting check on the general set) -> card ->
version folder (written under a temporary name, renamed whole) -> promotion when the gate passes. Work that takes
minutes is kept in `BUNDLE/.work/<data hash>/` (the adapter; the eval answer cache), so a rerun after Ctrl-C
continues where it stopped. Exit status: 0 promoted (or nothing to do), 3 rejected, 2 bad input (nothing written)."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from .. import bundle
from ..errors import HybridAIError
from ..finetune import data as ft_data
from . import data, gate
from .candidate import SHAPE_WORDS, SHAPES, candidate_policy, judge

REJECTED = 3


def _current_source(root: Path, given: str | None) -> str:
    """The policy the candidate improves on and is compared with: the bundle's current version, else `given`."""
    now = bundle.current(root)
    if now is not None:
        if given and given != _card(now).get("improved_on"):
            print(f"hybrid-ai improve: {root} has a current version ({now.name}); it is the policy improved on "
                  f"(not {given})", file=sys.stderr)
        return str(bundle.served_policy_file(root))
    return given or "default"


def _baseline(root: Path, source: str, policy) -> Path:
    """`v0`: the policy the bundle starts from, unchanged (every path absolute), made current, so that
    `BUNDLE/current/policy.yaml` is always what should be served: the starting policy until a candidate is
    promoted, and what `rollback` returns to after the first promotion."""
    weak = policy.classifier.weak_tier
    adapter = getattr(policy.tiers[weak], "adapter", None)
    raw = candidate_policy(source, policy, adapter or "")
    if not adapter:
        raw["tiers"][weak].pop("adapter", None)
    if getattr(policy.tiers[weak], "domain", None) is not None:
        raw["tiers"][weak]["domain"] = policy.tiers[weak].domain.model_dump()
    version = root / "v0"
    partial = root / ".v0.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    (partial / bundle.POLICY).write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    reason = "the policy this bundle started from, unchanged: served until a candidate is promoted"
    card = {"version": "v0", "baseline": True, "promoted": True, "reason": reason, "improved_on": source,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": " ".join(["hybrid-ai", *sys.argv[1:]])}
    (partial / "card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    (partial / "card.md").write_text(f"# v0: baseline\n\n{reason} (`{source}`).\n", encoding="utf-8")
    partial.rename(version)
    return bundle.promote(version)


def _markdown(card: dict) -> str:
    g = card["gate"]
    rows = "\n".join(f"| {k} | {_pct(g['current'].get(k))} | {_pct(g['candidate'].get(k))} |"
                     for k in ("local_share", "quality_retention", "cost_saving", "energy_saving",
                               "all_local_quality"))
    rows += "".join(f"\n| {k}, as served (its own threshold) | {_pct(g['current']['as_served'].get(k))} | "
                    f"{_pct(g['candidate']['as_served'].get(k))} |" for k in ("local_share", "quality_retention"))
    gl = g["general_local_quality"]
    return (f"# {card['version']}: {'promoted' if card['promoted'] else 'rejected'}\n\n{card['reason']}\n\n"
            f"| on the gate set ({g['items']} items, {g['grader']}), at the target | current | candidate |\n"
            f"|---|---|---|\n{rows}\n\n"
            f"Cost saving difference: {_pct(g['cost_saving_difference']['mean'])}, 95% interval "
            f"[{_pct(g['cost_saving_difference']['low'])}, {_pct(g['cost_saving_difference']['high'])}].\n"
            f"General set local quality: {_pct(gl['before'])} -> {_pct(gl['after'])}.\n\n"
            + "".join(f"Shape `{k}`{' (this version)' if k == card.get('candidate_shape') else ''}: "
                      f"{'passes' if v['promoted'] else 'fails'}; {v['reason']}\n" for k, v in card.get("shapes", {}).items())
            + "\n"
            f"Data: {card['data']['train']} training and {card['data']['gate']} gate examples from "
            f"{card['data']['source']} (sha256 {card['data']['sha256'][:12]}).\n\nMade by: `{card['command']}`\n")


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def run(args) -> int:
    from rich.console import Console

    from ..finetune.cli import _local_tier, _train
    from ..finetune.config import load_config
    from ..policy import load_policy

    console = Console()
    root = Path(args.out)
    source = _current_source(root, args.policy)
    policy = load_policy(source)
    tier = _local_tier(policy)
    examples, counts, origin = data.collect(policy, args.log, args.data)
    examples, folded = data.fold(examples)
    train, held = (examples, []) if args.gate_suite else data.split(examples, args.holdout)
    train, calib = data.calibration(train, args.calibration)
    need = max(args.min_examples, 1)
    if len(train) < need or (not args.gate_suite and not held):
        raise data.NotEnoughData(f"{origin}: {len(train)} training examples after folding {folded} duplicates and "
                                 f"holding out {len(held)} for the gate; at least {need} are needed "
                                 f"(--min-examples), and at least one for the gate (--holdout)")
    digest = ft_data.data_hash(examples)
    now = bundle.current(root)
    if now is not None and not _card(now).get("baseline"):  # a scheduled run: only with enough new data
        made_from = _card(now).get("data", {})
        new = len(examples) - int(made_from.get("examples") or 0)
        if made_from.get("sha256") == digest or new < args.min_new:
            console.print(f"nothing to do: {max(new, 0)} new examples since {now.name} (--min-new {args.min_new})")
            return 0
    console.print(f"data: {len(examples)} examples from {origin} ({folded} duplicates folded; route log: {counts}); "
                  f"{len(train)} to train, {len(calib)} to calibrate the threshold, {len(held) or 'the gate suite'} "
                  f"to gate")
    epochs = args.epochs or epochs_for(len(train), args.config)
    rehearse, rehearsed_from = data.rehearsal(policy, args.rehearse, args.log)
    console.print(f"fine-tune: {epochs:g} epochs ({'--epochs' if args.epochs else 'chosen for the data size'}); "
                  f"rehearsal: {len(rehearse)} prompts from {rehearsed_from}")
    llm = _judge_budget(policy, args)  # before the minutes of training: a judge that cannot run is bad input
    if args.dry_run:
        return 0
    started = _card(now).get("improved_on") if now is not None and _card(now).get("baseline") else source
    context = args.context if args.reference_check else 0
    stage = json.dumps([digest, started, bool(args.gate_suite), args.holdout, args.calibration, epochs,
                        args.config, rehearse, REHEARSE_SHARE] + ([context, args.similarity] if context else []))
    # what the adapter depends on: a rerun with these reuses it
    work = root / ".work" / hashlib.sha256(stage.encode()).hexdigest()[:16]
    work.mkdir(parents=True, exist_ok=True)
    if now is None:
        now = _baseline(root, source, policy)
        source = str(bundle.served_policy_file(root))  # the same policy; the gate compares with what is served
    version = bundle.next_version(root)
    partial = root / f".{version.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)

    adapter = work / "adapter"
    if not (adapter / "adapter_config.json").is_file():  # the stage that takes minutes: kept for a rerun
        console.rule("fine-tune")
        cfg = load_config(args.config, {"epochs": epochs, "heldout": 0.0})
        if "rehearse_share" not in cfg.model_fields_set:
            cfg = cfg.model_copy(update={"rehearse_share": REHEARSE_SHARE})
        start = tier.model_copy(update={"adapter": tier.domain.adapter, "domain": None}) \
            if getattr(tier, "domain", None) is not None else tier  # a domain learns on from its own adapter
        taught = data.with_known_answers(train, context, args.similarity) if context else train
        if _train(console, policy, start, cfg, taught, counts, origin, adapter, False, rehearse) != 0:
            raise HybridAIError("fine-tuning was interrupted: run the same command again to continue")
    shutil.copytree(adapter, partial / "adapter")
    refs = None
    if args.reference_check:  # the teacher answers it was trained on, to check its answers against
        from ..checks.reference import write_references

        refs = "references.jsonl"
        write_references(partial / refs, [(data.question(e), e.messages[-1]["content"]) for e in train])
    target = args.target_quality
    cache = work / "answers.sqlite"
    calib_suite = data.gate_suite(calib, work / "calibration", tier.generation.max_tokens) if calib else None
    suite = Path(args.gate_suite) if args.gate_suite else data.gate_suite(
        held, work / ("gate-judged" if llm else "gate"), tier.generation.max_tokens, "judge" if llm else "agreement")
    console.rule("gate and forgetting check: the current policy")
    current_run = gate.evaluate(source, suite, cache, target, judge=llm)
    general: dict[str, Any] = {"suite": args.general_suite, "before": None, "after": None, "margin": args.margin}
    if args.general_suite != "none":
        general["before"] = gate.figures(gate.evaluate(source, Path(args.general_suite), cache, target), target)[
            "all_local_quality"]
    trained = {_norm(e.messages[-1]["content"]) for e in train}
    judged = {}
    for shape in (SHAPES if refs else ("replaces",)):  # each shape of candidate judged on the same gate
        console.rule(f"candidate: the new adapter {SHAPE_WORDS[shape]}")
        raw = candidate_policy(source, policy, "adapter", refs, domain=shape == "domain", similarity=args.similarity,
                               context=context)
        judged[shape] = judge(console, raw, partial / f".{shape}.yaml", calib_suite, suite, cache, target,
                              current_run, general, trained, bool(refs), args.margin, llm)
    shape = max(judged, key=lambda k: (judged[k]["promoted"], round(judged[k]["figures"]["as_served"]["cost_saving"]
                                                                    or 0.0, 2), judged[k]["general_after"] or 0.0))
    # what serving it saves (to a point: closer is a tie), then the one that forgets less
    best = judged[shape]
    raw, figures, interval, promoted, reason = (best["raw"], {"current": best["current"], "candidate": best["figures"]},
                                                best["interval"], best["promoted"], best["reason"])
    (partial / f".{shape}.yaml").rename(partial / bundle.POLICY)
    for other in judged:
        (partial / f".{other}.yaml").unlink(missing_ok=True)
    general = {**general, "after": best["general_after"]}
    borrowed = best["borrowed"]
    shapes = {k: {"promoted": j["promoted"], "reason": j["reason"], **{m: j["figures"].get(m) for m in (
        "local_share", "quality_retention", "cost_saving")}, "as_served": j["figures"]["as_served"],
        "general_local_quality_after": j["general_after"]} for k, j in judged.items()}
    info = json.loads((adapter / "training.json").read_text()) if (adapter / "training.json").is_file() else {}
    card = {"version": version.name, "promoted": promoted, "reason": reason, "created": time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "command": " ".join(["hybrid-ai", *sys.argv[1:]]),
        "improved_on": source, "target_quality": target, "threshold": {
            "current": policy.classifier.threshold, "candidate": raw.get("classifier", {}).get("threshold"),
            "candidate_mode": raw.get("classifier", {}).get("mode", "route"),
            "candidate_verify": (raw.get("classifier", {}).get("verifier") or {}).get("threshold"),
            "candidate_reference_check": (raw.get("classifier", {}).get("verifier") or {}).get("reference_threshold"),
            "calibrated_on": f"{len(calib)} calibration examples kept out of training, for {target:.0%} of "
                             f"all-cloud quality"},
        "base_model": tier.model, "base_fingerprint": info.get("base_fingerprint"),
        "data": {"source": origin, "sha256": digest, "examples": len(examples), "folded": folded,
                 "train": len(train), "calibration": len(calib), "gate": len(held), "counts": counts},
        "gate": {"suite": str(suite), "items": len(current_run["items"]), "grader": "the suite's" if args.gate_suite
                 else "llm judge" if llm else "agreement", **figures, "cost_saving_difference": interval,
                 "wrong_local_answers": borrowed,
                 "general_local_quality": general},
        "candidate_shape": shape, "shapes": shapes, "training": info.get("metrics"),
        "judge": llm.summary() if llm else {"grader": "agreement"}}
    (partial / "card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    (partial / "card.md").write_text(_markdown(card), encoding="utf-8")
    partial.rename(version)  # whole or not at all
    if promoted:
        bundle.promote(version)
    console.print(f"[bold]{version}: {'promoted' if promoted else 'rejected'}[/bold]: {reason}")
    if not promoted:
        console.print(f"{root}/current stays {now.name}: {_card(now).get('reason', 'the version served before')}")
    return 0 if promoted else REJECTED


def _judge_budget(policy, args) -> gate.JudgeBudget | None:
    """`--judge llm`: the gate graded by the policy's strong tier as LLM judge, which must be reachable now."""
    if args.judge != "llm":
        return None
    from ..backends.registry import build_backend

    strong = policy.classifier.strong_tier
    ok, why = build_backend(strong, policy.tiers[strong]).ready()
    if not ok:
        raise HybridAIError(f"--judge llm grades with the strong tier {strong!r}, which cannot be called: {why}")
    return gate.JudgeBudget(args.judge_max_usd)


# The loop's rehearsal is at least this share of the training mix (`rehearse_share` in a --config overrides it): a
# log's few distinct local prompts beside hundreds of domain examples were 11% of the mix, and the forgetting check
# failed (general local quality 40.3% -> 29.0%); the bundled prompts beside a 58-example set are 45%.
REHEARSE_SHARE = 0.4
PASSES = 600  # training examples seen in all, when --epochs is not given: 8 epochs of the support example's 72


def epochs_for(n_train: int, config: str | None) -> float:
    """The epochs of a fine-tune on `n_train` examples: the config's when it sets them, else about PASSES examples
    seen in all (a larger log trains fewer epochs, so the loop's time stays about the same), between 1 and 8."""
    if config:
        from ..finetune.config import load_config

        cfg = load_config(config, {})
        if "epochs" in cfg.model_fields_set:  # a config that sets only, say, gradient_checkpointing keeps the choice
            return float(cfg.epochs)
    return round(min(8.0, max(1.0, PASSES / max(n_train, 1))), 2)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _card(version: Path) -> dict:
    try:
        return json.loads((version / "card.json").read_text())
    except (OSError, ValueError):
        return {}
