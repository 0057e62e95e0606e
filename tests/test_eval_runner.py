"""The eval runner: every item answered once per tier, cached in SQLite, failures recorded, re-runs instant."""

from __future__ import annotations

import json

import pytest
import yaml
from rich.progress import Progress

from hybrid_ai.backends.echo import EchoBackend
from hybrid_ai.backends.transformers_backend import TransformersBackend
from hybrid_ai.evaluation.cache import AnswerCache
from hybrid_ai.evaluation.answers import answer_items
from hybrid_ai.evaluation.suite import load_suite
from hybrid_ai.backends.metered import Metered
from hybrid_ai.policy import Generation, TransformersTier, load_policy


def tier(name, backend, generation):
    """A metered tier of the default policy answering with `backend` and `generation`, as the eval builds it."""
    return Metered(name, backend, load_policy(None), [], generation)


def suite(tmp_path, n=4):
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(
        {"name": "t", "source": "written for the tests", "license": "CC0-1.0", "grader": "contains"}))
    (tmp_path / "items.jsonl").write_text("\n".join(json.dumps(
        {"id": f"q{i}", "prompt": f"What is the capital of France? ({i})", "reference": "Paris"}) for i in range(n)))
    return load_suite(tmp_path)


class Flaky(EchoBackend):
    """Fails on the items whose prompt contains '(1)' (a seam double for a tier failing on some items)."""

    def complete(self, request, generation):
        if "(1)" in request.text:
            from hybrid_ai.errors import BackendError

            self.calls += 1
            raise BackendError("upstream 500", tier="cloud", kind="http_status")
        return super().complete(request, generation)


def test_answers_are_cached_failures_recorded_and_retried(tmp_path):
    s, cache = suite(tmp_path), AnswerCache(tmp_path / "cache.db")
    backend = Flaky("cloud")
    with Progress(disable=True) as progress:
        first = answer_items(s, tier("cloud", backend, Generation()), "echo", cache, workers=4, progress=progress)
    assert list(first) == ["q0", "q1", "q2", "q3"]
    assert first["q1"].text is None and "upstream 500" in first["q1"].error
    assert all(first[i].text and not first[i].cached for i in ("q0", "q2", "q3")) and backend.calls == 4
    again = answer_items(s, tier("cloud", backend, Generation()), "echo", cache, workers=4)
    assert all(again[i].cached for i in ("q0", "q2", "q3")) and not again["q1"].cached
    assert backend.calls == 5  # only the failed item was asked again
    other = answer_items(s, tier("cloud", backend, Generation(max_tokens=3)), "echo", cache)
    assert not any(a.cached for a in other.values())  # other settings, other cache entries


@pytest.mark.slow
def test_the_real_slm_answers_a_suite_and_a_new_cache_object_reads_it_back(tmp_path):
    s = suite(tmp_path, n=2)
    local = TransformersTier(generation=Generation(max_tokens=8))
    answers = answer_items(s, tier("local", TransformersBackend("local", local), local.generation), "smollm2",
                           AnswerCache(tmp_path / "c.db"))
    assert all("paris" in a.text.lower() and a.completion_tokens <= 8 and a.backend == "transformers"
               for a in answers.values())
    reread = answer_items(s, tier("local", EchoBackend("never-called", fail="must not run"), local.generation),
                          "smollm2", AnswerCache(tmp_path / "c.db"))
    assert [a.text for a in reread.values()] == [a.text for a in answers.values()]
    assert all(a.cached for a in reread.values())


def test_an_interrupted_run_keeps_its_answers_and_the_next_one_resumes(tmp_path):
    import pytest

    class Interrupted(EchoBackend):
        def complete(self, request, generation):
            if "(2)" in request.text:
                raise KeyboardInterrupt  # Ctrl-C while the third item is being answered
            return super().complete(request, generation)

    s, path = suite(tmp_path), tmp_path / "cache.db"
    with pytest.raises(KeyboardInterrupt):
        answer_items(s, tier("local", Interrupted("local"), Generation()), "echo", AnswerCache(path), workers=1)
    resumed = EchoBackend("local")
    answers = answer_items(s, tier("local", resumed, Generation()), "echo", AnswerCache(path), workers=1)
    cached = [a.cached for a in answers.values()]
    assert cached[:3] == [True, True, False]  # what was answered before the interrupt is kept
    assert resumed.calls == cached.count(False) and all(a.text for a in answers.values())


