"""The request path with test doubles at the Backend seam, in milliseconds: the fallback chain in every order,
attempts and totals in the record, failures after the first chunk, abandoned and never-read streams."""

from __future__ import annotations

import gc

import pytest

from conftest import user
from doubles import ScriptedBackend
from hybrid_ai import AllTiersFailed, AsyncHybridClient, BackendError, HybridClient

POLICY = {
    "name": "chain",
    "tiers": {"local": {"backend": "transformers"},
              "cloud": {"backend": "litellm", "model": "openai/gpt-4o-mini", "api_key_env": None}},
    "classifier": {"type": "heuristic", "threshold": 0.5},
    "rules": [{"type": "pinned"}],
    "telemetry": {"sinks": []},
}


class Capture:
    def __init__(self):
        self.events = []

    def write(self, event):
        self.events.append(event)


def client(local=None, cloud=None, cls=HybridClient):
    sink = Capture()
    c = cls(POLICY, backends={"local": local or ScriptedBackend("local"), "cloud": cloud or ScriptedBackend("cloud")},
            sinks=[sink])
    return c, sink


@pytest.mark.parametrize("first, local_fails, cloud_fails, route, tried", [
    ("local", False, False, "local", ["local"]),
    ("local", True, False, "cloud", ["local", "cloud"]),
    ("cloud", False, False, "cloud", ["cloud"]),
    ("cloud", False, True, "local", ["cloud", "local"]),
])
def test_the_chain_tries_tiers_in_order_and_records_every_attempt(first, local_fails, cloud_fails, route, tried):
    c, sink = client(ScriptedBackend("local", fail_at=0 if local_fails else None),
                     ScriptedBackend("cloud", fail_at=0 if cloud_fails else None))
    r = c.chat.completions.create(messages=user("hi"), route=first)
    rec = sink.events[-1]
    assert r.hybrid.route == route and rec["route"] == route and r.choices[0].message.content == "hello world"
    assert [a["tier"] for a in rec["attempts"]] == tried
    assert [a["error"] is not None for a in rec["attempts"]] == [t != route for t in tried]
    assert rec["fallback"] is (len(tried) > 1)


def test_totals_count_a_failed_local_attempt():
    c, sink = client(ScriptedBackend("local", fail_at=0))
    c.chat.completions.create(messages=user("hi"), route="local")
    rec = sink.events[-1]
    local, cloud = rec["attempts"]
    assert local["cost_source"] == "local_hardware_rate" and local["cost_usd"] > 0 and local["error"]
    assert cloud["cost_usd"] == pytest.approx(cloud["cost_usd"]) and cloud["error"] is None
    assert rec["cost_usd"] == pytest.approx(local["cost_usd"] + cloud["cost_usd"])
    assert rec["energy_wh"] >= local["energy_wh"]


def test_all_tiers_failing_raises_with_each_error_and_records():
    c, sink = client(ScriptedBackend("local", fail_at=0), ScriptedBackend("cloud", fail_at=0))
    with pytest.raises(AllTiersFailed) as e:
        c.chat.completions.create(messages=user("hi"), route="local")
    assert [x.tier for x in e.value.errors] == ["local", "cloud"]
    rec = sink.events[-1]
    assert rec["route"] is None and "[local]" in rec["error"] and "[cloud]" in rec["error"] and len(rec["attempts"]) == 2


@pytest.mark.parametrize("fail_at, falls_back", [(0, True), (1, False), (2, False)])
def test_a_stream_falls_back_only_before_its_first_text(fail_at, falls_back):
    c, sink = client(ScriptedBackend("local", fail_at=fail_at))
    stream = c.chat.completions.create(messages=user("hi"), route="local", stream=True)
    if falls_back:
        chunks = list(stream)
        assert stream.hybrid.route == "cloud" and stream.text == "hello world" and chunks[-1].hybrid is not None
    else:
        with pytest.raises(BackendError, match="local scripted failure"):
            list(stream)
        rec = sink.events[-1]
        assert rec["route"] is None and "[local]" in rec["error"] and stream.text == "".join(["hello", " world"][:fail_at])
    assert len(sink.events) == 1


def test_an_abandoned_stream_closes_its_tier_and_records_the_partial_attempt():
    local = ScriptedBackend("local", pieces=["a", "b", "c", "d"])
    c, sink = client(local)
    stream = c.chat.completions.create(messages=user("hi"), route="local", stream=True)
    next(stream), next(stream)  # the role chunk, then "a"
    stream.close()
    rec = sink.events[-1]
    assert local.closed == 1 and rec["route"] == "local" and rec["error"].startswith("client went away")
    assert rec["attempts"][-1]["error"] == "client went away" and len(sink.events) == 1


def test_a_stream_never_read_is_recorded_when_closed_or_dropped():
    c, sink = client()
    c.chat.completions.create(messages=user("hi"), stream=True).close()
    c.chat.completions.create(messages=user("hi"), stream=True)  # dropped on the floor
    gc.collect()
    assert len(sink.events) == 2 and all("closed after 0 text chunk(s)" in e["error"] for e in sink.events)
    assert all(e["attempts"] == [] and e["route"] is None for e in sink.events)


async def test_the_async_mirror_falls_back_and_records_abandonment():
    c, sink = client(ScriptedBackend("local", fail_at=0), cls=AsyncHybridClient)
    stream = await c.chat.completions.create(messages=user("hi"), route="local", stream=True)
    chunks = [x async for x in stream]
    assert stream.hybrid.route == "cloud" and chunks[0].choices[0].delta.role == "assistant"
    c, sink = client(ScriptedBackend("local", pieces=["a", "b", "c"]), cls=AsyncHybridClient)
    async with await c.chat.completions.create(messages=user("hi"), route="local", stream=True) as stream:
        await stream.__anext__()
        await stream.__anext__()
    assert sink.events[-1]["error"].startswith("client went away") and sink.events[-1]["route"] == "local"


def test_a_batch_is_metered_one_attempt_per_request_charged_its_share():
    """Metered.complete_batch (the eval's path): each request waited the whole batch and is charged 1/N of it; a
    request's error is its own item, noted as a failed attempt."""
    import time

    from hybrid_ai.backends.metered import Metered
    from hybrid_ai.policy import load_policy
    from hybrid_ai.request import parse_request

    class Batching(ScriptedBackend):
        runs_locally, batches, cacheable = True, True, True

        def complete_batch(self, requests, generation):
            time.sleep(0.2)
            return [BackendError("too long", tier="local") if "bad" in r.text else self._answer() for r in requests]

    attempts: list = []
    tier = Metered("local", Batching("local"), load_policy(POLICY), attempts)
    got = tier.complete_batch([parse_request({"messages": user(t)}) for t in ("a", "bad", "c", "d")])
    assert [isinstance(g, BackendError) for g in got] == [False, True, False, False]
    assert [a.error is not None for a in attempts] == [False, True, False, False]
    assert all(a.latency_ms >= 200 for a in attempts)
    from hybrid_ai.telemetry.record import measure_attempt

    whole = measure_attempt(tier.policy, "local", got[0], attempts[0].latency_ms / 1000)  # the batch as one request
    assert sum(a.cost_usd for a in attempts) == pytest.approx(whole.cost_usd, rel=1e-6)
    assert sum(a.energy_wh for a in attempts) == pytest.approx(whole.energy_wh, rel=1e-6)
    tier.noting_in(single := []).complete_batch([parse_request({"messages": user("a")})])
    assert len(single) == 1 and single[0].latency_ms < 200  # alone: answered by complete(), no batch to wait for
