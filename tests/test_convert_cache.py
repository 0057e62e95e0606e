"""What a failed conversion leaves, for both converting engines (CTranslate2, ONNX Runtime GenAI): an interrupted
or disk-full conversion leaves nothing where the next load looks, and the error names the model, engine and
folder. The converter itself is the seam replaced here (it writes part of its output, then fails)."""

from __future__ import annotations

import errno

import pytest

from hybrid_ai import BackendError
from hybrid_ai.backends import ct2_convert, onnx_convert
from hybrid_ai.backends.ct2_backend import CTranslate2Tier
from hybrid_ai.backends.local_model import model_path
from hybrid_ai.backends.onnx_backend import OnnxTier
from hybrid_ai.backends.transformers_backend import TransformersTier

ENGINES = [(ct2_convert, CTranslate2Tier, "ct2", "CTranslate2", "model.bin"),
           (onnx_convert, OnnxTier, "onnx", "ONNX Runtime GenAI", "model.onnx.data")]


@pytest.mark.parametrize("module, tier_kind, folder, engine, weights", ENGINES, ids=["ct2", "onnx"])
@pytest.mark.parametrize("error, match", [
    (KeyboardInterrupt(), None),
    (OSError(errno.ENOSPC, "No space left on device"), "disk is full"),
], ids=["ctrl-c", "disk-full"])
def test_an_interrupted_or_disk_full_conversion_leaves_nothing_where_the_next_load_looks(
        monkeypatch, tmp_path, module, tier_kind, folder, engine, weights, error, match):
    def convert(source, adapter, name, weight_type, tmp):
        (tmp / "config.json").write_text("{}")
        (tmp / weights).write_bytes(b"\0" * 4096)
        raise error

    tier = tier_kind(model=model_path(TransformersTier())[0])  # the bundled model as a plain folder
    monkeypatch.setenv("HYBRID_AI_CACHE", str(tmp_path))
    monkeypatch.setattr(module, "_convert", convert)
    if match is None:
        with pytest.raises(KeyboardInterrupt):
            module.converted(tier, "int8")
    else:
        with pytest.raises(BackendError, match=match) as e:
            module.converted(tier, "int8")
        assert str(tmp_path) in str(e.value) and "SmolLM2" in str(e.value) and engine in str(e.value)
    assert list((tmp_path / "models" / folder).iterdir()) == []  # no half folder, no temporary folder


@pytest.mark.slow
def test_the_onnx_builder_runs_without_the_servers_secrets(monkeypatch, tmp_path):
    import json
    import subprocess

    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-cloud-key")
    monkeypatch.setenv("HYBRID_AI_API_KEYS", "hk-secret-server-key")
    monkeypatch.setenv("HYBRID_AI_CACHE", str(tmp_path / "cache"))
    seen: list[dict] = []
    real_run = subprocess.run

    def run(cmd, **kw):  # the real builder, its environment kept for the assertions
        seen.append(kw["env"])
        return real_run(cmd, **kw)

    monkeypatch.setattr(onnx_convert.subprocess, "run", run)
    bad = tmp_path / "weird-model"
    bad.mkdir()
    (bad / "config.json").write_text(json.dumps({"model_type": "no-such-architecture"}))
    with pytest.raises(BackendError, match="no-such-architecture"):  # the builder ran and said why it cannot
        onnx_convert.converted(OnnxTier(model=str(bad)), "int8")
    env = seen[0]
    assert not any("secret" in v for v in env.values()) and "OPENAI_API_KEY" not in env
    assert env["HF_HUB_OFFLINE"] == "1" and env["PATH"]
