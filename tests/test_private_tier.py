"""A self-hosted SLM fleet as a private tier: another hybrid-ai node serving the bundled SLM over the OpenAI API
on 127.0.0.1 (as vLLM or llama.cpp's server would), declared `private: true`. The personal-data rule may route
there (and only to a private tier); it is priced by the hour with its device watts; the record says where it ran."""

from __future__ import annotations

import pytest
from conftest import KEY_ENV, user
from doubles import FakeUpstream

from hybrid_ai import HybridClient, PolicyError


def policy(fleet: str, cloud: str, private: bool = True, **cost) -> dict:
    return {"name": "fleet", "tiers": {
        "fleet": {"backend": "litellm", "model": "openai/local", "api_base": f"{fleet}/v1", "api_key_env": KEY_ENV,
                  "private": private, "max_retries": 0, "generation": {"max_tokens": 4},
                  "cost": cost or {"usd_per_hour": 3.6, "device_watts": 360}},
        "cloud": {"backend": "litellm", "model": "openai/gpt-4o-mini", "api_base": f"{cloud}/v1",
                  "api_key_env": KEY_ENV, "max_retries": 0, "generation": {"max_tokens": 4}}},
        "classifier": {"type": "heuristic", "threshold": 0.0, "weak_tier": "fleet", "strong_tier": "cloud"},
        "rules": [{"type": "personal_data", "route": "fleet"}], "fallback": {},
        "telemetry": {"sinks": [], "savings": False}}


@pytest.mark.slow
def test_personal_data_goes_to_the_private_fleet_priced_by_the_hour(upstream, cloud_key):
    with FakeUpstream() as cloud, HybridClient(policy(upstream, cloud.base)) as c:
        r = c.chat.completions.create(messages=user("Write to jane.doe@example.com about the invoice"))
        other = c.chat.completions.create(messages=user("Explain the causes of the French revolution"))
    rec = r.hybrid.record
    assert rec.route == "fleet" and rec.reason == "rule:personal-data" and r.choices[0].message.content
    port = upstream.rsplit(":", 1)[1]
    assert rec.ran_on == f"private:127.0.0.1:{port}"
    wall_h = rec.attempts[0].latency_ms / 1000 / 3600
    assert rec.cost_source == "local_hardware_rate" and rec.cost_usd == pytest.approx(3.6 * wall_h, rel=0.05)
    assert rec.energy_source == "estimated_device_watts" and rec.energy_wh == pytest.approx(360 * wall_h, rel=0.05)
    assert other.hybrid.record.ran_on.startswith("cloud:127.0.0.1:")
    assert len(cloud.requests) == 1 and "jane.doe" not in str(cloud.requests)


def test_personal_data_may_not_be_routed_to_a_tier_that_is_not_private(tmp_path):
    path = tmp_path / "p.yaml"
    import yaml

    path.write_text(yaml.safe_dump(policy("http://127.0.0.1:9", "http://127.0.0.1:9", private=False,
                                          usd_per_mtok_input=0.1)))
    with pytest.raises(PolicyError, match=r"rules\[0\]\.route: personal data would reach tier 'fleet', which is "
                                          r"not private") as e:
        HybridClient(str(path))
    assert str(path) in str(e.value)


@pytest.mark.parametrize(("private", "cost", "says"), [
    (True, {"usd_per_mtok_input": 1.0}, "a private tier is priced per hour"),
    (False, {"usd_per_hour": 1.0}, "set private: true"),
])
def test_cost_keys_must_fit_the_tier(private, cost, says):
    spec = policy("http://127.0.0.1:9", "http://127.0.0.1:9", private=private, **cost)
    spec["rules"] = []
    with pytest.raises(PolicyError, match=says):
        HybridClient(spec)
