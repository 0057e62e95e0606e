"""`hybrid-ai serve` as a user runs it (the real command, in a subprocess, with bearer keys, a SQLite route log and
stderr records kept in files), its cloud tier an OpenAI-compatible upstream on 127.0.0.1 (a FakeUpstream)."""

from __future__ import annotations

import json
import os
import subprocess

import httpx
import yaml

from conftest import CLI, KEY_ENV, ROOT, free_port, wait_http

SECRET = "5f0c2a9e8b7d4c3a1e6f9b2d7c4a8e1f"  # a cloud key of no well-known shape: only the policy names it
SERVER_KEYS = ("gw-key-one-7c1d2e3f", "gw-key-two-9a8b7c6d")
AUTH = {"authorization": f"Bearer {SERVER_KEYS[1]}"}
BODY_LIMIT = 64 * 1024


class Gateway:
    def __init__(self, tmp, upstream, *, max_body_bytes: int = 8 * 1024 * 1024, sinks=("stderr", "sqlite"),
                 local: dict | None = None, cloud: dict | None = None, **policy_extra):
        """`local`, `cloud`: keys to change in those tiers; `policy_extra`: top-level keys to replace."""
        self.tmp, self.upstream, self.port = tmp, upstream, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.db, self.stderr_path = tmp / "routes.db", tmp / "stderr.log"
        self.replies: list[bytes] = []
        policy = {
            "name": "attacked",
            "tiers": {
                "local": {"backend": "transformers", "generation": {"max_tokens": 4}},
                "cloud": {"backend": "litellm", "model": "openai/gpt-4o-mini", "api_base": f"{upstream.base}/v1",
                          "api_key_env": KEY_ENV, "timeout_s": 5, "max_retries": 0, "generation": {"max_tokens": 4}},
            },
            "classifier": {"threshold": 0.0},  # everything unpinned goes to the cloud first, local on failure
            "rules": [{"type": "pinned", "fallback": False}, {"type": "context"}],
            "telemetry": {"sinks": list(sinks), "sqlite_path": str(self.db)},
            "server": {"max_body_bytes": max_body_bytes},
        }
        policy["tiers"]["local"].update(local or {})
        policy["tiers"]["cloud"].update(cloud or {})
        policy.update(policy_extra)
        path = tmp / "policy.yaml"
        path.write_text(yaml.safe_dump(policy))
        env = {**os.environ, KEY_ENV: SECRET, "HYBRID_AI_API_KEYS": ",".join(SERVER_KEYS), "OMP_NUM_THREADS": "1"}
        self.stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([*CLI, "serve", "--policy", str(path), "--port", str(self.port)], cwd=ROOT,
                                     env=env, stdout=subprocess.DEVNULL, stderr=self.stderr)
        wait_http(f"{self.base}/healthz", self.proc)

    def post(self, body, headers=AUTH, **kw) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        r = httpx.post(f"{self.base}/v1/chat/completions", content=content, timeout=120,
                       headers={"content-type": "application/json", **headers}, **kw)
        self.replies.append(r.content)
        return r

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.stderr.close()
