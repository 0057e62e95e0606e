"""stream=True: chunks as they are generated, fallback before the first chunk, one record at the end."""

from __future__ import annotations

import pytest

import sqlite3
import time

import openai

from conftest import TEST_KEY, free_port, hybrid_policy, user
from hybrid_ai import AsyncHybridClient, HybridClient

Q = user("What is the capital of France?")


def text(chunks) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


@pytest.mark.slow
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


LONG = user("Write a long story about a dragon who learns to bake bread, with many details.")


def _abandoned_rows(db):
    return sqlite3.connect(db).execute(
        "SELECT route, error, stream FROM route_log WHERE error LIKE 'client went away%'").fetchall()


def test_an_abandoned_local_stream_stops_generating_and_is_recorded(tmp_path, cloud_key, upstream):
    with HybridClient(hybrid_policy(upstream, tmp=tmp_path)) as client:
        stream = client.chat.completions.create(messages=LONG, route="local", max_tokens=400, stream=True)
        first = [next(stream) for _ in range(3)]
        t0 = time.perf_counter()
        stream.close()  # the caller walks away after three chunks
        nxt = client.chat.completions.create(messages=Q, route="local", max_tokens=2)
        waited = time.perf_counter() - t0
    assert first[0].choices[0].delta.role == "assistant" and nxt.hybrid.route == "local"
    assert waited < 5, f"the next local request waited {waited:.1f} s: the abandoned generation kept the model"
    [(route, error, streamed)] = _abandoned_rows(tmp_path / "routes.db")
    assert route == "local" and streamed == 1 and "after 2 text chunk(s)" in error


async def test_an_abandoned_async_stream_is_recorded_and_frees_the_model(tmp_path, cloud_key, upstream):
    async with AsyncHybridClient(hybrid_policy(upstream, tmp=tmp_path)) as client:
        stream = await client.chat.completions.create(messages=LONG, route="local", max_tokens=400, stream=True)
        await stream.__anext__()
        await stream.__anext__()
        t0 = time.perf_counter()
        await stream.aclose()
        nxt = await client.chat.completions.create(messages=Q, route="local", max_tokens=2)
        waited = time.perf_counter() - t0
    assert nxt.hybrid.route == "local" and waited < 5
    [(route, error, _)] = _abandoned_rows(tmp_path / "routes.db")
    assert route == "local" and "client went away" in error


def test_include_usage_adds_a_last_chunk_with_usage_and_no_choices(tmp_path, cloud_key, upstream):
    with HybridClient(hybrid_policy(upstream, tmp=tmp_path)) as client:
        chunks = list(client.chat.completions.create(messages=Q, max_tokens=4, stream=True,
                                                     stream_options={"include_usage": True}))
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == chunks[-2].hybrid.record.completion_tokens


@pytest.mark.parametrize("piece", ["Paris", 'a "quoted"\nline\\with\tescapes', "café 東京 🙂", "\ud800 lone",
                                   "</script>\u2028"])
def test_a_text_frame_is_the_chunk_the_sdk_would_get(piece):
    """The server writes text deltas from a prebuilt frame; parsed, each is the chunk object's own JSON."""
    import json

    from hybrid_ai.response import TextFrames, make_chunk

    frames = TextFrames("chatcmpl-1")
    frame = frames("local-model", piece)
    assert frame.startswith("data: ") and frame.endswith("\n\n") and "\n" not in frame[:-2]
    assert frame.text == piece
    expected = make_chunk("chatcmpl-1", "local-model", content=piece).model_dump(mode="json", exclude_none=True)
    got = json.loads(frame[len("data: "):])
    assert got.pop("created") == frames.created and expected.pop("created") > 0
    assert got == expected
    assert frames("other-model", "x") != frames("local-model", "x")  # the model is per frame (a fallback's tier)


@pytest.mark.slow
async def test_a_stream_asked_for_frames_gives_them_and_keeps_its_text(tmp_path, cloud_key, upstream):
    from hybrid_ai.response import SSEText

    async with AsyncHybridClient(hybrid_policy(upstream, tmp=tmp_path)) as client:
        stream = await client.chat.completions.create(messages=Q, max_tokens=8, stream=True)
        stream.as_frames()
        items = [c async for c in stream]
        with pytest.raises(RuntimeError, match="before its first chunk"):
            stream.as_frames()
    frames = [c for c in items if isinstance(c, SSEText)]
    assert frames and not isinstance(items[0], SSEText)  # the role chunk and the last ones stay chunk objects
    assert stream.text == "".join(f.text for f in frames) and "paris" in stream.text.lower()
    assert items[-1].hybrid.route == "local" and stream.hybrid.record.request_id == items[-1].id
