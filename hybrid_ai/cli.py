"""The `hybrid-ai` command: argument parsing only; the work is done by the modules it calls."""

from __future__ import annotations

import argparse
import json
import os
import sys

from .errors import HybridAIError


def _route(args) -> int:
    from .client import HybridClient

    messages = ([{"role": "system", "content": args.system}] if args.system else [])
    messages.append({"role": "user", "content": args.prompt})
    params = {"messages": messages, "max_tokens": args.max_tokens}
    if args.route:
        params["route"] = args.route
    with HybridClient(policy=args.policy) as client:
        r = client.chat.completions.create(**params)
    h = r.hybrid
    out = {"route": h.route, "reason": h.reason, "score": h.score, "threshold": h.threshold,
           "answer": r.choices[0].message.content, "record": h.record.model_dump(mode="json")}
    if args.json:
        print(json.dumps(out))
    else:
        from rich.console import Console

        rec = h.record
        Console().print(f"[bold]{out['answer']}[/bold]\n[dim]route={h.route} ({h.reason}, score {h.score:.3f} vs "
                        f"{h.threshold}) model={rec.model} latency={rec.latency_ms:.0f} ms cost=${rec.cost_usd} "
                        f"energy={rec.energy_wh} Wh ({rec.energy_source})[/dim]")
    return 0


def _serve(args) -> int:
    from .client import AsyncHybridClient
    from .serving import create_app, workers

    try:
        import uvicorn
    except ImportError:
        raise HybridAIError("the server needs: pip install 'hybrid-ai[server]'") from None
    if args.bundle and args.policy:
        raise HybridAIError("give --policy or --bundle, not both")
    policy = workers.served_policy(args.policy, args.api_keys_env, args.bundle)
    auth = False if args.no_auth else None
    client = AsyncHybridClient(policy=policy)

    def rebuild() -> AsyncHybridClient:  # SIGHUP, POST /admin/reload: the policy file, or the bundle's current
        return AsyncHybridClient(policy=workers.served_policy(args.policy, args.api_keys_env, args.bundle))

    app = create_app(client, auth=auth, reload=rebuild, close_client=True)  # fails here, without keys
    if not app.state.auth:
        print(f"hybrid-ai: warning: authentication is OFF: anyone who can reach {args.host}:{args.port} can use "
              f"this server and its cloud credentials", file=sys.stderr, flush=True)
    common = {"host": args.host, "port": args.port, "log_level": "warning",
              "timeout_graceful_shutdown": args.graceful_timeout}
    if args.workers > 1:
        client.close()
        return _serve_workers(args, policy, auth, uvicorn, common)
    if not args.no_warmup:
        client.warmup()
    from .serving.timeouts import protocol_class

    workers.configure_process()
    uvicorn.run(app, http=protocol_class("auto", policy.server.header_timeout_s), **common)  # closes the client
    return 0


