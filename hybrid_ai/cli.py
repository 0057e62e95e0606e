"""The `hybrid-ai` command: argument parsing only; the work is done by the modules it calls."""

from __future__ import annotations

import argparse
import json
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
    from .serving import create_app

    try:
        import uvicorn
    except ImportError:
        raise HybridAIError("the server needs: pip install 'hybrid-ai[server]'") from None
    client = AsyncHybridClient(policy=args.policy)
    if not args.no_warmup:
        client.warmup()
    uvicorn.run(create_app(client), host=args.host, port=args.port, log_level="warning")
    return 0


def _policy_check(args) -> int:
    from .policy import load_policy

    p = load_policy(args.file)
    print(f"{args.file}: ok (policy {p.name!r}, hash {p.hash}, tiers: {', '.join(p.tiers)})")
    return 0


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
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--no-warmup", action="store_true", help="load models on the first request, not at start")
    p.set_defaults(func=_serve)

    p = sub.add_parser("policy", help="policy tools")
    psub = p.add_subparsers(dest="policy_command", required=True)
    c = psub.add_parser("check", help="validate a policy file")
    c.add_argument("file")
    c.set_defaults(func=_policy_check)
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
