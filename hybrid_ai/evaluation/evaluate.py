"""`hybrid-ai eval`: answer every item once per tier, grade, sweep every threshold offline, pick the threshold
for the target, and return everything the reports show (evaluation/report.py writes them).

The weak tier (local) always runs live. The strong tier (cloud) runs live when its credentials are there
(`cloud="auto"`: the policy's `api_key_env` is set, or it needs none) and is otherwise replayed from recorded
answers: the suites' recordings of `replay_model`, their stand-ins, if given a route log, and last what an
earlier live eval of `replay_model` left in the answer cache."""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from ..backends.local_model import cache_dir
from ..backends.metered import Metered
from ..backends.registry import build_backend
from ..errors import HybridAIError
from ..grading.graders import GRADERS
from ..policy import load_policy, resolve_policy_path
from ..privacy.masking import wrap
from ..request import parse_request
from ..routing import decide, load_classifier
from ..routing.decide import decide_tiers
from . import DEFAULT_SUITE, REPLAY_MODEL, sweep
from .answers import answer_items
from .cache import AnswerCache
from .measure import measure, replay_tier
from .suite import Suite, SuiteMeta, load_suite

SUITES_DIR = Path(__file__).resolve().parent.parent / "evals"


@dataclass
class EvalConfig:
    policy: str | None = None
    suites: list[str] = field(default_factory=lambda: [DEFAULT_SUITE])
    target_quality: float | None = None
    target_cloud_share: float | None = None
    budget_usd: float | None = None
    cloud: str = "auto"  # auto | live | replay
    replay_model: str = REPLAY_MODEL
    replay_log: str | None = None
    standins: bool = True
    cache: str | None = None
    workers: int = 8
    local_batch: int = 8
    router_folds: int = 5
    limit: int | None = None
    judge: bool = False
    judge_max_usd: float | None = None  # the judge's spend cap for this eval; past it, items are left unscored


def resolve_suite(name: str) -> Path:
    """A bundled suite name (evals/<name>) or a path."""
    p = Path(name)
    if p.exists() or os.sep in name or name.endswith((".yaml", ".yml")):
        return p
    bundled = SUITES_DIR / name
    if not bundled.exists():
        names = sorted(d.name for d in SUITES_DIR.iterdir() if (d / "suite.yaml").exists())
        raise HybridAIError(f"no suite {name!r}: not a path and not a bundled suite ({', '.join(names)})")
    return bundled


def combined_suite(names: list[str], limit: int | None) -> tuple[Suite, list[Suite]]:
    """All items of the suites in one, ids prefixed with the suite name."""
    suites = [load_suite(resolve_suite(n)) for n in names]
    if limit is not None:
        suites = [replace(s, items=s.items[:limit]) for s in suites]
    items = [replace(i, id=f"{s.meta.name}/{i.id}") for s in suites for i in s.items]
    meta = SuiteMeta(name="+".join(s.meta.name for s in suites), source="; ".join(s.meta.source for s in suites),
                     license="; ".join(s.meta.license for s in suites), grader=suites[0].meta.grader)
    return Suite(meta, items, suites[0].path), suites


def local_label(tier) -> str:
    """What the local tier's answers are cached under: the model, its quantization, its system prompt, and its
    adapter with the adapter weights' size and time (so a re-trained adapter is answered again, not read from the
    cache)."""
    label = tier.model
    quant = getattr(tier, "quantization", None)
    if quant and quant != "auto":
        label += f" [{quant}]"
    if tier.backend != "transformers":  # another engine answers differently (transformers labels stay as they were)
        label += f" [{' '.join(filter(None, (tier.backend, getattr(tier, 'compute_type', None))))}]"
    if system := getattr(tier, "system_prompt", None):  # its answers differ from the template default's
        label += f" [system prompt {hashlib.sha256(system.encode()).hexdigest()[:12]}]"
    adapter = getattr(tier, "adapter", None)
    if adapter:
        label += f" + adapter {adapter} ({_weights_stamp(adapter)})"
    if (domain := getattr(tier, "domain", None)) is not None:  # which requests it answers: the references' hash
        refs = hashlib.sha256(Path(domain.references).read_bytes()).hexdigest()[:12]
        label += (f" + domain adapter {domain.adapter} ({_weights_stamp(domain.adapter)}) for references {refs} "
                  f">= {domain.min_similarity:g} {domain.similarity} {domain.embedding_model or ''}".rstrip())
    return label


def _weights_stamp(adapter: str) -> str:
    weights = sorted(Path(adapter).glob("adapter_model.*"))
    return "-".join(f"{w.stat().st_size}.{w.stat().st_mtime_ns}" for w in weights) or "missing"


def cloud_mode(tier, wanted: str) -> str:
    if wanted in ("live", "replay"):
        return wanted
    return "live" if not tier.runs_locally and build_backend("strong", tier).ready()[0] else "replay"


