"""The `hybrid-ai` command as a user runs it."""

from __future__ import annotations

import pytest

import json
import subprocess
import sys
import time

from conftest import CLI, ROOT


def run(*args, timeout=600):
    return subprocess.run([*CLI, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_help_is_fast_and_imports_nothing_heavy():
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", "import sys; sys.argv=['hybrid-ai','--help']\n"
                          "from hybrid_ai.cli import main\ntry: main()\nexcept SystemExit: pass\n"
                          "print([m for m in ('torch','litellm','transformers','openai') if m in sys.modules])"],
                         capture_output=True, text=True, cwd=ROOT)
    assert time.perf_counter() - t < 10
    assert "route" in out.stdout and "serve" in out.stdout and out.stdout.strip().endswith("[]")


@pytest.mark.slow
def test_route_json_on_the_local_only_policy():
    out = run("route", "What is the capital of France?", "--json", "--policy", "policies/local-only.yaml",
              "--max-tokens", "8")
    assert out.returncode == 0, out.stderr
    obj = json.loads(out.stdout)
    assert {"route", "reason", "score", "threshold", "answer", "record"} <= set(obj)
    assert obj["route"] == "local" and "paris" in obj["answer"].lower()
    assert obj["record"]["completion_tokens"] <= 8 and obj["record"]["cost_source"] == "local_hardware_rate"
    # the record also went to stderr as one JSON event
    events = [json.loads(line) for line in out.stderr.splitlines() if line.startswith("{")]
    assert [e["event"] for e in events] == ["hybrid_ai.request"]
    assert events[0]["request_id"] == obj["record"]["request_id"]


@pytest.mark.slow
def test_bad_policy_is_a_clean_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntiers:\n  local: {backend: transformers, colour: blue}\n")
    out = run("policy", "check", str(bad))
    assert out.returncode == 2
    assert f"{bad}: tiers.local.colour: unknown key" in out.stderr and "Traceback" not in out.stderr
    out = run("route", "hi", "--policy", str(tmp_path / "missing.yaml"))
    assert out.returncode == 2 and "policy file not found" in out.stderr and "Traceback" not in out.stderr
    assert run("policy", "check", "policies/default.yaml").returncode == 0
