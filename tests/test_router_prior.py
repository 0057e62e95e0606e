"""The heuristic prior of the trained router (train.py): the hand-weighted heuristic's logit added at a fixed
weight, for traffic unlike the outcome data; the shipped router is built with it."""

from __future__ import annotations

import dataclasses
import json
import math
import random

import numpy as np
import pytest

from conftest import ROOT, ROUTELLM
from hybrid_ai.routing.classifier import heuristic_logit
from hybrid_ai.learning.data import load_outcomes
from hybrid_ai.learning.metrics import auc
from hybrid_ai.routing.scorer import DEFAULT_MODEL, LinearScorer, load_scorer
from hybrid_ai.learning.train import fit
from test_router import run

HARD = "Prove, step by step, that the algorithm's worst-case complexity is O(n log n); analyze each case."
EASY = "What is the capital of France?"


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


@pytest.fixture(scope="module")
def rows():
    rows = load_outcomes(ROUTELLM / "gsm8k")
    random.Random(0).shuffle(rows)
    return rows[:300]


@pytest.mark.slow
def test_prior_adds_the_heuristic_logit_at_its_weight(rows):
    model = fit(rows, heuristic_prior=1.0)
    assert model.meta["heuristic_prior"] == 1.0 and model.prior_w > 0
    without = dataclasses.replace(model, prior_w=0.0)
    for text, n in ((HARD, 1), (EASY, 3), ("", 1)):
        assert _logit(model.score_text(text, n)) - _logit(without.score_text(text, n)) == pytest.approx(
            model.prior_w * heuristic_logit(text, n), abs=1e-9)


@pytest.mark.slow
def test_prior_leaves_the_learned_weights_and_keeps_the_score_calibrated(rows):
    """The prior is added after the fit: the learned weights are those of the same training without it (up to the
    Platt scale), and the combined score is still Platt-scaled to P(weak answer wrong) on the training rows."""
    plain, primed = fit(rows), fit(rows, heuristic_prior=1.0)
    assert plain.prior_w == 0.0 and plain.meta["heuristic_prior"] == 0.0
    dense = np.nonzero(np.asarray(plain.dense_w))[0]  # features constant in these rows have weight 0 in both
    ratio = np.asarray(primed.dense_w)[dense] / np.asarray(plain.dense_w)[dense]
    assert len(dense) > 15 and np.allclose(ratio, ratio[0], rtol=1e-6)
    nz = np.nonzero(np.asarray(plain.hash_w))[0][:50]
    assert np.allclose(np.asarray(primed.hash_w)[nz] / np.asarray(plain.hash_w)[nz], ratio[0], rtol=1e-4)
    wrong = sum(1 - o.weak for o in rows) / len(rows)
    assert abs(sum(primed.score_text(o.prompt) for o in rows) / len(rows) - wrong) < 0.03
    # what the prior is for: a request that asks for reasoning ranks further above a trivial one than the learned
    # weights alone put it (in units of the learned logit: the Platt scale differs between the two models)
    gap = (_logit(primed.score_text(HARD)) - _logit(primed.score_text(EASY))) / ratio[0]
    assert gap > _logit(plain.score_text(HARD)) - _logit(plain.score_text(EASY)) + 1.0


@pytest.mark.slow
def test_prior_weight_survives_save_and_old_files_load_without_it(rows, tmp_path):
    model = fit(rows, heuristic_prior=0.5)
    again = LinearScorer.load(model.save(tmp_path / "r.npz"))
    assert again.prior_w == pytest.approx(model.prior_w) and again.score_text(HARD) == pytest.approx(
        model.score_text(HARD))
    with np.load(tmp_path / "r.npz") as z:  # a file written before the prior existed has no prior_w array
        np.savez(tmp_path / "old.npz", **{k: z[k] for k in z.files if k != "prior_w"})
    assert LinearScorer.load(tmp_path / "old.npz").prior_w == 0.0


@pytest.mark.slow
def test_router_train_heuristic_prior_option(rows, tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"prompt": o.prompt, "weak_correct": o.weak, "strong_correct": o.strong})
                            + "\n" for o in rows))
    out = tmp_path / "m.npz"
    ok = run("router", "train", "--data", str(data), "--out", str(out), "--heuristic-prior", "0.5")
    assert ok.returncode == 0, ok.stderr.decode()
    assert LinearScorer.load(out).meta["heuristic_prior"] == 0.5
    for bad in ("-1", "abc", "nan"):
        r = run("router", "train", "--data", str(data), "--out", str(out), "--heuristic-prior", bad)
        assert r.returncode == 2 and "--heuristic-prior" in r.stderr.decode() and "0 to 10" in r.stderr.decode()


def test_shipped_router_ranks_chat_requests_that_ask_for_more_above_everyday_ones():
    """MT-Bench's 80 first turns against the repo's 38 written everyday requests (no outcomes: how requests of
    different kinds compare). Without the prior the same training gives AUC 0.62 (README)."""
    s = load_scorer(str(DEFAULT_MODEL))
    assert s.meta["heuristic_prior"] == 0.25
    written = ROOT / "hybrid_ai" / "evals" / "assistant-traffic" / "written.jsonl"
    easy = [s.score_text(json.loads(line)["prompt"]) for line in written.read_text().splitlines()]
    chat = [s.score_text(json.loads(line)["turns"][0])
            for line in (ROUTELLM / "mt_bench" / "question.jsonl").read_text().splitlines()]
    assert len(chat) == 80 and auc(chat, easy) > 0.75
