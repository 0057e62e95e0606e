"""Matching a request's question to a fine-tuned domain's references by meaning (`similarity: embedding`, the
bundled all-MiniLM-L6-v2 through embeddings.py) against shared words (`tfidf`), on both examples' real training
questions and their held-out questions (worded differently from every training one), and everyday requests."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, user
from hybrid_ai import load_policy
from hybrid_ai.backends.registry import build_backend
from hybrid_ai.embeddings import MAX_CHARS, load_embedder
from hybrid_ai.errors import HybridAIError
from hybrid_ai.references import References, write_references
from hybrid_ai.request import parse_request

pytestmark = pytest.mark.slow  # loads the embedding model (about 3 s)


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def example(name: str) -> tuple[list[tuple[str, str]], list[dict]]:
    """(the training questions and teacher answers as improve writes them, the held-out items)."""
    folder = ROOT / "examples" / name
    pairs = [("\n".join(m["content"] for m in r["messages"] if m["role"] == "user"), r["messages"][-1]["content"])
             for r in rows(folder / "train.jsonl")]
    return pairs, rows(folder / "heldout" / "items.jsonl")


def question(item: dict) -> str:
    return parse_request({"messages": item["messages"]}).question


def right_facts(refs: References, items: list[dict]) -> int:
    """Held-out questions whose nearest reference answers the fact asked (its answer matches the item's regex)."""
    found = [refs.nearest(question(it))[1] for it in items]
    return sum(i is not None and bool(re.search(it["reference"], refs.answers[i])) for i, it in zip(found, items))


@pytest.mark.parametrize("name", ["support", "helpdesk"])
def test_meaning_finds_the_fact_asked_where_shared_words_do_not(name):
    pairs, items = example(name)
    meaning, words = References(pairs, similarity="embedding"), References(pairs)
    assert meaning.min_similarity == 0.45
    assert right_facts(meaning, items) >= 19 and right_facts(meaning, items) > right_facts(words, items)
    assert all(meaning.near(question(it)) for it in items)  # every reworded question is in the domain
    assert sum(words.near(question(it)) for it in items) < len(items)  # shared words miss some


@pytest.mark.parametrize("name", ["support", "helpdesk"])
def test_everyday_requests_stay_outside_the_domain(name):
    pairs, _ = example(name)
    meaning = References(pairs, similarity="embedding")
    everyday = [json.loads(line)["prompt"] for line in
                (ROOT / "hybrid_ai" / "evals" / "assistant-traffic" / "items.jsonl").read_text().splitlines()]
    assert sum(meaning.near(p) for p in everyday) <= 4  # of 62 (measured: 3 and 2)


def test_a_domain_split_matched_by_meaning_sends_a_reworded_question_to_the_domain(tmp_path):
    pairs, items = example("helpdesk")
    write_references(tmp_path / "references.jsonl", pairs)
    shipped = str(ROOT / "hybrid_ai" / "assets" / "adapter")
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({
        "name": "t", "tiers": {"local": {"backend": "transformers", "domain": {
            "adapter": shipped, "references": "references.jsonl", "similarity": "embedding"}}},
        "classifier": {"weak_tier": "local", "strong_tier": "local"}, "fallback": {}, "telemetry": {"sinks": []}}))
    backend = build_backend("local", load_policy(str(tmp_path / "p.yaml")).tiers["local"])
    vpn = next(it for it in items if it["id"] == "vpn")  # "what host do I put into the VPN client?"
    assert backend.for_request(parse_request({"messages": vpn["messages"]})) is backend.domain
    assert backend.for_request(parse_request({"messages": user("Write a haiku about autumn.")})) is backend.inner


def test_the_embedder_remembers_a_question_and_a_missing_model_is_a_clear_error(tmp_path):
    e = load_embedder()
    assert e.one("Which VPN server?") is e.one("Which VPN server?")
    huge = "Which VPN server? " + "x" * 2_000_000  # a megabyte request costs its first words, and is kept small
    assert e.one(huge) is e.one(huge[:MAX_CHARS]) and max(map(len, e._seen)) <= MAX_CHARS
    v = e.encode(["a", "b c"])
    assert v.shape == (2, 384) and abs(float((v[0] ** 2).sum()) - 1.0) < 1e-5
    with pytest.raises(HybridAIError, match="cannot load the embedding model"):
        load_embedder(str(tmp_path / "nothing-here"))
    with pytest.raises(HybridAIError, match="not installed"):
        load_embedder("pkg:no_such_package/model")


def test_an_answer_agreeing_with_an_ambiguous_nearest_reference_is_trusted_less():
    """By meaning, the check trusts an answer that agrees with the nearest reference in proportion to how much
    nearer that reference is than the nearest with another answer: a model answering from known answers copies
    the nearest, right or not."""
    from hybrid_ai.checks.reference import ReferenceCheck
    from hybrid_ai.checks.verifier import DEFAULT_VERIFIER, load_verifier

    refs = References([("How do I reset my email password?", "Use the self-service portal."),
                       ("How do I reset my laptop PIN?", "Call the service desk on extension 4400."),
                       ("Which VPN client do we use?", "FortiClient, to vpn.fernhill.example.")], similarity="embedding")
    check = ReferenceCheck(refs, load_verifier(str(DEFAULT_VERIFIER)))
    clear, unclear = "What VPN program should I install?", "How do I reset it?"
    assert refs.margin(clear) > refs.margin(unclear) and check.confidence(clear) > check.confidence(unclear)
    sure = check.score_request(parse_request({"messages": user(clear)}), "FortiClient, to vpn.fernhill.example.")
    nearest = refs.answers[refs.nearest(unclear)[1]]
    unsure = check.score_request(parse_request({"messages": user(unclear)}), nearest)  # agrees with it, word for word
    assert sure == 0.0 and unsure > 0.3  # measured: margins 0.72 and 0.12
