"""`logprobs` / `top_logprobs`: the local engines return each answer token's log-probability (CTranslate2 and
transformers, real SLM) and transformers the top alternatives; a tier that cannot give what is asked is skipped
(the cloud tier passes them through litellm); streams carry them on their last chunk; bad values name the field."""

from __future__ import annotations

import math

import openai
import pytest

from conftest import TEST_KEY, hybrid_policy, user
from doubles import FakeUpstream
from hybrid_ai import HybridClient, InvalidRequest
from hybrid_ai.request import parse_request


def local(engine: str) -> HybridClient:
    return HybridClient({"name": "lp", "tiers": {"local": {"backend": engine, "generation": {"max_tokens": 6}}},
                         "classifier": {"threshold": 1.0, "strong_tier": "local"}, "fallback": {},
                         "telemetry": {"sinks": []}})


@pytest.mark.parametrize("engine", ["ctranslate2", "transformers", "onnxruntime"])
def test_a_local_answer_carries_each_tokens_log_probability_whole_and_streamed(engine):
    c = local(engine)
    r = c.chat.completions.create(messages=user("Name a colour."), logprobs=True)
    content = r.choices[0].logprobs.content
    assert "".join(t.token for t in content).strip() == r.choices[0].message.content
    assert len(content) == r.usage.completion_tokens - (r.choices[0].finish_reason == "stop")  # no end token
    assert all(t.logprob <= 0 and bytes(t.bytes).decode() == t.token and t.top_logprobs == [] for t in content)
    chunks = list(c.chat.completions.create(messages=user("Name a colour."), logprobs=True, stream=True))
    last = [ch for ch in chunks if ch.choices and ch.choices[0].logprobs]
    assert len(last) == 1 and last[0].choices[0].finish_reason  # on the last chunk, with the finish reason
    streamed = last[0].choices[0].logprobs.content
    assert [t.token for t in streamed] == [t.token for t in content]
    assert all(math.isclose(a.logprob, b.logprob, abs_tol=1e-3) for a, b in zip(streamed, content))
    plain = c.chat.completions.create(messages=user("Name a colour."))
    assert plain.choices[0].logprobs is None  # only when asked


def test_transformers_gives_the_top_alternatives_and_greedy_picks_the_first():
    r = local("transformers").chat.completions.create(messages=user("Name a colour."), logprobs=True, top_logprobs=3)
    for t in r.choices[0].logprobs.content:
        assert len(t.top_logprobs) == 3 and t.top_logprobs[0].token == t.token
        assert math.isclose(t.top_logprobs[0].logprob, t.logprob, abs_tol=1e-5)
        assert t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob >= t.top_logprobs[2].logprob


def test_top_logprobs_skip_a_local_engine_that_cannot_give_them(tmp_path, cloud_key):
    with FakeUpstream("ok") as fake:
        policy = hybrid_policy(fake.base, threshold=1.0, tmp=tmp_path)
        policy["tiers"]["local"]["backend"] = "ctranslate2"
        r = HybridClient(policy, sinks=[]).chat.completions.create(messages=user("Say hi"), logprobs=True,
                                                                     top_logprobs=2)
        assert r.hybrid.route == "cloud" and r.hybrid.record.skipped_tiers == ["local"]
        assert [t.token for t in r.choices[0].logprobs.content] == ["cloud", "says", "hi"]
        assert len(r.choices[0].logprobs.content[0].top_logprobs) == 2
        assert fake.requests[-1]["body"]["logprobs"] is True and fake.requests[-1]["body"]["top_logprobs"] == 2
    with pytest.raises(InvalidRequest) as e:
        local("ctranslate2").chat.completions.create(messages=user("hi"), logprobs=True, top_logprobs=2)
    assert e.value.field == "top_logprobs" and "'local' does not support top_logprobs" in str(e.value)


@pytest.mark.parametrize("params, field", [({"top_logprobs": 2}, "top_logprobs"),
                                           ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
                                           ({"logprobs": "yes"}, "logprobs")])
def test_bad_logprob_parameters_name_their_field(params, field):
    with pytest.raises(InvalidRequest) as e:
        parse_request({"messages": user("hi"), **params})
    assert e.value.field == field


def test_the_sdk_reads_them_from_the_server(upstream):
    sdk = openai.OpenAI(base_url=f"{upstream}/v1", api_key=TEST_KEY, max_retries=0)
    r = sdk.chat.completions.create(model="local", messages=user("Name a colour."), max_tokens=5, logprobs=True)
    assert r.choices[0].logprobs.content and all(t.logprob <= 0 for t in r.choices[0].logprobs.content)
