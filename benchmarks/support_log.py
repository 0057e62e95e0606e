"""A worked example replayed as production traffic: a route log of `--requests` requests (default 600) over 14
days, written by the real SQLite sink as `hybrid-ai serve` writes it with `telemetry.log_prompts: true`, for
`hybrid-ai improve --log`. `--example` names the example folder (default examples/support; examples/helpdesk is
the second domain).

    .venv/bin/python benchmarks/support_log.py --out support.db [--example examples/support] [--requests 600]
    .venv/bin/hybrid-ai improve --log support.db --policy default --out B
    .venv/bin/hybrid-ai eval --suite examples/support/heldout --policy B/current/policy.yaml

Each request is one of the example's 72 training questions (24 facts, three wordings) as a customer would type
it: a greeting or a thank-you around it, another case, a missing question mark (the words of the question are
the example's, so the held-out suite stays worded differently from anything logged). 85% were answered by the
cloud (the example's answer is the teacher's); 15% are everyday requests (`examples/support/general.jsonl`, or
the example's own `general.jsonl`) the router kept local, which `improve` rehearses on (the local model's own
answers to them, against forgetting). Timestamps are spread over the 14 days before now, in order, so `improve`'s
time-ordered split holds the newest 20% out."""

from __future__ import annotations

import argparse
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUPPORT = ROOT / "examples" / "support"
OPENERS = ["", "", "Hi! ", "Hello, ", "Quick question: ", "Hey there. ", "Sorry to bother you, ", "Hi team, "]
CLOSERS = ["", "", " Thanks!", " Thank you.", " Cheers", " Thanks in advance."]


def worded(rng: random.Random, question: str) -> str:
    q = question
    if rng.random() < 0.3:
        q = q[0].lower() + q[1:]
    if rng.random() < 0.2:
        q = q.rstrip("?")
    return f"{rng.choice(OPENERS)}{q}{rng.choice(CLOSERS)}".strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="the SQLite route log to write (replaced)")
    ap.add_argument("--example", default=str(SUPPORT), help="an example folder with train.jsonl")
    ap.add_argument("--requests", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from hybrid_ai.telemetry.sinks import SQLiteSink
    from hybrid_ai.types import Attempt, RouteRecord

    example = Path(args.example)
    rows = [json.loads(line) for line in (example / "train.jsonl").read_text().splitlines()]
    general = example / "general.jsonl" if (example / "general.jsonl").is_file() else SUPPORT / "general.jsonl"
    everyday = [json.loads(line)["prompt"] for line in general.read_text().splitlines()]
    rng = random.Random(args.seed)
    out = Path(args.out)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{out}{suffix}").unlink(missing_ok=True)
    sink = SQLiteSink(out, log_prompts=True)
    start = datetime.now(timezone.utc) - timedelta(days=14)
    step = timedelta(days=14) / args.requests
    counts = {"cloud": 0, "local": 0}
    for n in range(args.requests):
        route = "local" if rng.random() < 0.15 else "cloud"
        if route == "cloud":
            system, question, answer = (m["content"] for m in rng.choice(rows)["messages"])
            prompt = f"{system}\n{worded(rng, question)}"
        else:  # what the router keeps local: everyday requests (their answers are not training data)
            prompt, answer = rng.choice(everyday), ""
        counts[route] += 1
        latency = rng.uniform(600, 1400) if route == "cloud" else rng.uniform(150, 400)
        sink.write(RouteRecord(
            request_id=f"chatcmpl-{example.name}-{n:05d}", timestamp=(start + n * step).isoformat(timespec="milliseconds"),
            route=route, reason="score>=threshold" if route == "cloud" else "score<threshold", score=0.5,
            threshold=0.0447, model="gpt-4o-mini" if route == "cloud" else "SmolLM2-135M-Instruct",
            backend="litellm" if route == "cloud" else "onnxruntime", prompt_tokens=len(prompt) // 4,
            completion_tokens=len(answer) // 4, latency_ms=latency, cost_source="litellm",
            attempts=[Attempt(tier=route, latency_ms=latency)], policy="default", policy_hash="replayed",
            prompt=prompt, answer=answer if route == "cloud" else None).model_dump())
    sink.close()
    print(f"{out}: {args.requests} requests over 14 days ({counts['cloud']} answered by the cloud, "
          f"{counts['local']} local)")


if __name__ == "__main__":
    main()
