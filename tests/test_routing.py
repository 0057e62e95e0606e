import pytest

from hybrid_ai.errors import InvalidRequest
from hybrid_ai.policy import load_policy
from hybrid_ai.routing import HeuristicClassifier, decide
from hybrid_ai.request import parse_request

POLICY = load_policy("route-only")


def req(text, **kw):
    return parse_request({"messages": [{"role": "user", "content": text}], **kw})


def test_score_below_threshold_goes_local_with_cloud_fallback():
    below = POLICY.classifier.threshold / 2
    d = decide(POLICY, req("hello"), below)
    assert d.first == "local" and d.tiers == ("local", "cloud") and d.reason == "score<threshold"
    assert d.threshold == POLICY.classifier.threshold and d.score == below


def test_score_at_threshold_goes_cloud():
    d = decide(POLICY, req("hello"), POLICY.classifier.threshold)
    assert d.tiers == ("cloud", "local") and d.reason == "score>=threshold"


def test_pinned_route_wins_over_score():
    d = decide(POLICY, req("hello", route="cloud"), 0.0)
    assert d.first == "cloud" and d.reason == "rule:pinned"


def test_pinned_unknown_tier_is_a_request_error():
    with pytest.raises(InvalidRequest) as e:
        decide(POLICY, req("hello", route="gpu"), 0.0)
    assert e.value.field == "route"


@pytest.mark.parametrize("text", ["mail me at jane.doe@example.com", "call +44 20 7946 0958",
                                  "my SSN is 123-45-6789", "card 4111 1111 1111 1111"])
def test_personal_data_stays_local_without_fallback(text):
    d = decide(POLICY, req(text), 0.99)
    assert d.tiers == ("local",) and d.reason == "rule:personal-data"


def test_prompt_longer_than_local_context_goes_to_cloud():
    long = "word " * 8000  # ~40k chars > 8192 tokens at 3 chars/token
    d = decide(POLICY, req(long), 0.0)
    assert d.first == "cloud" and d.reason == "rule:context"


def test_context_rule_counts_requested_completion_tokens():
    text = "a" * 20_000  # ~6,700 tokens: fits alone, not with 4,000 more to generate
    assert decide(POLICY, req(text, max_tokens=16), 0.0).first == "local"
    assert decide(POLICY, req(text, max_tokens=4000), 0.0).first == "cloud"


def test_heuristic_classifier_orders_easy_below_hard():
    c = HeuristicClassifier()
    easy = [c.score(req(t)) for t in ["What is the capital of France?", "Translate 'good morning' to Spanish.",
                                      "Summarize: the meeting moved to Tuesday."]]
    hard = [c.score(req(t)) for t in [
        "Prove step by step that the square root of 2 is irrational, and explain why the proof works.",
        "A train leaves at 3:40 pm at 80 km/h and another at 4:10 pm at 100 km/h. How many minutes until the "
        "second catches up? Show the equation and solve it.",
        "Write a Python function implementing Dijkstra's algorithm with a heap, analyze its complexity and "
        "compare the trade-offs against Bellman-Ford.",
    ]]
    assert all(0 <= s <= 1 for s in easy + hard)
    assert max(easy) < 0.5 <= min(hard)


def test_classifier_bounded_on_huge_and_empty_prompts():
    c = HeuristicClassifier()
    assert 0 <= c.score(req("")) <= 1
    assert 0 <= c.score(req("x" * 1_000_000)) <= 1


def test_pinning_needs_a_pinned_rule():
    policy = POLICY.model_copy(update={"rules": []})
    with pytest.raises(InvalidRequest, match="no 'pinned' rule") as e:
        decide(policy, req("hello", route="cloud"), 0.0)
    assert e.value.field == "route"
