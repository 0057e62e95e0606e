"""Cascade mode: the prompt router sends clearly hard requests to the cloud; the rest are answered locally and the
verifier reads each local answer, escalating doubtful ones. A real verifier (trained here on graded answers where
hedging answers are wrong), the real client and chain; the tiers are doubles at the Backend seam, except the last
test, which runs the real SLM and a real OpenAI-compatible server through litellm."""

from __future__ import annotations

import asyncio

import pytest

from conftest import hybrid_policy, user
from doubles import ScriptedBackend
from hybrid_ai import AsyncHybridClient, HybridClient, PolicyError, load_policy
from hybrid_ai.learning.data import Outcome
from hybrid_ai.checks.verifier import Verifier
from hybrid_ai.learning.verifier_train import fit_verifier

DOUBT = "I am not sure, maybe it depends"


@pytest.fixture(scope="module")
def verifier_path(tmp_path_factory):
    rows = []
    for i in range(60):
        rows.append(Outcome(f"What is {i} plus {i}?", 1.0, 1.0, "t", weak_answer=f"{2 * i}."))
        rows.append(Outcome(f"What is {i} times {i + 3}?", 0.0, 1.0, "t",
                            weak_answer=f"{DOUBT}." if i % 2 else f"{DOUBT} on {i}."))
    path = tmp_path_factory.mktemp("verifier") / "verifier.npz"
    fit_verifier(rows).save(path)
    return path


def policy(verifier_path, **classifier):
    return {"name": "cascade",
            "tiers": {"local": {"backend": "transformers"},
                      "cloud": {"backend": "litellm", "model": "openai/gpt-4o-mini", "api_key_env": None}},
            "classifier": {"type": "heuristic", "threshold": 0.99, "mode": "cascade",
                           "verifier": {"model": str(verifier_path), "threshold": 0.5}, **classifier},
            "rules": [{"type": "pinned"},
                      {"type": "pattern", "name": "secret", "patterns": ["SECRET"], "route": "local"}],
            "telemetry": {"sinks": []}}


class Capture(list):
    def write(self, event):
        self.append(event)


def make(verifier_path, local_text, cls=HybridClient, **classifier):
    sink = Capture()
    local, cloud = ScriptedBackend("local", pieces=[local_text]), ScriptedBackend("cloud", pieces=["cloud", " answer"])
    c = cls(policy(verifier_path, **classifier), backends={"local": local, "cloud": cloud}, sinks=[sink])
    return c, sink, local, cloud


def test_the_trained_verifier_separates_doubtful_answers(verifier_path):
    v = Verifier.load(verifier_path)
    assert v.score_text("What is 7 plus 7?", "14.") < 0.5 < v.score_text("What is 7 times 10?", DOUBT)


def test_a_confident_local_answer_is_kept(verifier_path):
    c, sink, local, cloud = make(verifier_path, "14.")
    r = c.chat.completions.create(messages=user("What is 7 plus 7?"))
    rec = sink[-1]
    assert r.choices[0].message.content == "14." and r.hybrid.route == "local"
    assert cloud.calls == 0 and rec["escalated"] is False and rec["verifier_score"] < 0.5
    assert [a["tier"] for a in rec["attempts"]] == ["local"]


def test_a_doubtful_local_answer_is_escalated_and_both_attempts_count(verifier_path):
    c, sink, local, cloud = make(verifier_path, DOUBT)
    r = c.chat.completions.create(messages=user("What is 7 times 10?"))
    rec = sink[-1]
    assert r.choices[0].message.content == "cloud answer" and r.hybrid.route == "cloud"
    assert local.calls == cloud.calls == 1
    assert rec["escalated"] is True and rec["verifier_score"] >= 0.5 and rec["fallback"] is True
    first, second = rec["attempts"]
    assert first["tier"] == "local" and first["error_kind"] == "escalated" and "verifier" in first["error"]
    assert second["tier"] == "cloud" and second["error"] is None
    assert rec["latency_ms"] >= first["latency_ms"] + second["latency_ms"] - 1


