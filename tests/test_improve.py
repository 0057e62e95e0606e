"""`hybrid-ai improve`: the time-ordered split, too little data, a dry run, the gate's rule, the candidate policy's
paths, and (slow) the whole loop on a deliberately harmful training log: a real fine-tune of the real SLM, both
policies answering a trusted gate suite, the bundle version written as `rejected` and nothing served."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from hybrid_ai.bundle import current, versions
from hybrid_ai.cli import main
from hybrid_ai.finetune.data import Example
from hybrid_ai.improve import data, gate
from hybrid_ai.improve.candidate import candidate_policy
from hybrid_ai.policy import load_policy

SUPPORT = ROOT / "examples" / "support"


def ex(i: int, answer: str = "an answer") -> Example:
    return Example(({"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": answer}), "t")


def write_data(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"messages": [{"role": "user", "content": q}, {"role": "assistant",
                                                                                   "content": a}]}) + "\n"
                            for q, a in rows))
    return path


def test_the_newest_share_is_the_gate_set_and_duplicates_keep_their_newest_answer():
    examples = [ex(i) for i in range(10)] + [ex(3, "a newer answer")]
    folded, n = data.fold(examples)
    assert n == 1 and [e.messages[0]["content"] for e in folded][-1] == "question 3"
    assert folded[-1].messages[-1]["content"] == "a newer answer"
    train, held = data.split(folded, 0.2)
    assert [e.messages[0]["content"] for e in held] == ["question 9", "question 3"] and len(train) == 8


def test_too_little_data_is_exit_2_and_nothing_is_written(tmp_path, capsys):
    small = write_data(tmp_path / "small.jsonl", [(f"q{i}", "a") for i in range(12)])
    assert main(["improve", "--data", str(small), "--out", str(tmp_path / "B"), "--min-examples", "20"]) == 2
    assert "at least 20 are needed" in capsys.readouterr().err and not (tmp_path / "B").exists()


def test_a_dry_run_says_what_it_would_use_and_writes_nothing(tmp_path, capsys):
    assert main(["improve", "--data", str(SUPPORT / "train.jsonl"), "--out", str(tmp_path / "B"), "--dry-run"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # as the console wrapped it
    assert "72 examples" in out and "47 to train, 11 to calibrate the threshold, 14 to gate" in out
    assert not (tmp_path / "B").exists() or versions(tmp_path / "B") == []


def test_the_gate_promotes_only_a_candidate_that_keeps_quality_saves_more_and_does_not_forget():
    good = {"quality_retention": 0.97, "cost_saving": 0.5}
    cur = {"quality_retention": 0.96, "cost_saving": 0.1}
    clear, unclear = {"mean": 0.4, "low": 0.2, "high": 0.6}, {"mean": 0.1, "low": -0.05, "high": 0.3}
    steady, forgets = {"before": 0.4, "after": 0.35}, {"before": 0.4, "after": 0.2}
    assert gate.verdict(good, cur, clear, steady, 0.95, 0.10)[0] is True
    assert "includes 0" in gate.verdict(good, cur, unclear, steady, 0.95, 0.10)[1]
    worse = {"mean": -0.03, "low": -0.056, "high": -0.006}
    assert "[-5.6%, -0.6%] is below 0" in gate.verdict(good, cur, worse, steady, 0.95, 0.10)[1]
    assert "forgets" in gate.verdict(good, cur, clear, forgets, 0.95, 0.10)[1]
    assert "keeps 90.0%" in gate.verdict({**good, "quality_retention": 0.9}, cur, clear, steady, 0.95, 0.10)[1]
    served_badly = {**good, "as_served": {"quality_retention": 0.85}}  # its own threshold loses quality
    assert "calibrated on the training side" in gate.verdict(served_badly, cur, clear, steady, 0.95, 0.10)[1]


def test_the_candidate_policy_names_its_adapter_relatively_and_other_paths_absolutely(tmp_path):
    src = ROOT / "hybrid_ai" / "policies" / "cascade-adapter.yaml"
    raw = candidate_policy(str(src), load_policy(str(src)), "adapter")
    assert raw["tiers"]["local"]["adapter"] == "adapter" and "canary" not in raw
    v = tmp_path / "v1"
    v.mkdir()
    (v / "adapter").mkdir()
    (v / "policy.yaml").write_text(yaml.safe_dump(raw))
    loaded = load_policy(str(v / "policy.yaml"))
    assert loaded.tiers["local"].adapter == str(v / "adapter")
    assert loaded.classifier.verifier.model == load_policy(str(src)).classifier.verifier.model


@pytest.mark.slow
def test_a_harmful_training_log_is_rejected_and_nothing_is_served(tmp_path):
    """Wrong teacher answers (each question answered with another fact's sentence, in the style of a broken log)
    make a candidate that answers the trusted held-out suite no better: the version is written as rejected, with
    its card, and `current` stays the baseline `v0`, the starting policy unchanged (so `current/policy.yaml`
    always exists to serve or evaluate)."""
    rows = [json.loads(line) for line in (SUPPORT / "train.jsonl").read_text().splitlines()][:24]
    wrong = [(r["messages"][1]["content"], "Please restart the app and try again later.") for r in rows]
    log = write_data(tmp_path / "harmful.jsonl", wrong)
    policy = tmp_path / "p.yaml"
    policy.write_text(yaml.safe_dump({
        "name": "improve-test",
        "tiers": {"local": {"backend": "transformers", "generation": {"max_tokens": 24, "temperature": 0.0}},
                  "cloud": {"backend": "litellm", "model": "openai/gpt-4o-mini", "api_key_env": None}},
        "classifier": {"type": "heuristic", "threshold": 0.5}, "rules": []}))
    out = tmp_path / "B"
    args = ["improve", "--data", str(log), "--policy", str(policy), "--out", str(out), "--gate-suite",
            str(SUPPORT / "heldout"), "--general-suite", "none", "--epochs", "1", "--min-examples", "10"]
    assert main(args) == 3
    v0, v1 = versions(out)
    card = json.loads((v1 / "card.json").read_text())
    assert card["promoted"] is False and card["reason"] and current(out) == v0.resolve()
    baseline = load_policy(str(out / "current" / "policy.yaml"))
    assert baseline.tiers["local"] == load_policy(str(policy)).tiers["local"] and baseline.classifier.threshold == 0.5
    assert json.loads((v0 / "card.json").read_text())["baseline"] is True
    for side in ("candidate", "current"):
        assert {"local_share", "quality_retention", "cost_saving", "energy_saving"} <= set(card["gate"][side])
    assert card["gate"]["items"] == 24 and card["data"]["train"] + card["data"]["calibration"] == 24
    assert 0.0 <= card["threshold"]["candidate"] <= 1.0
    assert card["threshold"]["candidate_mode"] == "cascade"  # its answers checked against its training answers
    assert (v1 / "references.jsonl").is_file() and card["gate"]["wrong_local_answers"]["wrong"] >= 1
    assert (v1 / "adapter" / "adapter_config.json").is_file() and (v1 / "card.md").read_text().startswith("# v1")
    local = yaml.safe_load((v1 / "policy.yaml").read_text())["tiers"]["local"]
    assert set(card["shapes"]) == {"domain", "replaces"}  # both shapes judged on the same gate; the card keeps both
    assert all(not s["promoted"] and s["reason"] for s in card["shapes"].values())
    if card["candidate_shape"] == "domain":
        assert local["domain"]["adapter"] == "adapter" and "adapter" not in local  # the general model unchanged
    else:
        assert local["adapter"] == "adapter" and "domain" not in local
    assert not list(v1.glob(".*.yaml"))  # only the chosen candidate's policy is kept


def test_a_calibration_that_keeps_nothing_local_leaves_the_policys_thresholds():
    """On a few calibration examples, 95% may be reachable only by sending everything to the cloud; that point is
    not written as the candidate's threshold (the gate set judges the policy's own, as served)."""
    from hybrid_ai.improve.candidate import usable

    keeps = {"threshold": 0.8, "verify_threshold": 0.3, "cloud_share": 0.6}
    assert usable(keeps) is keeps
    assert usable({"threshold": 0.0, "verify_threshold": 0.0, "cloud_share": 1.0}) is None
    assert usable(None) is None


def test_epochs_follow_the_data_size_unless_a_config_sets_them(tmp_path):
    from hybrid_ai.improve.run import epochs_for

    assert [epochs_for(n, None) for n in (20, 72, 300, 5000)] == [8.0, 8.0, 2.0, 1.0]
    memory = tmp_path / "memory.yaml"
    memory.write_text("gradient_checkpointing: true\n")  # says nothing of epochs: the choice by data size stays
    both = tmp_path / "both.yaml"
    both.write_text("gradient_checkpointing: true\nepochs: 3\n")
    assert (epochs_for(300, str(memory)), epochs_for(300, str(both))) == (2.0, 3.0)


def test_rehearsal_comes_from_the_logs_local_traffic_never_with_personal_data(tmp_path):
    from datetime import datetime, timezone

    from hybrid_ai.telemetry.sinks import SQLiteSink
    from hybrid_ai.types import RouteRecord

    sink = SQLiteSink(tmp_path / "log.db", log_prompts=True)
    for i, (route, prompt) in enumerate([("local", "What is the capital of Peru?"),
                                         ("local", "Mail the invoice to jane.doe@example.com"),
                                         ("cloud", "Prove that there are infinitely many primes."),
                                         ("local", "Name a primary colour."), ("local", "what is the capital of peru?")]):
        sink.write(RouteRecord(request_id=f"r{i}", timestamp=datetime.now(timezone.utc).isoformat(), route=route,
                               reason="score<threshold", score=0.1, threshold=0.5, latency_ms=1.0, policy="p",
                               policy_hash="h", prompt=prompt, answer="an answer").model_dump())
    sink.close()
    got = [p[0]["content"] for p in data.local_prompts(load_policy("default"), str(tmp_path / "log.db"))]
    assert got == ["what is the capital of peru?", "Name a primary colour."]  # newest first, each once


@pytest.mark.parametrize("name", ["default", "route-only"])
def test_the_first_run_serves_its_starting_policy_as_v0_until_a_candidate_is_promoted(tmp_path, name):
    """`current/policy.yaml` exists from the first run on (the eval and serving commands in the docs name it),
    whatever the gate decides; v0 is the starting policy unchanged, and what a rollback returns to."""
    from hybrid_ai import bundle
    from hybrid_ai.improve.run import _baseline

    start = load_policy(name)
    v0 = _baseline(tmp_path / "B", name, start)
    assert current(tmp_path / "B") == v0 and v0.name == "v0"
    served = load_policy(str(tmp_path / "B" / "current" / "policy.yaml"))
    assert served.tiers == start.tiers and served.classifier == start.classifier and served.rules == start.rules
    assert bundle.next_version(tmp_path / "B").name == "v1"
    with pytest.raises(Exception, match="nothing to roll back to"):
        bundle.rollback(tmp_path / "B")


def test_a_candidate_with_references_learns_a_domain_beside_the_policys_own_adapter(tmp_path):
    """The new adapter answers only the requests near its training questions; the policy's own adapter (here
    the shipped one) keeps answering everything else, so the general set's answers cannot get worse."""
    import shutil

    src = load_policy("default")
    raw = candidate_policy("default", src, "adapter", "references.jsonl")
    local = raw["tiers"]["local"]
    assert local["adapter"] == src.tiers["local"].adapter and Path(local["adapter"]).is_absolute()
    assert local["domain"] == {"adapter": "adapter", "references": "references.jsonl", "similarity": "embedding",
                               "min_similarity": 0.45}  # matched by meaning, at that measure's own default
    verifier = raw["classifier"]["verifier"]
    assert raw["classifier"]["mode"] == "cascade" and verifier["references"] == "references.jsonl"
    assert (verifier["similarity"], verifier["min_similarity"]) == ("embedding", 0.45)  # the check: the same
    words = candidate_policy("default", src, "adapter", "references.jsonl", similarity="tfidf")["tiers"]["local"]
    assert (words["domain"]["similarity"], words["domain"]["min_similarity"]) == ("tfidf", 0.15)
    v = tmp_path / "v1"
    shutil.copytree(src.tiers["local"].adapter, v / "adapter")
    (v / "references.jsonl").write_text(json.dumps({"prompt": "q", "answer": "a"}) + "\n")
    (v / "policy.yaml").write_text(yaml.safe_dump(raw))
    loaded = load_policy(str(v / "policy.yaml")).tiers["local"]
    assert loaded.domain.adapter == str(v / "adapter") and loaded.adapter == src.tiers["local"].adapter


def test_known_answers_training_examples_and_the_candidate_that_serves_them():
    """`--context K`: each training example's system message lists the answers of the K other examples nearest
    its question (as the domain's model gets them when serving); the candidate's domain says K."""
    from hybrid_ai.finetune.data import load_examples

    examples = load_examples(ROOT / "examples" / "helpdesk" / "train.jsonl")
    taught = data.with_known_answers(examples, 3, "tfidf")
    assert [e.messages[1:] for e in taught] == [e.messages[1:] for e in examples]  # the question and answer kept
    systems = [e.messages[0]["content"] for e in taught]
    assert all(s.startswith(examples[0].messages[0]["content"] + "\n\nKnown answers:\n- ") for s in systems)
    own = sum(e.messages[-1]["content"] in s for e, s in zip(examples, systems))
    assert own >= 0.8 * len(examples)  # its answer is there through another wording of the same fact
    raw = candidate_policy("default", load_policy("default"), "adapter", "references.jsonl", context=3)
    assert raw["tiers"]["local"]["domain"]["context"] == 3
