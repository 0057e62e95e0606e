"""Per-key limits and what happens when the limits' store fails (store/limits.py): a cloud tier on a real
OpenAI-compatible server on 127.0.0.1 (FakeUpstream: 9 prompt and 2 completion tokens per answer), the caller's
key id set as the server sets it, a real Redis where the store is the point."""

from __future__ import annotations

import pytest
from conftest import KEY_ENV, free_port, user
from doubles import FakeUpstream

from hybrid_ai import HybridClient
from hybrid_ai.errors import LimitStoreUnavailable, RateLimited
from hybrid_ai.telemetry import caller


def policy(base: str, **limits) -> dict:
    return {"name": "limited", "tiers": {"cloud": {
        "backend": "litellm", "model": "openai/fake", "api_base": f"{base}/v1", "api_key_env": KEY_ENV,
        "max_retries": 0, "generation": {"max_tokens": 40},
        "cost": {"usd_per_mtok_input": 1_000_000, "usd_per_mtok_output": 0}}},
        "classifier": {"type": "heuristic", "threshold": 0.0, "weak_tier": "cloud", "strong_tier": "cloud"},
        "rules": [], "fallback": {}, "telemetry": {"sinks": [], "savings": False}, "limits": limits}


@pytest.fixture
def as_caller():
    token = caller.CALLER.set("key_0123456789ab")
    yield
    caller.CALLER.reset(token)


def answered(c: HybridClient, n: int) -> tuple[int, RateLimited | None]:
    for i in range(n):
        try:
            c.chat.completions.create(messages=user("Hi"))
        except RateLimited as e:
            return i, e
    return n, None


@pytest.mark.slow
def test_tokens_per_minute_are_settled_to_what_was_used(cloud_key, as_caller):
    """Each request reserves its prompt estimate + max_tokens (50) and settles to the 11 it used: 5 fit in 100
    (without settling, 2 would)."""
    with FakeUpstream() as up, HybridClient(policy(up.base, per_key={"tpm": 100})) as c:
        n, err = answered(c, 10)
    assert n == 5 and err is not None and 1 <= err.retry_after_s <= 60
    assert "limits.per_key.tpm" in str(err)


def test_usd_per_day_per_key(cloud_key, as_caller):
    """$10 reserved (the worst case at $1 a prompt token), $9 settled: 3 requests fit in $30; the 4th waits for
    the next UTC day."""
    with FakeUpstream() as up, HybridClient(policy(up.base, per_key={"usd_per_day": 30})) as c:
        n, err = answered(c, 10)
    assert n == 3 and err is not None and 1 <= err.retry_after_s <= 86400


def test_in_process_calls_have_no_key_and_no_per_key_limit(cloud_key):
    with FakeUpstream() as up, HybridClient(policy(up.base, per_key={"rpm": 1})) as c:
        assert answered(c, 3) == (3, None)


def test_requests_per_minute_shared_through_redis(cloud_key, as_caller, redis_url, monkeypatch):
    """Two clients (two replicas) on one Redis: one limit of 4 between them."""
    monkeypatch.setenv("HYBRID_AI_REDIS_URL", redis_url)
    with FakeUpstream() as up, HybridClient(policy(up.base, per_key={"rpm": 4})) as a, \
            HybridClient(policy(up.base, per_key={"rpm": 4})) as b:
        got = [answered(x, 1)[0] for x in (a, b, a, b, a, b)]
    assert got == [1, 1, 1, 1, 0, 0]


@pytest.mark.parametrize("mode", ["fail_open", "fail_closed"])
def test_redis_away(cloud_key, as_caller, monkeypatch, mode):
    """fail_open serves and counts; fail_closed refuses with a clear error (503 on the server)."""
    monkeypatch.setenv("HYBRID_AI_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    with FakeUpstream() as up, HybridClient(policy(up.base, per_key={"rpm": 1}, on_store_error=mode,
                                                   )) as c:
        counted = []
        c.gate.on_count = lambda name, n: counted.append(name)
        if mode == "fail_open":
            assert answered(c, 3) == (3, None)
            assert c.gate.stats["unlimited"] == 3 and up.hits == 3 and counted == ["served"] * 3
        else:
            with pytest.raises(LimitStoreUnavailable, match="cannot be reached"):
                c.chat.completions.create(messages=user("Hi"))
            assert up.hits == 0 and counted == ["refused"]


