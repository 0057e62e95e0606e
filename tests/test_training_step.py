"""One training step of the real SLM as `finetune` and `improve` take it: the loss from the answer tokens' hidden
states only is the library's loss, gradient checkpointing changes memory and not the gradients, and the CPU
precision follows `dtype`."""

from __future__ import annotations

import warnings

import pytest

from hybrid_ai.backends.local_model import model_path
from hybrid_ai.finetune import trainer
from hybrid_ai.finetune.config import FinetuneConfig
from hybrid_ai.finetune.data import Example
from hybrid_ai.finetune.encode import encode
from hybrid_ai.policy import TransformersTier

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")

QA = [("What is the refund window?", "You can get a full refund within 21 days of purchase."),
      ("How long are deleted notes kept?", "Deleted notes stay in the Trash for 45 days."),
      ("Which plan has offline mode?", "Offline mode comes with the Pro plan and above."),
      ("Can I export to PDF?", "Yes: File, then Export, then PDF.")]


@pytest.fixture(scope="module")
def batch():
    from transformers import AutoTokenizer

    tier = TransformersTier()
    tok = AutoTokenizer.from_pretrained(model_path(tier)[0])
    examples = [Example(({"role": "system", "content": "Known answers:\n- " + a2}, {"role": "user", "content": q},
                         {"role": "assistant", "content": a}), "test") for (q, a), (_, a2) in zip(QA, QA[1:] + QA[:1])]
    enc = encode(tok, examples, 256, system=tier.system_prompt)
    return tier, trainer._collate(torch, enc, list(range(len(QA))), tok.eos_token_id, "cpu")


def _model(tier, **cfg):
    torch.manual_seed(0)
    config = FinetuneConfig(rank=4, dropout=0.0, **cfg)
    model, _, _ = trainer.load_base(tier, config)
    return trainer._with_lora(peft, model, tier, config), config


def _grads(model) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.requires_grad and p.grad is not None])


def _cos(a, b) -> float:
    return float(a @ b / (a.norm() * b.norm()))


@pytest.mark.slow
def test_the_answer_token_loss_is_the_librarys_loss_with_the_same_gradients(batch):
    tier, b = batch
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        model, _ = _model(tier, dtype="fp32")
    assert not [w for w in seen if "is_gradient_checkpointing" in str(w.message)]  # no noise in the progress
    model.train()
    with torch.no_grad():  # the LoRA B matrices start at zero: move them so that the adapter matters
        for p in model.parameters():
            if p.requires_grad:
                p.normal_(0, 0.02)
    ours = trainer.answer_loss(torch, model, b)
    ours.backward()
    g_ours = _grads(model)
    model.zero_grad()
    theirs = model(**b).loss
    theirs.backward()
    assert abs(float(ours) - float(theirs)) < 1e-4 * float(theirs)
    assert _cos(g_ours, _grads(model)) > 0.9999 and g_ours.norm() > 0


@pytest.mark.slow
def test_gradient_checkpointing_recomputes_the_same_gradients(batch):
    tier, b = batch
    results = []
    for checkpointing in (False, True):
        model, _ = _model(tier, dtype="fp32", gradient_checkpointing=checkpointing)
        base = model.get_base_model()
        assert getattr(base, "is_activation_checkpointing", None) is checkpointing or \
            base.is_gradient_checkpointing is checkpointing
        model.train()
        loss = trainer.answer_loss(torch, model, b)
        loss.backward()
        results.append((float(loss), _grads(model)))
    (l0, g0), (l1, g1) = results
    assert abs(l0 - l1) < 1e-5 * l0 and _cos(g0, g1) > 0.9999


def test_the_cpu_precision_follows_dtype_and_the_cpus_bf16(monkeypatch):
    for native, auto in ((True, "mixed"), (False, "fp32")):
        monkeypatch.setattr(trainer, "native_bf16", lambda native=native: native)
        assert trainer.cpu_precision(FinetuneConfig()) == auto
        assert [trainer.cpu_precision(FinetuneConfig(dtype=d)) for d in ("fp32", "mixed", "bf16")] == \
            ["fp32", "mixed", "bf16"]
    with pytest.raises(ValueError, match="dtype"):
        FinetuneConfig(dtype="fp8")


@pytest.mark.slow
def test_mixed_precision_multiplies_in_bf16_and_keeps_the_loss(batch):
    tier, b = batch
    model, cfg = _model(tier, dtype="mixed")
    assert next(model.parameters()).dtype == torch.float32  # the weights stay fp32; only the products are bf16
    with torch.no_grad():
        full = float(trainer.answer_loss(torch, model, b))
        with trainer._autocast(torch, "cpu", cfg):
            mixed = float(trainer.answer_loss(torch, model, b))
    assert mixed != full and abs(mixed - full) < 0.02 * full
