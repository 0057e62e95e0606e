"""The LoRA / QLoRA training loop: the policy's local model, PEFT adapters on its linear layers, AdamW with
linear warmup and decay, loss on assistant tokens only, eval loss on a held-out split, a rich progress bar
(step, loss, time left). Ctrl-C stops after the current step and saves a usable adapter.

On CUDA the base is loaded in 4-bit nf4 with bitsandbytes and prepared with `prepare_model_for_kbit_training`
(QLoRA); on CPU it trains with fp32 weights, its matrix products in bf16 where the CPU multiplies bf16 natively
(`dtype: auto`), else in fp32. The loss is computed from the answer tokens' hidden states only: the vocabulary
projection of the prompt's tokens, which the loss ignores, is never made."""

from __future__ import annotations

import math
import random
import resource
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import require


@dataclass
class TrainResult:
    model: Any  # a peft PeftModel
    tokenizer: object
    device: str
    quantization: str
    metrics: dict = field(default_factory=dict)


@lru_cache(maxsize=1)  # read once: every step asks, through `_autocast`
def native_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (there autocast to bf16 is about 1.4x faster than fp32; where it
    is emulated it is slower)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def cpu_precision(cfg) -> str:
    """fp32, mixed (fp32 weights, bf16 products) or bf16 (bf16 weights), from `cfg.dtype`."""
    if cfg.dtype == "auto":
        return "mixed" if native_bf16() else "fp32"
    return str(cfg.dtype)


def load_base(tier, cfg):
    """(model, device, quantization) ready for PEFT."""
    torch = require("torch", "local")
    transformers = require("transformers", "local")
    from ..backends.local_model import bnb_config, model_path

    transformers.utils.logging.disable_progress_bar()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    path, _ = model_path(tier)
    device = "cuda" if torch.cuda.is_available() and tier.device != "cpu" else "cpu"
    if device == "cuda":
        peft = require("peft", "local")
        model = transformers.AutoModelForCausalLM.from_pretrained(path, quantization_config=bnb_config("nf4", device),
                                                                  device_map={"": 0})
        model = peft.prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
        return model, device, "nf4"
    bf16 = cpu_precision(cfg) == "bf16"
    model = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16 if bf16 else torch.float32)
    if cfg.gradient_checkpointing:
        if hasattr(model, "activation_checkpointing_enable"):  # transformers 5's name
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model, device, "bf16" if bf16 else "none"


def _batches(n: int, size: int, rng: random.Random):
    """Shuffled batches of example indices, epoch after epoch."""
    while True:
        order = list(range(n))
        rng.shuffle(order)
        yield from (order[k:k + size] for k in range(0, n, size))


def _collate(torch, enc, idx, pad_id: int, device: str):
    width = max(len(enc.input_ids[i]) for i in idx)
    ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
    labels = torch.full((len(idx), width), -100, dtype=torch.long)
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    for r, i in enumerate(idx):
        n = len(enc.input_ids[i])
        ids[r, :n] = torch.tensor(enc.input_ids[i])
        labels[r, :n] = torch.tensor(enc.labels[i])
        mask[r, :n] = 1
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device), "labels": labels.to(device)}


