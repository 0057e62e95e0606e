import math

import pytest

from hybrid_ai.evaluation.sweep import baselines, choose, curve


def row(score, lq, cq, lc=0.001, cc=0.01, le=0.1, ce=0.5):
    return {"score": score, "local": {"quality": lq, "cost_usd": lc, "energy_wh": le, "latency_s": 1.0},
            "cloud": {"quality": cq, "cost_usd": cc, "energy_wh": ce, "latency_s": 2.0}}


ROWS = [row(0.1, 1, 1), row(0.2, 1, 1), row(0.6, 0, 1), row(0.9, 0, 1), row(0.3, 1, 0)]


def test_curve_runs_from_all_local_to_all_cloud():
    pts = curve(ROWS)
    assert pts[0].cloud_share == 0 and math.isinf(pts[0].threshold) and pts[0].quality == pytest.approx(0.6)
    assert pts[-1].cloud_share == 1 and pts[-1].quality == pytest.approx(0.8)
    at = {p.threshold: p for p in pts}
    assert at[0.6].cloud_share == pytest.approx(0.4) and at[0.6].quality == pytest.approx(1.0)
    assert at[0.6].cost_usd == pytest.approx(3 * 0.001 + 2 * 0.01) and at[0.6].latency_s == pytest.approx(1.4)


def test_baselines_and_unknown_costs():
    b = baselines(ROWS)
    assert b["all_local"].quality == pytest.approx(0.6) and b["all_cloud"].quality == pytest.approx(0.8)
    assert b["oracle"].quality == pytest.approx(1.0) and b["oracle"].cloud_share == pytest.approx(0.4)
    assert [p.cloud_share for p in b["random"]] == pytest.approx([k / 10 for k in range(11)])
    unknown = [*ROWS[:-1], {**ROWS[-1], "cloud": {**ROWS[-1]["cloud"], "cost_usd": None}}]
    assert baselines(unknown)["all_cloud"].cost_usd is None  # unknown is not zero


def test_choose_targets():
    pts, allc = curve(ROWS), baselines(ROWS)["all_cloud"]
    assert choose(pts, allc, target_quality=0.95).cloud_share == pytest.approx(0.2)  # 0.8 >= 0.95 x 0.8
    assert choose(pts, allc, target_quality=1.25).cloud_share == pytest.approx(0.4)  # quality 1.0
    assert choose(pts, allc, cloud_share=0.2).threshold == pytest.approx(0.9)
    assert choose(pts, allc, budget_usd=0.0001) is None
    assert choose(pts, allc, budget_usd=0.05).quality == pytest.approx(1.0)


def test_forced_routes_hold_at_every_threshold_and_summary_is_relative_to_all_cloud():
    from hybrid_ai.evaluation.sweep import at_threshold, summary

    rows = [*ROWS, {**row(0.95, 1, 1), "forced": "local"}, {**row(0.05, 0, 1), "forced": "cloud"}]
    pts = curve(rows)
    assert pts[0].cloud_share == pytest.approx(1 / 7) and pts[-1].cloud_share == pytest.approx(6 / 7)
    assert at_threshold(rows, 0.6).cloud_share == pytest.approx(3 / 7)
    all_cloud = baselines(rows)["all_cloud"]
    s = summary(at_threshold(rows, 0.6), all_cloud)
    assert s["local_share"] == pytest.approx(4 / 7)
    assert s["cost_saving"] == pytest.approx(1 - (4 * 0.001 + 3 * 0.01) / (7 * 0.01))
    assert s["energy_saving"] == pytest.approx(1 - (4 * 0.1 + 3 * 0.5) / (7 * 0.5))
    assert s["quality_retention"] == pytest.approx(1.0 / (6 / 7))  # above 1: the router beats all-cloud here


