"""Replicas that share one PostgreSQL and one Redis: `hybrid-ai serve` three times on one policy, a cloud budget
and per-key limits exact across them, and no row lost when one of them is killed under load."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time

import httpx
import psycopg
import pytest
from conftest import CLI, KEY_ENV, ROOT, free_port, wait_http
from doubles import FakeUpstream

pytestmark = pytest.mark.slow
KEY = "replica-caller-key-0123456789"
PRICE = 9.0  # USD a request costs: 9 prompt tokens at $1 each, as the upstream reports them
BODY = {"messages": [{"role": "user", "content": "hi there"}], "max_tokens": 2}


def policy(tmp, upstream, **extra) -> dict:
    return {"name": "replicated", "tiers": {"cloud": {
        "backend": "litellm", "model": "openai/fake", "api_base": f"{upstream.base}/v1", "api_key_env": KEY_ENV,
        "max_retries": 0, "timeout_s": 30, "generation": {"max_tokens": 2},
        "cost": {"usd_per_mtok_input": 1_000_000, "usd_per_mtok_output": 0}}},
        "classifier": {"type": "heuristic", "threshold": 0.0, "weak_tier": "cloud", "strong_tier": "cloud"},
        "rules": [], "fallback": {}, "telemetry": {"sinks": ["sqlite"], "spool_dir": str(tmp / "spool"),
                                                   "savings": False}, **extra}


class Replicas:
    def __init__(self, tmp, upstream, pg_url, redis_url, n=3, **extra):
        path = tmp / "policy.json"
        path.write_text(json.dumps(policy(tmp, upstream, **extra)))
        env = {**os.environ, KEY_ENV: "sk-upstream", "HYBRID_AI_API_KEYS": KEY, "HYBRID_AI_DATABASE_URL": pg_url,
               "HYBRID_AI_REDIS_URL": redis_url, "OMP_NUM_THREADS": "1"}
        self.ports = [free_port() for _ in range(n)]
        self.procs = [subprocess.Popen([*CLI, "serve", "--policy", str(path), "--port", str(p), "--no-warmup"],
                                       cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                       stderr=open(tmp / f"replica-{p}.log", "wb")) for p in self.ports]
        for p, proc in zip(self.ports, self.procs):
            wait_http(f"http://127.0.0.1:{p}/healthz", proc)

    async def load(self, n: int, clients: int = 50, on_sent=None) -> list[httpx.Response | None]:
        out: list[httpx.Response | None] = []
        todo = list(range(n))

        async def worker(http):
            while todo:
                i = todo.pop()
                try:
                    r = await http.post(f"http://127.0.0.1:{self.ports[i % len(self.ports)]}/v1/chat/completions",
                                        json=BODY, headers={"authorization": f"Bearer {KEY}"})
                except httpx.HTTPError:
                    r = None
                out.append(r)
                if on_sent:
                    on_sent(len(out))

        async with httpx.AsyncClient(timeout=60) as http:
            await asyncio.gather(*(worker(http) for _ in range(clients)))
        return out

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            proc.wait(60)


def served(tmp_path, pg_url: str, redis_url: str, n: int, **extra) -> list[httpx.Response | None]:
    """`n` requests from 50 clients spread over 3 replicas of a policy with `extra`; their replies."""
    with FakeUpstream() as up:
        reps = Replicas(tmp_path, up, pg_url, redis_url, **extra)
        try:
            return asyncio.run(reps.load(n))
        finally:
            reps.stop()


def logged(pg_url: str) -> dict[str, float]:
    with psycopg.connect(pg_url) as c:
        return {rid: cost or 0.0 for rid, cost in c.execute("SELECT request_id, cost_usd FROM route_log")}


def test_a_shared_budget_holds_across_three_replicas(tmp_path, pg_url, redis_url):
    """1,000 concurrent requests on 3 replicas against a daily cloud budget of 50 requests: at most one request's
    cost over; every answered request is in the shared route log."""
    replies = served(tmp_path, pg_url, redis_url, 1000, budget={"cloud_usd_per_day": 50 * PRICE, "action": "refuse"})
    ok = [r for r in replies if r is not None and r.status_code == 200]
    refused = [r for r in replies if r is not None and r.status_code == 429]
    assert len(ok) + len(refused) == 1000
    assert 40 <= len(ok) <= 50  # reserved at the worst case (10 tokens), settled at 9
    assert {r.json()["error"]["code"] for r in refused} == {"budget_exceeded"}
    rows = logged(pg_url)
    spent = sum(rows.values())
    assert spent <= 50 * PRICE + PRICE
    assert {r.json()["id"] for r in ok} <= set(rows)


def test_a_per_key_limit_holds_across_three_replicas(tmp_path, pg_url, redis_url):
    replies = served(tmp_path, pg_url, redis_url, 300, limits={"per_key": {"rpm": 60}})
    ok = [r for r in replies if r is not None and r.status_code == 200]
    limited = [r for r in replies if r is not None and r.status_code == 429]
    assert len(ok) == 60 and len(limited) == 240
    assert all(r.json()["error"]["code"] == "rate_limited" and 1 <= int(r.headers["retry-after"]) <= 60
               for r in limited)


def test_kill_9_of_a_replica_loses_no_answered_row(tmp_path, pg_url, redis_url):
    """A replica killed outright under load: every 200 response has its row once its spool is adopted (by the
    surviving replicas, or the next one started on the same spool folder)."""
    with FakeUpstream() as up:
        reps = Replicas(tmp_path, up, pg_url, redis_url)
        victim = reps.procs[1]

        def maybe_kill(sent: int):
            if sent == 300 and victim.poll() is None:
                victim.send_signal(signal.SIGKILL)

        try:
            replies = asyncio.run(reps.load(900, on_sent=maybe_kill))
            time.sleep(8)  # the survivors look for orphaned spools every few seconds
        finally:
            reps.stop()
    ok = {r.json()["id"] for r in replies if r is not None and r.status_code == 200}
    assert len(ok) >= 600  # the victim's share after its death failed; the rest answered
    rows = logged(pg_url)
    assert ok <= set(rows)
    with psycopg.connect(pg_url) as c:
        assert c.execute("SELECT count(*) - count(DISTINCT request_id) FROM route_log").fetchone()[0] == 0
    assert not list((tmp_path / "spool").glob("*.spool"))


def test_postgres_restarted_under_load_serves_on_and_writes_every_row_after(tmp_path, pg_server, pg_url,
                                                                              redis_url):
    """The database goes away for 2 s while two replicas answer: no request fails or waits for it, and the rows
    spooled meanwhile are in the database once it is back."""
    import threading

    with FakeUpstream() as up:
        reps = Replicas(tmp_path, up, pg_url, redis_url, n=2)
        restarted = threading.Event()

        def restart(sent: int):
            if sent == 200 and not restarted.is_set():
                restarted.set()
                threading.Thread(target=pg_server.restart, kwargs={"down_s": 2.0}).start()

        try:
            replies = asyncio.run(reps.load(1500, clients=20, on_sent=restart))
            deadline = time.monotonic() + 30
            while len(logged(pg_url)) < 1500 and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            reps.stop()
    assert restarted.is_set()
    assert [r.status_code for r in replies if r is None or r.status_code != 200] == []
    assert {r.json()["id"] for r in replies} <= set(logged(pg_url))
