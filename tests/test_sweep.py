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
