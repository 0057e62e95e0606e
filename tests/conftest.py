"""Tests are offline and real: the local SLM generates, the cloud tier is a real OpenAI-compatible
server (`hybrid-ai serve --policy local-only`) on 127.0.0.1 reached through litellm."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
ROUTELLM = ROOT / "data" / "routellm"  # the RouteLLM outcome data, in the repository (its LICENSE and NOTICE)
CLI = [sys.executable, "-m", "hybrid_ai.cli"]

# The repository stands alone: a file opened in a folder beside the checkout (a sibling folder) fails the run.
# Caches and tools in hidden folders there (~/.cache, ~/.pyenv when the checkout sits in the home folder), the
# temporary folder and the Python installation are not the project's files and are allowed.
_BESIDE, _INSIDE = str(ROOT.parent) + os.sep, str(ROOT) + os.sep
_ALLOWED = tuple(os.path.realpath(p) + os.sep for p in {tempfile.gettempdir(), sys.prefix, sys.base_prefix,
                                                          os.environ.get("HYBRID_AI_CACHE") or tempfile.gettempdir()})
OPENED_BESIDE: list[str] = []


def _audit(event: str, args: tuple) -> None:
    if event == "open" and args and isinstance(args[0], (str, os.PathLike)):
        path = os.path.abspath(os.fspath(args[0]))
        if (path.startswith(_BESIDE) and not path.startswith(_INSIDE) and not path.startswith(_ALLOWED)
                and not path[len(_BESIDE):].startswith(".")):
            OPENED_BESIDE.append(path)


sys.addaudithook(_audit)


def pytest_sessionfinish(session, exitstatus):
    if OPENED_BESIDE:
        print(f"\nthe tests opened {len(OPENED_BESIDE)} file(s) outside the repository, e.g. {OPENED_BESIDE[0]}: "
              "the repository must stand alone", file=sys.stderr)
        session.exitstatus = 1


KEY_ENV = "HYBRID_AI_TEST_KEY"
TEST_KEY = "sk-test-0123456789abcdef"  # the cloud tier's key in the tests, and a key the test server accepts
AUTH = {"authorization": f"Bearer {TEST_KEY}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen | None = None, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(url)


@pytest.fixture(scope="session")
def upstream():
    """A real OpenAI-compatible server answering with the local SLM: the cloud tier of the tests."""
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HYBRID_AI_API_KEYS": TEST_KEY}
    proc = subprocess.Popen([*CLI, "serve", "--policy", "local-only", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/healthz", proc)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def hybrid_policy(cloud_base: str | None, *, threshold: float = 0.5, tmp: Path | None = None, **extra) -> dict:
    """A two-tier policy whose cloud tier is an OpenAI-compatible server at `cloud_base`."""
    policy = {
        "name": "test-hybrid",
        "tiers": {
            "local": {"backend": "transformers", "generation": {"max_tokens": 8, "temperature": 0.0}},
            "cloud": {"backend": "litellm", "model": "openai/gpt-4o-mini", "api_base": f"{cloud_base}/v1",
                      "api_key_env": KEY_ENV, "timeout_s": 120, "max_retries": 0,
                      "generation": {"max_tokens": 8, "temperature": 0.0}},
        },
        "classifier": {"threshold": threshold},
        "rules": [{"type": "pinned"},
                  {"type": "pattern", "name": "personal-data", "route": "local", "patterns": [r"[\w.+-]+@[\w-]+\.\w+"]},
                  {"type": "context", "tier": "local", "route": "cloud"}],
        "telemetry": {"sinks": ["sqlite"], "sqlite_path": str((tmp or Path("/tmp")) / "routes.db")},
    }
    policy.update(extra)
    return policy


@pytest.fixture
def cloud_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, TEST_KEY)


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def without_package(monkeypatch, prefix: str) -> None:
    """Imports of `prefix` (an optional extra) fail from now on in this test, as if it were not installed."""
    import builtins

    real = builtins.__import__

    def blocked(name, *a, **kw):
        if name.startswith(prefix):
            raise ImportError(name)
        return real(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", blocked)


@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL on 127.0.0.1 (Debian's postgresql; `.ci/run` installs it)."""
    from hybrid_ai.store import throwaway

    with throwaway.postgres() as pg:
        yield pg


@pytest.fixture
def pg_url(pg_server):
    """A fresh, empty database on the throwaway server, for one test."""
    import uuid

    import psycopg

    name = "t_" + uuid.uuid4().hex[:10]
    with psycopg.connect(pg_server.url, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    return pg_server.url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def redis_url():
    """A throwaway Redis on 127.0.0.1 for one test (Debian's redis-server; `.ci/run` installs it)."""
    from hybrid_ai.store import throwaway

    with throwaway.redis() as r:
        yield r.url
