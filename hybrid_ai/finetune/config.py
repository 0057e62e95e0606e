"""Fine-tuning settings: defaults sized for a 135M-parameter model on 2 CPU cores; every one can be set by a
command-line option or a YAML `--config` file (options win). Unknown keys are rejected."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import HybridAIError, first_problem

LLAMA_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class FinetuneConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rank: int = Field(16, ge=1, le=512, description="LoRA rank r")
    alpha: float = Field(32, gt=0, description="LoRA alpha (scale = alpha / rank)")
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] = Field(default_factory=lambda: list(LLAMA_LINEAR),
                                      description="the linear layers that get adapters (Llama-style names)")
    epochs: float = Field(8, gt=0, description="passes over the training split (fractions allowed)")
    learning_rate: float = Field(2e-3, gt=0)
    warmup_ratio: float = Field(0.05, ge=0, lt=1)
    batch_size: int = Field(8, ge=1)
    grad_accum: int = Field(1, ge=1, description="batches per optimizer step")
    max_length: int = Field(256, ge=16, description="tokens per example; longer ones are truncated or dropped")
    heldout: float = Field(0.1, ge=0, lt=1, description="fraction of examples kept out of training for eval loss")
    seed: int = 0
    rehearse_max_tokens: int = Field(64, ge=1, description="answer length of the rehearsal examples")
    rehearse_share: float = Field(0.0, ge=0, lt=1, description="the rehearsal examples repeated until they are at "
                                  "least this share of the training mix (0: each once)")
    dtype: str = Field("auto", pattern="^(auto|fp32|mixed|bf16)$", description=(
        "CPU precision: fp32; mixed = fp32 weights with bf16 matrix products (autocast); bf16 = bf16 weights; "
        "auto = mixed where the CPU multiplies bf16 natively (AVX-512 BF16 or AMX), else fp32"))
    gradient_checkpointing: bool = Field(False, description="recompute each layer's activations in the backward "
                                         "pass: about half a step's memory, about 1.5x its time")
    threads: int | None = Field(None, ge=1)
    save_dtype: str = Field("fp32", pattern="^(fp32|fp16)$",
                            description="the saved adapter's weights: fp16 halves the file (loaded back as fp32)")


def load_config(path: str | Path | None, overrides: dict) -> FinetuneConfig:
    data: dict = {}
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as e:
            raise HybridAIError(f"{path}: cannot read the fine-tuning config: {e}") from None
        if not isinstance(data, dict):
            raise HybridAIError(f"{path}: the fine-tuning config must be a mapping")
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return FinetuneConfig.model_validate(data)
    except ValidationError as e:
        raise HybridAIError(f"{path or 'options'}: {first_problem(e)}") from None
