"""Canary: a candidate policy answers a deterministic share of requests beside the current one; every record and
metric names its variant, both go to the one route log, and `hybrid-ai report` compares them. Real upstreams on
127.0.0.1 (one per variant, so an answer shows which policy served it) and a real SQLite log."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from conftest import KEY_ENV, user
from doubles import FakeUpstream
from hybrid_ai import AsyncHybridClient, HybridClient, PolicyError
from hybrid_ai.canary import fraction
from hybrid_ai.cli import main


def cloud(base: str, name: str, **extra) -> dict:
    return {"name": name, "tiers": {"cloud": {
        "backend": "litellm", "model": "openai/gpt-4o-mini", "api_base": f"{base}/v1", "api_key_env": KEY_ENV,
        "max_retries": 0, "timeout_s": 10, "cost": {"usd_per_mtok_input": 1.0, "usd_per_mtok_output": 2.0}}},
        "classifier": {"type": "heuristic", "threshold": 0.0, "weak_tier": "cloud", "strong_tier": "cloud"},
        "rules": [], "fallback": {}, **extra}


def write(path: Path, policy: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(policy))
    return path


def test_the_share_is_a_hash_of_the_request_id():
    ids = [f"chatcmpl-{i:05d}" for i in range(4000)]
    assert [fraction(i) for i in ids[:50]] == [fraction(i) for i in ids[:50]]  # deterministic
    assert 0.22 < sum(fraction(i) < 0.25 for i in ids) / len(ids) < 0.28


def test_a_canary_answers_its_share_and_every_record_says_which_variant(tmp_path, cloud_key):
    db = tmp_path / "routes.db"
    with FakeUpstream("ok", text="from current") as cur, FakeUpstream("ok", text="from canary") as can:
        write(tmp_path / "b" / "v2" / "policy.yaml", cloud(can.base, "candidate"))
        policy = write(tmp_path / "b" / "v1" / "policy.yaml", cloud(
            cur.base, "current", canary={"bundle": "../v2", "share": 0.3},
            telemetry={"sinks": ["sqlite", "prometheus"], "sqlite_path": str(db), "savings": False}))
        with HybridClient(policy) as client:
            got = [client.chat.completions.create(messages=user(f"question {i}"), max_tokens=4) for i in range(120)]
            assert client._variant_for("chatcmpl-fixed")[0] is client._variant_for("chatcmpl-fixed")[0]
            metrics = client.metrics.exposition().decode()
    for r in got:  # the answer came from the variant's upstream, and the record says so
        rec = r.hybrid.record
        assert rec.variant in ("current", "canary")
        assert r.choices[0].message.content == f"from {rec.variant}"
        assert rec.policy == ("candidate" if rec.variant == "canary" else "current")
        assert (fraction(rec.request_id) < 0.3) == (rec.variant == "canary")
    canaries = sum(r.hybrid.record.variant == "canary" for r in got)
    assert 15 <= canaries <= 60 and cur.hits + can.hits == 120 and can.hits == canaries
    assert f'hybrid_ai_variant_requests_total{{status="ok",tier="cloud",variant="canary"}} {float(canaries)}' in metrics
    assert main(["report", "--log", str(db), "--out", str(tmp_path / "report")]) == 0
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert {v["variant"]: v["requests"] for v in report["variants"]} == {"canary": canaries, "current": 120 - canaries}
    assert 'id="variants"' in (tmp_path / "report" / "report.html").read_text()


def test_the_async_client_splits_the_same_way(tmp_path, cloud_key):
    with FakeUpstream("ok", text="from current") as cur, FakeUpstream("ok", text="from canary") as can:
        write(tmp_path / "cand.yaml", cloud(can.base, "candidate"))
        policy = write(tmp_path / "p.yaml", cloud(cur.base, "current", canary={"bundle": "cand.yaml", "share": 0.5},
                                                  telemetry={"sinks": [], "savings": False}))

        async def run():
            async with AsyncHybridClient(policy) as client:
                return [await client.chat.completions.create(messages=user("hi"), max_tokens=4) for _ in range(40)]

        got = asyncio.run(run())
    assert {r.hybrid.record.variant for r in got} == {"current", "canary"}
    assert all(r.choices[0].message.content == f"from {r.hybrid.record.variant}" for r in got)


def test_a_canary_that_is_missing_or_names_its_own_canary_is_a_policy_error(tmp_path):
    policy = write(tmp_path / "p.yaml", cloud("http://x", "p", canary={"bundle": "nowhere", "share": 0.1}))
    with pytest.raises(PolicyError, match=r"p\.yaml.*canary\.bundle.*canary policy not found"):
        HybridClient(policy)
    write(tmp_path / "inner.yaml", cloud("http://x", "inner"))
    write(tmp_path / "outer.yaml", cloud("http://x", "outer", canary={"bundle": "inner.yaml", "share": 0.1}))
    policy = write(tmp_path / "p.yaml", cloud("http://x", "p", canary={"bundle": "outer.yaml", "share": 0.1}))
    with pytest.raises(PolicyError, match="cannot name a canary of its own"):
        HybridClient(policy)
    with pytest.raises(PolicyError, match="canary.share"):
        HybridClient(cloud("http://x", "p", canary={"bundle": str(tmp_path / "inner.yaml"), "share": 1.5}))
