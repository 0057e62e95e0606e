"""Local SLM speed and memory per quantization setting on this machine.

    .venv/bin/python benchmarks/local_slm.py [--settings none,bf16,int8-dynamic,nf4,int8] [--tokens 64] [--threads 2]

Each setting runs in a fresh subprocess (so peak RSS is its own): load time (from the converted-GGUF
cache; the one-time conversion is reported separately with --cold), time to first token, decode
tokens/s over `--tokens` new tokens (greedy, EOS ignored), and peak RSS. fp32 ("none") is the baseline."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time, torch
torch.set_num_threads({threads})
from hybrid_ai.policy import TransformersTier
from hybrid_ai.backends.local_model import load_model
from hybrid_ai.backends.transformers_backend import _FirstToken
t = time.perf_counter()
lm = load_model(TransformersTier(quantization="{q}"))
load_s = time.perf_counter() - t
msgs = [{{"role": "user", "content": "Write a short story about a robot who learns to paint."}}]
ids = lm.tokenizer.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt", return_dict=True)
runs = []
for _ in range({repeats}):
    first = _FirstToken(time.perf_counter())
    t = time.perf_counter()
    with torch.inference_mode():
        out = lm.model.generate(**ids, max_new_tokens={tokens}, min_new_tokens={tokens}, do_sample=False,
                                streamer=first, pad_token_id=lm.tokenizer.eos_token_id)
    total = time.perf_counter() - t
    n = out.shape[1] - ids["input_ids"].shape[1]
    runs.append((first.ttft_ms, (n - 1) / (total - first.ttft_ms / 1000), n))
best = max(runs, key=lambda r: r[1])
print(json.dumps({{"quantization": lm.quantization, "device": lm.device, "load_s": load_s, "ttft_ms": best[0],
                  "decode_tok_s": best[1], "new_tokens": best[2],
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "sample": lm.tokenizer.decode(out[0][ids["input_ids"].shape[1]:], skip_special_tokens=True)[:80]}}))
"""


def run(q: str, tokens: int, threads: int, repeats: int) -> dict:
    code = CHILD.format(q=q, tokens=tokens, threads=threads, repeats=repeats)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if p.returncode != 0:
        return {"quantization": q, "error": p.stderr.strip().splitlines()[-1][:200]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--settings", default="none,bf16,int8-dynamic,nf4,int8")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--cold", action="store_true", help="first clear the converted-GGUF cache and time the conversion")
    args = ap.parse_args()
    if args.cold:
        import shutil

        from hybrid_ai.backends.local_model import cache_dir

        shutil.rmtree(cache_dir(), ignore_errors=True)
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"SmolLM2-135M-Instruct (bundled GGUF), {args.threads} threads, {args.tokens} new tokens")
    for col in ("setting", "device", "load s", "TTFT ms", "decode tok/s", "vs fp32", "peak RSS MiB", "sample"):
        table.add_column(col)
    results = [run(q, args.tokens, args.threads, args.repeats) for q in args.settings.split(",")]
    base = next((r["decode_tok_s"] for r in results if r.get("quantization") == "none" and "error" not in r), None)
    for r in results:
        if "error" in r:
            table.add_row(r["quantization"], "-", "-", "-", "-", "-", "-", r["error"])
            continue
        rel = f"{r['decode_tok_s'] / base:.2f}x" if base else "-"
        table.add_row(r["quantization"], r["device"], f"{r['load_s']:.1f}", f"{r['ttft_ms']:.0f}",
                      f"{r['decode_tok_s']:.1f}", rel, f"{r['peak_rss_mib']:.0f}", repr(r["sample"][:40]))
    Console(width=160).print(table)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