class TierUnderTest(NamedTuple):
    backend: Any  # what answers (the tier's engine, or recorded answers)
    costed: Any  # the tier config its answers are costed as (a replayed answer: as the recorded model)
    label: str  # the model, as the report names it
    mode: str  # "live" or "replay"


def _strong_backend(cfg: EvalConfig, policy, name: str, suites: list[Suite], cache: AnswerCache) -> TierUnderTest:
    from .replay import ReplayBackend

    tier = policy.tiers[name]
    mode = cloud_mode(tier, cfg.cloud)
    if mode == "live":
        return TierUnderTest(build_backend(name, tier), tier, tier.model, "live")
    backend = ReplayBackend(name, cfg.replay_model, {}, answer_cache=cache)
    for s in suites:
        backend.update(ReplayBackend.from_suite(name, s, cfg.replay_model, standins=cfg.standins))
    if cfg.replay_log:
        backend.update(ReplayBackend.from_route_log(name, cfg.replay_log, cfg.replay_model, route=name))
    costed = tier if tier.runs_locally else replay_tier(tier, cfg.replay_model)
    return TierUnderTest(backend, costed, f"replay:{cfg.replay_model}", "replay")


def _masking(policy, name: str, tier: TierUnderTest) -> TierUnderTest:
    """The tier as the client calls it: with personal data masked where a rule says so (and cached apart)."""
    backend = wrap(policy, name, tier.backend)
    return tier if backend is tier.backend else tier._replace(backend=backend,
                                                              label=f"{tier.label} (personal data masked)")


def _grade(item, answer, judge) -> float | None:
    """The answer's quality in [0, 1]; None when the judge gave no verdict (scored 0 and counted)."""
    if answer.error is not None or answer.text is None:
        return 0.0
    if answer.info.get("replay_kind") == "outcome":
        return float(bool(answer.info.get("recorded_correct")))
    if item.grader == "judge":
        return judge.grade(item.messages[-1]["content"], item.reference, answer.text) if judge else None
    return GRADERS[item.grader](answer.text, item.reference)


def _route_rule(policy, request) -> tuple[str | None, dict[str, list[str]]]:
    """The tier a hard rule sends this request to (e.g. personal data stays local), else None; and by first tier,
    the tiers the client's chain would fall back to (a rule may allow none)."""
    d = decide(policy, request, None)
    if d.rule:
        return d.first, {d.first: list(d.tiers[1:])}
    weak, strong = policy.classifier.weak_tier, policy.classifier.strong_tier
    return None, {t: list(decide_tiers(policy, t)[1:]) for t in (weak, strong)}


def eval_verifier(policy):
    """The verifier whose cascade the eval sweeps: the policy's in cascade mode, else the shipped one (so a report
    in route mode still shows what cascade mode would give); None when there is none."""
    from ..checks.cascade import load_policy_verifier
    from ..checks.verifier import DEFAULT_VERIFIER, load_verifier

    if policy.classifier.mode == "cascade":
        return load_policy_verifier(policy)
    path = policy.classifier.verifier.model or DEFAULT_VERIFIER
    return load_verifier(str(path)) if Path(path).exists() else None


