import io
import json
import sqlite3

import pytest

from hybrid_ai.policy import load_policy
from hybrid_ai.telemetry import energy
from hybrid_ai.telemetry.cost import request_cost
from hybrid_ai.telemetry.energy import EnergyMeter, cloud_energy
from hybrid_ai.telemetry.processors import redact_secrets
from hybrid_ai.telemetry.sinks import SQLiteSink, StderrSink, emit
from hybrid_ai.types import RouteRecord

POLICY = load_policy("default")
LOCAL, CLOUD = POLICY.tiers["local"], POLICY.tiers["cloud"]


def record(**kw):
    base = dict(request_id="r1", timestamp="2026-01-01T00:00:00+00:00", route="local", reason="score<threshold",
                score=0.1, threshold=0.5, latency_ms=12.0, policy="default", policy_hash="abc")
    return RouteRecord(**{**base, **kw})


def test_cloud_cost_from_litellm_price_table():
    usd, source = request_cost(CLOUD, 1000, 500, 1.0, None)
    assert source == "litellm_price_table"
    assert usd == pytest.approx(1000 * 0.15e-6 + 500 * 0.6e-6, rel=0.5)  # gpt-4o-mini, order of magnitude


def test_unknown_cloud_model_cost_is_none_not_zero():
    tier = CLOUD.model_copy(update={"model": "openai/my-private-finetune-xyz"})
    assert request_cost(tier, 100, 100, 1.0, None) == (None, "unknown")
    assert request_cost(CLOUD, None, 100, 1.0, None) == (None, "unknown")


def test_policy_price_overrides_table():
    tier = CLOUD.model_copy(update={"cost": CLOUD.cost.model_copy(update={"usd_per_mtok_input": 1.0,
                                                                         "usd_per_mtok_output": 2.0})})
    assert request_cost(tier, 1_000_000, 500_000, 1.0, None) == (2.0, "policy_price")


def test_local_cost_is_hardware_time_plus_electricity():
    usd, source = request_cost(LOCAL, 10, 10, 36.0, 1.0)  # 36 s at $0.10/h + 1 Wh at $0.15/kWh
    assert source == "local_hardware_rate"
    assert usd == pytest.approx(0.001 + 0.00015)


def test_cloud_energy_from_ecologits_and_unknown_models():
    wh, co2, source = cloud_energy(CLOUD.model, CLOUD.cost, 200, 2.0)
    assert source == "ecologits" and wh > 0 and co2 > 0
    unknown = CLOUD.model_copy(update={"model": "openai/not-a-model-ecologits-knows"})
    assert cloud_energy(unknown.model, unknown.cost, 200, 2.0) == (None, None, "unknown")


def test_rapl_counter_is_read_with_wraparound(tmp_path, monkeypatch):
    """The sysfs seam is a folder we write; the meter logic under test is real."""
    d = tmp_path / "intel-rapl:0"
    d.mkdir()
    (d / "energy_uj").write_text("999000000\n")
    (d / "max_energy_range_uj").write_text("1000000000\n")
    monkeypatch.setattr(energy, "RAPL_GLOB", str(tmp_path / "intel-rapl:[0-9]*/energy_uj"))
    energy._rapl_files.cache_clear()
    try:
        with EnergyMeter("cpu") as m:
            (d / "energy_uj").write_text("2600000\n")  # wrapped: 1,000,000 + 2,600,000 uJ = 3.6 J
        assert m.source == "rapl"
        assert m.wh == pytest.approx(0.001)
    finally:
        energy._rapl_files.cache_clear()


def test_meter_without_counters_reports_unknown(monkeypatch, tmp_path):
    monkeypatch.setattr(energy, "RAPL_GLOB", str(tmp_path / "none*/energy_uj"))
    energy._rapl_files.cache_clear()
    with EnergyMeter("cpu") as m:
        pass
    energy._rapl_files.cache_clear()
    assert (m.wh, m.source) == (None, "unknown")


