"""Cloud budgets: a small daily cap, reached through the real litellm path to an OpenAI-compatible server on
127.0.0.1; the route changes to local (or is refused with a 429), the record says why, the spend survives a
restart (a real SQLite file), and 1,000 concurrent requests do not overspend by more than one request's cost."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from conftest import KEY_ENV, user
from doubles import FakeUpstream, ScriptedBackend
from hybrid_ai import BudgetExceeded, HybridClient, PolicyError, load_policy


def policy(tmp_path, base="http://127.0.0.1:9", **budget) -> dict:
    return {"name": "budgeted",
            "tiers": {"local": {"backend": "transformers", "generation": {"max_tokens": 8}},
                      "cloud": {"backend": "litellm", "model": "openai/gpt-4o-mini", "api_base": f"{base}/v1",
                                "api_key_env": KEY_ENV, "max_retries": 0, "generation": {"max_tokens": 8}}},
            "classifier": {"type": "heuristic", "threshold": 0.0},  # everything to the cloud first
            "telemetry": {"sinks": ["sqlite"], "sqlite_path": str(tmp_path / "routes.db")},
            "budget": budget}


def spent(tmp_path) -> float:
    with sqlite3.connect(tmp_path / "routes.db") as db:
        return db.execute("SELECT COALESCE(SUM(usd), 0) FROM budget_spend").fetchone()[0]


@pytest.mark.slow
def test_the_daily_cap_sends_requests_local_and_survives_a_restart(tmp_path, cloud_key):
    one = 3.5e-6  # gpt-4o-mini's price for one of these requests at most (8 output tokens): caps two of them
    with FakeUpstream(text="cloud says hi") as cloud:
        with HybridClient(policy(tmp_path, cloud.base, cloud_usd_per_day=2 * one)) as c:
            routes = [c.chat.completions.create(messages=user("Hi")).hybrid for _ in range(4)]
        assert [r.route for r in routes][:1] == ["cloud"] and routes[-1].route == "local"
        assert routes[-1].record.budget == "budget:day" and routes[-1].record.attempts[0].tier == "local"
        used = len(cloud.requests)
        assert 1 <= used < 4 and spent(tmp_path) <= 2 * one
        with HybridClient(policy(tmp_path, cloud.base, cloud_usd_per_day=2 * one)) as c:  # a restart: same spend
            r = c.chat.completions.create(messages=user("Hi"))
        assert r.hybrid.route == "local" and r.hybrid.record.budget == "budget:day" and len(cloud.requests) == used


@pytest.mark.slow
def test_a_spent_budget_refuses_tools_the_local_tier_cannot_answer(tmp_path, cloud_key):
    weather = {"type": "function", "function": {"name": "get_weather"}}
    with FakeUpstream(text="cloud says hi") as cloud:
        with HybridClient(policy(tmp_path, cloud.base, cloud_usd_per_day=0.0)) as c:
            with pytest.raises(BudgetExceeded, match="'local' does not support tools"):
                c.chat.completions.create(messages=user("Weather?"), tools=[weather])
            assert c.chat.completions.create(messages=user("Hi")).hybrid.route == "local"  # plain chat still runs
        assert cloud.hits == 0


def test_refuse_answers_429_on_the_server(tmp_path, cloud_key):
    from fastapi.testclient import TestClient

    from hybrid_ai import AsyncHybridClient
    from hybrid_ai.serving import create_app

    c = AsyncHybridClient(policy(tmp_path, cloud_usd_per_day=0.0, action="refuse"),
                          backends={"local": ScriptedBackend("local"), "cloud": ScriptedBackend("cloud")})
    with pytest.raises(BudgetExceeded, match="cloud_usd_per_day"):
        HybridClient(policy(tmp_path, cloud_usd_per_day=0.0, action="refuse"),
                     backends={"local": ScriptedBackend("local"), "cloud": ScriptedBackend("cloud")}
                     ).chat.completions.create(messages=user("Hi"))
    r = TestClient(create_app(c, auth=False)).post("/v1/chat/completions", json={"messages": user("Hi")})
    assert r.status_code == 429 and r.json()["error"]["code"] == "budget_exceeded"


def test_concurrent_requests_do_not_overspend(tmp_path):
    cap = 50 * 2.1e-6
    c = HybridClient(policy(tmp_path, cloud_usd_per_day=cap),
                     backends={"local": ScriptedBackend("local"), "cloud": ScriptedBackend("cloud")})
    with ThreadPoolExecutor(32) as pool:
        records = list(pool.map(lambda _: c.chat.completions.create(messages=user("Hi")).hybrid.record, range(1000)))
    cloud_costs = [a.cost_usd for r in records for a in r.attempts if a.tier == "cloud"]
    assert cloud_costs and sum(cloud_costs) <= cap + max(cloud_costs)
    assert sum(r.route == "local" and r.budget == "budget:day" for r in records) >= 1000 - len(cloud_costs)
    assert spent(tmp_path) == pytest.approx(sum(cloud_costs))
    c.close()


@pytest.mark.parametrize("budget, words", [
    ({"cloud_usd_per_day": -1}, "budget.cloud_usd_per_day"),
    ({"cloud_usd_per_day": "5$"}, "budget.cloud_usd_per_day"),
    ({"cloud_usd_per_month": 3, "tier": "gpu"}, "budget.tier"),
    ({"per_week": 3}, "budget.per_week"),
])
def test_bad_budgets_name_the_key(tmp_path, budget, words):
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump(policy(tmp_path, **budget)))
    with pytest.raises(PolicyError, match=words.replace(".", r"\.")):
        load_policy(f)
    p = policy(tmp_path, cloud_usd_per_day=1)
    del p["telemetry"]
    f.write_text(yaml.safe_dump(p))
    with pytest.raises(PolicyError, match="telemetry.sqlite_path"):
        load_policy(f)
