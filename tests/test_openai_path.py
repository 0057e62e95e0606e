"""The cloud tier's two paths: the openai SDK (pooled, the default for OpenAI-compatible upstreams) and litellm.
Both are called against the same real OpenAI-compatible server on 127.0.0.1 and must give the same answer, tokens,
cost and record; which tiers take which path; Azure's URL; retries; litellm stays unimported on the fast path."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import pytest
from conftest import KEY_ENV, TEST_KEY, user
from doubles import FakeUpstream

from hybrid_ai import AsyncHybridClient, HybridClient, load_policy
from hybrid_ai.backends.litellm_backend import LiteLLMBackend
from hybrid_ai.backends.openai_backend import OpenAIBackend


def cloud_only(base: str, sdk: str = "auto", model: str = "openai/gpt-4o-mini", **tier) -> dict:
    return {"name": "cloud-only", "tiers": {"cloud": {
        "backend": "litellm", "model": model, "api_base": f"{base}/v1", "api_key_env": KEY_ENV, "sdk": sdk,
        "max_retries": 0, "timeout_s": 10, "cost": {"usd_per_mtok_input": 1.0, "usd_per_mtok_output": 2.0}, **tier}},
        "classifier": {"type": "heuristic", "threshold": 0.0, "weak_tier": "cloud", "strong_tier": "cloud"},
        "rules": [], "fallback": {}, "telemetry": {"sinks": [], "savings": False}}


@pytest.mark.parametrize(("model", "api_base", "sdk", "fast"), [
    ("openai/gpt-4o-mini", None, "auto", True),
    ("hosted_vllm/Qwen/Qwen2.5-7B", "http://vllm:8000/v1", "auto", True),
    ("azure/my-deployment", "https://x.openai.azure.com", "auto", True),
    ("my-local-model", "http://127.0.0.1:8080/v1", "auto", True),  # an OpenAI-compatible server, bare name
    ("gpt-4o-mini", None, "auto", False),  # litellm infers the provider from a bare name
    ("anthropic/claude-3-5-haiku-latest", None, "auto", False),
    ("anthropic/claude-3-5-haiku-latest", "https://proxy.example/v1", "auto", False),
    ("openai/gpt-4o-mini", None, "litellm", False),
    ("my-model", None, "openai", True),
])
def test_which_tiers_take_the_openai_sdk_path(model, api_base, sdk, fast, monkeypatch):
    monkeypatch.delenv("HYBRID_AI_CLOUD_SDK", raising=False)
    tier = {"backend": "litellm", "model": model, "sdk": sdk, **({"api_base": api_base} if api_base else {})}
    policy = load_policy({"name": "p", "tiers": {"cloud": tier}, "classifier": {
        "type": "heuristic", "weak_tier": "cloud", "strong_tier": "cloud"}, "rules": [], "fallback": {}})
    backend = policy.tiers["cloud"].build("cloud")
    assert isinstance(backend, OpenAIBackend) is fast and isinstance(backend, LiteLLMBackend)


def test_the_environment_sets_what_auto_means_but_not_an_explicit_sdk(monkeypatch):
    monkeypatch.setenv("HYBRID_AI_CLOUD_SDK", "litellm")
    auto = load_policy(cloud_only("http://x")).tiers["cloud"]
    pinned = load_policy(cloud_only("http://x", sdk="openai")).tiers["cloud"]
    assert type(auto.build("cloud")) is LiteLLMBackend and type(pinned.build("cloud")) is OpenAIBackend


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_both_paths_give_the_same_answer_tokens_cost_and_record(stream, cloud_key):
    out = {}
    with FakeUpstream("ok", text="the answer is four") as fake:
        for sdk in ("openai", "litellm"):
            with HybridClient(cloud_only(fake.base, sdk)) as client:
                r = client.chat.completions.create(messages=user("What is 2+2?"), max_tokens=8, stream=stream)
                if stream:
                    text = "".join(c.choices[0].delta.content or "" for c in r if c.choices)
                    rec = r.hybrid.record
                else:
                    text, rec = r.choices[0].message.content, r.hybrid.record
            out[sdk] = (text, rec.prompt_tokens, rec.completion_tokens, rec.cost_usd, rec.cost_source, rec.backend,
                        rec.error, rec.route)
        sent = [req["body"] for req in fake.requests]
    assert out["openai"] == out["litellm"] and out["openai"][0] == "the answer is four"
    assert out["openai"][5] == "litellm" and out["openai"][6] is None  # the record names the tier's kind
    # what reaches the upstream: the same model, messages and limits on both paths (litellm adds nothing it needs)
    for key in ("model", "messages", "max_tokens", "stream"):
        assert sent[0].get(key) == sent[1].get(key), key
    assert sent[0]["model"] == "gpt-4o-mini"


def test_one_pooled_client_per_tier_and_event_loop(cloud_key):
    with FakeUpstream("ok") as fake, HybridClient(cloud_only(fake.base)) as client:
        backend = client.backends["cloud"]
        for _ in range(3):
            client.chat.completions.create(messages=user("hi"), max_tokens=4)
        assert isinstance(backend, OpenAIBackend) and len(backend._sync) == 1

    async def two_calls(c):
        await c.chat.completions.create(messages=user("hi"), max_tokens=4)
        await c.chat.completions.create(messages=user("hi"), max_tokens=4)
        await c.aclose()  # closes this loop's pooled session

    with FakeUpstream("ok") as fake:
        client = AsyncHybridClient(cloud_only(fake.base))
        asyncio.run(two_calls(client))
        asyncio.run(two_calls(client))  # a second loop gets its own session (connections belong to their loop)
        assert fake.hits == 4


def test_retries_are_exactly_max_retries_and_only_for_what_a_retry_mends(cloud_key):
    with FakeUpstream("500", "500", "ok") as fake, HybridClient(cloud_only(fake.base, max_retries=2)) as client:
        r = client.chat.completions.create(messages=user("hi"), max_tokens=4)
        assert r.choices[0].message.content and fake.hits == 3
    with FakeUpstream("401") as fake, HybridClient(cloud_only(fake.base, max_retries=3)) as client:
        with pytest.raises(Exception) as err:
            client.chat.completions.create(messages=user("hi"), max_tokens=4)
        assert fake.hits == 1 and TEST_KEY not in str(err.value) and TEST_KEY[:12] not in repr(err.value)


def test_azure_deployments_are_called_at_their_url_with_the_api_version(cloud_key):
    with FakeUpstream("ok") as fake:
        policy = cloud_only(fake.base, model="azure/my-deploy", api_version="2024-06-01")
        policy["tiers"]["cloud"]["api_base"] = fake.base
        with HybridClient(policy) as client:
            r = client.chat.completions.create(messages=user("hi"), max_tokens=4)
        path, headers = fake.requests[0]["path"], fake.requests[0]["headers"]
    assert r.choices[0].message.content
    assert path == "/openai/deployments/my-deploy/chat/completions?api-version=2024-06-01"
    assert headers.get("api-key") == TEST_KEY


def test_the_fast_path_does_not_import_litellm(cloud_key, tmp_path):
    with FakeUpstream("ok") as fake:
        script = textwrap.dedent(f"""
            import json, sys
            from hybrid_ai import HybridClient
            policy = json.loads({__import__("json").dumps(__import__("json").dumps(cloud_only(fake.base)))})
            with HybridClient(policy) as c:
                r = c.chat.completions.create(messages=[{{"role": "user", "content": "hi"}}], max_tokens=4)
            assert r.choices[0].message.content and r.hybrid.record.cost_usd > 0
            print("litellm" in sys.modules)
        """)
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                             env={**__import__("os").environ, KEY_ENV: TEST_KEY, "HYBRID_AI_CLOUD_SDK": "auto"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"
