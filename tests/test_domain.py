"""A local tier with a domain adapter (`tiers.NAME.domain`): requests near the domain's references are answered
by the real SLM with the domain adapter, every other request by the tier's own model; batches keep their order;
the policy's paths are relative to its file and a missing one is an error naming its key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import hybrid_ai
from conftest import user
from hybrid_ai import HybridClient, PolicyError, load_policy
from hybrid_ai.backends.domain import DomainSplit
from hybrid_ai.backends.registry import build_backend
from hybrid_ai.references import load_references
from hybrid_ai.request import parse_request
from hybrid_ai.testing import ScriptedBackend

SHIPPED = str(Path(hybrid_ai.__file__).parent / "assets" / "adapter")
NEAR = "How do I reset the password of my helpdesk account?"
FAR = "What is the capital of France?"


def domain_policy(folder: Path, **domain) -> Path:
    (folder / "references.jsonl").write_text("".join(json.dumps({"prompt": q, "answer": a}) + "\n" for q, a in [
        ("How can I reset my helpdesk account password?", "Open the self-service portal and choose Forgot password."),
        ("Which VPN client do we use?", "Install the company VPN client from the software centre."),
        ("How do I book a meeting room?", "Use the Rooms calendar in Outlook and pick a free room."),
        ("Who approves new laptops?", "Your manager approves laptop requests in the service portal.")]))
    path = folder / "policy.yaml"
    path.write_text(yaml.safe_dump({
        "name": "domain-test",
        "tiers": {"local": {"backend": "transformers", "generation": {"max_tokens": 6},
                            "domain": {"adapter": SHIPPED, "references": "references.jsonl", **domain}}},
        "classifier": {"weak_tier": "local", "strong_tier": "local"}, "fallback": {}, "telemetry": {"sinks": []}}))
    return path


@pytest.mark.slow
def test_near_requests_get_the_domain_adapter_and_the_rest_the_tiers_own_model(tmp_path):
    with HybridClient(str(domain_policy(tmp_path))) as c:
        near = c.chat.completions.create(messages=user(NEAR))
        far = c.chat.completions.create(messages=user(FAR))
    assert near.hybrid.record.adapter == SHIPPED and far.hybrid.record.adapter is None
    assert near.choices[0].message.content and far.choices[0].message.content


@pytest.mark.slow
def test_a_mixed_batch_is_split_between_the_two_models_and_answered_in_its_order(tmp_path):
    policy = load_policy(str(domain_policy(tmp_path)))
    backend = build_backend("local", policy.tiers["local"])
    requests = [parse_request({"messages": user(t)}) for t in (FAR, NEAR, FAR)]
    got = backend.complete_batch(requests, policy.tiers["local"].generation)
    alone = [backend.complete(r, policy.tiers["local"].generation) for r in requests]
    assert [g.info["adapter"] for g in got] == [None, SHIPPED, None]
    assert [g.text for g in got] == [a.text for a in alone]  # greedy: the same answer batched or alone


def test_the_domain_paths_are_relative_to_the_policy_file_and_a_missing_one_names_its_key(tmp_path):
    policy = load_policy(str(domain_policy(tmp_path, min_similarity=0.3)))
    domain = policy.tiers["local"].domain
    assert domain.references == str(tmp_path / "references.jsonl") and domain.adapter == SHIPPED
    assert domain.min_similarity == 0.3
    (tmp_path / "references.jsonl").unlink()
    with pytest.raises(PolicyError, match="tiers.local.domain.references"):
        load_policy(str(tmp_path / "policy.yaml"))


def test_only_requests_alike_enough_go_to_the_domain(tmp_path):
    policy = load_policy(str(domain_policy(tmp_path)))
    backend = build_backend("local", policy.tiers["local"])
    pick = backend.for_request
    assert pick(parse_request({"messages": user(NEAR)})) is backend.domain
    assert pick(parse_request({"messages": user(FAR)})) is backend.inner
    assert backend.describe()["domain"]["backend"] == backend.inner.describe()["backend"]


class Recording(ScriptedBackend):
    """The seam: a tier that keeps the requests it is given."""

    def __init__(self, tier: str):
        super().__init__(tier, ("ok",))
        self.got: list = []

    def complete(self, request, generation):
        self.got.append(request)
        return super().complete(request, generation)


def test_the_domain_model_gets_the_nearest_known_answers_in_its_system_message(tmp_path):
    """`context: K`: a domain request reaches the domain's model with the K nearest references' answers (distinct,
    nearest first) after its own system message, as `hybrid-ai improve --context` trained it; a request outside
    the domain reaches the tier's own model unchanged."""
    refs = load_references(str(domain_policy(tmp_path).parent / "references.jsonl"))
    split = DomainSplit(Recording("general"), Recording("domain"), refs, context=2)
    generation = load_policy(str(tmp_path / "policy.yaml")).tiers["local"].generation
    near = parse_request({"messages": [{"role": "system", "content": "Be brief."}, *user(NEAR)]})
    split.complete(near, generation)
    split.complete_batch([parse_request({"messages": user(FAR)}), parse_request({"messages": user(NEAR)})], generation)
    got, plain = split.domain.got, split.inner.got  # type: ignore[attr-defined]
    system = got[0].messages[0].content
    assert system.startswith("Be brief.\n\nKnown answers:\n- Open the self-service portal and choose Forgot password.")
    assert system.count("\n- ") == 1  # by words, only one reference shares any with it (at most K)
    assert got[0].messages[1:] == near.messages[1:]
    assert got[1].messages[0].role == "system" and got[1].messages[0].content.startswith("Known answers:")
    assert [m.content for m in plain[0].messages] == [FAR]  # the general model: the request as it came


def test_known_answers_leave_out_the_question_itself_and_repeat_no_answer():
    from hybrid_ai.references import References, with_context

    refs = References([("How do I reset my password?", "Use the portal."), ("Password reset?", "Use the portal."),
                       ("Which VPN?", "FortiClient."), ("Printer?", "Floor 2.")])
    assert refs.context("How do I reset my password?", 2)[0] == "Use the portal."  # from its other wording
    assert refs.context("How do I reset my password?", 3).count("Use the portal.") == 1
    assert "How do I reset my password?" not in refs.context("How do I reset my password?", 3)
    assert with_context([{"role": "user", "content": "q"}], []) == [{"role": "user", "content": "q"}]
