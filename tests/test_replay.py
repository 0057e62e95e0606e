"""ReplayBackend: recorded answers through the real client, with provenance and token-based cost."""

from __future__ import annotations

import pytest

from conftest import ROOT, user
from hybrid_ai import AllTiersFailed, HybridClient
from hybrid_ai.evaluation.replay import ReplayBackend
from hybrid_ai.errors import BackendError
from hybrid_ai.evaluation.suite import load_suite
from hybrid_ai.policy import Generation
from hybrid_ai.request import parse_request

GPT4 = "gpt-4-1106-preview"


def policy() -> dict:
    return {"name": "replay-test", "telemetry": {"sinks": []}, "rules": [{"type": "pinned"}], "fallback": {},
            "tiers": {"local": {"backend": "transformers"},
                      "cloud": {"backend": "litellm", "model": GPT4, "api_key_env": None}}}


def test_replayed_answers_are_costed_as_the_named_model():
    suite = load_suite(ROOT / "evals" / "gsm8k-sample")
    replay = ReplayBackend.from_suite("cloud", suite, GPT4)
    assert len(replay.recordings) == 100
    item = suite.items[0]
    with HybridClient(policy(), backends={"cloud": replay}) as client:
        r = client.chat.completions.create(messages=item.messages, route="cloud")
    rec = r.hybrid.record
    assert r.choices[0].message.content == item.recorded[GPT4]["answer"]
    assert rec.route == "cloud" and rec.model == GPT4 and rec.backend == "replay"
    assert rec.completion_tokens > 10 and rec.prompt_tokens > 10
    assert rec.cost_source == "litellm_price_table" and rec.cost_usd == pytest.approx(
        rec.prompt_tokens * 10e-6 + rec.completion_tokens * 30e-6, rel=1e-6)  # gpt-4-1106-preview: $10 / $30 per M


def test_a_prompt_without_recording_is_a_tier_failure():
    suite = load_suite(ROOT / "evals" / "gsm8k-sample")
    with HybridClient(policy(), backends={"cloud": ReplayBackend.from_suite("cloud", suite, GPT4)}) as client:
        with pytest.raises(AllTiersFailed, match="no recorded answer of gpt-4-1106-preview"):
            client.chat.completions.create(messages=user("never recorded"), route="cloud")


def test_replay_from_the_route_log(tmp_path, upstream, cloud_key):
    """Answers the cloud tier gave (kept by a SQLite route log with log_prompts) are replayed by prompt."""
    from conftest import hybrid_policy, user

    p = hybrid_policy(upstream, threshold=0.0, tmp=tmp_path)
    p["telemetry"]["log_prompts"] = True
    with HybridClient(p) as client:
        live = client.chat.completions.create(messages=user("Name a primary colour."), max_tokens=6)
    assert live.hybrid.route == "cloud"
    replay = ReplayBackend.from_route_log("cloud", tmp_path / "routes.db", "openai/gpt-4o-mini")
    r = replay.complete(parse_request({"messages": user("Name a primary colour.")}), Generation())
    assert r.text == live.choices[0].message.content
    assert r.info["replay_kind"] == "route_log" and live.id in r.info["provenance"]
    with pytest.raises(BackendError, match="no recorded answer"):
        replay.complete(parse_request({"messages": user("Something never asked.")}), Generation())


def test_a_missing_route_log_is_a_clear_error(tmp_path):
    with pytest.raises(BackendError, match="no such route log"):
        ReplayBackend.from_route_log("cloud", tmp_path / "nope.db", GPT4)
