"""LangChain's `ChatOpenAI` (the real langchain-openai package) on hybrid-ai two ways: pointed at `hybrid-ai serve`
(a real server on 127.0.0.1 with the local SLM), and in-process through `hybrid_ai.http_client`. Both invoked and
streamed, sync and async."""

from __future__ import annotations

import pytest

import asyncio

import langchain_openai  # the `langchain` extra

from conftest import TEST_KEY

POLICY = {"name": "langchain", "tiers": {"local": {"backend": "transformers", "generation": {"max_tokens": 8}}},
          "classifier": {"threshold": 1.0, "strong_tier": "local"}, "rules": [{"type": "pinned"}], "fallback": {},
          "telemetry": {"sinks": []}}


def check(llm) -> None:
    msg = llm.invoke("Name a colour.")
    assert isinstance(msg.content, str) and msg.content and msg.usage_metadata["output_tokens"] <= 8
    pieces = [c.content for c in llm.stream("Name a colour.")]
    assert "".join(pieces) == msg.content and len([p for p in pieces if p]) > 1  # greedy: the same text, streamed

    async def both():
        a = await llm.ainvoke("Name a colour.")
        s = [c.content async for c in llm.astream("Name a colour.")]
        return a.content, "".join(s)

    a, s = asyncio.run(both())
    assert a == s == msg.content


def test_chat_openai_against_hybrid_ai_serve(upstream):
    check(langchain_openai.ChatOpenAI(base_url=f"{upstream}/v1", api_key=TEST_KEY, model="local", max_tokens=8,
                                      temperature=0, max_retries=0))


@pytest.mark.slow
def test_chat_openai_with_the_in_process_http_client():
    import hybrid_ai

    llm = langchain_openai.ChatOpenAI(model="local", api_key="unused", max_tokens=8, temperature=0, max_retries=0,
                                      http_client=hybrid_ai.http_client(policy=POLICY),
                                      http_async_client=hybrid_ai.async_http_client(policy=POLICY))
    check(llm)
    assert llm.invoke("Say hi.").response_metadata.get("model_name")


def test_bind_tools_and_structured_output_through_the_hybrid(tmp_path, cloud_key):
    """Tools and JSON-schema output go to the tier that supports them (the cloud, a FakeUpstream through litellm)."""
    import hybrid_ai
    from conftest import hybrid_policy
    from doubles import FakeUpstream

    def get_weather(city: str) -> str:
        """Weather in a city."""
        return "rain"

    with FakeUpstream("ok") as fake:
        hybrid = hybrid_ai.HybridClient(hybrid_policy(fake.base, threshold=1.0, tmp=tmp_path))
        llm = langchain_openai.ChatOpenAI(model="hybrid", api_key="unused", max_retries=0,
                                          http_client=hybrid_ai.http_client(client=hybrid))
        msg = llm.bind_tools([get_weather]).invoke("Weather in Oslo?")
        assert msg.tool_calls[0]["name"] == "get_weather" and msg.tool_calls[0]["args"]["query"] == "Weather in Oslo?"
        chunks = list(llm.bind_tools([get_weather]).stream("Weather in Oslo?"))
        total = chunks[0]
        for c in chunks[1:]:
            total += c
        assert total.tool_calls[0]["name"] == "get_weather" and total.tool_calls[0]["args"] == msg.tool_calls[0]["args"]
        schema = {"title": "answer", "type": "object", "properties": {"answer": {"type": "string"}},
                  "required": ["answer"]}
        out = llm.with_structured_output(schema, method="json_schema").invoke("Say hi")
        assert out == {"answer": "cloud says hi"} and fake.requests[-1]["body"]["response_format"]["type"] == "json_schema"
