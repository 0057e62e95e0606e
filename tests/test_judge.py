"""LLM-as-judge: the cloud tier (here a stub server whose fixed reply is the seam) grades answers through the
real litellm path; verdicts are parsed, cached, and a judge that fails leaves the item at 0, counted."""

from __future__ import annotations

import json

import pytest
from doubles import FailingUpstream
from test_eval import ITEMS, write_policy, write_suite

from hybrid_ai.cli import main
from hybrid_ai.grading.judge import parse_verdict


@pytest.mark.parametrize("reply, verdict", [
    ("Score: 8", 0.8), ("score=10", 1.0), ("I'd say 3/10.", 0.3), ("Score: 14", 1.0), ("no idea", None),
])
def test_parse_verdict(reply, verdict):
    assert parse_verdict(reply) == verdict


@pytest.mark.slow
def test_judge_grades_both_tiers_through_the_cloud_tier(tmp_path, cloud_key):
    stub = FailingUpstream(reply="Score: 7")
    try:
        suite = write_suite(tmp_path / "s", [{**ITEMS[0], "grader": "judge"}])
        policy = write_policy(tmp_path / "p.yaml", stub.base)
        args = ["eval", "--suite", str(suite), "--policy", str(policy), "--cache", str(tmp_path / "c.db"),
                "--judge", "--target-quality", "0.5"]
        assert main([*args, "--out", str(tmp_path / "r")]) == 0
        item = json.loads((tmp_path / "r" / "report.json").read_text())["items"][0]
        assert item["local"]["quality"] == pytest.approx(0.7) and item["cloud"]["quality"] == pytest.approx(0.7)
        sent = [json.loads(p)["messages"][0]["content"] for p in stub.prompts]
        judged = [s for s in sent if s.startswith("You are grading")]
        assert len(judged) == 2 and all("Reference answer:\nParis" in s for s in judged)
        hits = stub.hits
        assert main([*args, "--out", str(tmp_path / "r2")]) == 0
        assert stub.hits == hits  # answers and verdicts both came from the cache
    finally:
        stub.close()


def test_judge_needs_a_live_cloud_tier(tmp_path, capsys):
    suite = write_suite(tmp_path / "s", [{**ITEMS[0], "grader": "judge"}])
    policy = write_policy(tmp_path / "p.yaml")  # no key: the cloud tier would be replayed
    assert main(["eval", "--suite", str(suite), "--policy", str(policy), "--cache", str(tmp_path / "c.db"),
                 "--judge"]) == 2
    assert "--judge needs the cloud tier live" in capsys.readouterr().err


def test_a_judge_without_a_verdict_scores_zero_and_is_counted(tmp_path, cloud_key):
    stub = FailingUpstream(reply="I would rather not say.")
    try:
        suite = write_suite(tmp_path / "s", [{**ITEMS[0], "grader": "judge"}])
        policy = write_policy(tmp_path / "p.yaml", stub.base)
        assert main(["eval", "--suite", str(suite), "--policy", str(policy), "--cache", str(tmp_path / "c.db"),
                     "--judge", "--target-quality", "0", "--out", str(tmp_path / "r")]) == 0
        r = json.loads((tmp_path / "r" / "report.json").read_text())
        assert r["tiers"]["local"]["judge_unscored"] == 1 and r["tiers"]["cloud"]["judge_unscored"] == 1
        assert r["items"][0]["local"]["quality"] == 0.0 and r["items"][0]["local"]["unscored"]
        assert "the judge gave no verdict on 1 local and 1 cloud answers" in (tmp_path / "r" / "report.md").read_text()
    finally:
        stub.close()