def test_redaction_masks_keys_and_drops_credentials():
    ev = redact_secrets(None, "info", {"error": "bad key sk-abcdefghijklmnop1234 rejected", "api_key": "x",
                                       "fallback_reason": "Bearer abcdefghijklmnop"})
    assert "sk-abc" not in ev["error"] and "[redacted]" in ev["error"]
    assert ev["api_key"] == "[redacted]" and "abcdefghijklmnop" not in ev["fallback_reason"]


def test_stderr_sink_writes_one_json_line_without_prompts():
    buf = io.StringIO()
    emit([StderrSink(log_prompts=False, stream=buf)], record(prompt="secret question", answer="a"))
    lines = buf.getvalue().splitlines()
    assert len(lines) == 1
    ev = json.loads(lines[0])
    assert ev["event"] == "hybrid_ai.request" and ev["route"] == "local" and ev["cost_usd"] is None
    assert "prompt" not in ev and "answer" not in ev


def test_stderr_sink_keeps_prompts_when_asked():
    buf = io.StringIO()
    emit([StderrSink(log_prompts=True, stream=buf)], record(prompt="q", answer="a"))
    ev = json.loads(buf.getvalue())
    assert ev["prompt"] == "q" and ev["answer"] == "a"


def test_sqlite_sink_wal_rows_and_two_writers(tmp_path):
    path = tmp_path / "sub" / "log.db"
    a, b = SQLiteSink(path), SQLiteSink(path)
    emit([a], record(request_id="r1", cost_usd=0.5, fallback=True))
    emit([b], record(request_id="r2", prompt="hidden"))
    a.close(), b.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    rows = db.execute("SELECT request_id, cost_usd, fallback, prompt FROM route_log ORDER BY request_id").fetchall()
    assert rows == [("r1", 0.5, 1, None), ("r2", None, 0, None)]


def test_a_broken_sink_never_fails_the_request(capsys):
    class Broken:
        def write(self, event):
            raise OSError("disk full")

    buf = io.StringIO()
    assert emit([Broken(), StderrSink(stream=buf)], record()) == 1  # the count the client keeps and /healthz shows
    err = json.loads(capsys.readouterr().err)
    assert err["event"] == "hybrid_ai.sink_error" and "disk full" in err["error"] and err["request_id"] == "r1"
    assert json.loads(buf.getvalue())["request_id"] == "r1"


V010_SCHEMA = (  # the route log as hybrid-ai 0.1.0 created it
    "CREATE TABLE route_log (request_id TEXT PRIMARY KEY, timestamp TEXT, route TEXT, reason TEXT, score REAL, "
    "threshold REAL, model TEXT, backend TEXT, quantization TEXT, adapter TEXT, prompt_tokens INTEGER, "
    "completion_tokens INTEGER, latency_ms REAL, ttft_ms REAL, cost_usd REAL, cost_source TEXT, energy_wh REAL, "
    "energy_source TEXT, co2_g REAL, fallback INTEGER, fallback_reason TEXT, error TEXT, policy TEXT, "
    "policy_hash TEXT, prompt TEXT, answer TEXT)")


def test_sqlite_sink_migrates_a_route_log_of_an_older_version(tmp_path):
    db = sqlite3.connect(tmp_path / "old.db")
    db.execute(V010_SCHEMA)
    db.execute("INSERT INTO route_log (request_id, timestamp, route, reason, latency_ms, policy, policy_hash) "
               "VALUES ('old-1', '2026-01-01T00:00:00+00:00', 'local', 'score<threshold', 5.0, 'default', 'x')")
    db.commit()
    db.close()
    sink = SQLiteSink(tmp_path / "old.db")
    emit([sink], record(request_id="new-1", stream=True))
    sink.close()
    got = dict(sqlite3.connect(tmp_path / "old.db").execute("SELECT request_id, stream FROM route_log").fetchall())
    assert got == {"old-1": None, "new-1": 1}


