"""`hybrid-ai serve --workers N`: several processes on one port, metrics summed over them, and a graceful shutdown
(requests in flight finish and are recorded; the processes exit 0). Real processes, a real upstream on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import CLI, KEY_ENV, ROOT, TEST_KEY, free_port, wait_http
from doubles import FakeUpstream

pytestmark = pytest.mark.slow
SERVER_KEY = "sk-server-key-for-workers-test"


def policy_file(tmp_path: Path, base: str) -> Path:
    p = tmp_path / "workers.json"
    p.write_text(json.dumps({"name": "workers", "tiers": {"cloud": {
        "backend": "litellm", "model": "openai/gpt-4o-mini", "api_base": f"{base}/v1", "api_key_env": KEY_ENV,
        "max_retries": 0, "timeout_s": 30, "cost": {"usd_per_mtok_input": 1.0, "usd_per_mtok_output": 2.0}}},
        "classifier": {"type": "heuristic", "threshold": 0.0, "weak_tier": "cloud", "strong_tier": "cloud"},
        "rules": [], "fallback": {}, "telemetry": {"sinks": ["stderr", "prometheus"], "savings": False}}))
    return p


def start(tmp_path: Path, base: str, workers: int, env: dict | None = None) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    log = tmp_path / f"stderr-{port}.jsonl"
    proc = subprocess.Popen([*CLI, "serve", "--policy", str(policy_file(tmp_path, base)), "--port", str(port),
                             "--workers", str(workers), "--graceful-timeout", "20"], cwd=ROOT,
                            env={**os.environ, KEY_ENV: TEST_KEY, "HYBRID_AI_API_KEYS": SERVER_KEY, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/healthz", None, timeout=120)
    return proc, url, log


def ask(url: str, **extra) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", headers={"authorization": f"Bearer {SERVER_KEY}",
                                                             "connection": "close"},
                      json={"model": "hybrid", "messages": [{"role": "user", "content": "hi"}], **extra}, timeout=60)


def test_two_workers_answer_on_one_port_and_metrics_sum_over_both(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    with FakeUpstream("ok") as fake:
        proc, url, log = start(tmp_path, fake.base, 2, {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})
        try:
            results: list[int] = []
            threads = [threading.Thread(target=lambda: results.extend(ask(url).status_code for _ in range(5)))
                       for _ in range(12)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert results == [200] * 60
            # each worker keeps its own values file: both answered, and one /metrics reads them all
            pids = {re.search(r"_(\d+)\.db$", f.name).group(1) for f in metrics_dir.glob("counter_*.db")}
            assert len(pids) == 2
            text = httpx.get(f"{url}/metrics", headers={"authorization": f"Bearer {SERVER_KEY}"}).text
            total = sum(float(m) for m in re.findall(r'^hybrid_ai_requests_total\{[^}]*\} (\S+)$', text, re.M))
            assert total == 60
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0
    assert len(re.findall(rb'"event": ?"hybrid_ai.request"', log.read_bytes())) == 60


def test_a_request_in_flight_finishes_and_is_recorded_when_the_server_is_stopped(tmp_path):
    with FakeUpstream("timeout", delay=2.0) as fake:  # the upstream answers after 2 s
        proc, url, log = start(tmp_path, fake.base, 2)
        got: list[httpx.Response] = []
        t = threading.Thread(target=lambda: got.append(ask(url, stream=True)))
        t.start()
        deadline = time.monotonic() + 30
        while fake.hits == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)  # while the request waits for its answer
        t.join(60)
        assert proc.wait(60) == 0
    assert got and got[0].status_code == 200 and "data: [DONE]" in got[0].text
    assert len(re.findall(rb'"event": ?"hybrid_ai.request"', log.read_bytes())) == 1
    with pytest.raises(httpx.ConnectError):  # and the port is closed
        ask(url)
