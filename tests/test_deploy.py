"""The deployment files (Dockerfile, deploy/): Docker cannot run here, so the files are parsed and checked against
the repository, and the image's entry command is run as it is written, outside Docker, on a real PostgreSQL and
Redis: it serves, authenticates, answers locally and logs to PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

import httpx
import psycopg
import pytest
import yaml
from conftest import ROOT, free_port, wait_http

INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
                "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}


def dockerfile() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            out.append((word, rest.strip()))
    return out


def test_dockerfile_parses_and_copies_what_exists():
    steps = dockerfile()
    assert steps[0][0] == "FROM" and all(word in INSTRUCTIONS for word, _ in steps)
    for word, rest in steps:
        if word == "COPY":
            for src in rest.split()[:-1]:
                assert (ROOT / src).exists(), src
    runs = " ".join(rest for word, rest in steps if word == "RUN")
    assert "torch==2.13.0" in runs and "--index-url https://download.pytorch.org/whl/cpu" in runs
    assert "hybrid-ai policy warmup /etc/hybrid-ai/policy.yaml" in runs  # the SLM converted at build time
    entry = json.loads(dict(steps)["ENTRYPOINT"])
    cmd = json.loads(dict(steps)["CMD"])
    assert entry[:2] == ["hybrid-ai", "serve"] and "--workers" in cmd
    assert dict(steps)["USER"] != "root"


def test_compose_prometheus_and_policy_fit_together():
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    assert {"gateway-a", "gateway-b", "postgres", "redis", "prometheus"} <= set(services)
    for name in ("gateway-a", "gateway-b"):
        gw = services[name]
        env = gw["environment"]
        assert env["HYBRID_AI_DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env[
            "HYBRID_AI_DATABASE_URL"]
        assert env["HYBRID_AI_REDIS_URL"] == "redis://redis:6379/0"
        assert (ROOT / "deploy" / gw["build"]["context"] / gw["build"]["dockerfile"]).is_file()
        for volume in gw["volumes"]:
            assert volume.split(":")[0] in compose["volumes"]
        assert set(gw["depends_on"]) == {"postgres", "redis"}
        assert "${" in env["HYBRID_AI_API_KEYS"]  # secrets come from the environment, never the file
    prom = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    targets = prom["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == ["gateway-a:8000", "gateway-b:8000"]
    assert prom["scrape_configs"][0]["authorization"]["credentials_file"] == "/etc/prometheus/metrics-key"
    from hybrid_ai.policy import load_policy

    policy = load_policy(ROOT / "deploy" / "policy.yaml")
    assert "postgres" in policy.telemetry.sinks and policy.budget.enabled and policy.limits.per_key.rpm
    assert policy.telemetry.spool_dir == "/var/lib/hybrid-ai/spool"
    assert any(v.endswith(":/var/lib/hybrid-ai/spool") for v in services["gateway-a"]["volumes"])


@pytest.mark.slow
def test_the_images_entry_command_serves_outside_docker(tmp_path, pg_url, redis_url):
    steps = dict(dockerfile())
    policy = yaml.safe_load((ROOT / "deploy" / "policy.yaml").read_text())
    policy["telemetry"]["spool_dir"] = str(tmp_path / "spool")  # the image's volume, here a temporary folder
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy))
    port = free_port()
    args = [*json.loads(steps["ENTRYPOINT"]), *json.loads(steps["CMD"])]
    args = [{"0.0.0.0": "127.0.0.1", "8000": str(port), "/etc/hybrid-ai/policy.yaml": str(tmp_path / "policy.yaml")
             }.get(a, a) for a in args]
    key = "deploy-test-key-0123456789"
    env = {**os.environ, "HYBRID_AI_DATABASE_URL": pg_url, "HYBRID_AI_REDIS_URL": redis_url,
           "HYBRID_AI_API_KEYS": key, "OPENAI_API_KEY": "sk-unused", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / args[0]), *args[1:]], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "serve.log", "wb"))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/healthz", proc)
        auth = {"authorization": f"Bearer {key}"}
        assert httpx.post(f"{base}/v1/chat/completions", json={"messages": [{"role": "user", "content": "Hi"}]},
                          timeout=30).status_code == 401
        r = httpx.post(f"{base}/v1/chat/completions", headers=auth, timeout=120, json={
            "messages": [{"role": "user", "content": "Say hello"}], "route": "local", "max_tokens": 4})
        assert r.status_code == 200 and r.json()["hybrid"]["record"]["ran_on"] == "in-process"
        assert "hybrid_ai_requests_total" in httpx.get(f"{base}/metrics", headers=auth, timeout=30).text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    deadline = time.monotonic() + 10
    with psycopg.connect(pg_url) as c:
        while True:
            got = c.execute("SELECT request_id, route, ran_on FROM route_log").fetchall()
            if got or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert got == [(r.json()["id"], "local", "in-process")]
