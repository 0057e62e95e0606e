"""Per-key usage on the server: the real app with two API keys; each request's record names its caller by key id
(never the key), the metrics count per key, and `hybrid-ai usage` sums the route log per caller."""

from __future__ import annotations

import json
import sqlite3
import subprocess

from fastapi.testclient import TestClient

from conftest import CLI, ROOT, user
from doubles import ScriptedBackend
from hybrid_ai import AsyncHybridClient
from hybrid_ai.serving import create_app
from hybrid_ai.telemetry.caller import key_id

KEYS = ["alpha-" + "a" * 24, "beta-" + "b" * 24]


def test_usage_per_api_key(tmp_path):
    db = tmp_path / "routes.db"
    policy = {"name": "keys",
              "tiers": {"local": {"backend": "transformers"},
                        "cloud": {"backend": "litellm", "model": "openai/gpt-4o-mini", "api_key_env": None}},
              "classifier": {"type": "heuristic", "threshold": 0.5}, "rules": [{"type": "pinned"}],
              "telemetry": {"sinks": ["sqlite", "prometheus"], "sqlite_path": str(db)}}
    c = AsyncHybridClient(policy, backends={"local": ScriptedBackend("local"), "cloud": ScriptedBackend("cloud")})
    app = TestClient(create_app(c, auth=True, api_keys=KEYS))
    for key, n in ((KEYS[0], 3), (KEYS[1], 1)):
        for _ in range(n):
            r = app.post("/v1/chat/completions", json={"messages": user("hi"), "route": "local"},
                         headers={"authorization": f"Bearer {key}"})
            assert r.status_code == 200 and r.json()["hybrid"]["record"]["caller"] == key_id(key)
    stream = app.post("/v1/chat/completions", json={"messages": user("hi"), "route": "cloud", "stream": True},
                      headers={"authorization": f"Bearer {KEYS[1]}"})
    assert stream.status_code == 200 and "[DONE]" in stream.text
    metrics = app.get("/metrics", headers={"authorization": f"Bearer {KEYS[0]}"}).text
    assert f'hybrid_ai_key_requests_total{{key="{key_id(KEYS[0])}",tier="local"}} 3.0' in metrics
    assert all(k not in metrics for k in KEYS)
    with sqlite3.connect(db) as con:
        callers = [r[0] for r in con.execute("SELECT caller FROM route_log")]
    assert sorted(callers) == sorted([key_id(KEYS[0])] * 3 + [key_id(KEYS[1])] * 2)
    assert not any(k in db.read_bytes().decode("latin-1") for k in KEYS)  # ids only, never the keys
    out = subprocess.run([*CLI, "usage", "--log", str(db), "--json"], cwd=ROOT, capture_output=True, timeout=120)
    rows = {r["caller"]: r for r in json.loads(out.stdout)}
    assert rows[key_id(KEYS[0])]["requests"] == 3 and rows[key_id(KEYS[0])]["answered_below_strongest"] == 3
    assert rows[key_id(KEYS[1])]["requests"] == 2 and rows[key_id(KEYS[0])]["savings_usd"] > 0
    bad = subprocess.run([*CLI, "usage", "--log", str(tmp_path / "nope.db")], cwd=ROOT, capture_output=True)
    assert bad.returncode == 2 and b"no such route log" in bad.stderr and b"Traceback" not in bad.stderr
