"""The fine-tune's step time and peak memory on this CPU, for the ways a step can be taken: fp32 with transformers'
own loss (the vocabulary projection of every token: the baseline), fp32 with the loss from the answer tokens only,
mixed precision (fp32 weights, bf16 products: the default where the CPU multiplies bf16 natively), and mixed with
gradient checkpointing. The batches are `hybrid-ai improve`'s: an example's training questions with 3 known
answers in the system message, batch 8, the default policy's local model and adapter. Each way runs in a process
of its own, so that its peak RSS is its own.

    .venv/bin/python benchmarks/training_step.py [--example examples/support] [--steps 6]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WAYS = {"fp32, library loss": {"dtype": "fp32", "library_loss": True},
        "fp32, answer tokens": {"dtype": "fp32"},
        "mixed bf16, answer tokens": {"dtype": "mixed"},
        "mixed bf16, answer tokens, checkpointing": {"dtype": "mixed", "gradient_checkpointing": True}}


def one_way(example: str, steps: int, way: dict) -> dict:
    import peft
    import torch
    from transformers import AutoTokenizer

    sys.path.insert(0, str(ROOT))
    from hybrid_ai.backends.local_model import model_path
    from hybrid_ai.finetune import trainer
    from hybrid_ai.finetune.cli import _local_tier
    from hybrid_ai.finetune.config import FinetuneConfig
    from hybrid_ai.finetune.data import load_examples
    from hybrid_ai.finetune.encode import encode
    from hybrid_ai.improve.data import with_known_answers
    from hybrid_ai.policy import load_policy

    tier = _local_tier(load_policy("default"))
    cfg = FinetuneConfig(dtype=way["dtype"], gradient_checkpointing=way.get("gradient_checkpointing", False))
    tok = AutoTokenizer.from_pretrained(model_path(tier)[0])
    enc = encode(tok, with_known_answers(load_examples(Path(example) / "train.jsonl"), 3, "embedding"),
                 cfg.max_length, system=tier.system_prompt)
    torch.manual_seed(0)
    model, _, _ = trainer.load_base(tier, cfg)
    model = trainer._with_lora(peft, model, tier, cfg)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    rng = random.Random(0)
    times, losses = [], []
    for _ in range(steps + 1):  # the first step warms up and is not counted
        b = trainer._collate(torch, enc, rng.sample(range(len(enc.input_ids)), cfg.batch_size), tok.eos_token_id, "cpu")
        t0 = time.perf_counter()
        with trainer._autocast(torch, "cpu", cfg):
            loss = model(**b).loss if way.get("library_loss") else trainer.answer_loss(torch, model, b)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
        losses.append(float(loss.detach()))
    return {"s_per_step": sum(times[1:]) / steps, "first_loss": losses[0], "precision": trainer.cpu_precision(cfg),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--example", default="examples/support")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--way", help=argparse.SUPPRESS)  # one way, in a process of its own
    args = ap.parse_args()
    if args.way:
        print(json.dumps(one_way(args.example, args.steps, WAYS[args.way])))
        return
    from rich.console import Console
    from rich.table import Table

    from hybrid_ai.finetune.trainer import native_bf16

    rows = {}
    for name in WAYS:
        out = subprocess.run([sys.executable, __file__, "--example", args.example, "--steps", str(args.steps),
                              "--way", name], capture_output=True, text=True, check=True, cwd=ROOT)
        rows[name] = json.loads(out.stdout.strip().splitlines()[-1])
    base = rows["fp32, library loss"]["s_per_step"]
    table = Table(title=f"one fine-tuning step, batch 8, {args.example} with 3 known answers "
                        f"(CPU multiplies bf16 natively: {native_bf16()})")
    for col in ("way", "s/step", "speed-up", "peak RSS MiB", "loss of the first batch"):
        table.add_column(col)
    for name, r in rows.items():
        table.add_row(name, f"{r['s_per_step']:.2f}", f"{base / r['s_per_step']:.2f}x", f"{r['peak_rss_mib']:,.0f}",
                      f"{r['first_loss']:.4f}")
    Console().print(table)


if __name__ == "__main__":
    main()