def answer_loss(torch, model, batch):
    """The mean cross-entropy over the answer tokens, as `model(**batch).loss` computes it, but with the vocabulary
    projection made for those tokens only (the 49,152-word projection is a fifth of a 135M model's weights; making
    it for the prompt's tokens too cost 9% of a step and 0.4 GiB with known answers in the prompt). Models whose
    head does more than a projection (logit soft-capping or scaling) take the library's own path."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = base.config
    if getattr(config, "final_logit_softcapping", None) or getattr(config, "logits_scaling", None) \
            or not hasattr(base, "get_decoder"):
        return model(**batch).loss
    hidden = base.get_decoder()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                use_cache=False).last_hidden_state
    labels = batch["labels"][:, 1:]
    keep = labels != -100
    logits = base.get_output_embeddings()(hidden[:, :-1][keep]).float()
    return torch.nn.functional.cross_entropy(logits, labels[keep])


def _autocast(torch, device: str, cfg):
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=device == "cpu" and cpu_precision(cfg) == "mixed")


def eval_loss(torch, model, enc, pad_id, device, cfg) -> float | None:
    """Mean loss per answer token over the held-out split (None when there is none)."""
    if not enc.input_ids:
        return None
    model.eval()
    total, tokens = 0.0, 0
    with torch.no_grad():
        for k in range(0, len(enc.input_ids), cfg.batch_size):
            b = _collate(torch, enc, list(range(k, min(k + cfg.batch_size, len(enc.input_ids)))), pad_id, device)
            n = int((b["labels"][:, 1:] != -100).sum())
            with _autocast(torch, device, cfg):
                total += float(answer_loss(torch, model, b)) * n
            tokens += n
    model.train()
    return total / max(tokens, 1)


def _with_lora(peft, model, tier, cfg):
    """The tier's own adapter, trainable, when it has one (training continues from it: its rank, alpha and
    layers); else a new LoRA from `cfg`."""
    if tier.adapter:
        from ..backends.local_model import _attach_adapter

        return _attach_adapter(model, tier.adapter, tier.model, trainable=True)
    lora = peft.LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout,
                           target_modules=cfg.target_modules, task_type="CAUSAL_LM")
    from ..backends.local_model import quiet_peft

    try:
        with quiet_peft():
            return peft.get_peft_model(model, lora)
    except ValueError as e:  # e.g. target modules that this architecture does not have
        from ..errors import HybridAIError

        raise HybridAIError(f"LoRA config does not fit the model: {e}") from None


def train(tier, cfg, tok, train_enc, heldout_enc, progress=None) -> TrainResult:
    """`tok` is the tokenizer that encoded the examples (its pad and end ids are used)."""
    torch = require("torch", "local")
    peft = require("peft", "local")
    torch.manual_seed(cfg.seed)
    model, device, quant = load_base(tier, cfg)
    model = _with_lora(peft, model, tier, cfg)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    rng = random.Random(cfg.seed)
    n = len(train_enc.input_ids)
    per_epoch = math.ceil(n / cfg.batch_size)
    total_batches = max(1, round(per_epoch * cfg.epochs))
    total_steps = math.ceil(total_batches / cfg.grad_accum)
    warm = max(1, int(cfg.warmup_ratio * total_steps))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total_steps - s) / max(1, total_steps - warm))))
    m = {"eval_loss_before": eval_loss(torch, model, heldout_enc, pad_id, device, cfg),
         "losses": [], "steps": 0, "total_steps": total_steps, "interrupted": False}
    task = progress.add_task("fine-tuning", total=total_steps, loss=float("nan")) if progress else None
    model.train()
    batches = _batches(n, cfg.batch_size, rng)
    t0 = time.perf_counter()
    step_times = []
    try:
        done = 0
        while done < total_batches:
            ts = time.perf_counter()
            loss_sum = 0.0
            for _ in range(min(cfg.grad_accum, total_batches - done)):
                b = _collate(torch, train_enc, next(batches), pad_id, device)
                with _autocast(torch, device, cfg):
                    loss = answer_loss(torch, model, b) / cfg.grad_accum
                loss.backward()
                loss_sum += float(loss.detach())
                done += 1
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step_times.append(time.perf_counter() - ts)
            m["losses"].append(round(loss_sum, 4))
            m["steps"] += 1
            if progress:
                progress.update(task, advance=1, loss=loss_sum)
    except KeyboardInterrupt:
        m["interrupted"] = True  # the adapter as it is now is saved by the caller
    m["train_s"] = time.perf_counter() - t0
    m["step_s_mean"] = sum(step_times) / len(step_times) if step_times else None
    m["eval_loss_after"] = eval_loss(torch, model, heldout_enc, pad_id, device, cfg)
    m["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if device == "cuda":
        m["peak_cuda_mib"] = torch.cuda.max_memory_allocated() / 2**20
    m["trainable_params"] = sum(p.numel() for p in params)
    m["precision"] = quant if device == "cuda" else cpu_precision(cfg)
    return TrainResult(model, tok, device, quant, m)
