"""Bundles: versions, the `current` pointer, promote and rollback in one step (a broken version never served),
and a server that serves a bundle and reloads it (SIGHUP, POST /admin/reload) without dropping a request in flight.
Real processes and real upstreams on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import CLI, KEY_ENV, ROOT, TEST_KEY, free_port, wait_http
from doubles import FakeUpstream
from hybrid_ai import HybridAIError, PolicyError
from hybrid_ai.bundle import current, next_version, policy_path, promote, rollback, versions
from hybrid_ai.cli import main

SERVER_KEY, ADMIN_KEY = "sk-server-key-bundle-test", "sk-admin-key-bundle-test"


def version(root: Path, base: str, name: str | None = None) -> Path:
    v = root / name if name else next_version(root)
    v.mkdir(parents=True)
    (v / "policy.yaml").write_text(json.dumps({"name": f"bundle-{v.name}", "tiers": {"cloud": {
        "backend": "litellm", "model": "openai/gpt-4o-mini", "api_base": f"{base}/v1", "api_key_env": KEY_ENV,
        "max_retries": 0, "timeout_s": 30}},
        "classifier": {"type": "heuristic", "threshold": 0.0, "weak_tier": "cloud", "strong_tier": "cloud"},
        "rules": [], "fallback": {}, "telemetry": {"sinks": ["stderr"], "savings": False}}))
    (v / "card.json").write_text(json.dumps({"promoted": True, "reason": "test"}))
    return v


def test_promote_and_rollback_move_one_pointer_and_keep_a_history(tmp_path):
    root = tmp_path / "b"
    with pytest.raises(HybridAIError, match="no `current` version yet"):
        root.mkdir() or policy_path(root)
    v1, v2 = version(root, "http://x"), version(root, "http://y")
    assert [v.name for v in versions(root)] == ["v1", "v2"] and next_version(root).name == "v3"
    promote(v1)
    promote(v2)
    assert current(root) == v2.resolve() and os.readlink(root / "current") == "v2"  # relative: the folder can move
    assert json.loads((root / "history.json").read_text()) == ["v1", "v2"]
    assert main(["rollback", str(root)]) == 0 and current(root) == v1.resolve()
    with pytest.raises(HybridAIError, match="nothing to roll back to"):
        rollback(root)
    assert main(["promote", str(v2)]) == 0 and current(root) == v2.resolve()


def test_a_version_whose_policy_does_not_load_is_never_promoted(tmp_path):
    root = tmp_path / "b"
    v1, bad = version(root, "http://x"), version(root, "http://y")
    promote(v1)
    (bad / "policy.yaml").write_text("name: bad\ntiers:\n  cloud:\n    backend: litellm\n    modle: x\n")
    with pytest.raises(PolicyError, match=r"v2/policy.yaml: tiers.cloud.model"):
        promote(bad)
    with pytest.raises(HybridAIError, match="not a bundle version"):
        promote(tmp_path)
    assert current(root) == v1.resolve()


def ask(url: str, key: str = SERVER_KEY) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", headers={"authorization": f"Bearer {key}"}, timeout=60,
                      json={"model": "hybrid", "messages": [{"role": "user", "content": "hi"}]})


@pytest.mark.slow
def test_a_served_bundle_reloads_without_dropping_a_request_in_flight(tmp_path):
    root = tmp_path / "b"
    with FakeUpstream("timeout", "ok", delay=2.0, text="one") as first, FakeUpstream("ok", text="two") as second:
        promote(version(root, first.base))
        v2 = version(root, second.base)
        port, log = free_port(), tmp_path / "stderr.jsonl"
        proc = subprocess.Popen([*CLI, "serve", "--bundle", str(root), "--port", str(port), "--no-warmup"], cwd=ROOT,
                                env={**os.environ, KEY_ENV: TEST_KEY, "HYBRID_AI_API_KEYS": SERVER_KEY,
                                     "HYBRID_AI_ADMIN_KEYS": ADMIN_KEY},
                                stdout=subprocess.DEVNULL, stderr=log.open("wb"))
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{url}/healthz", None, timeout=120)
            slow: list[httpx.Response] = []
            t = threading.Thread(target=lambda: slow.append(ask(url)))
            t.start()  # waits 2 s for upstream `first`
            while first.hits == 0:
                time.sleep(0.05)
            promote(v2)
            assert httpx.post(f"{url}/admin/reload", headers={"authorization": f"Bearer {SERVER_KEY}"}).status_code == 401
            r = httpx.post(f"{url}/admin/reload", headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=60)
            assert r.status_code == 200 and r.json()["policy"] == "bundle-v2", r.text
            assert ask(url).json()["choices"][0]["message"]["content"] == "two"
            t.join(30)
            assert slow[0].status_code == 200 and slow[0].json()["choices"][0]["message"]["content"] == "one"
            rollback(root)  # and back, by signal
            proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 60
            while b'"hybrid_ai.reload"' not in log.read_bytes() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert ask(url).json()["choices"][0]["message"]["content"] == "one"
            (root / "v1" / "policy.yaml").write_text("name: [broken")  # a reload that fails keeps serving
            r = httpx.post(f"{url}/admin/reload", headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=60)
            assert r.status_code == 400 and "still serving" in r.json()["error"]["message"]
            assert ask(url).status_code == 200
        finally:
            proc.send_signal(signal.SIGTERM)  # a graceful stop; uvicorn then re-raises the signal: exit status -15
            assert proc.wait(60) in (0, -signal.SIGTERM)
    records = [json.loads(line) for line in log.read_text().splitlines() if '"hybrid_ai.request"' in line]
    assert [r["policy"] for r in records] == ["bundle-v2", "bundle-v1", "bundle-v1", "bundle-v1"]  # by end time
    assert ADMIN_KEY not in log.read_text() and SERVER_KEY not in log.read_text()


def test_admin_routes_exist_only_with_admin_keys_and_take_no_other_key(monkeypatch, tmp_path):
    from fastapi.testclient import TestClient

    from doubles import ScriptedBackend
    from hybrid_ai import AsyncHybridClient
    from hybrid_ai.serving import create_app

    policy = {"name": "p", "tiers": {"local": {"backend": "transformers"}},
              "classifier": {"type": "heuristic", "weak_tier": "local", "strong_tier": "local"}, "rules": [],
              "fallback": {}, "telemetry": {"sinks": []}}

    def client():
        return AsyncHybridClient(policy, backends={"local": ScriptedBackend("local")})

    monkeypatch.delenv("HYBRID_AI_ADMIN_KEYS", raising=False)
    app = TestClient(create_app(client(), api_keys=[SERVER_KEY], reload=client))
    assert app.post("/admin/reload", headers={"authorization": f"Bearer {SERVER_KEY}"}).status_code == 404
    monkeypatch.setenv("HYBRID_AI_ADMIN_KEYS", ADMIN_KEY)
    app = TestClient(create_app(client(), api_keys=[SERVER_KEY], reload=client))
    for key in (SERVER_KEY, "", ADMIN_KEY[:-1]):  # a caller's key, none, one character short
        r = app.post("/admin/reload", headers={"authorization": f"Bearer {key}"})
        assert r.status_code == 401 and ADMIN_KEY not in r.text
    r = app.post("/admin/reload", headers={"authorization": f"Bearer {ADMIN_KEY}"})
    assert r.status_code == 200 and r.json()["status"] == "reloaded"
    chat = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}  # an admin key is not an API key
    assert app.post("/v1/chat/completions", json=chat, headers={"authorization": f"Bearer {ADMIN_KEY}"}).status_code == 401
    assert app.post("/v1/chat/completions", json=chat, headers={"authorization": f"Bearer {SERVER_KEY}"}).status_code == 200
