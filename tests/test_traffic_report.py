"""`hybrid-ai report`: a real route log written by the client's SQLite sink, read back into report.json and a
self-contained HTML page whose plots headless Chromium decodes; an older log (fewer columns) and bad input."""

from __future__ import annotations

import pytest

import json
import sqlite3
import subprocess

from conftest import CLI, ROOT, user
from doubles import ScriptedBackend
from hybrid_ai import HybridClient
from test_eval import chromium

POLICY = {"name": "traffic",
          "tiers": {"local": {"backend": "transformers"},
                    "cloud": {"backend": "litellm", "model": "openai/gpt-4o-mini", "api_key_env": None}},
          "classifier": {"type": "heuristic", "threshold": 0.5}, "rules": [{"type": "pinned"}]}


def report(*args):
    return subprocess.run([*CLI, "report", *args], cwd=ROOT, capture_output=True, timeout=300)


@pytest.mark.slow
def test_a_report_of_real_traffic(tmp_path):
    db = tmp_path / "routes.db"
    policy = {**POLICY, "telemetry": {"sinks": ["sqlite"], "sqlite_path": str(db)}}
    with HybridClient(policy, backends={"local": ScriptedBackend("local"), "cloud": ScriptedBackend("cloud")}) as c:
        for i in range(12):
            c.chat.completions.create(messages=user(f"hi {i}"), route="local" if i % 3 else "cloud")
    with HybridClient(policy, backends={"local": ScriptedBackend("local", fail_at=0),
                                        "cloud": ScriptedBackend("cloud")}) as c:
        c.chat.completions.create(messages=user("hi"), route="local")  # a fallback
    out = report("--log", str(db), "--out", str(tmp_path / "r"))
    assert out.returncode == 0, out.stderr.decode()
    r = json.loads((tmp_path / "r" / "report.json").read_text())
    assert r["records"] == 13 and r["fallbacks"] == 1 and r["bucket"] == "hour"
    shares = {x["route"]: x["requests"] for x in r["routes"]}
    assert shares == {"local": 8, "cloud": 5}
    assert r["cost"]["saved_usd"] > 0 and r["cost"]["all_cloud_usd"] > r["cost"]["spent_usd"]
    assert r["latency"]["local"]["p50_ms"] is not None and {x["reason"] for x in r["reasons"]} == {"rule:pinned"}
    page = (tmp_path / "r" / "report.html").resolve()
    dom = chromium("--virtual-time-budget=5000", "--dump-dom", page.as_uri())
    assert 'data-plots-loaded="3"' in dom and 'id="routes"' in dom and "all-cloud would have cost" in dom


def test_an_older_route_log_and_bad_input(tmp_path):
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as db:  # a route log from before escalations, budgets, savings and callers
        db.execute("CREATE TABLE route_log (request_id TEXT, timestamp TEXT, route TEXT, reason TEXT, latency_ms REAL, "
                   "cost_usd REAL, energy_wh REAL, fallback INTEGER, error TEXT)")
        db.execute("INSERT INTO route_log VALUES ('a', '2026-01-01T10:00:00', 'local', 'score<threshold', 120, "
                   "0.00001, 0.003, 0, NULL)")
    out = report("--log", str(old), "--out", str(tmp_path / "r"))
    assert out.returncode == 0, out.stderr.decode()
    r = json.loads((tmp_path / "r" / "report.json").read_text())
    assert r["records"] == 1 and r["cost"]["saved_usd"] == 0 and r["escalations"] == 0
    for args, words in ((["--log", str(tmp_path / "missing.db")], b"no such route log"),
                        (["--log", str(old), "--since", "2030-01-01"], b"no records since 2030-01-01")):
        bad = report(*args, "--out", str(tmp_path / "x"))
        assert bad.returncode == 2 and words in bad.stderr and b"Traceback" not in bad.stderr
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    bad = report("--log", str(empty), "--out", str(tmp_path / "x"))
    assert bad.returncode == 2 and b"not a hybrid-ai route log" in bad.stderr