def run_eval(cfg: EvalConfig, progress=None) -> dict:
    policy = load_policy(cfg.policy)
    weak, strong = policy.classifier.weak_tier, policy.classifier.strong_tier
    suite, suites = combined_suite(cfg.suites, cfg.limit)
    judges = [i.id for i in suite.items if i.grader == "judge"]
    if judges and not cfg.judge:
        raise HybridAIError(f"{len(judges)} item(s) use the 'judge' grader (e.g. {judges[0]}): pass --judge to grade "
                            f"them with the cloud tier")
    cache = AnswerCache(cfg.cache or cache_dir() / "eval-answers.sqlite")
    classifier = load_classifier(policy.classifier)
    verifier = eval_verifier(policy)
    try:
        tiers = {weak: TierUnderTest(build_backend(weak, policy.tiers[weak]), policy.tiers[weak],
                                     local_label(policy.tiers[weak]), "live")}
        tiers[strong] = _strong_backend(cfg, policy, strong, suites, cache)
        tiers = {n: _masking(policy, n, t) for n, t in tiers.items()}
        judge = None
        if cfg.judge:
            from .judge import Judge

            live = tiers[strong].backend if tiers[strong].mode == "live" else build_backend(strong, policy.tiers[strong])
            ok, why = live.ready()  # replayed answers can still be judged live
            if not ok:
                raise HybridAIError(f"--judge needs the cloud tier live (its credentials: {why}; or --cloud live)")
            judge = Judge(live, policy.tiers[strong], cache, cfg.judge_max_usd)
        answers, timing = {}, {}
        for name in (strong, weak):  # the cloud tier first: replay is instant, so failures show early
            local = name == weak
            t0, stats = time.perf_counter(), dict[str, float]()
            answers[name] = answer_items(suite, Metered(name, tiers[name].backend, policy, []), tiers[name].label,
                                         cache, workers=1 if local else cfg.workers,
                                         batch=cfg.local_batch if local else 1, progress=progress, stats=stats)
            wall = time.perf_counter() - t0
            fresh = sum(1 for a in answers[name].values() if not a.cached and a.error is None)
            busy = wall - stats["warmup_s"]
            timing[name] = {"wall_s": wall, "load_s": stats["warmup_s"], "answered": fresh,
                            "batch": cfg.local_batch if local else 1,
                            "cached": sum(a.cached for a in answers[name].values()),
                            "failed": sum(a.error is not None for a in answers[name].values()),
                            "items_per_s": fresh / busy if fresh and busy > 0 else None}
        rows = []
        for item in suite.items:
            request = parse_request({"messages": item.messages})
            forced, fallback = _route_rule(policy, request)
            row = {"id": item.id, "messages": item.messages, "tags": list(item.tags), "grader": item.grader,
                   "score": float(classifier.score(request)), "forced": forced,
                   "fallback": {key: ["local" if t == weak else "cloud" for t in fallback.get(name, [])
                                      if t in (weak, strong)]
                                for name, key in ((weak, "local"), (strong, "cloud"))}}
            for name, key in ((weak, "local"), (strong, "cloud")):
                a = answers[name][item.id]
                m = measure(policy, name, tiers[name].costed, a)
                quality = _grade(item, a, judge)
                row[key] = {"quality": quality or 0.0, "unscored": quality is None, "cost_usd": m.cost_usd,
                            "energy_wh": m.energy_wh,
                            "latency_s": m.latency_s, "latency_source": m.latency_source,
                            "cost_source": m.cost_source, "energy_source": m.energy_source,
                            "prompt_tokens": a.prompt_tokens, "completion_tokens": a.completion_tokens,
                            "error": a.error, "backend": a.backend, "cached": a.cached,
                            "replay_kind": a.info.get("replay_kind"), "provenance": a.info.get("provenance"),
                            "answer": a.text}
            if verifier is not None:  # what cascade mode's check says of the local answer
                a = answers[weak][item.id]
                row["verify"] = verifier.score_request(request, a.text or "")
            rows.append(row)
        out = _summarise(cfg, policy, suite, suites, tiers, rows, timing, cache.memo)
        if judge is not None:
            out["judge"] = judge.summary()
        return out
    finally:
        cache.close()


def _summarise(cfg, policy, suite, suites, tiers, rows, timing, memo=None) -> dict:
    weak, strong = policy.classifier.weak_tier, policy.classifier.strong_tier
    curve = sweep.curve(rows)
    base = sweep.baselines(rows)
    targets = {"target_quality": cfg.target_quality, "cloud_share": cfg.target_cloud_share,
               "budget_usd": cfg.budget_usd}
    if all(v is None for v in targets.values()):
        targets["target_quality"] = 0.95
    chosen = sweep.choose(curve, base["all_cloud"], **targets)
    current = sweep.at_threshold(rows, policy.classifier.threshold)
    summary = sweep.summary(chosen, base["all_cloud"]) if chosen else None
    from .own_router import cross_validated

    own = cross_validated(rows, cfg.router_folds, targets, base["all_cloud"], memo)
    cascade = None
    if rows and "verify" in rows[0]:
        from .cascade_sweep import section

        cascade = section(rows, {k: v for k, v in targets.items() if v is not None}, base["all_cloud"], policy)
    replay_kinds = Counter(r["cloud"]["replay_kind"] for r in rows if r["cloud"]["replay_kind"])
    unscored = {k: sum(r[k]["unscored"] for r in rows) for k in ("local", "cloud")}
    return {
        "policy": {"name": policy.name, "source": str(resolve_policy_path(cfg.policy or "default"))
                   if not isinstance(cfg.policy, dict) else "dict",
                   "threshold": policy.classifier.threshold, "hash": policy.hash,
                   "mode": policy.classifier.mode, "verify_threshold": policy.classifier.verifier.threshold},
        "suites": [{"name": s.meta.name, "items": len(s.items), "source": s.meta.source, "license": s.meta.license}
                   for s in suites],
        "tiers": {
            "local": {"tier": weak, "mode": tiers[weak].mode, "model": tiers[weak].label, **timing[weak],
                      "judge_unscored": unscored["local"]},
            "cloud": {"tier": strong, "mode": tiers[strong].mode, "model": tiers[strong].label, **timing[strong],
                      "replayed": dict(replay_kinds), "standin_items": replay_kinds.get("standin", 0),
                      "judge_unscored": unscored["cloud"]},
        },
        "target": {k: v for k, v in targets.items() if v is not None},
        "curve": [asdict(p) for p in curve],
        "baselines": {k: [asdict(p) for p in v] if isinstance(v, list) else asdict(v) for k, v in base.items()},
        "chosen": asdict(chosen) if chosen else None,
        "current": asdict(current),
        "summary": summary,
        "own_router": {k: v for k, v in own.items() if k != "scores"},
        "cascade": cascade,
        "items": [{**r, "own_router_score": own["scores"][i]} if "scores" in own else r for i, r in enumerate(rows)],
    }
