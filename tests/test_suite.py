import json

import pytest
import yaml

from hybrid_ai.evaluation.suite import SuiteError, load_suite

META = {"name": "tiny", "source": "written for the tests", "license": "CC0-1.0", "grader": "contains"}


def make(tmp_path, items, meta=None):
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(meta or META))
    (tmp_path / "items.jsonl").write_text("\n".join(i if isinstance(i, str) else json.dumps(i) for i in items) + "\n")
    return tmp_path


def test_load_a_valid_suite(tmp_path):
    s = load_suite(make(tmp_path, [
        {"id": "a", "prompt": "Capital of France?", "reference": "Paris", "tags": ["easy"]},
        {"id": "b", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}],
         "reference": "#### 4", "grader": "numeric", "recorded": {"gpt-4": {"answer": "4", "correct": True}}},
        "",
    ]))
    assert s.meta.name == "tiny" and [i.id for i in s.items] == ["a", "b"]
    assert s.items[0].grader == "contains" and s.items[1].grader == "numeric"
    assert s.items[0].messages == [{"role": "user", "content": "Capital of France?"}]
    assert s.items[1].recorded["gpt-4"]["correct"] is True


@pytest.mark.parametrize("line, words", [
    ({"prompt": "x", "reference": "y"}, "line 1: missing field 'id'"),
    ({"id": "a", "prompt": "x"}, "line 1: missing field 'reference'"),
    ({"id": "a", "reference": "y"}, "missing field 'prompt'"),
    ({"id": "a", "prompt": 3, "reference": "y"}, "field 'prompt' must be a string"),
    ({"id": "a", "prompt": "x", "reference": "y", "grader": "vibes"}, "unknown grader 'vibes'"),
    ({"id": "a", "messages": [{"role": "bot", "content": "x"}], "reference": "y"}, "messages[0].role"),
    ({"id": "a", "prompt": "x", "reference": "y", "recorded": {"m": "ok"}}, "field 'recorded'"),
    ("{oops", "line 1: not valid JSON"),
])
def test_malformed_items_name_line_and_field(tmp_path, line, words):
    with pytest.raises(SuiteError) as e:
        load_suite(make(tmp_path, [line]))
    assert words in str(e.value) and "items.jsonl" in str(e.value)


def test_duplicate_ids_and_empty_suites(tmp_path):
    with pytest.raises(SuiteError, match="line 2: field 'id': duplicate id 'a'"):
        load_suite(make(tmp_path, [{"id": "a", "prompt": "x", "reference": 1}] * 2))
    with pytest.raises(SuiteError, match="no items"):
        load_suite(make(tmp_path, [""]))


@pytest.mark.parametrize("meta, words", [
    ({**META, "colour": "red"}, "colour: unknown key"),
    ({k: v for k, v in META.items() if k != "license"}, "license: Field required"),
    ({**META, "grader": "vibes"}, "grader: unknown grader 'vibes'"),
])
def test_bad_manifest(tmp_path, meta, words):
    with pytest.raises(SuiteError, match=words):
        load_suite(make(tmp_path, [{"id": "a", "prompt": "x", "reference": 1}], meta))


def test_missing_suite(tmp_path):
    with pytest.raises(SuiteError, match="no such file"):
        load_suite(tmp_path / "nothing")


@pytest.mark.parametrize("name", ["assistant-traffic", "gsm8k-sample", "mmlu-sample"])
def test_bundled_suites_load_and_their_standins_and_keys_grade_right(name):
    from hybrid_ai.grading.graders import GRADERS
    from hybrid_ai.evaluation.evaluate import resolve_suite

    s = load_suite(resolve_suite(name))
    assert len(s.items) >= 60 and s.meta.license and s.meta.source
    for item in s.items:
        if item.standin is not None:  # a stand-in must be a right answer by the item's own grader
            assert GRADERS[item.grader](item.standin, item.reference) == 1.0, item.id
        if item.grader == "choice":
            assert item.reference in "ABCD"
    if s.meta.reference_is_standin:
        assert sum(i.standin is not None for i in s.items) >= 30


@pytest.mark.parametrize("item_id, wrong", [
    # answers the shipped local model gave, which the earlier `contains`/loose `regex` graders counted as right
    ("fact-largest-planet", "The largest exoplanet in our solar system is Jupiter's largest moon, Ganymede."),
    ("greeting", "Sam is a friendly and enthusiastic customer who has just joined our team of customers."),
    ("faq-shipping", "1. Express shipping is 1 business day after standard shipping.\n\n2. So, it takes 1 + 1 = 2 hours."),
    ("fact-days-week", "A day is 24 hours. A week has 7 days (15 days in a week). So, the answer is 215 days."),
    ("classify-sentiment-pos", "The review is generally positive. However, it also has a slightly negative tone."),
    ("classify-topic", "It's not necessarily about sports or politics but rather about highlighting both."),
])
def test_written_items_grade_wrong_answers_wrong(item_id, wrong):
    from hybrid_ai.evaluation.evaluate import resolve_suite
    from hybrid_ai.grading.graders import GRADERS

    item = next(i for i in load_suite(resolve_suite("assistant-traffic")).items if i.id == item_id)
    assert GRADERS[item.grader](wrong, item.reference) == 0.0
    assert GRADERS[item.grader](item.standin, item.reference) == 1.0


@pytest.mark.parametrize("field, value, words", [
    ("max_tokens", 0, "'max_tokens' must be a positive integer"),
    ("standin", 3, "'standin' must be a string"),
    ("reference", "", "'reference' is empty"),
])
def test_new_item_fields_are_checked(tmp_path, field, value, words):
    with pytest.raises(SuiteError, match=words):
        load_suite(make(tmp_path, [{"id": "a", "prompt": "hi", "reference": "x", field: value}]))
