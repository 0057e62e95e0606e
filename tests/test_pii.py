"""The personal_data rule: phonenumbers and python-stdnum over candidates, measured on the corpus in
benchmarks/data/pii_corpus.jsonl (the same figures as benchmarks/pii_detection.py prints)."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT
from hybrid_ai.policy import load_policy
from hybrid_ai.request import parse_request
from hybrid_ai.privacy import pii
from hybrid_ai.routing import decide

CORPUS = [json.loads(line) for line in (ROOT / "benchmarks" / "data" / "pii_corpus.jsonl").read_text().splitlines()]


def test_the_corpus_is_big_and_varied_enough():
    personal = [r for r in CORPUS if r["personal"]]
    assert len(personal) >= 80 and len(CORPUS) - len(personal) >= 80
    assert {r["kind"] for r in personal} == set(pii.KINDS)


def test_recall_and_false_positive_rate_on_the_corpus():
    found = [(r, pii.find(r["text"])) for r in CORPUS]
    personal = [f for r, f in found if r["personal"]]
    clean = [f for r, f in found if not r["personal"]]
    recall = sum(f is not None for f in personal) / len(personal)
    false_pos = sum(f is not None for f in clean) / len(clean)
    assert recall >= 0.95 and false_pos <= 0.05, (recall, false_pos)
    kinds_right = sum(f is not None and f[0] == r["kind"] for r, f in found if r["personal"])
    assert kinds_right / len(personal) >= 0.9  # and it mostly names the right kind


@pytest.mark.parametrize("text, kind", [
    ("Ruf mich an: 030 12345678", "phone"),               # German national format
    ("Office: +44 (0)20 7946 0958", "phone"),             # the (0) trunk prefix
    ("Mobile +33 6 12 34 56 78", "phone"),
    ("SSN 536 22 1847", "national_id"),                   # with spaces
    ("Steuer-ID 81 872 495 633", "tax_id"),
    ("reach me: jane dot roe at proton dot me", "email"),  # spelled out
])
def test_forms_the_regex_rule_missed(text, kind):
    assert pii.find(text)[0] == kind


@pytest.mark.parametrize("text", [
    "@app.route('/login') returns 405", "git clone git@github.com:org/repo.git", "ISBN 978-0-306-40615-7",
    "timestamp 1700000000000", "key XJ4K9-2LMQ8-P7RTW-88ZQA-3HNVB", "bump 2.31.0 to 2.32.1", "costs $1,299.99",
    "card 4111 1111 1111 1112",  # fails the Luhn check
    "IBAN-like DE00 0000 0000 0000 0000 00",  # fails the IBAN checksum
])
def test_code_ids_and_numbers_that_are_not_personal_data(text):
    assert pii.find(text) is None


def test_the_rule_keeps_personal_data_local_with_no_fallback():
    policy = load_policy("route-only")
    d = decide(policy, parse_request({"messages": [{"role": "user", "content": "Call me on 07911 123456"}]}), 0.99)
    assert d.tiers == ("local",) and d.reason == "rule:personal-data"
    d = decide(policy, parse_request({"messages": [{"role": "user", "content": "Explain @app.route"}]}), 0.99)
    assert d.reason == "score>=threshold"


def test_kinds_can_be_narrowed():
    assert pii.find("Call 07911 123456", ("email",)) is None
    assert pii.find("Call 07911 123456", ("phone",))[0] == "phone"


def test_personal_data_never_becomes_training_data_from_the_cloud_log():
    from hybrid_ai.routing.decide import keeps_from

    policy = load_policy("route-only")
    assert keeps_from(policy, "Text me on 07911 123456 about the refund", "cloud")
    assert not keeps_from(policy, "What is the refund window?", "cloud")


def test_warmup_loads_what_a_first_scan_would_import():
    """A server warms the detectors at start: no request with numbers in it then imports phonenumbers' data while
    holding the others up."""
    import sys

    pii.warmup()
    before = set(sys.modules)
    assert pii.find("ruf mich an: 030 901820, oder +33 1 42 68 53 00; IBAN DE89 3704 0044 0532 0130 00")
    assert {m for m in set(sys.modules) - before if m.startswith(("phonenumbers", "stdnum"))} == set()
