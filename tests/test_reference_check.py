"""The reference check (checks/reference.py): cascade mode's verifier for a fine-tuned domain, on the support
example's real training answers and its held-out questions (worded differently from the training ones)."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from conftest import ROOT

from hybrid_ai import PolicyError, load_policy
from hybrid_ai.checks.cascade import load_policy_verifier
from hybrid_ai.checks.reference import ReferenceCheck, read_references, write_references
from hybrid_ai.checks.verifier import DEFAULT_VERIFIER, load_verifier
from hybrid_ai.errors import HybridAIError
from hybrid_ai.improve import gate
from hybrid_ai.improve.candidate import REFERENCE_CHECK_MAX, candidate_policy
from hybrid_ai.references import REMEMBER_CHARS, References
from hybrid_ai.request import parse_request

SUPPORT = ROOT / "examples" / "support"


def pairs() -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in (SUPPORT / "train.jsonl").read_text().splitlines()]
    return [("\n".join(m["content"] for m in r["messages"][:-1]), r["messages"][-1]["content"]) for r in rows]


def heldout() -> list[dict]:
    return [json.loads(line) for line in (SUPPORT / "heldout" / "items.jsonl").read_text().splitlines()]


def req(item: dict | str):
    return parse_request({"messages": item["messages"] if isinstance(item, dict) else [
        {"role": "user", "content": item}]})


def test_right_answers_pass_and_a_neighbouring_facts_sentence_is_escalated():
    base = load_verifier(str(DEFAULT_VERIFIER))
    check = ReferenceCheck(References(pairs()), base)
    items = heldout()
    right = [check.score_request(req(h), h["standin"]) for h in items]
    # each question answered with the next item's fact: fluent, confident, wrong
    wrong = [check.score_request(req(h), items[(i + 1) % len(items)]["standin"]) for i, h in enumerate(items)]
    assert sum(s < 0.5 for s in right) >= 15  # the nearest reference is the right fact for most questions
    assert sum(s >= 0.5 for s in wrong) >= 20
    assert sum(r < w for r, w in zip(right, wrong)) >= 20


def test_a_request_like_no_reference_goes_to_the_general_verifier():
    base = load_verifier(str(DEFAULT_VERIFIER))
    check = ReferenceCheck(References(pairs()), base)
    q, a = "What is the capital of France?", "The capital of France is Paris."
    assert check.nearest(q)[0] < check.references.min_similarity
    assert check.score_request(req(q), a) == pytest.approx(base.score_text(q, a))


def test_short_questions_are_remembered_and_huge_ones_are_not():
    refs = References(pairs())
    q = heldout()[0]["messages"][-1]["content"]
    assert refs.scored(q) is refs.scored(q)  # the router, the domain split and the check ask once
    huge = q + " and more" * (REMEMBER_CHARS // 8)
    before = refs._scored.cache_info().currsize
    assert refs.nearest(huge)[1] is not None
    assert refs._scored.cache_info().currsize == before  # a huge question is not kept as a key


def test_the_improve_candidate_checks_against_its_references(tmp_path):
    src = ROOT / "hybrid_ai" / "policies" / "default.yaml"
    raw = candidate_policy(str(src), load_policy(str(src)), "adapter", "references.jsonl")
    assert raw["classifier"]["mode"] == "cascade" and raw["classifier"]["verifier"]["references"] == "references.jsonl"
    source = load_policy(str(src)).classifier
    assert raw["classifier"]["verifier"]["threshold"] == source.verifier.threshold  # the rest: as served today
    assert raw["classifier"]["verifier"]["reference_threshold"] == REFERENCE_CHECK_MAX  # the check: at its cap
    assert raw["classifier"]["threshold"] == source.threshold
    shutil.copytree(load_policy(str(src)).tiers["local"].adapter, tmp_path / "adapter")
    write_references(tmp_path / "references.jsonl", pairs())
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(raw))
    policy = load_policy(str(tmp_path / "policy.yaml"))
    assert policy.classifier.verifier.references == str(tmp_path / "references.jsonl")
    assert isinstance(load_policy_verifier(policy), ReferenceCheck)
    (tmp_path / "references.jsonl").unlink()
    with pytest.raises(PolicyError, match="tiers.local.domain.references: not found"):  # the first key naming it
        load_policy(str(tmp_path / "policy.yaml"))
    del raw["tiers"]["local"]["domain"]
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(PolicyError, match="classifier.verifier.references: references not found"):
        load_policy(str(tmp_path / "policy.yaml"))


def test_a_bad_references_file_names_the_line(tmp_path):
    f = tmp_path / "r.jsonl"
    f.write_text('{"prompt": "a", "answer": "b"}\n{"prompt": "only a prompt"}\n')
    with pytest.raises(HybridAIError, match=r"r.jsonl:2: a reference is a JSON object with 'prompt' and 'answer'"):
        read_references(f)


def test_wrong_answers_that_are_training_sentences_are_counted():
    items = [{"local": {"quality": 0.0, "answer": "Pro costs $6 per month."}},
             {"local": {"quality": 0.0, "answer": "I am not sure."}},
             {"local": {"quality": 1.0, "answer": "The Free plan includes 2 GB of storage."}}]
    got = gate.borrowed(items, {"pro costs $6 per month.", "the free plan includes 2 gb of storage."})
    assert got == {"wrong": 2, "a_training_answer": 1, "share": 0.5}


def test_the_checks_own_threshold_and_the_verifiers_are_kept_apart():
    """`reference_threshold` decides for requests close to a reference, `threshold` for the rest: the check's
    score is put on the policy's scale so that one comparison serves both (and a threshold chosen on that scale
    is turned back into the check's own)."""
    from hybrid_ai.checks.reference import off_scale, on_scale

    for own, policy in [(0.5, 0.2341), (0.0, 0.3), (1.0, 0.3), (0.3, 0.9)]:
        for s in [0.0, 0.1, 0.2341, 0.3, 0.5, 0.7, 0.9, 1.0]:
            assert (on_scale(s, own, policy) >= policy) == (s >= own)
            assert off_scale(on_scale(s, own, policy), own, policy) == pytest.approx(s)
    base = load_verifier(str(DEFAULT_VERIFIER))
    items = heldout()
    check = ReferenceCheck(References(pairs()), base, thresholds=(0.5, 0.2341))
    plain = ReferenceCheck(References(pairs()), base)
    for h in items:
        assert (check.score_request(req(h), h["standin"]) >= 0.2341) == (plain.score_request(req(h), h["standin"]) >= 0.5)
    q, a = "What is the capital of France?", "The capital of France is Paris."
    assert check.score_request(req(q), a) == pytest.approx(base.score_text(q, a))  # the rest: the verifier's, as it was


def test_a_policy_with_a_reference_threshold_loads_a_check_on_its_scale(tmp_path):
    write_references(tmp_path / "r.jsonl", pairs())
    raw = yaml.safe_load((ROOT / "hybrid_ai" / "policies" / "default.yaml").read_text())
    raw["classifier"]["verifier"].update(references="r.jsonl", reference_threshold=0.45)
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(raw))
    check = load_policy_verifier(load_policy(str(tmp_path / "p.yaml")))
    assert isinstance(check, ReferenceCheck) and check.thresholds == (0.45, raw["classifier"]["verifier"]["threshold"])