@pytest.mark.parametrize("stream", [False, True])
def test_a_doubted_answer_is_given_when_the_cloud_fails_after_the_escalation(verifier_path, stream):
    """Cloud down or its key missing: the doubted local answer rather than none, and the record says all of it."""
    sink = Capture()
    local, cloud = ScriptedBackend("local", pieces=[DOUBT]), ScriptedBackend("cloud", fail_at=0)
    c = HybridClient(policy(verifier_path), backends={"local": local, "cloud": cloud}, sinks=[sink])
    r = c.chat.completions.create(messages=user("What is 7 times 10?"), stream=stream)
    text = "".join(ch.choices[0].delta.content or "" for ch in r if ch.choices) if stream \
        else r.choices[0].message.content
    rec = sink[-1]
    assert text == DOUBT and local.calls == cloud.calls == 1
    assert rec["route"] == "local" and rec["escalated"] is True and rec["fallback"] is True and rec["error"] is None
    assert "cloud scripted failure" in rec["fallback_reason"] and rec["verifier_score"] >= 0.5
    assert [(a["tier"], a["error_kind"]) for a in rec["attempts"]] == [("local", "escalated"), ("cloud", "generation")]
    assert rec["completion_tokens"] == rec["attempts"][0]["completion_tokens"]  # the local attempt's figures


def test_an_answer_that_is_not_the_json_asked_for_is_never_given_as_a_last_resort(verifier_path):
    from hybrid_ai.errors import AllTiersFailed

    p = policy(verifier_path)
    p["tiers"]["local"]["supports"] = ["json_object"]
    local, cloud = ScriptedBackend("local", pieces=["not json"]), ScriptedBackend("cloud", fail_at=0)
    c = HybridClient(p, backends={"local": local, "cloud": cloud}, sinks=[])
    with pytest.raises(AllTiersFailed, match="cloud scripted failure"):
        c.chat.completions.create(messages=user("What is 7 plus 7? Answer in JSON."),
                                  response_format={"type": "json_object"})
    assert local.calls == cloud.calls == 1


def test_rules_and_the_router_decide_before_the_verifier(verifier_path):
    c, sink, local, cloud = make(verifier_path, DOUBT)
    c.chat.completions.create(messages=user("SECRET: what is 7 times 10?"))  # a rule keeps it local: never escalated
    assert sink[-1]["route"] == "local" and cloud.calls == 0 and sink[-1]["verifier_score"] is None
    c.chat.completions.create(messages=user("hi"), route="local")  # pinned by the caller: kept
    assert sink[-1]["route"] == "local" and cloud.calls == 0
    c, sink, local, cloud = make(verifier_path, "14.", threshold=0.0)  # the router sends all to the cloud first
    c.chat.completions.create(messages=user("What is 7 plus 7?"))
    assert local.calls == 0 and sink[-1]["route"] == "cloud" and sink[-1]["verifier_score"] is None


def test_route_mode_never_consults_the_verifier(verifier_path):
    c, sink, local, cloud = make(verifier_path, DOUBT, mode="route")
    assert c.verifier is None
    c.chat.completions.create(messages=user("What is 7 times 10?"))
    assert sink[-1]["route"] == "local" and sink[-1]["escalated"] is False


@pytest.mark.parametrize("text, route, pieces", [("14.", "local", ["14."]), (DOUBT, "cloud", ["cloud", " answer"])])
def test_a_stream_holds_local_text_until_it_is_verified(verifier_path, text, route, pieces):
    c, sink, local, cloud = make(verifier_path, text)
    q = "What is 7 plus 7?" if route == "local" else "What is 7 times 10?"
    got = [ch.choices[0].delta.content for ch in c.chat.completions.create(messages=user(q), stream=True)
           if ch.choices and ch.choices[0].delta.content]
    assert got == pieces and sink[-1]["route"] == route and sink[-1]["stream"] is True
    assert DOUBT not in "".join(got)  # doubted local text never reaches the caller


def test_the_async_client_escalates_the_same_way(verifier_path):
    async def go():
        c, sink, _, cloud = make(verifier_path, DOUBT, cls=AsyncHybridClient)
        r = await c.chat.completions.create(messages=user("What is 7 times 10?"))
        s = await c.chat.completions.create(messages=user("What is 7 times 10?"), stream=True)
        text = "".join([ch.choices[0].delta.content async for ch in s if ch.choices and ch.choices[0].delta.content])
        return r, text, sink, cloud

    r, text, sink, cloud = asyncio.run(go())
    assert r.hybrid.route == "cloud" and text == "cloud answer" and cloud.calls == 2
    assert all(e["escalated"] for e in sink)


