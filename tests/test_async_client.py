"""AsyncHybridClient mirrors HybridClient: same routes, same records, same fallbacks."""

from __future__ import annotations

import asyncio

import pytest
from openai.types.chat import ChatCompletion

from conftest import free_port, hybrid_policy, user
from hybrid_ai import AllTiersFailed, AsyncHybridClient, InvalidRequest


@pytest.mark.slow
async def test_async_local_and_cloud_routes(tmp_path, upstream, cloud_key):
    async with AsyncHybridClient(hybrid_policy(upstream, tmp=tmp_path)) as client:
        local, cloud = await asyncio.gather(
            client.chat.completions.create(messages=user("What is the capital of France?"), max_tokens=6),
            client.chat.completions.create(messages=user("Say hello."), route="cloud", max_tokens=6),
        )
    assert isinstance(local, ChatCompletion) and isinstance(cloud, ChatCompletion)
    assert local.hybrid.route == "local" and local.hybrid.record.backend == "transformers"
    assert "paris" in local.choices[0].message.content.lower()
    assert cloud.hybrid.route == "cloud" and cloud.hybrid.record.cost_source == "litellm_price_table"
    assert local.id != cloud.id


@pytest.mark.slow
async def test_async_cloud_failure_falls_back_to_local(tmp_path, cloud_key):
    pol = hybrid_policy(f"http://127.0.0.1:{free_port()}", tmp=tmp_path)
    async with AsyncHybridClient(pol) as client:
        r = await client.chat.completions.create(messages=user("Say hi"), route="cloud", max_tokens=4)
    assert r.hybrid.route == "local" and r.hybrid.fallback is True
    assert "[cloud]" in r.hybrid.record.fallback_reason


@pytest.mark.slow
async def test_async_all_failed_and_bad_input(tmp_path, cloud_key):
    pol = hybrid_policy(f"http://127.0.0.1:{free_port()}", tmp=tmp_path)
    pol["tiers"]["local"]["model"] = str(tmp_path / "missing")
    client = AsyncHybridClient(pol)
    with pytest.raises(AllTiersFailed):
        await client.chat.completions.create(messages=user("hello"), max_tokens=4)
    with pytest.raises(InvalidRequest, match="unknown role"):
        await client.chat.completions.create(messages=[{"role": "robot", "content": "x"}])
    await client.aclose()
