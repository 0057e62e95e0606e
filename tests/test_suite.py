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
