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


@pytest.mark.slow
def test_a_router_completion_is_answered_by_the_local_tier_with_its_record(router):
    r = router.completion(model="slm", messages=user("Name a colour."), max_tokens=6)
    assert r.choices[0].message.content and r.usage.completion_tokens <= 6
    record = r._hidden_params["hybrid"]["record"]
    assert record["route"] == "local" and record["policy"] == "litellm-provider" and record["completion_tokens"] <= 6
    auto = router.completion(model="auto", messages=user("Name a colour."))
    assert auto._hidden_params["hybrid"]["reason"] != "pinned"


@pytest.mark.slow
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


def test_the_impact_logger_adds_energy_co2_and_the_cloud_counterfactual_to_litellms_logging(upstream, cloud_key):
    """A real Router with two models: the hybrid's local tier and a remote OpenAI-compatible server (the tests'
    upstream). The logger runs first; a second logger sees what it added to standard_logging_object."""
    import time

    from litellm.integrations.custom_logger import CustomLogger

    from conftest import KEY_ENV
    from hybrid_ai.integrations.litellm_logger import HybridImpactLogger

    class Seen(CustomLogger):
        def __init__(self):
            super().__init__()
            self.metadata = []

        def log_success_event(self, kwargs, response_obj, start_time, end_time):
            self.metadata.append((kwargs.get("standard_logging_object") or {}).get("metadata", {}).get("hybrid_ai"))

        async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
            self.log_success_event(kwargs, response_obj, start_time, end_time)

    impact, seen = HybridImpactLogger("default"), Seen()
    before, before_map = list(litellm.callbacks), list(litellm.custom_provider_map)
    litellm.callbacks = [impact, seen]
    litellm.custom_provider_map = [{"provider": "hybrid", "custom_handler": HybridLLM(POLICY)}]
    litellm.utils.custom_llm_setup()
    try:
        router = litellm.Router(model_list=[
            {"model_name": "slm", "litellm_params": {"model": "hybrid/local"}},
            {"model_name": "remote", "litellm_params": {"model": "openai/gpt-4o-mini", "api_base": f"{upstream}/v1",
                                                        "api_key": f"os.environ/{KEY_ENV}"}},
        ], num_retries=0)
        router.completion(model="slm", messages=user("Name a colour."), max_tokens=6)
        router.completion(model="remote", messages=user("Name a colour."), max_tokens=6)
        deadline = time.time() + 30
        while (len(impact.events) < 2 or len(seen.metadata) < 2) and time.time() < deadline:
            time.sleep(0.1)
    finally:
        litellm.callbacks, litellm.custom_provider_map = before, before_map
    local, remote = sorted(impact.events, key=lambda e: e["route"] is None)
    assert local["route"] == "local" and local["energy_source"].startswith("hybrid-ai record") and local["energy_wh"] > 0
    assert remote["energy_source"] == "ecologits" and remote["energy_wh"] > 0 and remote["co2_g"] > 0
    for e in (local, remote):  # what the call would have cost on the default policy's cloud tier
        assert e["cloud_tier_model"] == "openai/gpt-4o-mini" and e["cloud_tier_cost_usd"] > 0
    assert len(seen.metadata) == 2 and all(m and m["cloud_tier_cost_usd"] > 0 for m in seen.metadata)


def test_hybrid_ai_decides_the_tier_of_litellms_complexity_router():
    """A real litellm.Router with `auto_router/complexity_router`, `classifier_type: custom`: hybrid-ai's classifier
    and rules pick the tier; LiteLLM calls that tier's deployment (two OpenAI-compatible servers on 127.0.0.1)."""
    from doubles import FakeUpstream
    from hybrid_ai.integrations.litellm_classifier import HybridClassifier

    policy = {"name": "litellm-classifier",
              "tiers": {"local": {"backend": "transformers"},
                        "cloud": {"backend": "litellm", "model": "openai/x", "api_key_env": None}},
              "classifier": {"type": "heuristic", "threshold": 0.5},
              "rules": [{"type": "personal_data", "route": "local"}], "telemetry": {"sinks": []}}
    clf = HybridClassifier(policy)
    hard = "Prove that there are infinitely many primes; derive each step and analyze the theorem rigorously."
    with FakeUpstream(text="local says hi") as lo, FakeUpstream(text="cloud says hi") as cl:
        router = litellm.Router(model_list=[
            {"model_name": "smart", "litellm_params": {
                "model": "auto_router/complexity_router",
                "complexity_router_config": {"classifier_type": "custom", "classifier_plugin": clf,
                                             "tiers": {"SIMPLE": "slm", "COMPLEX": "big"}}}},
            {"model_name": "slm", "litellm_params": {"model": "openai/slm", "api_base": f"{lo.base}/v1", "api_key": "k"}},
            {"model_name": "big", "litellm_params": {"model": "openai/big", "api_base": f"{cl.base}/v1", "api_key": "k"}},
        ], num_retries=0)

        async def ask(text):
            r = await router.acompletion(model="smart", messages=user(text))
            headers = r._hidden_params["additional_headers"]
            return r.choices[0].message.content, headers["x-litellm-complexity-router-cause"], clf.last

        easy, cause, d = asyncio.run(ask("What is the capital of France?"))
        assert easy == "local says hi" and cause == "classifier_plugin" and d.reason == "score<threshold"
        big, cause, d = asyncio.run(ask(hard))
        assert big == "cloud says hi" and cause == "classifier_plugin" and d.reason == "score>=threshold"
        kept, _, d = asyncio.run(ask(f"Mail anna.meyer@example.com this: {hard}"))  # personal data stays local
        assert kept == "local says hi" and d.reason == "rule:personal-data"
        assert not any("anna.meyer" in str(req["body"]) for req in cl.requests)
    assert clf.decide([{"role": "user", "content": 42}]) is None  # unreadable: declined, LiteLLM's fallback decides


def test_tool_calls_pass_through_the_provider_whole_and_streamed(tmp_path, cloud_key):
    from conftest import hybrid_policy
    from doubles import FakeUpstream

    weather = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    with FakeUpstream("ok") as fake:
        handler = HybridLLM(hybrid_policy(fake.base, threshold=1.0, tmp=tmp_path))
        before = list(litellm.custom_provider_map)
        litellm.custom_provider_map = [*before, {"provider": "hybridtools", "custom_handler": handler}]
        litellm.utils.custom_llm_setup()
        try:
            r = litellm.completion(model="hybridtools/auto", messages=user("Weather?"), tools=[weather])
            call = r.choices[0].message.tool_calls[0]
            assert call.function.name == "get_weather" and r.choices[0].finish_reason == "tool_calls"
            assert r._hidden_params["hybrid"]["record"]["skipped_tiers"] == ["local"]
            args = "".join(tc.function.arguments or "" for c in litellm.completion(
                model="hybridtools/auto", messages=user("Weather?"), tools=[weather], stream=True)
                for tc in c.choices[0].delta.tool_calls or [])
            assert args == call.function.arguments
        finally:
            litellm.custom_provider_map = before


def test_tools_asked_of_a_tier_without_them_are_a_clear_error(router):
    weather = {"type": "function", "function": {"name": "get_weather"}}
    with pytest.raises(Exception, match="'local' does not support tools"):
        router.completion(model="slm", messages=user("Weather?"), tools=[weather])