def test_a_missing_verifier_file_names_the_key(tmp_path, verifier_path):
    import yaml

    p = tmp_path / "p.yaml"
    data = policy(tmp_path / "nope.npz")
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(PolicyError, match=r"classifier\.verifier\.model"):
        load_policy(p)
    data["classifier"]["mode"] = "sometimes"
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(PolicyError, match="classifier.mode"):
        load_policy(p)


@pytest.mark.slow
def test_cascade_with_the_real_slm_and_a_real_cloud_server(upstream, cloud_key, tmp_path):
    """The shipped verifier reads the real local answer; a wrong-looking one goes through litellm to the server."""
    p = hybrid_policy(upstream, threshold=0.99, tmp=tmp_path)
    p["classifier"].update(mode="cascade", verifier={"threshold": 0.0})  # every local answer doubted: escalates
    with HybridClient(p) as c:
        r = c.chat.completions.create(messages=user("What is 17 times 23?"), max_tokens=6)
        rec = r.hybrid.record
        assert rec.escalated and rec.route == "cloud" and [a.tier for a in rec.attempts] == ["local", "cloud"]
        assert rec.attempts[0].completion_tokens and rec.verifier_score is not None and r.choices[0].message.content
    p["classifier"]["verifier"] = {"threshold": 1.0}  # never doubted: the local answer stands
    with HybridClient(p) as c:
        r = c.chat.completions.create(messages=user("Say hi."), max_tokens=6)
        assert r.hybrid.route == "local" and not r.hybrid.record.escalated and 0 <= r.hybrid.record.verifier_score


ASK = 'Extract the city from: "Chen Tanaka moved to Dublin on 10 July 2025."'


@pytest.mark.slow
def test_the_adapter_policy_s_parts_keep_a_right_brief_local_answer(upstream, cloud_key, tmp_path):
    """The `cascade-adapter` policy's local model (base + the shipped adapter) and verifier (verifier-adapter.npz),
    through a real cascade: the adapted model's brief right answer is kept locally, a refusal would be escalated."""
    from hybrid_ai.checks.verifier import load_verifier

    bundled = load_policy("cascade-adapter")
    p = hybrid_policy(upstream, threshold=0.99, tmp=tmp_path)
    p["tiers"]["local"]["adapter"] = "pkg:hybrid_ai/assets/adapter"
    p["classifier"].update(mode="cascade", verifier={"model": "pkg:hybrid_ai/assets/router/verifier-adapter.npz",
                                                     "threshold": bundled.classifier.verifier.threshold})
    with HybridClient(p) as c:
        r = c.chat.completions.create(messages=user(ASK), max_tokens=12)
    rec = r.hybrid.record
    assert rec.adapter == bundled.tiers["local"].adapter and "Dublin" in r.choices[0].message.content
    assert r.hybrid.route == "local" and not rec.escalated and rec.verifier_score < bundled.classifier.verifier.threshold
    v = load_verifier(bundled.classifier.verifier.model)
    refusal = "I'm sorry, but as an AI I cannot help with that."
    assert v.score_text(ASK, refusal) > bundled.classifier.verifier.threshold > v.score_text(ASK, "Dublin")


def test_answer_features_match_their_names_and_the_shipped_verifier_loads():
    from hybrid_ai.checks.answer_features import NAMES, answer_features
    from hybrid_ai.checks.verifier import DEFAULT_VERIFIER, FEATURES, load_verifier

    for request, answer in [("What is 2 + 2?", "4"), ('Rewrite "a b c d".', "a b c d"), ("Hi", ""),
                            ("Q?\nA. x\nB. y\nC. z\nD. w", "The answer is B.")]:
        assert len(answer_features(request, answer, [-0.1, -2.0])) == len(NAMES)
    v = load_verifier(str(DEFAULT_VERIFIER))
    assert v.meta["features"] == FEATURES and v.meta["rows"] >= 2000
    # the answer matters, not only the request: the same question, answered or refused
    q = "What is the capital of Spain?"
    refusal = "I'm sorry for any confusion, but as a chatbot designed to assist users, I don't have the capability."
    assert v.score_text(q, "The capital of Spain is Madrid.") < 0.5 < v.score_text(q, refusal)
