"""HybridClient end to end: the real SLM, the real litellm path to a real OpenAI-compatible server."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest
from openai.types.chat import ChatCompletion

from conftest import free_port, hybrid_policy, user
from doubles import FailingUpstream, FakeUpstream
from hybrid_ai import AllTiersFailed, BackendError, HybridClient, InvalidRequest

RECORD_FIELDS = {"request_id", "timestamp", "route", "reason", "score", "threshold", "model", "prompt_tokens",
                 "completion_tokens", "latency_ms", "ttft_ms", "cost_usd", "cost_source", "energy_wh",
                 "energy_source", "co2_g", "fallback", "error", "policy", "policy_hash"}


def rows(path):
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    return [dict(r) for r in db.execute("SELECT * FROM route_log ORDER BY timestamp")]


def test_easy_request_is_answered_by_the_local_slm(tmp_path, upstream, cloud_key, capsys):
    pol = hybrid_policy(upstream, tmp=tmp_path)
    pol["telemetry"]["sinks"] = ["stderr", "sqlite"]
    with HybridClient(pol) as client:
        r = client.chat.completions.create(messages=user("What is the capital of France?"), max_tokens=8)
    assert isinstance(r, ChatCompletion)
    assert "paris" in r.choices[0].message.content.lower()
    h, rec = r.hybrid, r.hybrid.record
    assert (h.route, h.reason, h.tiers) == ("local", "score<threshold", ["local", "cloud"])
    assert 0 <= h.score < h.threshold == 0.5
    assert RECORD_FIELDS <= set(rec.model_dump())
    assert rec.backend == "transformers" and rec.quantization == "none" and rec.model.endswith(".gguf")
    assert 0 < rec.completion_tokens <= 8 and rec.prompt_tokens > 5
    assert r.usage.completion_tokens == rec.completion_tokens
    assert rec.latency_ms > 0 and rec.ttft_ms is not None and 0 < rec.ttft_ms <= rec.latency_ms
    assert rec.cost_usd > 0 and rec.cost_source == "local_hardware_rate"
    assert rec.energy_wh > 0 and rec.energy_source in ("estimated_device_watts", "rapl")
    assert rec.co2_g == pytest.approx(rec.energy_wh * 0.4)
    assert rec.fallback is False and rec.error is None and rec.policy == "test-hybrid"
    # one JSON event on stderr, one SQLite row, both without the prompt
    err = capsys.readouterr().err
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert [e["event"] for e in events] == ["hybrid_ai.request"] and "capital of France" not in err
    assert events[0]["request_id"] == rec.request_id and list(events[0])[-1] == "event"
    [row] = rows(tmp_path / "routes.db")
    assert row["request_id"] == rec.request_id and row["route"] == "local" and row["prompt"] is None
    assert row["cost_usd"] == pytest.approx(rec.cost_usd) and row["policy_hash"] == rec.policy_hash


def test_hard_request_goes_to_the_cloud_through_litellm(tmp_path, upstream, cloud_key):
    # threshold 0.05: this test is about the cloud path; how the router ranks requests is test_router.py's business
    with HybridClient(hybrid_policy(upstream, threshold=0.05, tmp=tmp_path)) as client:
        r = client.chat.completions.create(
            messages=user("Prove step by step that the sum of two odd numbers is even and explain why."), max_tokens=8)
    rec = r.hybrid.record
    assert r.hybrid.route == "cloud" and r.hybrid.reason == "score>=threshold"
    assert rec.backend == "litellm" and rec.model == "openai/gpt-4o-mini" and r.choices[0].message.content
    assert rec.cost_source == "litellm_price_table" and rec.cost_usd > 0
    assert rec.energy_source == "ecologits" and rec.energy_wh > 0 and rec.co2_g > 0
    assert rec.completion_tokens <= 8 and rec.fallback is False
    assert rows(tmp_path / "routes.db")[0]["route"] == "cloud"


def test_local_failure_falls_back_to_the_cloud(tmp_path, upstream, cloud_key):
    pol = hybrid_policy(upstream, tmp=tmp_path)
    pol["tiers"]["local"]["model"] = str(tmp_path / "no-such-model")
    with HybridClient(pol) as client:
        r = client.chat.completions.create(messages=user("Hi there"), max_tokens=4)
    rec = r.hybrid.record
    assert rec.route == "cloud" and rec.fallback is True and rec.reason == "score<threshold"
    assert "[local]" in rec.fallback_reason and "model folder not found" in rec.fallback_reason
    assert rows(tmp_path / "routes.db")[0]["fallback"] == 1


FAILURES = {  # how each cloud failure reads in the record
    "refused": "Connection", "missing_key": "HYBRID_AI_TEST_KEY is not set", "500": "upstream says 500",
    "429": "RateLimitError", "401": "Incorrect API key", "timeout": "Timeout", "bad_json": "Expecting value",
    "bad_stream": "Unterminated string", "stream_cut": "",
}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("failure", list(FAILURES))
def test_cloud_failure_falls_back_to_local(tmp_path, monkeypatch, failure, stream):
    double = FakeUpstream("ok" if failure in ("refused", "missing_key") else failure, delay=3.0)
    base = f"http://127.0.0.1:{free_port()}" if failure == "refused" else double.base
    pol = hybrid_policy(base, tmp=tmp_path)
    if failure == "timeout":
        pol["tiers"]["cloud"]["timeout_s"] = 0.5
    if failure != "missing_key":
        monkeypatch.setenv("HYBRID_AI_TEST_KEY", "sk-test-0123456789abcdef")
    try:
        with HybridClient(pol) as client:
            r = client.chat.completions.create(messages=user("What is 2+2?"), route="cloud", max_tokens=4,
                                               stream=stream)
            if stream:
                chunks = list(r) if failure != "stream_cut" else None
    finally:
        double.close()
    if failure == "stream_cut" and stream:
        return  # covered below: the cloud's first text was already sent
    if stream:
        text, rec = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices), chunks[-1].hybrid.record
    else:
        text, rec = r.choices[0].message.content, r.hybrid.record
    if failure in ("stream_cut", "bad_stream") and not stream:  # a whole (non-streamed) answer is not a stream: the cloud answers
        assert rec.route == "cloud" and text == "cloud says hi"
        return
    assert rec.route == "local" and rec.fallback is True and rec.reason == "rule:pinned" and text
    expected = "ended without an answer" if stream and failure == "bad_json" else FAILURES[failure]
    assert "[cloud]" in rec.fallback_reason and expected.lower() in rec.fallback_reason.lower()
    assert "sk-test-0123" not in rec.fallback_reason


def test_a_cloud_stream_cut_after_its_first_text_ends_with_the_error_and_a_record(tmp_path, cloud_key):
    with FakeUpstream("stream_cut") as double, HybridClient(hybrid_policy(double.base, tmp=tmp_path)) as client:
        stream = client.chat.completions.create(messages=user("Hi"), route="cloud", max_tokens=4, stream=True)
        got = []
        with pytest.raises(BackendError, match="cloud"):
            for chunk in stream:
                got.append(chunk)
    assert "".join(c.choices[0].delta.content or "" for c in got) == "cloud"
    [row] = rows(tmp_path / "routes.db")
    assert row["route"] is None and "[cloud]" in row["error"] and row["stream"] == 1


def test_retries_happen_when_the_policy_asks(tmp_path, cloud_key):
    with FakeUpstream("500", "ok") as double:
        pol = hybrid_policy(double.base, tmp=tmp_path)
        pol["tiers"]["cloud"]["max_retries"] = 1
        with HybridClient(pol) as client:
            r = client.chat.completions.create(messages=user("Hi"), route="cloud", max_tokens=4)
    assert double.hits == 2 and r.hybrid.route == "cloud" and r.hybrid.fallback is False


def test_personal_data_never_reaches_the_cloud_even_when_local_fails(tmp_path, monkeypatch):
    cloud = FailingUpstream(status=500)
    monkeypatch.setenv("HYBRID_AI_TEST_KEY", "sk-test")
    pol = hybrid_policy(cloud.base, tmp=tmp_path)
    pol["tiers"]["local"]["model"] = str(tmp_path / "missing")
    try:
        with HybridClient(pol) as client, pytest.raises(AllTiersFailed) as e:
            client.chat.completions.create(messages=user("Email jane@example.com her invoice"), max_tokens=4)
    finally:
        cloud.close()
    assert cloud.hits == 0
    assert [err.tier for err in e.value.errors] == ["local"]
    [row] = rows(tmp_path / "routes.db")
    assert row["route"] is None and row["reason"] == "rule:personal-data" and "model folder not found" in row["error"]


def test_all_tiers_down_raises_and_records_the_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HYBRID_AI_TEST_KEY", "sk-test")
    pol = hybrid_policy(f"http://127.0.0.1:{free_port()}", tmp=tmp_path)
    pol["tiers"]["local"]["model"] = str(tmp_path / "missing")
    with HybridClient(pol) as client, pytest.raises(AllTiersFailed, match=r"\[local\].*\[cloud\]"):
        client.chat.completions.create(messages=user("hello"), max_tokens=4)
    [row] = rows(tmp_path / "routes.db")
    assert row["route"] is None and row["fallback"] == 0 and "[cloud]" in row["error"]


@pytest.mark.parametrize("params, field", [
    ({"messages": []}, "messages"),
    ({"messages": user("x" * 1_000_000)}, "messages"),
    ({"messages": user("hi"), "max_tokens": 100_000}, "max_tokens"),
    ({"messages": user("hi"), "stream": "yes"}, "stream"),
    ({"messages": [{"role": "user", "content": {"text": "hi"}}]}, "messages[0].content"),
])
def test_bad_input_raises_before_any_model_runs(tmp_path, params, field):
    with HybridClient(hybrid_policy("http://127.0.0.1:9", tmp=tmp_path)) as client:
        with pytest.raises(InvalidRequest) as e:
            client.chat.completions.create(**params)
    assert e.value.field == field
    assert not (tmp_path / "routes.db").exists() or rows(tmp_path / "routes.db") == []


@pytest.mark.slow
def test_concurrent_requests_share_one_model(tmp_path, cloud_key, upstream):
    client = HybridClient(hybrid_policy(upstream, tmp=tmp_path))
    results, errors = [], []

    def ask(q):
        try:
            results.append(client.chat.completions.create(messages=user(q), route="local", max_tokens=4))
        except Exception as e:  # pragma: no cover - the assertion below reports it
            errors.append(e)

    threads = [threading.Thread(target=ask, args=(q,)) for q in ("Name a colour.", "Name a fruit.", "Say yes.")]
    [t.start() for t in threads]
    [t.join() for t in threads]
    client.close()
    assert errors == [] and len(results) == 3
    assert all(r.hybrid.route == "local" and r.choices[0].message.content for r in results)
    assert len(rows(tmp_path / "routes.db")) == 3


def test_model_names_a_tier_only_under_a_pinning_policy(tmp_path, cloud_key, upstream):
    pol = hybrid_policy(upstream, tmp=tmp_path)
    with HybridClient(pol) as client:
        pinned = client.chat.completions.create(messages=user("Say hi"), model="cloud", max_tokens=4)
    pol["rules"] = []
    with HybridClient(pol) as client:
        free = client.chat.completions.create(messages=user("Say hi"), model="cloud", max_tokens=4)
    assert pinned.hybrid.route == "cloud" and pinned.hybrid.reason == "rule:pinned"
    assert free.hybrid.route == "local" and free.hybrid.reason == "score<threshold"


def test_a_vanishing_temperature_is_greedy_not_a_failure(tmp_path, cloud_key, upstream):
    """Found by schemathesis: temperature 8.8e-271 made the local sampler divide by ~0 (inf logits) and fail."""
    with HybridClient(hybrid_policy(upstream, tmp=tmp_path)) as client:
        tiny = client.chat.completions.create(messages=user("Capital of France?"), route="local", max_tokens=4,
                                              temperature=8.779286472872037e-271, top_p=0.42)
        greedy = client.chat.completions.create(messages=user("Capital of France?"), route="local", max_tokens=4)
    assert tiny.hybrid.fallback is False and tiny.choices[0].message.content == greedy.choices[0].message.content
