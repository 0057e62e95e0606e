import pytest

from hybrid_ai.errors import HybridAIError
from hybrid_ai.grading.graders import chosen_letter, final_number, get_grader


@pytest.mark.parametrize("text, value", [
    ("She makes 9 * 2 = $18 every day.\n#### 18", 18.0),
    ("The total is 1,250 dollars.", 1250.0),
    ("So the answer is -3.5", -3.5),
    ("#### 42 apples, not 7", 42.0),
    ("no numbers here", None),
])
def test_final_number(text, value):
    assert final_number(text) == value


@pytest.mark.parametrize("text, letter", [
    ("The answer is (B).", "B"), ("Answer: C", "C"), ("D. paralysis of the facial muscles", "D"),
    ("A", "A"), ("I think (c) is wrong and the right one is (A)", "A"), ("none of them", None),
])
def test_chosen_letter(text, letter):
    assert chosen_letter(text) == letter


@pytest.mark.parametrize("grader, answer, reference, score", [
    ("exact", "  Paris. ", "paris", 1.0), ("exact", "Paris, France", "Paris", 0.0),
    ("numeric", "It costs $1,200 in total.", "Natalia sold ... #### 1200", 1.0),
    ("numeric", "It costs 1199", "#### 1200", 0.0), ("numeric", "42", 42, 1.0), ("numeric", "none", "#### 3", 0.0),
    ("choice", "The answer is (B)", "B", 1.0), ("choice", "The answer is (B)", "C", 0.0),
    ("contains", "The capital is PARIS.", "paris", 1.0), ("contains", "Lyon", ["paris", "Paris, France"], 0.0),
    ("regex", "Order #A-1234 shipped", r"#A-\d{4}", 1.0), ("regex", "no order", r"#A-\d{4}", 0.0),
])
def test_graders(grader, answer, reference, score):
    assert get_grader(grader)(answer, reference) == score


def test_unknown_grader_is_a_clear_error():
    with pytest.raises(HybridAIError, match="unknown grader 'fuzzy'.*exact, numeric"):
        get_grader("fuzzy")


def test_numeric_grader_agrees_with_routellm_labels_on_the_bundled_gsm8k_sample():
    from conftest import ROOT
    from hybrid_ai.evaluation.suite import load_suite

    suite = load_suite(ROOT / "evals" / "gsm8k-sample")
    assert len(suite.items) == 100 and suite.meta.grader == "numeric" and "MIT" in suite.meta.license
    grader = get_grader("numeric")
    pairs = [(grader(rec["answer"], item.reference) == 1.0, rec["correct"])
             for item in suite.items for rec in item.recorded.values()]
    agreement = sum(a == b for a, b in pairs) / len(pairs)
    assert len(pairs) == 200 and agreement >= 0.95
