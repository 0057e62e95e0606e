"""Time to first token through the local backends, as a request gets it: chat template, tokenization, the prompt,
the first token. onnxruntime int8 (the default) with its template prefix cache and without, CTranslate2 int8, and
the `llama_cpp` kind when `llama-cpp-python` happens to be installed (not in CI; it keeps the same template prefix
evaluated).

    .venv/bin/python benchmarks/first_token.py [--threads 2] [--repeats 5]

Each engine runs in a fresh process, warmed up (model loaded, one request answered). Each prompt family has
`--repeats` different prompts of about the same length, so no engine sees the same prompt twice; greedy, the
tier's default generation (repetition penalty 1.1). Prints the median TTFT per family, and how many prompt tokens
the engine reused (usage.prompt_tokens_details.cached_tokens)."""

from __future__ import annotations

import argparse
import json

from local_engines import child

FAMILIES = {
    "greeting": ["Hi", "Hello", "Hey", "Good morning", "Hi there"],
    "short question": ["What is 2+2?", "What is 3+5?", "What is 7-4?", "What is 6*2?", "What is 9/3?"],
    "instruction": [f"Write a short story about {t} who learns to paint." for t in
                    ("a robot", "a cat", "an old sailor", "a lonely giant", "a small child")],
    "paragraph": [("Summarize in one sentence: The city council met on Tuesday to discuss the new bicycle lanes. "
                   "Residents raised concerns about parking, while shop owners worried about deliveries. After "
                   f"two hours the council voted {v} to build a pilot lane on Main Street.") for v in
                  ("7-2", "6-3", "5-4", "8-1", "9-0")],
}

TTFT = r"""
import json, statistics, sys
from hybrid_ai.backends.registry import build_backend
from hybrid_ai.policy import load_policy
from hybrid_ai.request import parse_request
a = json.loads(sys.argv[1])
tier = load_policy({"name": "b", "tiers": {"local": a["tier"]}, "telemetry": {"sinks": []},
                    "classifier": {"strong_tier": "local"}, "fallback": {}}).tiers["local"]
backend = build_backend("local", tier); backend.warmup()
ask = lambda text: parse_request({"messages": [{"role": "user", "content": text}], "max_tokens": 4})
backend.complete(ask("Warm up."), tier.generation)
out = {}
for family, prompts in a["families"].items():
    got = [backend.complete(ask(p), tier.generation) for p in prompts[: a["repeats"]]]
    out[family] = {"ttft_ms": statistics.median(r.ttft_ms for r in got), "prompt_tokens": got[0].prompt_tokens,
                   "cached": got[0].info.get("cached_prompt_tokens")}
print(json.dumps(out))
"""


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    gen = {"max_tokens": 4, "temperature": 0.0, "repetition_penalty": 1.1}  # the bundled policies' local tier
    engines = [("onnxruntime int8, prefix cache (default)", {"backend": "onnxruntime", "precision": "int8"}),
               ("onnxruntime int8, no prefix cache", {"backend": "onnxruntime", "precision": "int8",
                                                      "prefix_cache": False}),
               ("ctranslate2 int8", {"backend": "ctranslate2", "compute_type": "int8"})]
    try:
        import llama_cpp  # noqa: F401
        engines.append(("llama_cpp (bundled Q4_1 GGUF)", {"backend": "llama_cpp"}))
    except ImportError:
        print("llama-cpp-python is not installed: no llama.cpp row")
    console, results = Console(), {}
    for name, tier in engines:
        console.print(f"[bold]{name}[/bold] ...")
        results[name] = child(TTFT, {"tier": {**tier, "threads": args.threads, "generation": gen},
                                     "families": FAMILIES, "repeats": args.repeats})
    t = Table(title=f"Time to first token through the backend, ms (median of {args.repeats} prompts, "
                    f"{args.threads} threads)")
    t.add_column("engine")
    for family in FAMILIES:
        t.add_column(family)
    for name, got in results.items():
        if got:
            t.add_row(name, *(f"{got[f]['ttft_ms']:.0f} ({got[f]['prompt_tokens']} tokens"
                              + (f", {got[f]['cached']} cached)" if got[f]["cached"] else ")") for f in FAMILIES))
    console.print(t)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
