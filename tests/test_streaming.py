"""stream=True: chunks as they are generated, fallback before the first chunk, one record at the end."""

from __future__ import annotations

import sqlite3

import openai

from conftest import TEST_KEY, free_port, hybrid_policy, user
from hybrid_ai import AsyncHybridClient, HybridClient

Q = user("What is the capital of France?")


def text(chunks) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_local_stream_matches_the_non_streamed_answer_and_records_once(tmp_path, cloud_key, upstream):
    with HybridClient(hybrid_policy(upstream, tmp=tmp_path)) as client:
        whole = client.chat.completions.create(messages=Q, max_tokens=8)
        chunks = list(client.chat.completions.create(messages=Q, max_tokens=8, stream=True))
    assert len(chunks) >= 3 and chunks[0].choices[0].delta.role == "assistant"
    assert text(chunks) == whole.choices[0].message.content
    last = chunks[-1]
    assert all(c.hybrid is None for c in chunks[:-1]) and last.hybrid.route == "local"
    rec = last.hybrid.record
    assert last.choices[0].finish_reason in ("stop", "length") and last.usage.completion_tokens == rec.completion_tokens
    assert rec.ttft_ms is not None and 0 < rec.ttft_ms < rec.latency_ms and rec.cost_usd > 0
    assert {c.id for c in chunks} == {rec.request_id}
    rows = sqlite3.connect(tmp_path / "routes.db").execute("SELECT request_id FROM route_log").fetchall()
    assert len(rows) == 2 and (rec.request_id,) in rows


def test_stop_strings_are_not_streamed(tmp_path, cloud_key, upstream):
    with HybridClient(hybrid_policy(upstream, tmp=tmp_path)) as client:
        chunks = list(client.chat.completions.create(messages=Q, max_tokens=12, stream=True, stop=["Paris"]))
    assert "Paris" not in text(chunks) and text(chunks).startswith("The capital")


def test_cloud_stream_goes_through_litellm(tmp_path, cloud_key, upstream):
    with HybridClient(hybrid_policy(upstream, tmp=tmp_path)) as client:
        chunks = list(client.chat.completions.create(messages=user("Say hi"), route="cloud", max_tokens=8, stream=True))
    rec = chunks[-1].hybrid.record
    assert text(chunks) and rec.route == "cloud" and rec.backend == "litellm" and rec.fallback is False
    assert rec.completion_tokens <= 8 and rec.cost_source == "litellm_price_table" and rec.ttft_ms is not None


def test_cloud_down_before_the_first_chunk_falls_back_to_local(tmp_path, cloud_key):
    with HybridClient(hybrid_policy(f"http://127.0.0.1:{free_port()}", tmp=tmp_path)) as client:
        chunks = list(client.chat.completions.create(messages=Q, route="cloud", max_tokens=6, stream=True))
    h = chunks[-1].hybrid
    assert h.route == "local" and h.fallback is True and "[cloud]" in h.record.fallback_reason and text(chunks)


async def test_async_stream_both_tiers(tmp_path, cloud_key, upstream):
    async with AsyncHybridClient(hybrid_policy(upstream, tmp=tmp_path)) as client:
        local = [c async for c in await client.chat.completions.create(messages=Q, max_tokens=8, stream=True)]
        cloud = [c async for c in await client.chat.completions.create(messages=user("Say hi"), route="cloud",
                                                                       max_tokens=6, stream=True)]
    assert "paris" in text(local).lower() and local[-1].hybrid.route == "local"
    assert text(cloud) and cloud[-1].hybrid.route == "cloud"


def test_server_streams_server_sent_events_to_the_openai_sdk(upstream):
    client = openai.OpenAI(base_url=f"{upstream}/v1", api_key=TEST_KEY)
    chunks = list(client.chat.completions.create(model="hybrid", messages=Q, max_tokens=8, stream=True))
    assert "paris" in text(chunks).lower()
    last = chunks[-1]
    assert last.model_extra["hybrid"]["route"] == "local" and last.usage.completion_tokens <= 8
