"""Shadow mode, and the loop it closes: serve -> shadow -> train -> calibrate -> serve, offline. The real SLM
answers locally, the cloud tier is a real OpenAI-compatible HTTP server (reached through litellm) that replays
recorded answers, the route log is a real SQLite file, and the CLI trains and calibrates from it."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time

import pytest
import yaml

from conftest import CLI, KEY_ENV, ROOT, TEST_KEY, user
from doubles import FakeUpstream
from hybrid_ai import HybridClient, PolicyError, load_policy
from hybrid_ai.learning.shadow import agreement


def test_agreement_compares_final_numbers_or_words():
    assert agreement("So the total is 42.", "The answer is 42") == (1.0, "agreement:number")
    assert agreement("It is 41.", "42") == (0.0, "agreement:number")
    assert agreement("The capital of France is Paris.", "Paris is the capital of France.") == (1.0, "agreement:f1")
    assert agreement("I like turtles.", "Paris is the capital of France.") == (0.0, "agreement:f1")


def replayed(body) -> str:
    """The recorded cloud answer of a request: the sum it asks for, or a fixed sentence."""
    text = body["messages"][-1]["content"]
    if m := re.search(r"(\d+) \+ (\d+)", text):
        return f"The sum is {int(m.group(1)) + int(m.group(2))}"
    return "The capital of France is Paris."


def policy(base: str, tmp_path, **shadow) -> dict:
    return {
        "name": "shadowed",
        "tiers": {"local": {"backend": "transformers", "generation": {"max_tokens": 8, "temperature": 0.0}},
                  "cloud": {"backend": "litellm", "model": "openai/gpt-4o-mini", "api_base": f"{base}/v1",
                            "api_key_env": KEY_ENV, "max_retries": 0, "timeout_s": 30,
                            "generation": {"max_tokens": 8}}},
        "classifier": {"type": "heuristic", "threshold": 1.0},  # everything local: the traffic to learn from
        "rules": [{"type": "pinned"}, {"type": "personal_data", "route": "local", "fallback": False}],
        "telemetry": {"sinks": ["sqlite"], "sqlite_path": str(tmp_path / "routes.db")},
        "shadow": {"rate": 1.0, **shadow},
    }


def shadow_rows(db) -> list[tuple]:
    with sqlite3.connect(db) as c:
        return c.execute("SELECT request_id, prompt, local_correct, judge, cost_usd FROM shadow_outcomes").fetchall()


@pytest.mark.slow
def test_shadow_samples_off_the_request_path_and_never_what_a_rule_keeps_local(tmp_path, cloud_key):
    with FakeUpstream("timeout", delay=6, text=replayed) as cloud:  # a slow cloud must not slow requests
        c = HybridClient(policy(cloud.base, tmp_path))
        c.chat.completions.create(messages=user("warm up"), max_tokens=2)
        c.shadow.drain()
        t0 = time.perf_counter()
        r = c.chat.completions.create(messages=user("What is 2 + 3?"))
        took = time.perf_counter() - t0
        c.chat.completions.create(messages=user("Mail anna.meyer@example.com the sum of 2 + 3"))  # personal data
        c.chat.completions.create(messages=user("What is 4 + 4?"), route="local")  # pinned: a rule, not the score
        c.close()
        assert r.hybrid.route == "local" and took < 5  # answered before the shadow call could return
        rows = shadow_rows(tmp_path / "routes.db")
        assert len(rows) == 2 and all("anna" not in p and "4 + 4" not in p for _, p, *_ in rows)
        assert all(judge.startswith("agreement:") and cost > 0 for *_, judge, cost in rows)
        assert not any("anna" in str(req["body"]) for req in cloud.requests)
        with sqlite3.connect(tmp_path / "routes.db") as db:  # the request's own record is there too
            assert db.execute("SELECT count(*) FROM route_log").fetchone()[0] == 4


@pytest.mark.slow
def test_the_daily_cap_stops_shadowing_and_survives_a_restart(tmp_path, cloud_key):
    with FakeUpstream(text=replayed) as cloud:
        with HybridClient(policy(cloud.base, tmp_path, max_usd_per_day=1e-9)) as c:
            for i in range(3):
                c.chat.completions.create(messages=user(f"What is {i} + 1? (key {TEST_KEY})"))
        rows = shadow_rows(tmp_path / "routes.db")
        assert len(rows) == 1  # the first one spent the day's cap
        assert TEST_KEY not in rows[0][1] and "[redacted]" in rows[0][1]  # secrets never reach the log
        with HybridClient(policy(cloud.base, tmp_path, max_usd_per_day=1e-9)) as c:  # a new process: same spend
            c.chat.completions.create(messages=user("What is 9 + 1?"))
        assert len(shadow_rows(tmp_path / "routes.db")) == 1 and len(cloud.requests) == 1


def test_shadow_settings_are_validated(tmp_path):
    p = policy("http://127.0.0.1:9", tmp_path)
    del p["telemetry"]
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump(p))
    with pytest.raises(PolicyError, match="telemetry.sqlite_path"):
        load_policy(f)
    p = policy("http://127.0.0.1:9", tmp_path, rate=1.5)
    f.write_text(yaml.safe_dump(p))
    with pytest.raises(PolicyError, match="shadow.rate"):
        load_policy(f)


def cli(*args):
    out = subprocess.run([*CLI, *args], cwd=ROOT, capture_output=True, timeout=600)
    assert out.returncode == 0, out.stderr.decode()
    return out


@pytest.mark.slow
def test_serve_shadow_train_calibrate_serve(tmp_path, cloud_key):
    """The whole loop, offline: local answers are shadowed and judged against replayed cloud answers, a router is
    trained on the route log's outcomes and calibrated into the policy, and the next client routes with it."""
    with FakeUpstream(text=replayed) as cloud:
        with HybridClient(policy(cloud.base, tmp_path)) as c:
            for i in range(14):
                c.chat.completions.create(messages=user(f"What is {10 + i} + {7 * i}? Show the steps."))
                c.chat.completions.create(messages=user(f"What is the capital of France? Answer {i}."))
        rows = shadow_rows(tmp_path / "routes.db")
        assert len(rows) == 28 and {r[2] for r in rows} <= {0.0, 1.0}
        db, model = str(tmp_path / "routes.db"), str(tmp_path / "router.npz")
        cli("router", "train", "--from-log", db, "--out", model)
        cli("router", "train-verifier", "--from-log", db, "--out", str(tmp_path / "verifier.npz"))
        p = policy(cloud.base, tmp_path)
        p["classifier"] = {"type": "trained", "model": model, "threshold": 0.5}
        p["shadow"]["rate"] = 0.0
        f = tmp_path / "learned.yaml"
        f.write_text(yaml.safe_dump(p))
        out = cli("router", "calibrate", "--from-log", db, "--target-quality", "0.9", "--policy", str(f))
        assert '"target_reached": true' in out.stdout.decode()
        with HybridClient(f) as c:
            sums = c.chat.completions.create(messages=user("What is 31 + 12? Show the steps."))
            fact = c.chat.completions.create(messages=user("What is the capital of France? Answer 99."))
        rate = {kind: sum(ok for _, p, ok, *_ in rows if kind in p) / 14 for kind in ("capital", "Show the steps")}
        assert rate["capital"] != rate["Show the steps"]  # the judged outcomes tell the two kinds apart
        # the router learned which kind the local model gets right: that kind scores lower (stays local first)
        better_is_fact = rate["capital"] > rate["Show the steps"]
        assert (fact.hybrid.score < sums.hybrid.score) == better_is_fact


def test_from_log_without_shadow_outcomes_is_a_clean_error(tmp_path):
    db = tmp_path / "routes.db"
    sqlite3.connect(db).close()
    out = subprocess.run([*CLI, "router", "train", "--from-log", str(db), "--out", str(tmp_path / "m.npz")],
                         cwd=ROOT, capture_output=True, timeout=120)
    assert out.returncode == 2 and b"no shadow outcomes" in out.stderr and b"Traceback" not in out.stderr
    assert sys.executable