@pytest.mark.slow
def test_batched_answers_of_the_real_slm_match_one_by_one(tmp_path):
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(
        {"name": "b", "source": "written for the tests", "license": "CC0-1.0", "grader": "contains"}))
    prompts = ["What is the capital of France?", "Name a colour.", "Write the plural of the word 'child'."]
    (tmp_path / "items.jsonl").write_text("\n".join(json.dumps(
        {"id": f"b{i}", "prompt": p, "reference": "x"}) for i, p in enumerate(prompts)))
    s = load_suite(tmp_path)
    local = TransformersTier(generation=Generation(max_tokens=10))
    metered = tier("local", TransformersBackend("local", local), local.generation)
    one = answer_items(s, metered, "smollm2", AnswerCache(tmp_path / "1.db"))
    many = answer_items(s, metered, "smollm2", AnswerCache(tmp_path / "3.db"), batch=3)
    assert [a.text for a in many.values()] == [a.text for a in one.values()]
    assert [a.completion_tokens for a in many.values()] == [a.completion_tokens for a in one.values()]
    assert [a.prompt_tokens for a in many.values()] == [a.prompt_tokens for a in one.values()]
    assert {a.batch_size for a in many.values()} == {3} and {a.batch_size for a in one.values()} == {1}
    assert len({a.latency_s for a in many.values()}) == 1  # each waited for the whole batch


def test_a_cache_from_an_older_version_is_migrated_not_lost(tmp_path):
    import sqlite3

    db = sqlite3.connect(tmp_path / "old.db")
    db.execute("CREATE TABLE answers (key TEXT PRIMARY KEY, item_id TEXT, tier TEXT, model TEXT, text TEXT)")
    db.execute("INSERT INTO answers VALUES ('k', 'q0', 'local', 'm', 'kept')")
    db.commit()
    db.close()
    cache = AnswerCache(tmp_path / "old.db")
    got = cache.get("k")
    assert got.text == "kept" and got.batch_size == 1 and got.cached


def test_the_report_costs_an_answer_as_the_route_log_costs_its_attempt():
    """The eval keeps what the metered call measured (here a RAPL-like reading of a batch of 2) and costs the answer
    with the client's own function: cost, energy and their sources equal the live attempt's."""
    from types import SimpleNamespace

    from hybrid_ai.evaluation.answers import _answer
    from hybrid_ai.evaluation.measure import measure
    from hybrid_ai.telemetry.energy import Reading
    from hybrid_ai.telemetry.record import measure_attempt
    from hybrid_ai.types import BackendResult

    policy, item = load_policy(None), SimpleNamespace(id="q0")
    for name, reading in (("local", Reading(0.004, "rapl")), ("local", None), ("cloud", None)):
        result = BackendResult(text="Paris.", model=policy.tiers[name].model, prompt_tokens=40, completion_tokens=3)
        attempt = measure_attempt(policy, name, result, 0.8, reading, share=2)
        answer = _answer(tier(name, EchoBackend(name), Generation()), "m", item, result, attempt, 2)
        m = measure(policy, name, policy.tiers[name], answer)
        assert (m.cost_usd, m.cost_source, m.energy_wh, m.energy_source) == (
            attempt.cost_usd, attempt.cost_source, attempt.energy_wh, attempt.energy_source)
        assert m.latency_s == 0.8 and (reading is None or m.energy_wh == 0.002)


def test_what_a_rerun_needs_is_kept_in_the_cache_and_computed_once(tmp_path):
    """A re-run of the same items reads the router's out-of-fold scores and replayed answers' token counts back
    instead of training or importing litellm again (a cached eval re-run of the default suite: about 2 s)."""
    calls = []
    cache = AnswerCache(tmp_path / "a.sqlite")
    first = cache.memo("key", lambda: calls.append(1) or [0.25, 0.5])
    assert cache.tokens("m", "some text", lambda m, t: calls.append(2) or 7) == 7
    cache.close()
    again = AnswerCache(tmp_path / "a.sqlite")  # a new process would open it the same way
    assert again.memo("key", lambda: calls.append(3) or [9.0]) == first == [0.25, 0.5]
    assert again.tokens("m", "some text", lambda m, t: calls.append(4) or 99) == 7
    assert again.memo("other key", lambda: [1.0]) == [1.0] and calls == [1, 2]
    again.close()
