"""The trained router: metrics exactly as the data README defines them, data loading, the compact
scorer, and the `hybrid-ai router` commands."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from conftest import CLI, ROOT, ROUTELLM
from hybrid_ai.learning.data import DataError, load_outcomes
from hybrid_ai.learning.metrics import apgr, auc, cpt, curve, evaluate
from hybrid_ai.routing.scorer import DEFAULT_MODEL, LinearScorer, load_scorer

DATA = ROUTELLM


def run(*args, stdin=None, env=None):
    import os
    import subprocess

    return subprocess.run([*CLI, *args], cwd=ROOT, capture_output=True, input=stdin, timeout=600,
                          env={**os.environ, **(env or {})})


# ---- metrics -------------------------------------------------------------------------------------
def test_curve_apgr_and_cpt_on_a_hand_computed_example():
    # 10 rows; the weak model fails rows 0-2, the strong model only row 9
    weak = [0, 0, 0, 1, 1, 1, 1, 1, 1, 1]
    strong = [1, 1, 1, 1, 1, 1, 1, 1, 1, 0]
    perfect = [1.0, 0.9, 0.8, 0.5, 0.4, 0.35, 0.3, 0.2, 0.15, 0.0]
    pts = curve(perfect, weak, strong)
    assert pts[0] == (0.0, 0.7) and pts[-1] == (100.0, 0.9)
    assert (30.0, 1.0) in pts  # the three rows the weak model fails go strong first
    wq, sq = 0.7, 0.9
    assert apgr(pts, wq, sq) > 1.0  # beats the strong model alone: it never sends row 9 up until the end
    assert cpt(pts, wq, sq, 0.5) == pytest.approx(10.0)  # quality 0.8 needs 10% strong calls
    inverted = [1 - s for s in perfect]
    assert apgr(curve(inverted, weak, strong), wq, sq) < 0.5
    assert auc([0.9, 0.5], [0.5, 0.1]) == pytest.approx(0.875)  # 3 wins and a tie out of 4 pairs


def test_baselines_on_gsm8k_match_the_published_figures():
    rows = load_outcomes(DATA / "gsm8k")
    assert len(rows) == 1319 - 12  # the contaminated prompts are dropped
    w, s, p = [o.weak for o in rows], [o.strong for o in rows], [o.prompt for o in rows]
    r = evaluate([float(len(x)) for x in p], w, s, p)
    assert r["weak_quality"] == pytest.approx(0.637, abs=0.002) and r["strong_quality"] == pytest.approx(0.858, abs=0.002)
    assert r["length"]["apgr"] == pytest.approx(0.60, abs=0.01)  # the data README: prompt length ~0.60
    assert r["random"]["apgr"] == pytest.approx(0.50, abs=0.03)
    assert r["oracle"]["apgr"] > 0.95


def test_shipped_router_beats_length_and_random_on_unseen_mt_bench():
    rows = load_outcomes(DATA / "mt_bench")
    scorer = load_scorer(str(DEFAULT_MODEL))
    r = evaluate([scorer.score_text(o.prompt) for o in rows], [o.weak for o in rows], [o.strong for o in rows],
                 [o.prompt for o in rows])
    assert r["router"]["apgr"] > r["length"]["apgr"] > r["random"]["apgr"] - 0.05
    assert scorer.meta["trained_on"] == ["gsm8k", "mmlu"]


# ---- data ----------------------------------------------------------------------------------------
def _jsonl(tmp_path, lines, name="data.jsonl") -> Path:
    f = tmp_path / name
    f.write_bytes(b"\n".join(x if isinstance(x, bytes) else json.dumps(x).encode() for x in lines) + b"\n")
    return f


@pytest.mark.parametrize("line, words", [
    ({"prompt": "x", "weak_correct": True}, "line 1: missing field 'strong_correct'"),
    ({"weak_correct": True, "strong_correct": False}, "missing field 'prompt'"),
    ({"prompt": 3, "weak_correct": True, "strong_correct": False}, "'prompt' must be a string"),
    ({"prompt": "x", "weak_correct": "yes", "strong_correct": False}, "weak_correct: expected true/false"),
    ({"prompt": "x", "weak_correct": 1.5, "strong_correct": False}, "number in [0, 1]"),
    (b"{not json", "line 1: not valid JSON"),
    ({"messages": [], "weak_correct": 1, "strong_correct": 0}, "non-empty list"),
])
def test_bad_outcome_rows_name_line_and_field(tmp_path, line, words):
    with pytest.raises(DataError) as e:
        load_outcomes(_jsonl(tmp_path, [line]))
    assert words in str(e.value) and "data.jsonl" in str(e.value)


def test_outcome_jsonl_accepts_messages_floats_and_invalid_utf8(tmp_path):
    rows = load_outcomes(_jsonl(tmp_path, [
        {"messages": [{"role": "system", "content": "s"},
                      {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url"}]}],
         "weak_correct": 0.25, "strong_correct": True},
        b'{"prompt": "caf\xff", "weak_correct": false, "strong_correct": true}',
        b"",
    ]))
    assert [(r.prompt, r.weak, r.strong, r.n_messages) for r in rows] == [
        ("s\nhi", 0.25, 1.0, 2), ("caf\ufffd", 0.0, 1.0, 1)]


def test_rows_carry_their_group(tmp_path):
    rows = load_outcomes(_jsonl(tmp_path, [{"prompt": "a", "weak_correct": 1, "strong_correct": 1, "group": "billing"},
                                           {"prompt": "b", "weak_correct": 1, "strong_correct": 1}]))
    assert [(r.source, r.group) for r in rows] == [("data", "billing"), ("data", "")]
    with pytest.raises(DataError, match="line 1: field 'group' must be a string"):
        load_outcomes(_jsonl(tmp_path, [{"prompt": "a", "weak_correct": 1, "strong_correct": 1, "group": 3}]))
    mmlu = load_outcomes(DATA / "mmlu" / "responses" / "mmlu_virology.csv")
    assert {(r.source, r.group) for r in mmlu} == {("mmlu", "mmlu_virology")}


def test_missing_data_path(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_outcomes(tmp_path / "nothing")


# ---- scorer --------------------------------------------------------------------------------------
def test_scorer_is_bounded_and_round_trips(tmp_path):
    s = load_scorer(str(DEFAULT_MODEL))
    for text in ("", "x" * 1_000_000, "What is 2+2?"):
        assert 0.0 <= s.score_text(text) <= 1.0
    copy = LinearScorer.load(s.save(tmp_path / "r.npz"))
    assert copy.score_text("Prove that there are infinitely many primes.") == pytest.approx(
        s.score_text("Prove that there are infinitely many primes."))


def test_scorer_puts_multi_step_problems_above_everyday_requests():
    """The repo's 38 written everyday requests against 200 GSM8K problems: AUC about 0.91 with the shipped
    router's heuristic prior; the same training without it gives 0.67 (centring per benchmark/subject weakens
    this separation; see the README)."""
    s = load_scorer(str(DEFAULT_MODEL))
    written = ROOT / "hybrid_ai" / "evals" / "assistant-traffic" / "written.jsonl"
    easy = [s.score_text(json.loads(line)["prompt"]) for line in written.read_text().splitlines()]
    math = [s.score_text(o.prompt) for o in load_outcomes(DATA / "gsm8k")[:200]]
    assert len(easy) == 38 and auc(math, easy) > 0.85
    assert sum(math) / len(math) > sum(easy) / len(easy) + 0.05


@pytest.mark.slow
def test_training_centres_features_within_groups():
    """Two groups where the easy one has the long prompts: across groups, longer looks easier; within each
    group, longer is harder. Centred training learns the within-group direction, which is what ranks the
    requests of a third, unseen group; uncentred training learns the between-group artefact."""
    from hybrid_ai.learning.data import Outcome
    from hybrid_ai.learning.train import fit

    rng = random.Random(1)
    rows = []  # one repeated word: the n-grams are the same for every prompt, only the length differs
    for group, lo, hi, cut in (("short-hard", 4, 16, 7), ("long-easy", 40, 60, 55)):
        for _ in range(150):
            n = rng.randint(lo, hi)
            rows.append(Outcome(" ".join(["word"] * n), weak=float(n <= cut), strong=1.0, source="s", group=group))
    shorter, longer = " ".join(["word"] * 24), " ".join(["word"] * 75)
    centred, plain = fit(rows), fit(rows, center=False)
    assert centred.meta["centred"] and not plain.meta["centred"]
    assert centred.score_text(longer) > centred.score_text(shorter)
    assert plain.score_text(longer) < plain.score_text(shorter)


def test_unreadable_router_model_is_a_clear_error(tmp_path):
    from hybrid_ai.errors import HybridAIError

    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(HybridAIError, match="cannot read router model"):
        LinearScorer.load(bad)


# ---- commands ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_router_score_keeps_line_order_and_reports_bad_lines(tmp_path):
    f = _jsonl(tmp_path, [{"prompt": "What is 2+2?"}, {"messages": [{"role": "user", "content": "Prove it."}]},
                          b"{broken", {"text": "no prompt"}, {"prompt": ""}, b'{"prompt": "caf\xff"}'])
    out = run("router", "score", "--input", str(f))
    lines = [json.loads(x) for x in out.stdout.decode().splitlines()]
    assert out.returncode == 3 and len(lines) == 6
    assert [x["score"] is None for x in lines] == [False, False, True, True, False, False]
    assert "line 3" in lines[2]["error"] and "missing field 'prompt'" in lines[3]["error"]
    good = run("router", "score", "--input", "-", stdin=b'{"prompt": "hello"}\n')
    assert good.returncode == 0 and 0 <= json.loads(good.stdout)["score"] <= 1


def _subset(tmp_path, n=300) -> Path:
    rows = load_outcomes(DATA / "gsm8k")
    random.Random(0).shuffle(rows)
    return _jsonl(tmp_path, [{"prompt": r.prompt, "weak_correct": bool(r.weak), "strong_correct": bool(r.strong)}
                             for r in rows[:n]], "gsm8k_subset.jsonl")


@pytest.mark.slow
def test_router_train_then_score_and_evaluate_with_it(tmp_path):
    data = _subset(tmp_path)
    model = tmp_path / "mine.npz"
    assert run("router", "train", "--data", str(data), "--out", str(model)).returncode == 0
    assert LinearScorer.load(model).meta["rows"] == 300 and LinearScorer.load(model).meta["centred"]
    plain = tmp_path / "plain.npz"
    assert run("router", "train", "--data", str(data), "--out", str(plain), "--no-center").returncode == 0
    assert LinearScorer.load(plain).meta["centred"] is False
    two = _jsonl(tmp_path, [{**json.loads(line), "group": "ab"[i % 2]} for i, line in
                            enumerate(data.read_text().splitlines())], "grouped.jsonl")
    for flags, has_prior in (((), True), (("--no-group-prior",), False)):
        out = tmp_path / f"g{has_prior}.npz"
        assert run("router", "train", "--data", str(two), "--out", str(out), *flags).returncode == 0
        assert (LinearScorer.load(out).group is not None) is has_prior
    scored = run("router", "score", "--input", str(data), "--model", str(model))
    assert scored.returncode == 0 and len(scored.stdout.decode().splitlines()) == 300
    ev = run("router", "evaluate", "--data", str(data), "--folds", "3", "--json")
    assert ev.returncode == 0, ev.stderr.decode()
    res = json.loads(ev.stdout)
    r = res["benchmarks"]["all"]
    assert res["scores_from"] == "3-fold out-of-fold" and r["rows"] == 300
    assert {"apgr", "cpt50", "cpt80"} <= set(r["router"]) and {"random", "length", "oracle"} <= set(r)
    cross = run("router", "evaluate", "--data", str(DATA / "mt_bench"), "--train", str(data), "--json")
    assert cross.returncode == 0 and json.loads(cross.stdout)["benchmarks"]["all"]["rows"] == 72


@pytest.mark.slow
def test_router_training_is_reproducible_across_processes(tmp_path):
    """Python salts string hashes per process; the trained weights (group prior included) must not depend on it."""
    import numpy as np

    rows = [json.loads(line) for line in _subset(tmp_path, n=200).read_text().splitlines()]
    data = _jsonl(tmp_path, [{**r, "group": "long" if len(r["prompt"]) > 250 else "short"} for r in rows], "g.jsonl")
    for seed in ("1", "2"):
        out = run("router", "train", "--data", str(data), "--out", str(tmp_path / f"m{seed}.npz"),
                  env={"PYTHONHASHSEED": seed})
        assert out.returncode == 0, out.stderr.decode()
    with np.load(tmp_path / "m1.npz") as a, np.load(tmp_path / "m2.npz") as b:
        assert np.array_equal(a["hash_w"], b["hash_w"]) and np.array_equal(a["dense_w"], b["dense_w"])
        assert np.array_equal(a["group_weights"], b["group_weights"]) and a["group_w"] == b["group_w"]
        assert np.count_nonzero(a["hash_w"]) > 100


def test_router_evaluate_table_has_baselines():
    out = run("router", "evaluate", "--data", str(DATA / "mt_bench"))
    text = out.stdout.decode()
    assert out.returncode == 0 and all(w in text for w in ("router", "random", "length", "oracle", "APGR"))


def test_router_train_with_bad_data_is_a_clean_error(tmp_path):
    bad = _jsonl(tmp_path, [{"prompt": "x", "weak_correct": True}])
    out = run("router", "train", "--data", str(bad), "--out", str(tmp_path / "m.npz"))
    assert out.returncode == 2 and b"missing field 'strong_correct'" in out.stderr and b"Traceback" not in out.stderr
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("layout", ["block", "inline"])
def test_calibrate_writes_only_the_threshold(tmp_path, layout):
    src = (ROOT / "policies" / "route-only.yaml").read_text()
    if layout == "inline":
        src = src.replace("classifier:\n  type: trained", "classifier: {type: trained, threshold: 0.5}\nold_classifier:")
        src = "\n".join(line for line in src.splitlines() if not line.startswith(("old_classifier", "  threshold",
                                                                                   "  weak_tier", "  strong_tier")))
    pol = tmp_path / "policy.yaml"
    pol.write_text(src)
    data = _subset(tmp_path)
    out = run("router", "calibrate", "--data", str(data), "--target-cloud-share", "0.3", "--policy", str(pol))
    assert out.returncode == 0, out.stderr.decode()
    res = json.loads(out.stdout)
    assert res["cloud_share"] <= 0.3 and res["cloud_share"] > 0.2
    changed = [(a, b) for a, b in zip(src.splitlines(), pol.read_text().splitlines()) if a != b]
    assert len(changed) == 1 and "threshold" in changed[0][1] and f"{res['threshold']:.6g}" in changed[0][1]
    assert len(src.splitlines()) == len(pol.read_text().splitlines())
    from hybrid_ai.policy import load_policy

    assert load_policy(pol).classifier.threshold == pytest.approx(res["threshold"], rel=1e-5)
    q = run("router", "calibrate", "--data", str(data), "--target-quality", "0.95", "--policy", str(pol))
    res = json.loads(q.stdout)
    assert res["quality_retention"] >= 0.95 and res["target_reached"] and res["cloud_share"] < 1


@pytest.mark.slow
def test_calibrate_and_evaluate_errors_are_clean(tmp_path):
    rows = [{"prompt": f"question {i}", "weak_correct": i % 2 == 0, "strong_correct": True} for i in range(5)]
    few = _jsonl(tmp_path, rows)
    out = run("router", "evaluate", "--data", str(few))
    assert out.returncode == 2 and b"needs at least 10" in out.stderr and b"Traceback" not in out.stderr
    out = run("router", "calibrate", "--data", str(few), "--target-quality", "0.9", "--policy", "default")
    assert out.returncode == 2 and b"bundled" in out.stderr and b"cp " in out.stderr and b"Traceback" not in out.stderr
    out = run("router", "calibrate", "--data", str(few), "--target-quality", "0.9", "--policy", str(tmp_path / "x.yaml"))
    assert out.returncode == 2 and b"no such policy file" in out.stderr


def test_calibrate_scores_multi_turn_rows_as_evaluate_does(tmp_path):
    turns = [{"role": "user", "content": "Plan a trip."}, {"role": "assistant", "content": "Where to?"},
             {"role": "user", "content": "Kyoto, for a week, on a budget."}]
    rows = [{"messages": turns if i % 2 else turns[:1], "weak_correct": i % 3 == 0, "strong_correct": True}
            for i in range(12)]
    data = _jsonl(tmp_path, rows)
    pol = tmp_path / "policy.yaml"
    pol.write_text((ROOT / "policies" / "route-only.yaml").read_text())
    ev = json.loads(run("router", "evaluate", "--data", str(data), "--json").stdout)
    cal = json.loads(run("router", "calibrate", "--data", str(data), "--target-cloud-share", "0.5",
                         "--policy", str(pol)).stdout)
    scores = [load_scorer(str(DEFAULT_MODEL)).score_text(*(("Plan a trip.\nWhere to?\nKyoto, for a week, on a "
                                                           "budget.", 3) if i % 2 else ("Plan a trip.", 1)))
              for i in range(12)]
    assert cal["cloud_share"] == pytest.approx(sum(s >= cal["threshold"] for s in scores) / 12)
    assert ev["benchmarks"]["all"]["rows"] == 12


@pytest.mark.parametrize("verifier_line, expect_lines", [
    (None, 1),  # no verifier key yet: one line added
    ("  verifier: {model: null}\n", 0),  # an inline mapping: the key goes inside it
    ("  verifier:\n    threshold: 0.5   # keep this comment\n", 0),  # a block: its child is replaced
])
def test_the_verifier_threshold_is_written_into_a_cascade_policy(tmp_path, verifier_line, expect_lines):
    from hybrid_ai.policy import load_policy
    from hybrid_ai.learning.calibrate import write_verify_threshold

    src = (ROOT / "policies" / "route-only.yaml").read_text().replace("classifier:\n", "classifier:\n  mode: cascade\n"
                                                                   + (verifier_line or ""), 1)
    pol = tmp_path / "policy.yaml"
    pol.write_text(src)
    write_verify_threshold(pol, 0.4321)
    p = load_policy(pol)
    assert p.classifier.mode == "cascade" and p.classifier.verifier.threshold == pytest.approx(0.4321)
    after = pol.read_text()
    assert len(after.splitlines()) == len(src.splitlines()) + expect_lines
    assert "keep this comment" in after or "keep this comment" not in src
    assert p.classifier.threshold == load_policy(ROOT / "policies" / "route-only.yaml").classifier.threshold