def _serve_workers(args, policy, auth, uvicorn, common) -> int:
    import json
    import shutil
    import tempfile

    from .serving import workers

    spec = json.loads(workers.spec(args.policy, args.api_keys_env, auth, not args.no_warmup, args.bundle))
    os.environ[workers.SPEC_ENV] = json.dumps({**spec, "header_timeout_s": policy.server.header_timeout_s})
    metrics_dir = None
    if "prometheus" in policy.telemetry.sinks and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        metrics_dir = tempfile.mkdtemp(prefix="hybrid-ai-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # before any worker imports prometheus-client
    try:
        uvicorn.run("hybrid_ai.serving.workers:app", factory=True, workers=args.workers,
                    http="hybrid_ai.serving.workers:HTTP", **common)
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _move_current(args) -> int:
    """`promote` and `rollback`: BUNDLE/current moved in one rename."""
    from . import bundle

    version = bundle.promote(args.version) if args.command == "promote" else bundle.rollback(args.bundle)
    print(f"{version.parent}: current -> {version.name} (reload a server serving it: SIGHUP or POST /admin/reload)")
    return 0


def _policy_check(args) -> int:
    from .policy import load_policy

    p = load_policy(args.file)
    print(f"{args.file}: ok (policy {p.name!r}, hash {p.hash}, tiers: {', '.join(p.tiers)})")
    return 0


def _policy_warmup(args) -> int:
    """Load every tier's model now (the first load converts the bundled SLM into HYBRID_AI_CACHE), then exit: for
    an image build or a deploy step, so that the first server start does not convert."""
    import time

    from .backends.registry import build_backend
    from .policy import load_policy

    t = time.perf_counter()
    policy = load_policy(args.file)
    for name, tier in policy.tiers.items():  # the tiers alone: no sinks, stores or limits to reach
        if tier.runs_locally:
            build_backend(name, tier).warmup()
    print(f"{args.file}: warmed up in {time.perf_counter() - t:.1f} s")
    return 0


def _router(args) -> int:
    from .learning import cli as commands

    sw = {"strong": args.strong, "weak": args.weak} if hasattr(args, "strong") else {}
    if args.router_command == "score":
        return commands.score_file(args.input, args.model)
    logs = getattr(args, "from_log", [])
    if args.router_command == "train-verifier":
        return commands.train_verifier(args.data or [], args.out, args.c, logs)
    fit_kw = ({"label": args.label, "c": args.c, "center": args.center, "group_prior": args.group_prior,
               "heuristic_prior": args.heuristic_prior} if hasattr(args, "label") else {})
    if args.router_command == "train":
        return commands.train(args.data or [], args.out, fit_kw, **sw, logs=logs)
    if args.router_command == "evaluate":
        return commands.evaluate(args.data, args.model, args.folds, args.train, args.json, fit_kw, **sw)
    return commands.calibrate(args.data or [], args.policy, args.target_cloud_share, args.target_quality, **sw,
                              logs=logs)


def _weight(value: str) -> float:
    try:
        w = float(value)
    except ValueError:
        w = -1.0
    if not 0 <= w <= 10:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 10, got {value!r}")
    return w


def _add_router(sub) -> None:
    p = sub.add_parser("router", help="score, train, evaluate and calibrate the complexity classifier")
    rs = p.add_subparsers(dest="router_command", required=True)
    data_help = ("outcome data: the RouteLLM layout (a folder such as data/routellm or one of its "
                 "benchmarks, or a CSV) or JSON lines {prompt|messages, weak_correct, strong_correct}")

    def outcomes(q, required=True, logs=False):
        q.add_argument("--data", nargs="+", required=required and not logs, help=data_help)
        if logs:
            q.add_argument("--from-log", nargs="+", default=[], metavar="DB",
                           help="also the shadow outcomes of these route logs (SQLite files or postgresql:// URLs; the "
                                "policy's `shadow`)")
        q.add_argument("--strong", default=None, help="strong model's column in RouteLLM files "
                       "(default gpt-4-1106-preview)")
        q.add_argument("--weak", default=None, help="weak model's column in RouteLLM files "
                       "(default mistralai/Mixtral-8x7B-Instruct-v0.1)")

    def training(q):
        q.add_argument("--label", choices=["gain", "weak_wrong"], default="gain",
                       help="gain: P(strong answer better than weak); weak_wrong: P(weak answer wrong)")
        q.add_argument("--c", type=float, default=1.0, help="inverse L2 regularisation strength")
        q.add_argument("--no-center", dest="center", action="store_false",
                       help="do not centre the request-shape features within each group (benchmark, file, "
                            "`group` field); use when the groups are strata of the same traffic")
        q.add_argument("--no-group-prior", dest="group_prior", action="store_false",
                       help="do not add the group-prior feature (which known group a request looks like, and "
                            "how much the strong model gains there)")
        q.add_argument("--heuristic-prior", type=_weight, default=0.0, metavar="W",
                       help="add W x the heuristic classifier's logit (request-kind cues) to the learned one, at a "
                            "fixed weight (default 0; the shipped router uses 0.25)")

    q = rs.add_parser("score", help="one JSON line {\"score\": float} per input line")
    q.add_argument("--input", required=True, help="JSON lines with 'prompt' or 'messages' ('-' for stdin)")
    q.add_argument("--model", default=None, help="router .npz (default: the shipped one)")
    q.set_defaults(func=_router)

    q = rs.add_parser("train", help="train a router on outcome data")
    outcomes(q, logs=True)
    q.add_argument("--out", required=True, help="where to write the router (.npz)")
    training(q)
    q.set_defaults(func=_router)

    q = rs.add_parser("train-verifier", help="train the answer-aware verifier of cascade mode on graded local answers")
    q.add_argument("--data", nargs="+", default=[], help="JSON lines with prompt|messages, weak_answer and "
                   "weak_correct (the outcomes.jsonl that `hybrid-ai eval` writes)")
    q.add_argument("--from-log", nargs="+", default=[], metavar="DB",
                   help="also the shadow outcomes of these route logs (SQLite files or postgresql:// URLs; the "
                        "policy's `shadow`)")
    q.add_argument("--out", required=True, help="where to write the verifier (.npz)")
    q.add_argument("--c", type=float, default=1.0, help="inverse L2 regularisation strength")
    q.set_defaults(func=_router)

    q = rs.add_parser("evaluate", help="APGR and CPT next to random, prompt length and the oracle")
    outcomes(q)
    q.add_argument("--model", default=None)
    q.add_argument("--folds", type=int, default=0, help="report out-of-fold results of training on --data")
    q.add_argument("--train", nargs="+", default=None, help="train on this data, test on --data")
    q.add_argument("--json", action="store_true")
    training(q)
    q.set_defaults(func=_router)

    q = rs.add_parser("calibrate", help="pick the threshold that meets a target and write it into the policy")
    outcomes(q, logs=True)
    q.add_argument("--policy", required=True, help="policy file to update (the rest of the file is kept)")
    g = q.add_mutually_exclusive_group(required=True)
    g.add_argument("--target-cloud-share", type=float, help="fraction of requests sent to the strong tier, 0..1")
    g.add_argument("--target-quality", type=float, help="fraction of all-strong quality to keep, e.g. 0.95")
    q.set_defaults(func=_router)


def _eval(args) -> int:
    from pathlib import Path

    from .evaluation import DEFAULT_SUITE
    from .evaluation.cli import main
    from .evaluation.evaluate import EvalConfig

    cfg = EvalConfig(policy=args.policy, suites=args.suite or [DEFAULT_SUITE], target_quality=args.target_quality,
                     target_cloud_share=args.target_cloud_share, budget_usd=args.budget_usd, cloud=args.cloud,
                     replay_model=args.replay_model, replay_log=args.replay_log, standins=not args.no_standins,
                     cache=args.cache, workers=args.workers, local_batch=args.local_batch, limit=args.limit,
                     judge=args.judge, judge_max_usd=args.judge_max_usd, router_folds=args.router_folds)
    return main(cfg, Path(args.out), write_policy=args.write_policy)


def _add_eval(sub) -> None:
    from .evaluation import DEFAULT_SUITE, REPLAY_MODEL

    p = sub.add_parser("eval", help="quality / cost / energy of routing on eval suites, with a report",
                       description="Answer every item once per tier (cached), grade, evaluate every threshold "
                                   "offline, pick one for the target and write report.json / .md / .html.")
    p.add_argument("--suite", action="append", help=f"bundled suite name or folder; repeatable (default {DEFAULT_SUITE})")
    p.add_argument("--policy", default=None, help="policy file or bundled name (default: the bundled default)")
    p.add_argument("--out", default="eval-report", help="report folder (default eval-report)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--target-quality", type=float, help="fraction of all-cloud quality to keep (default 0.95)")
    g.add_argument("--target-cloud-share", type=float, help="at most this fraction of requests to the cloud")
    g.add_argument("--budget-usd", type=float, help="at most this total cost for the suite")
    p.add_argument("--write-policy", action="store_true", help="store the chosen threshold in the --policy file")
    p.add_argument("--cloud", choices=["auto", "live", "replay"], default="auto",
                   help="auto: live if the cloud tier's key is set, else replay recorded answers")
    p.add_argument("--replay-model", default=REPLAY_MODEL, help="whose recorded answers replay the cloud tier")
    p.add_argument("--replay-log", default=None, help="also replay cloud answers from this route log (a SQLite file or a "
                   "postgresql:// URL)")
    p.add_argument("--no-standins", action="store_true", help="do not use reference answers as cloud stand-ins")
    p.add_argument("--cache", default=None, help="answer cache (default ~/.cache/hybrid-ai/eval-answers.sqlite)")
    p.add_argument("--workers", type=int, default=8, help="concurrent requests to the cloud tier")
    p.add_argument("--local-batch", type=int, default=8, help="local answers generated together (1: one by one, "
                   "for interactive latency figures)")
    p.add_argument("--limit", type=int, default=None, help="only the first N items of each suite")
    p.add_argument("--router-folds", type=int, default=5, help="also report a router trained on these items' "
                   "outcomes, scored out-of-fold with K folds (0: off)")
    p.add_argument("--judge", action="store_true", help="grade 'judge' items with the cloud tier (LLM-as-judge)")
    p.add_argument("--judge-max-usd", type=float, help="the judge's spend cap (priced as the cloud tier's answers); "
                   "items past it are left unscored and counted")
    p.set_defaults(func=_eval)


def _finetune(args) -> int:
    from .finetune.cli import run

    return run(args)


def _add_finetune(sub) -> None:
    p = sub.add_parser("finetune", help="train a LoRA adapter for the local model (QLoRA on CUDA)",
                       description="Fine-tune the policy's local model with LoRA (fp32 on CPU; 4-bit QLoRA on "
                                   "CUDA) on chat examples or on the cloud answers in the route log.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--data", help="JSON lines: {messages: [...]} or {prompt, response}")
    src.add_argument("--from-log", help="route log (a SQLite file or a postgresql:// URL): cloud-answered requests "
                     "become training pairs")
    p.add_argument("--export", help="with --from-log/--data: write the training set here for review, do not train")
    p.add_argument("--out", help="adapter folder (replaced atomically); not needed with --export")
    p.add_argument("--policy", default=None, help="policy whose local tier is fine-tuned (default: bundled default)")
    p.add_argument("--config", help="YAML with any of the options below (and dropout, target_modules, ...)")
    p.add_argument("--epochs", type=float)
    p.add_argument("--lr", type=float, help="learning rate (default 2e-3)")
    p.add_argument("--rank", type=int, help="LoRA rank (default 16)")
    p.add_argument("--alpha", type=float, help="LoRA alpha (default 32)")
    p.add_argument("--max-length", type=int, help="tokens per example (default 256)")
    p.add_argument("--batch-size", type=int, help="examples per batch (default 8)")
    p.add_argument("--heldout", type=float, help="held-out fraction for eval loss (default 0.1)")
    p.add_argument("--seed", type=int)
    p.add_argument("--max-chars", type=int, default=4000, help="--from-log: drop prompt+answer longer than this")
    p.add_argument("--rehearse", help="JSON lines of general prompts: the model's own answers to them are mixed "
                   "into training so the adapter does not forget them")
    p.add_argument("--from-scratch", action="store_true", help="a new LoRA on the base model (--rank, --alpha); "
                   "without it, training continues from the policy's own adapter when it has one")
    p.add_argument("--merge", action="store_true", help="also write merged full weights to OUT/merged")
    p.set_defaults(func=_finetune)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hybrid-ai", description="Hybrid SLM/LLM routing: local when it can, "
                                     "cloud when it must, with cost and energy logged for every request.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("route", help="route one prompt and print the answer with its route and record")
    p.add_argument("prompt")
    p.add_argument("--policy", default=None, help="policy file or bundled name (default: the bundled default)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--system", default=None, help="an optional system message")
    p.add_argument("--route", default=None, help="pin a tier (e.g. local, cloud)")
    p.set_defaults(func=_route)

    p = sub.add_parser("serve", help="serve an OpenAI-compatible API on 127.0.0.1")
    p.add_argument("--policy", default=None)
    p.add_argument("--bundle", default=None, metavar="DIR", help="serve the bundle's current version "
                   "(DIR/current/policy.yaml); SIGHUP or POST /admin/reload reloads it")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--no-warmup", action="store_true", help="load models on the first request, not at start")
    p.add_argument("--api-keys-env", default=None, metavar="NAME", help="environment variable with the accepted "
                   "bearer keys, comma-separated (default: the policy's server.api_keys_env, HYBRID_AI_API_KEYS)")
    p.add_argument("--no-auth", action="store_true", help="accept requests without a key (says so at start)")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="N processes sharing the port (each loads "
                   "the local model once: N times its memory); metrics are summed over them")
    p.add_argument("--graceful-timeout", type=float, default=30.0, metavar="S", help="on SIGTERM or Ctrl-C: stop "
                   "accepting, give requests and streams in flight S seconds to finish, then flush the sinks")
    p.set_defaults(func=_serve)

    from .improve.cli import add_parser as add_improve

    add_improve(sub)

    p = sub.add_parser("promote", help="make a bundle version the one served (BUNDLE/current -> it)")
    p.add_argument("version", help="a version folder, BUNDLE/vN")
    p.set_defaults(func=_move_current)

    p = sub.add_parser("rollback", help="point BUNDLE/current back to the version before it")
    p.add_argument("bundle", help="the bundle folder")
    p.set_defaults(func=_move_current)

    p = sub.add_parser("policy", help="policy tools")
    psub = p.add_subparsers(dest="policy_command", required=True)
    c = psub.add_parser("check", help="validate a policy file")
    c.add_argument("file")
    c.set_defaults(func=_policy_check)
    c = psub.add_parser("warmup", help="load (and convert, the first time) every tier's model, then exit")
    c.add_argument("file")
    c.set_defaults(func=_policy_warmup)
    p = sub.add_parser("usage", help="requests, tokens, cost and savings per API key from a route log")
    p.add_argument("--log", required=True, help="the route log: telemetry.sqlite_path, or a postgresql:// URL")
    p.add_argument("--since", default="", help="only records from this ISO date or time on, e.g. 2026-11-01")
    p.add_argument("--strong-tier", default="cloud", help="the tier savings are counted against (default cloud)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda a: __import__("hybrid_ai.telemetry.usage", fromlist=["main"]).main(
        a.log, a.since, a.strong_tier, a.json))
    p = sub.add_parser("report", help="a report of real traffic from a route log (HTML with plots, and JSON)")
    p.add_argument("--log", required=True, help="the route log: telemetry.sqlite_path, or a postgresql:// URL")
    p.add_argument("--since", default="", help="only records from this ISO date or time on, e.g. 2026-11-01")
    p.add_argument("--out", default="traffic-report", help="report folder (default traffic-report)")
    p.set_defaults(func=lambda a: __import__("hybrid_ai.telemetry.traffic", fromlist=["main"]).main(
        a.log, a.since, a.out))
    _add_router(sub)
    _add_eval(sub)
    _add_finetune(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except HybridAIError as e:
        print(f"hybrid-ai: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
