"""hybrid-ai as a LiteLLM custom provider, driven by a real `litellm.Router`: completions, streams (sync and async),
pinned to the local tier or left to the policy's routing, with the record in the response's hidden params."""

from __future__ import annotations

import asyncio

import litellm
import pytest

from conftest import user
from hybrid_ai.integrations.litellm_provider import HybridLLM

POLICY = {"name": "litellm-provider",
          "tiers": {"local": {"backend": "transformers", "generation": {"max_tokens": 8}}},
          "classifier": {"threshold": 1.0, "strong_tier": "local"}, "rules": [{"type": "pinned"}], "fallback": {},
          "telemetry": {"sinks": []}}


@pytest.fixture(scope="module")
def router():
    handler = HybridLLM(POLICY)
    before = list(litellm.custom_provider_map)
    litellm.custom_provider_map = [*before, {"provider": "hybrid", "custom_handler": handler}]
    litellm.utils.custom_llm_setup()
    yield litellm.Router(model_list=[
        {"model_name": "slm", "litellm_params": {"model": "hybrid/local"}},
        {"model_name": "auto", "litellm_params": {"model": "hybrid/auto"}},
    ], num_retries=0)
    litellm.custom_provider_map = before


def test_a_router_completion_is_answered_by_the_local_tier_with_its_record(router):
    r = router.completion(model="slm", messages=user("Name a colour."), max_tokens=6)
    assert r.choices[0].message.content and r.usage.completion_tokens <= 6
    record = r._hidden_params["hybrid"]["record"]
    assert record["route"] == "local" and record["policy"] == "litellm-provider" and record["completion_tokens"] <= 6
    auto = router.completion(model="auto", messages=user("Name a colour."))
    assert auto._hidden_params["hybrid"]["reason"] != "pinned"


def test_streams_stream_and_match_the_completion(router):
    full = router.completion(model="slm", messages=user("Name a colour.")).choices[0].message.content
    pieces = [c.choices[0].delta.content or "" for c in router.completion(
        model="slm", messages=user("Name a colour."), stream=True)]
    assert "".join(pieces) == full and len([p for p in pieces if p]) > 1

    async def main():
        r = await router.acompletion(model="slm", messages=user("Name a colour."))
        s = await router.acompletion(model="slm", messages=user("Name a colour."), stream=True)
        return r.choices[0].message.content, "".join([c.choices[0].delta.content or "" async for c in s])

    text, streamed = asyncio.run(main())
    assert text == full == streamed


def test_a_bad_parameter_is_a_clear_error_naming_it(router):
    with pytest.raises(Exception, match="max_tokens"):
        router.completion(model="slm", messages=user("hi"), max_tokens=-3)
