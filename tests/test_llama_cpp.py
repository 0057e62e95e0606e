"""`backend: llama_cpp`: the bundled GGUF on llama.cpp where llama-cpp-python is installed (an optional extra that
compiles for about 20 minutes where no wheel exists, so CI does not have it); everywhere, the errors: the package
missing (not ready, a load error that says what to install, a fallback), a model without a GGUF file, an adapter."""

from __future__ import annotations

import importlib.util

import pytest

from conftest import user, without_package
from doubles import ScriptedBackend
from hybrid_ai import HybridClient, PolicyError, load_policy
from hybrid_ai.backends.llama_cpp_backend import LlamaCppBackend, LlamaCppTier

INSTALLED = importlib.util.find_spec("llama_cpp") is not None


def policy(**local) -> dict:
    return {"name": "llama", "tiers": {"local": {"backend": "llama_cpp", "generation": {"max_tokens": 12}, **local},
                                       "cloud": {"backend": "litellm", "model": "openai/gpt-4o-mini",
                                                 "api_key_env": None}},
            "classifier": {"threshold": 1.0}, "rules": [], "telemetry": {"sinks": []}}


def test_without_the_package_the_tier_is_not_ready_and_requests_fall_back(monkeypatch):
    without_package(monkeypatch, "llama_cpp")
    c = HybridClient(policy(threads=1), backends={"cloud": ScriptedBackend("cloud")})  # threads=1: its own load
    ok, why = c.backends["local"].ready()
    assert not ok and "pip install 'hybrid-ai[llamacpp]'" in why
    r = c.chat.completions.create(messages=user("hi"))
    first = r.hybrid.record.attempts[0]
    assert r.hybrid.route == "cloud" and first.error_kind == "load" and "llama_cpp" in first.error


@pytest.mark.parametrize("local, words", [
    ({"model": "HuggingFaceTB/SmolLM2-135M-Instruct"}, "needs a GGUF file"),
    ({"adapter": "my-adapter"}, "does not load PEFT adapters"),
])
def test_what_llama_cpp_cannot_load_is_a_clear_error_and_a_fallback(local, words):
    c = HybridClient(policy(**local), backends={"cloud": ScriptedBackend("cloud")})
    r = c.chat.completions.create(messages=user("hi"))
    assert r.hybrid.route == "cloud" and words in r.hybrid.record.attempts[0].error


def test_the_policy_refuses_what_llama_cpp_cannot_support():
    with pytest.raises(PolicyError, match="tiers.local.supports"):
        load_policy(policy(supports=["logprobs"]))
    assert load_policy(policy()).tiers["local"].capabilities == () and not LlamaCppTier.trainable


def test_the_bundled_gguf_answers_and_streams_on_llama_cpp():
    backend = LlamaCppBackend("local", LlamaCppTier())
    if not INSTALLED:  # CI: the optional engine is absent, and says how to get it
        ok, why = backend.ready()
        assert not ok and "llama_cpp is not installed" in why
        return
    c = HybridClient(policy(), backends={"cloud": ScriptedBackend("cloud")})
    r = c.chat.completions.create(messages=user("Name a colour."))
    rec = r.hybrid.record
    assert r.hybrid.route == "local" and r.choices[0].message.content and 0 < rec.completion_tokens <= 12
    assert rec.backend == "llama_cpp" and rec.quantization == "gguf-q4_1" and rec.prompt_tokens > 10
    assert rec.ttft_ms is not None and r.choices[0].finish_reason in ("stop", "length")
    assert 0 < r.usage.prompt_tokens_details.cached_tokens < rec.prompt_tokens  # the template's opening, kept
    stream = c.chat.completions.create(messages=user("Name a colour."), stream=True)
    assert "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices) == r.choices[0].message.content
    text = r.choices[0].message.content
    word = text.split()[2]  # a stop string the greedy answer is known to contain
    cut = c.chat.completions.create(messages=user("Name a colour."), stop=[word])
    assert cut.choices[0].message.content == text[:text.index(word)]  # cut before it, as OpenAI cuts
    with c.chat.completions.create(messages=user("Write a long story."), max_tokens=64, stream=True) as s:
        next(iter(s))  # abandoned after its first chunk: the model's lock is released
    again = c.chat.completions.create(messages=user("Name a colour."))
    assert again.choices[0].message.content == r.choices[0].message.content  # greedy, after the abandoned one
