"""`hybrid-ai improve --judge llm`: the gate set graded by the policy's strong tier as LLM judge (here a stub
OpenAI-compatible server on 127.0.0.1 whose fixed verdict is the seam, reached through the real cloud path), the
cloud's answers still replayed from the teacher's; the judge's spend priced from its usage and capped, verdicts
cached across the run's evals, an unjudged gate answer blocks promotion, and a judge that cannot be called is bad
input before any training."""

from __future__ import annotations

import json

import pytest
from doubles import FailingUpstream
from test_eval import write_policy

from hybrid_ai.cli import main
from hybrid_ai.finetune.data import Example
from hybrid_ai.improve import data, gate

SYSTEM = {"role": "system", "content": "Answer briefly."}


def gate_set(tmp_path):
    examples = [Example(messages=(SYSTEM, {"role": "user", "content": q}, {"role": "assistant", "content": a}), source="test")
                for q, a in [("What is the capital of France?", "Paris."), ("What is 6 times 7?", "42"),
                             ("Which planet is closest to the Sun?", "Mercury.")]]
    return data.gate_suite(examples, tmp_path / "gate", 8, grader="judge")


@pytest.mark.slow
def test_the_gate_is_graded_by_the_judge_within_its_budget_and_verdicts_are_paid_once(tmp_path, cloud_key):
    stub = FailingUpstream(reply="Score: 9")
    try:
        policy, suite, cache = str(write_policy(tmp_path / "p.yaml", stub.base)), gate_set(tmp_path), tmp_path / "c.db"
        budget = gate.JudgeBudget(1.0)
        first = gate.evaluate(policy, suite, cache, 0.95, judge=budget)
        assert all(r["local"]["quality"] == pytest.approx(0.9) for r in first["items"])  # the judge's verdicts
        assert first["tiers"]["cloud"]["mode"] == "replay"  # answers replayed; only the judging was live
        assert budget.calls == stub.hits == 6 and 0 < budget.spent_usd < 0.01  # 3 local + 3 teacher answers
        gate.evaluate(policy, suite, cache, 0.95, judge=budget)  # the same answers again: verdicts from the cache
        assert stub.hits == 6 and budget.calls == 6 and gate.unscored(first) == 0

        poor = gate.JudgeBudget(1e-9)  # spent by the first call: the rest are left unjudged, and counted
        short = gate.evaluate(policy, suite, tmp_path / "c2.db", 0.95, judge=poor)
        assert poor.calls == 1 and gate.unscored(short) == 5
        assert poor.summary() == {"grader": "llm", "model": poor.model, "calls": 1, "spent_usd": poor.summary()[
            "spent_usd"], "max_usd": 1e-9} and poor.model
    finally:
        stub.close()


def test_a_judge_that_cannot_be_called_is_bad_input_before_training(tmp_path, capsys):
    rows = [{"messages": [SYSTEM, {"role": "user", "content": f"Question {i}?"},
                          {"role": "assistant", "content": f"Answer {i}."}]} for i in range(30)]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    policy = write_policy(tmp_path / "p.yaml")  # the cloud tier's key variable is unset
    out = tmp_path / "B"
    assert main(["improve", "--data", str(tmp_path / "d.jsonl"), "--policy", str(policy), "--out", str(out),
                 "--judge", "llm"]) == 2
    assert "--judge llm grades with the strong tier 'cloud', which cannot be called" in capsys.readouterr().err
    assert not out.exists()  # nothing written, nothing trained
