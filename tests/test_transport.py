"""The OpenAI SDK with `http_client=hybrid_ai.http_client(...)`: unchanged application code, answered by the
hybrid (the real SLM), streamed lazily, errors final (no SDK retries), other routes passed to the real upstream."""

from __future__ import annotations

import asyncio
import time

import httpx
import openai
import pytest

from conftest import TEST_KEY, user
from doubles import ScriptedBackend
import hybrid_ai
from hybrid_ai import HybridClient

LOCAL = {"name": "sdk", "tiers": {"local": {"backend": "transformers", "generation": {"max_tokens": 8}}},
         "classifier": {"threshold": 1.0, "strong_tier": "local"}, "fallback": {}, "telemetry": {"sinks": []}}


class Capture:
    def __init__(self):
        self.events = []

    def write(self, event):
        self.events.append(event)


class Slow(ScriptedBackend):
    """Streams its pieces 0.3 s apart (the seam double for a slowly generating tier)."""

    def stream(self, request, generation, state):
        for piece in self.pieces:
            time.sleep(0.3)
            yield piece
        state.result = self._answer()


def sdk(upstream_base="http://127.0.0.1:9/v1", **kw):
    return openai.OpenAI(api_key="unused", base_url=upstream_base, http_client=hybrid_ai.http_client(**kw))


def test_the_sdk_is_answered_by_the_hybrid_with_the_record_reachable():
    client = sdk(policy=LOCAL)
    raw = client.chat.completions.with_raw_response.create(model="hybrid", messages=user("Name a colour."))
    r = raw.parse()
    assert isinstance(r, openai.types.chat.ChatCompletion) and r.choices[0].message.content
    assert r.model_extra["hybrid"]["route"] == "local" and r.usage.completion_tokens <= 8
    assert raw.headers["x-hybrid-request-id"] == r.id == r.model_extra["hybrid"]["record"]["request_id"]


@pytest.mark.slow
def test_a_stream_streams_as_the_tier_generates():
    hybrid = HybridClient(LOCAL, backends={"local": Slow("local", pieces=["a", "b", "c", "d"])}, sinks=[])
    client = sdk(client=hybrid)
    t0, seen = time.perf_counter(), []
    for chunk in client.chat.completions.create(model="hybrid", messages=user("hi"), stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            seen.append((chunk.choices[0].delta.content, time.perf_counter() - t0))
    assert [p for p, _ in seen] == ["a", "b", "c", "d"]
    assert seen[0][1] < 0.9 and seen[-1][1] >= 1.1  # the first piece arrived long before the last was generated


def test_errors_are_openai_errors_and_final_so_the_sdk_does_not_retry():
    sink = Capture()
    broken = {**LOCAL, "tiers": {"local": {"backend": "transformers", "model": "/no/such/model"}}}
    client = sdk(client=HybridClient(broken, sinks=[sink]))
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="hybrid", messages=user("hi"), tools=[{"type": "function"}])
    assert bad.value.body["param"] == "tools[0].function"  # a tool without its function: an SDK error, no call
    with pytest.raises(openai.APIStatusError) as failed:
        client.chat.completions.create(model="hybrid", messages=user("hi"))  # max_retries=2 by default
    assert failed.value.status_code == 502 and failed.value.response.headers["x-should-retry"] == "false"
    assert len(sink.events) == 1  # one request, not three: the hybrid's fallback was its retry


def test_every_other_route_goes_to_the_real_upstream(upstream):
    client = openai.OpenAI(api_key=TEST_KEY, base_url=f"{upstream}/v1",
                           http_client=hybrid_ai.http_client(policy=LOCAL))
    assert {m.id for m in client.models.list()} == {"hybrid", "local"}  # the upstream server's own models
    r = client.chat.completions.create(model="hybrid", messages=user("Name a fruit."))
    assert r.model_extra["hybrid"]["record"]["policy"] == "sdk"  # chat stayed in this process


@pytest.mark.slow
def test_the_async_sdk_streams_and_answers():
    async def main():
        client = openai.AsyncOpenAI(api_key="unused", base_url="http://127.0.0.1:9/v1",
                                    http_client=hybrid_ai.async_http_client(policy=LOCAL))
        r = await client.chat.completions.create(model="hybrid", messages=user("Name a colour."))
        stream = await client.chat.completions.create(model="hybrid", messages=user("Name a colour."), stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        return r, text

    r, text = asyncio.run(main())
    assert r.choices[0].message.content and r.model_extra["hybrid"]["route"] == "local"
    assert text == r.choices[0].message.content  # greedy: the same answer, streamed


@pytest.mark.slow
def test_the_same_core_serves_httpx_for_openai_1_and_2():
    with hybrid_ai.http_client(policy=LOCAL, module=httpx) as h:
        assert isinstance(h, httpx.Client)
        r = h.post("http://anywhere/v1/chat/completions", json={"messages": user("Name a colour.")})
        assert r.status_code == 200 and r.json()["hybrid"]["route"] == "local"
        with h.stream("POST", "http://anywhere/v1/chat/completions",
                      json={"messages": user("Name a colour."), "stream": True}) as s:
            lines = [line for line in s.iter_lines() if line.startswith("data: ")]
        assert lines[-1] == "data: [DONE]" and len(lines) >= 3
        bad = h.post("http://anywhere/v1/chat/completions", content=b"{not json")
        assert bad.status_code == 400 and bad.headers["x-should-retry"] == "false"


def test_a_request_cannot_steer_the_tier_through_the_transport():
    """The same contract as the server: where and with which key a tier is called comes from the policy alone."""
    sink = Capture()
    client = sdk(client=HybridClient(LOCAL, sinks=[sink]))
    for field, value in (("api_base", "http://attacker.example/v1"), ("api_key", "sk-stolen"),
                         ("base_url", "http://attacker.example")):
        with pytest.raises(openai.BadRequestError) as e:
            client.chat.completions.create(model="hybrid", messages=user("hi"), extra_body={field: value})
        assert e.value.body["param"] == field
    assert sink.events == []  # refused before any tier was called