def test_secret_values_named_by_a_policy_are_redacted_whatever_their_shape(monkeypatch):
    from hybrid_ai.privacy.redact import public_message, watch_env

    monkeypatch.setenv("HYBRID_AI_TEST_ODD_KEY", "k9Zq-77-ODDLY-shaped")
    watch_env("HYBRID_AI_TEST_ODD_KEY")
    ev = redact_secrets(None, "info", {"error": "upstream refused key k9Zq-77-ODDLY-shaped", "request_id": "c" * 40})
    assert ev["error"] == "upstream refused key [redacted]" and ev["request_id"] == "c" * 40
    msg = public_message('boom: Traceback (most recent call last):\n  File "/srv/app/x.py", line 3\nKeyError: 1')
    assert msg == "boom: KeyError: 1"
    assert public_message("failed in /usr/lib/python3.11/site-packages/litellm/main.py") == "failed in <path>"


def test_policy_hash_follows_copies():
    copy = POLICY.model_copy(update={"classifier": POLICY.classifier.model_copy(update={"threshold": 0.9})})
    assert copy.hash != POLICY.hash
    assert copy.hash == load_policy(copy.model_dump()).hash


def test_structlog_sink_uses_the_applications_configuration():
    from structlog.testing import capture_logs

    from hybrid_ai.telemetry.sinks import StructlogSink

    with capture_logs() as logs:
        emit([StructlogSink(log_prompts=False)], record(prompt="private", error="key sk-abcdefghijklmnopqrst"))
    [ev] = logs
    assert ev["event"] == "hybrid_ai.request" and ev["request_id"] == "r1"
    assert "prompt" not in ev and "sk-abc" not in ev["error"]


def test_a_locally_answered_record_says_what_the_cloud_tier_would_have_cost():
    """Savings per request: the strong tier's tokens (its own tokenizer), price and EcoLogits energy, each sourced."""
    from doubles import ScriptedBackend
    from hybrid_ai import HybridClient

    policy = {"name": "savings",
              "tiers": {"local": {"backend": "transformers"},
                        "cloud": {"backend": "litellm", "model": "openai/gpt-4o-mini", "api_key_env": None}},
              "classifier": {"type": "heuristic", "threshold": 0.5}, "rules": [{"type": "pinned"}],
              "telemetry": {"sinks": []}}
    c = HybridClient(policy, backends={"local": ScriptedBackend("local", pieces=["The capital", " is Paris."]),
                                       "cloud": ScriptedBackend("cloud")})
    rec = c.chat.completions.create(messages=[{"role": "user", "content": "What is the capital of France?"}],
                                    route="local").hybrid.record
    cf = rec.counterfactual
    assert cf["tier"] == "cloud" and cf["model"] == "openai/gpt-4o-mini" and cf["token_source"] == "tokenizer"
    assert cf["completion_tokens"] == 5 and 10 <= cf["prompt_tokens"] <= 20  # gpt-4o's tokenizer, chat framing
    assert cf["cost_source"] == "litellm_price_table" and cf["energy_source"] == "ecologits"
    assert cf["cost_usd"] == pytest.approx(cf["prompt_tokens"] * 0.15e-6 + 5 * 0.6e-6)
    assert rec.savings_usd == pytest.approx(cf["cost_usd"] - rec.cost_usd)
    assert rec.savings_wh == pytest.approx(cf["energy_wh"] - rec.energy_wh)
    cloud = c.chat.completions.create(messages=[{"role": "user", "content": "hi"}], route="cloud").hybrid.record
    assert cloud.counterfactual is None and cloud.savings_usd is None  # the strong tier answered: nothing saved
    off = HybridClient({**policy, "telemetry": {"sinks": [], "savings": False}},
                       backends={"local": ScriptedBackend("local"), "cloud": ScriptedBackend("cloud")})
    assert off.chat.completions.create(messages=[{"role": "user", "content": "hi"}], route="local").hybrid.record \
        .counterfactual is None