@pytest.mark.slow
def test_a_router_fit_on_the_suites_own_outcomes_is_scored_out_of_fold():
    """Easy prompts the local tier gets right, hard ones it gets wrong: the cross-validated router learns to
    keep the easy ones local, which a random score cannot."""
    from hybrid_ai.evaluation.own_router import cross_validated

    def item(i, easy):
        text = f"What is the capital of country {i}?" if easy else \
            f"A train leaves at {i}:15 going {3 * i + 40} km/h; another leaves {i % 5 + 1} hours later at " \
            f"{2 * i + 55} km/h. After how many hours, and how many km from the start, does it catch up? Show steps."
        return {**row(0.5, 1.0 if easy else 0.0, 1.0), "messages": [{"role": "user", "content": text}],
                "tags": ["easy" if easy else "math"]}

    rows = [item(i, i % 2 == 0) for i in range(60)]
    all_cloud = baselines(rows)["all_cloud"]
    own = cross_validated(rows, 5, {"target_quality": 0.95}, all_cloud)
    assert own["folds"] == 5 and len(own["scores"]) == 60
    assert own["summary"]["local_share"] >= 0.45  # nearly every easy item stays local
    assert own["summary"]["quality_retention"] >= 0.95
    assert "needs at least" in cross_validated(rows[:10], 5, {"target_quality": 0.95}, all_cloud)["skipped"]
    same = [{**r, "local": {**r["local"], "quality": 1.0}} for r in rows]
    assert "nothing to learn" in cross_validated(same, 5, {"target_quality": 0.95}, all_cloud)["skipped"]


def test_routed_points_model_fallback_and_baselines_do_not():
    failed_local = {**row(0.1, 0, 1), "fallback": {"local": ["cloud"], "cloud": ["local"]}}
    failed_local["local"] = {**failed_local["local"], "error": "[local] model folder not found"}
    kept_local = {**failed_local, "fallback": {"local": [], "cloud": ["local"]}}  # e.g. personal data: no fallback
    rows = [failed_local, row(0.2, 1, 1)]
    all_local = curve(rows)[0]  # threshold above every score: both routed local
    assert all_local.quality == pytest.approx(1.0)  # the failed local answer was answered by the cloud
    assert all_local.cost_usd == pytest.approx(0.001 + 0.01 + 0.001) and all_local.latency_s == pytest.approx(2.0)
    assert baselines(rows)["all_local"].quality == pytest.approx(0.5)  # a tier alone does not fall back
    assert curve([kept_local, row(0.2, 1, 1)])[0].quality == pytest.approx(0.5)


def test_the_cascade_sweep_escalates_doubted_local_answers_and_pays_both_tiers():
    from hybrid_ai.evaluation import cascade_sweep
    from hybrid_ai.evaluation.sweep import at_threshold

    fb = {"local": ["cloud"], "cloud": ["local"]}
    rows = [{**r, "verify": v, "fallback": fb} for r, v in zip(ROWS, (0.1, 0.2, 0.9, 0.3, 0.8))]
    p = cascade_sweep.at(rows, 0.8, 0.5)  # row 4 (0.9) straight to the cloud; rows 3 and 5 doubted: escalated
    assert p.cloud_share == pytest.approx(0.6) and p.escalated_share == pytest.approx(0.4)
    assert p.quality == pytest.approx((1 + 1 + 1 + 1 + 0) / 5)  # row 5's cloud answer is the wrong one
    assert p.cost_usd == pytest.approx(4 * 0.001 + 3 * 0.01) and p.latency_s == pytest.approx((4 * 1 + 3 * 2) / 5)
    for t in (0.0, 0.25, 0.6, float("inf")):  # never escalating is route mode at the same threshold
        q, r = cascade_sweep.at(rows, t, float("inf")), at_threshold(rows, t)
        assert (q.cloud_share, q.quality, q.cost_usd) == pytest.approx((r.cloud_share, r.quality, r.cost_usd))
    kept = [{**rows[2], "forced": "local"}, {**rows[3], "fallback": {"local": [], "cloud": ["local"]}}]
    assert cascade_sweep.at(kept, float("inf"), 0.0).escalated_share == 0  # a rule's route, or nowhere to go
    pts = cascade_sweep.points(rows)
    front = cascade_sweep.frontier(pts)
    assert all(a.cloud_share < b.cloud_share and a.quality < b.quality for a, b in zip(front, front[1:]))
    best = choose(pts, baselines(rows)["all_cloud"], target_quality=1.0)
    assert best is not None and best.quality >= 0.8 and best.cloud_share == pytest.approx(0.2)  # row 4 alone
