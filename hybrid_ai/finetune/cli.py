"""`hybrid-ai finetune`: examples (a file or the route log) -> held-out split -> encode -> train -> an adapter
folder the policy can name (`tiers.local.adapter`), with a summary of what was used and measured."""

from __future__ import annotations

import random
import time
from pathlib import Path

from ..errors import HybridAIError
from ..policy import load_policy
from . import data as ft_data
from .config import load_config


def _local_tier(policy):
    tier = policy.tiers.get(policy.classifier.weak_tier)
    if tier is None or not tier.trainable:
        raise HybridAIError(f"policy {policy.name!r}: the weak tier {policy.classifier.weak_tier!r} is not a "
                            f"kind that can be fine-tuned (transformers), so there is no local model to train")
    return tier


def _examples(args, policy) -> tuple[list, dict, str]:
    from ..store import where

    if args.from_log:
        examples, counts = ft_data.from_route_log(args.from_log, policy, max_chars=args.max_chars)
        if not examples:
            raise HybridAIError(f"{where(args.from_log)}: no usable cloud answers in the route log ({counts})")
        return examples, counts, where(args.from_log)
    examples = ft_data.load_examples(args.data)
    return examples, {"rows": len(examples), "kept": len(examples)}, str(args.data)


def split(examples: list, fraction: float, seed: int) -> tuple[list, list]:
    """(train, held-out): a seeded shuffle; at least one held-out example when asked for and there are 10+."""
    if fraction <= 0 or len(examples) < 10:
        return list(examples), []
    idx = list(range(len(examples)))
    random.Random(seed).shuffle(idx)
    k = max(1, round(fraction * len(examples)))
    held = set(idx[:k])
    return [e for i, e in enumerate(examples) if i not in held], [examples[i] for i in sorted(held)]


def run(args) -> int:
    from rich.console import Console

    console = Console()
    policy = load_policy(args.policy)
    tier = _local_tier(policy)
    if args.out is None and not args.export:
        raise HybridAIError("give --out DIR (where the adapter goes), or --export FILE to only write the data set")
    out = Path(args.out or ".")
    if args.data is None and args.from_log is None:
        if not args.merge:
            raise HybridAIError("give --data FILE or --from-log DB (or --merge to merge an existing adapter)")
        from .save import merge

        console.print(f"merged weights: {merge(tier, out)}")
        return 0
    examples, counts, source = _examples(args, policy)
    if args.export:
        ft_data.export(examples, args.export)
        console.print(f"wrote {len(examples)} examples to {args.export} (route log: {counts})")
        return 0
    cfg = load_config(args.config, {"epochs": args.epochs, "learning_rate": args.lr, "rank": args.rank,
                                    "alpha": args.alpha, "max_length": args.max_length,
                                    "batch_size": args.batch_size, "heldout": args.heldout, "seed": args.seed})
    rehearse = ft_data.load_prompts(args.rehearse) if args.rehearse else []
    if tier.adapter and not args.from_scratch:
        console.print(f"continuing from the policy's adapter {tier.adapter} (its rank, alpha and layers; "
                      "--from-scratch trains a new one on the base model)")
    return _train(console, policy, tier, cfg, examples, counts, source, out, args.merge, rehearse,
                  args.from_scratch)


def _train(console, policy, tier, cfg, examples, counts, source, out: Path, merge_after: bool,
           rehearse: list, from_scratch: bool = False) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from ..backends.local_model import model_path
    from ..errors import require
    from .encode import encode
    from .save import fingerprint, merge, save_adapter
    from .trainer import train

    transformers = require("transformers", "local")
    train_ex, held_ex = split(examples, cfg.heldout, cfg.seed)
    tok = transformers.AutoTokenizer.from_pretrained(model_path(tier)[0])
    held_enc = encode(tok, held_ex, cfg.max_length, system=tier.system_prompt)
    t0 = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]:.3f}"), TimeElapsedColumn(), TextColumn("left"),
               TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        mixed = ft_data.rehearsal(tier, rehearse, cfg.rehearse_max_tokens, progress) if rehearse else []
        mixed = ft_data.upsampled(mixed, len(train_ex), cfg.rehearse_share)
        train_enc = encode(tok, train_ex + mixed, cfg.max_length, system=tier.system_prompt)
        if not train_enc.input_ids:
            raise HybridAIError(f"no training example fits max_length {cfg.max_length} tokens "
                                f"({train_enc.dropped} dropped)")
        # rehearsal answers come from the tier as served; training starts from its adapter unless from_scratch
        result = train(tier.model_copy(update={"adapter": None}) if from_scratch else tier, cfg, tok, train_enc,
                       held_enc, progress)
    m = result.metrics
    m["total_s"] = time.perf_counter() - t0
    lora = getattr(result.model, "peft_config", {}).get("default")
    if lora is not None:  # what was trained: a continued adapter keeps its own rank and alpha
        cfg = cfg.model_copy(update={"rank": lora.r, "alpha": float(lora.lora_alpha)})
    info = {
        "base_model": tier.model, "base_fingerprint": fingerprint(result.model.config),
        "device": result.device, "quantization": result.quantization, "config": cfg.model_dump(),
        "data": {"source": source, "sha256": ft_data.data_hash(examples), "examples": len(examples),
                 "train": len(train_enc.input_ids), "heldout": len(held_enc.input_ids),
                 "truncated": train_enc.truncated + held_enc.truncated, "dropped": train_enc.dropped + held_enc.dropped,
                 "route_log": counts if "duplicate" in counts else None, "rehearsal": len(mixed)},
        "metrics": m, "policy": policy.name, "continued_from": None if from_scratch else tier.adapter,
    }
    size = save_adapter(result, out, info, base_model_name=tier.model)
    _summary(console, info, out, size, policy.classifier.weak_tier)
    if merge_after:
        console.print(f"merged weights: {merge(tier, out)}")
    return 130 if m["interrupted"] else 0


def _summary(console, info, out, size, tier_name: str) -> None:
    m, d = info["metrics"], info["data"]
    state = "[yellow]interrupted: the adapter saved is the one after the last finished step[/yellow]" \
        if m["interrupted"] else "done"
    before, after = m["eval_loss_before"], m["eval_loss_after"]
    held = f"held-out loss {before:.3f} -> {after:.3f}" if before is not None else "no held-out split"
    console.print(f"{state}: {m['steps']}/{m['total_steps']} steps in {m['train_s']:.0f} s "
                  f"({m['step_s_mean'] or 0:.2f} s/step), {held}; {d['train']} train / {d['heldout']} held-out "
                  f"examples ({d['truncated']} truncated, {d['dropped']} dropped); peak RSS {m['peak_rss_mib']:.0f} MiB; "
                  f"adapter {size / 2**20:.1f} MiB at {out}")
    console.print(f"use it: set `adapter: {out}` under tiers.{tier_name} in your policy, then `hybrid-ai eval`")
