"""The outcome corpus (scripts/corpus/build_corpus.py, corpus_families.py): every generated request's reference is
right (its stand-in answer passes the grader, near misses fail), splits never share a phrasing, the bundled
suites are never in it, and what it writes loads as eval suites and converts to router training data."""

import json
import random
import re
import sys
from pathlib import Path

import pytest

from hybrid_ai.grading.graders import GRADERS
from hybrid_ai.evaluation.suite import load_suite
from hybrid_ai.learning.data import load_outcomes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "corpus"))

import build_corpus  # noqa: E402
import corpus_families as cf  # noqa: E402


def grade(name, answer, reference):
    return GRADERS[name](answer, reference)


@pytest.mark.parametrize("family", sorted(cf.FAMILIES))
def test_every_standin_passes_its_own_grader(family):
    for split in cf.SPLITS:
        rng = random.Random(7)
        for _ in range(150):
            row = cf.generate(family, rng, split)
            assert grade(row["grader"], row["standin"], row["reference"]) == 1.0, row
            re.compile(row["reference"])


def test_near_misses_fail_the_number_reference():
    ref = cf.number_ref(12)
    for wrong in ("120", "1.2", "112", "12.5", "The answer is 13."):
        assert grade("regex", wrong, ref) == 0.0, wrong
    for right in ("12", "It is 12.", "12 apples", "= 12"):
        assert grade("regex", right, ref) == 1.0, right
    assert grade("regex", "1,200 grams", cf.number_ref(1200)) == 1.0


def test_case_sensitive_references_reject_the_wrong_case():
    rng = random.Random(3)
    rows = [cf.generate("strings", rng, "train") for _ in range(200)]
    upper = next(r for r in rows if r["reference"].startswith("(?-i:"))
    assert grade("regex", upper["standin"].lower(), upper["reference"]) == 0.0


def test_splits_never_share_a_phrasing_or_wrapper():
    for options in (cf.WRAPPERS, [f"t{i}" for i in range(7)]):
        seen = {s: {cf.pick(random.Random(k), options, s) for k in range(300)} for s in cf.SPLITS}
        assert all(seen[s] for s in cf.SPLITS)
        # the same text may sit at two indexes (the bare "{q}" wrapper); every other option belongs to one split
        shared = (seen["train"] & seen["test"]) | (seen["train"] & seen["dev"]) | (seen["dev"] & seen["test"])
        assert shared <= {"{q}"}


def test_a_prompt_in_two_splits_is_kept_once_in_the_most_held_out_one():
    q = {"prompt": "Which of these is a vitamin?\nA. C\nB. X\nAnswer:"}  # MMLU repeats it under two subjects
    rows = [("train", {**q, "id": "college_medicine-1"}), ("test", {**q, "id": "clinical_knowledge-2"}),
            ("dev", {"prompt": "What is 2+2?", "id": "a"}), ("train", {"prompt": " what is  2+2? ", "id": "b"}),
            ("train", {"prompt": "Name a fruit.", "id": "c"})]
    assert [(s, r["id"]) for s, r in build_corpus.held_out_once(rows)] == [
        ("test", "clinical_knowledge-2"), ("dev", "a"), ("train", "c")]


def test_corpus_excludes_bundled_prompts_and_writes_loadable_suites(tmp_path, monkeypatch):
    bundled = build_corpus.bundled_prompts()
    assert "what is the capital of france?" in bundled
    # a generator that proposes a bundled prompt: it must be skipped
    monkeypatch.setattr(cf, "generate", lambda f, rng, s: {"prompt": "What is the capital of France?"})
    monkeypatch.setattr(build_corpus, "generate", cf.generate)
    assert build_corpus.generated(3, 0, bundled) == []
    monkeypatch.undo()
    args = type("A", (), dict(per_family=10, seed=0, data="", gsm8k=0, mmlu=0, mmlu_key=None, out=str(tmp_path)))
    build_corpus.build(args)
    ids = set()
    for split in cf.SPLITS:
        suite = load_suite(tmp_path / f"corpus-{split}")
        assert suite.items, split
        for item in suite.items:
            assert " ".join(item.messages[-1]["content"].split()).casefold() not in bundled
            ids.add(item.id)
    assert len(ids) == 10 * len(cf.FAMILIES)


def test_outcomes_from_an_eval_report_train_a_router(tmp_path):
    items = []
    for i in range(30):
        split = cf.SPLITS[i % 3]
        items.append({"id": f"corpus-{split}/x-{i}", "messages": [{"role": "user", "content": f"What is {i} + 1?"}],
                      "tags": ["corpus", "arithmetic" if i % 2 else "facts"],
                      "local": {"quality": float(i % 2), "unscored": False},
                      "cloud": {"quality": 1.0, "unscored": False}})
    items.append({"id": "assistant-traffic/a", "messages": [], "tags": [], "local": {}, "cloud": {}})  # not corpus
    (tmp_path / "report.json").write_text(json.dumps({"items": items}))
    build_corpus.outcomes(tmp_path / "report.json")
    rows = load_outcomes(tmp_path / "outcomes-train.jsonl")
    assert len(rows) == 10 and {r.group for r in rows} == {"arithmetic", "facts"}
    assert all(r.weak == (1.0 if r.group == "arithmetic" else 0.0) and r.strong == 1.0 for r in rows)
