"""Bad input for each adapter, answered in that adapter's own conventions and never by a hang: a policy that does
not load (an error naming the file and key when the adapter is built), a cloud upstream that is down (an SDK
exception, an HTTP status, a LiteLLM exception, each within seconds), a non-chat call through the transport to an
upstream that is down (the SDK's connection error)."""

from __future__ import annotations

import time

import litellm
import openai
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from conftest import KEY_ENV, user
import hybrid_ai
from hybrid_ai import PolicyError
from hybrid_ai.integrations.litellm_provider import HybridLLM
from hybrid_ai.serving.app import create_app
from hybrid_ai.serving.middleware import HybridMiddleware

DOWN = "http://127.0.0.1:9"  # nothing listens: connection refused
CLOUD_ONLY = {"name": "down", "tiers": {"cloud": {
    "backend": "litellm", "model": "openai/gpt-4o-mini", "api_base": f"{DOWN}/v1", "api_key_env": KEY_ENV,
    "max_retries": 0, "timeout_s": 5}},
    "classifier": {"type": "heuristic", "threshold": 0.0, "weak_tier": "cloud", "strong_tier": "cloud"},
    "rules": [], "fallback": {}, "telemetry": {"sinks": []}}


@pytest.fixture
def bad_policy(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\ntiers:\n  local:\n    backend: transformers\n    quantisation: nf4\n")
    return path


@pytest.mark.parametrize("build", [
    lambda p: hybrid_ai.http_client(policy=p),
    lambda p: hybrid_ai.async_http_client(policy=p),
    lambda p: create_app(p, auth=False),
    lambda p: HybridMiddleware(FastAPI(), policy=p),
    lambda p: HybridLLM(policy=p),
], ids=["transport", "async-transport", "asgi-app", "middleware", "litellm-provider"])
def test_a_policy_that_does_not_load_names_file_and_key_when_the_adapter_is_built(bad_policy, build):
    with pytest.raises(PolicyError, match=r"bad\.yaml.*tiers\.local\.quantisation"):
        build(str(bad_policy))


def test_an_upstream_that_is_down_is_a_final_sdk_error_through_the_transport(cloud_key):
    sdk = openai.OpenAI(api_key="unused", base_url=f"{DOWN}/v1", http_client=hybrid_ai.http_client(policy=CLOUD_ONLY))
    t0 = time.perf_counter()
    with pytest.raises(openai.APIStatusError) as e:
        sdk.chat.completions.create(model="hybrid", messages=user("hi"))
    assert e.value.status_code == 502 and e.value.body["code"] == "all_tiers_failed"
    assert e.value.response.headers["x-should-retry"] == "false" and time.perf_counter() - t0 < 30
    with pytest.raises(openai.APIConnectionError):  # a non-chat call goes to the (down) upstream unchanged
        sdk.with_options(max_retries=0).models.list()


def test_an_upstream_that_is_down_is_an_http_502_from_the_middleware(cloud_key):
    app = FastAPI()

    @app.get("/own")
    def own():
        return {"ok": True}

    app.add_middleware(HybridMiddleware, policy=CLOUD_ONLY, prefix="/llm")
    with TestClient(app) as http:
        r = http.post("/llm/v1/chat/completions", json={"messages": user("hi")})
        assert r.status_code == 502 and r.json()["error"]["code"] == "all_tiers_failed"
        s = http.post("/llm/v1/chat/completions", json={"messages": user("hi"), "stream": True})
        assert s.status_code == 502  # failed before its first chunk: a status, not a broken stream
        assert http.get("/own").json() == {"ok": True}


def test_an_upstream_that_is_down_is_a_litellm_exception_from_the_provider(cloud_key):
    before = list(litellm.custom_provider_map)
    litellm.custom_provider_map = [*before, {"provider": "hybriddown", "custom_handler": HybridLLM(CLOUD_ONLY)}]
    litellm.utils.custom_llm_setup()
    try:
        with pytest.raises(litellm.APIConnectionError, match=r"all tiers failed: \[cloud\]"):
            litellm.completion(model="hybriddown/auto", messages=user("hi"))
    finally:
        litellm.custom_provider_map = before
