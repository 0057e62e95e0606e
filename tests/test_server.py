"""`hybrid-ai serve`: OpenAI-compatible endpoints, OpenAI-style errors, and it keeps serving."""

from __future__ import annotations

import httpx
import openai
import pytest

from conftest import AUTH, TEST_KEY


def test_health_and_models(upstream):
    assert httpx.get(f"{upstream}/healthz").json() == {"status": "ok"}  # details only with a key
    h = httpx.get(f"{upstream}/healthz", headers=AUTH).json()
    assert h["status"] == "ok" and h["policy"] == "local-only" and h["tiers"]["local"]["backend"] == "onnxruntime"
    ids = [m["id"] for m in httpx.get(f"{upstream}/v1/models", headers=AUTH).json()["data"]]
    assert ids == ["hybrid", "local"]


def test_the_openai_sdk_talks_to_the_server(upstream):
    client = openai.OpenAI(base_url=f"{upstream}/v1", api_key=TEST_KEY)
    r = client.chat.completions.create(model="hybrid", messages=[{"role": "user", "content": "Capital of France?"}],
                                       max_tokens=6)
    assert r.choices[0].message.content and r.usage.completion_tokens <= 6
    extra = r.model_extra["hybrid"]
    assert extra["route"] == "local" and extra["record"]["backend"] == "onnxruntime"
    assert r.id == extra["record"]["request_id"]


@pytest.mark.parametrize("body, status, param, words", [
    (b"{not json", 400, None, "not valid JSON"),
    (b"[1, 2]", 400, None, "JSON object"),
    (b'{"messages": []}', 400, "messages", "at least one"),
    (b'{"messages": [{"role": "wizard", "content": "x"}]}', 400, "messages[0].role", "unknown role"),
    (b'{"messages": [{"role": "user", "content": 7}]}', 400, "messages[0].content", "got int"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 99999999}', 400, "max_tokens", "between"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "stream": 1}', 400, "stream", "true or false"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "route": "cloud"}', 400, "route", "unknown tier"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "api_base": "http://evil/v1"}', 400, "api_base",
     "unrecognized request argument"),
])
def test_bad_requests_get_openai_style_4xx(upstream, body, status, param, words):
    r = httpx.post(f"{upstream}/v1/chat/completions", content=body, headers={"content-type": "application/json", **AUTH})
    assert r.status_code == status
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and err["param"] == param and words in err["message"]


def test_huge_prompts_are_rejected_and_the_server_keeps_serving(upstream):
    big = {"messages": [{"role": "user", "content": "x" * 1_000_000}]}
    r = httpx.post(f"{upstream}/v1/chat/completions", json=big, timeout=30, headers=AUTH)
    assert r.status_code == 400 and "max_prompt_chars" in r.json()["error"]["message"]
    r = httpx.post(f"{upstream}/v1/chat/completions", content=b"x" * (9 * 1024 * 1024), timeout=30, headers=AUTH)
    assert r.status_code == 413
    assert httpx.get(f"{upstream}/healthz").status_code == 200
    ok = httpx.post(f"{upstream}/v1/chat/completions", timeout=120, headers=AUTH,
                    json={"messages": [{"role": "user", "content": "Say ok"}], "max_tokens": 2})
    assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["role"] == "assistant"


def test_healthz_says_which_tier_is_not_ready_and_why(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from conftest import KEY_ENV, hybrid_policy
    from hybrid_ai import AsyncHybridClient
    from hybrid_ai.serving import create_app

    pol = hybrid_policy("http://127.0.0.1:9", tmp=tmp_path)
    pol["tiers"]["local"]["model"] = str(tmp_path / "no-such-model")
    monkeypatch.delenv(KEY_ENV, raising=False)
    down = TestClient(create_app(AsyncHybridClient(pol), auth=False)).get("/healthz")
    tiers = down.json()["tiers"]
    assert down.status_code == 503 and down.json()["status"] == "down"
    assert tiers["local"]["ready"] is False and str(tmp_path / "no-such-model") in tiers["local"]["problem"]
    assert tiers["cloud"]["ready"] is False and f"{KEY_ENV} is not set" in tiers["cloud"]["problem"]
    monkeypatch.setenv(KEY_ENV, TEST_KEY)
    app = TestClient(create_app(AsyncHybridClient(pol), api_keys=["k" * 16]))
    assert app.get("/healthz").json() == {"status": "degraded"}  # without a key: the status alone
    degraded = app.get("/healthz", headers={"authorization": "Bearer " + "k" * 16})
    assert degraded.status_code == 200 and degraded.json()["status"] == "degraded"
    assert degraded.json()["sink_failures"] == 0