def test_server_answers_429_with_retry_after_and_503_when_closed(cloud_key, monkeypatch, tmp_path):
    from fastapi.testclient import TestClient

    from hybrid_ai import AsyncHybridClient
    from hybrid_ai.serving import create_app

    keys = "a-caller-key-0123456789"
    monkeypatch.setenv("HYBRID_AI_API_KEYS", keys)
    auth = {"authorization": f"Bearer {keys}"}
    with FakeUpstream() as up:
        app = create_app(AsyncHybridClient(policy(up.base, per_key={"rpm": 2})))
        with TestClient(app) as http:
            codes = [http.post("/v1/chat/completions", json={"messages": user("Hi")}, headers=auth)
                     for _ in range(3)]
        assert [r.status_code for r in codes] == [200, 200, 429]
        assert codes[2].json()["error"]["code"] == "rate_limited" and 1 <= int(codes[2].headers["retry-after"]) <= 60
        monkeypatch.setenv("HYBRID_AI_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
        app = create_app(AsyncHybridClient(policy(up.base, per_key={"rpm": 2}, on_store_error="fail_closed")))
        with TestClient(app) as http:
            r = http.post("/v1/chat/completions", json={"messages": user("Hi")}, headers=auth)
        assert r.status_code == 503 and r.json()["error"]["code"] == "limit_store_unavailable"
        assert r.headers["retry-after"] == "1" and up.hits == 2


def test_budget_spend_in_postgres_carries_over_a_restart(cloud_key, pg_url, monkeypatch):
    """The budget's spend rows in PostgreSQL (no Redis): a restarted client starts at what was spent."""
    import psycopg

    from hybrid_ai.errors import BudgetExceeded

    monkeypatch.setenv("HYBRID_AI_DATABASE_URL", pg_url)
    spec = {"budget": {"cloud_usd_per_day": 30, "action": "refuse"}}
    with FakeUpstream() as up:
        with HybridClient({**policy(up.base), **spec}) as c:
            for _ in range(3):
                c.chat.completions.create(messages=user("Hi"))
            with pytest.raises(BudgetExceeded):
                c.chat.completions.create(messages=user("Hi"))
        with HybridClient({**policy(up.base), **spec}) as c:
            with pytest.raises(BudgetExceeded, match="cloud_usd_per_day"):
                c.chat.completions.create(messages=user("Hi"))
        assert up.hits == 3
    with psycopg.connect(pg_url) as db:
        assert db.execute("SELECT count(*), sum(usd) FROM budget_spend").fetchone() == (3, 27.0)


@pytest.mark.slow
def test_streamed_requests_settle_their_tokens(cloud_key, as_caller, redis_url, monkeypatch):
    """A stream's reservation is settled when it ends (read whole), as a plain answer's is: 5 fit in 100 tokens."""
    monkeypatch.setenv("HYBRID_AI_REDIS_URL", redis_url)
    with FakeUpstream() as up, HybridClient(policy(up.base, per_key={"tpm": 100})) as c:
        done = 0
        for _ in range(10):
            try:
                stream = c.chat.completions.create(messages=user("Hi"), stream=True)
            except RateLimited:
                break
            text = "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)
            assert text
            c.gate._settler.submit(lambda: None).result()  # settlement runs off the request's thread
            done += 1
    assert done == 5


@pytest.mark.slow
def test_a_large_request_prepared_off_the_loop_still_counts_against_its_key(cloud_key, monkeypatch):
    """A request over 16 KiB is prepared in a worker thread (offload.py); the caller's key id goes with it, so its
    per-key limit applies there too, and its record names the caller."""
    from fastapi.testclient import TestClient

    from hybrid_ai import AsyncHybridClient, offload
    from hybrid_ai.serving import create_app

    keys = "a-caller-key-0123456789"
    monkeypatch.setenv("HYBRID_AI_API_KEYS", keys)
    auth = {"authorization": f"Bearer {keys}"}
    big = user("Summarise: " + "lorem ipsum dolor sit amet " * 800)
    assert offload.large({"messages": big})
    records: list[dict] = []

    class Sink:
        def write(self, event: dict) -> None:
            records.append(event)

    with FakeUpstream() as up:
        client = AsyncHybridClient(policy(up.base, per_key={"rpm": 2}))
        client.sinks.append(Sink())
        with TestClient(create_app(client)) as http:
            codes = [http.post("/v1/chat/completions", json={"messages": big}, headers=auth).status_code
                     for _ in range(3)]
    assert codes == [200, 200, 429] and up.hits == 2
    assert [r["caller"] for r in records] == [caller.key_id(keys.encode())] * 2
