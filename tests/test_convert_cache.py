"""What a failed conversion leaves, for both converting engines (CTranslate2, ONNX Runtime GenAI): an interrupted
or disk-full conversion leaves nothing where the next load looks, and the error names the model, engine and
folder. The converter itself is the seam replaced here (it writes part of its output, then fails)."""

from __future__ import annotations

import errno
from pathlib import Path

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


def _fake_gguf(folder, content: bytes = b"GGUF" + b"\1" * 4096):
    folder.mkdir(parents=True)
    (folder / "m.gguf").write_bytes(content)
    return str(folder)


def test_a_gguf_is_converted_once_for_every_install_of_the_same_file(monkeypatch, tmp_path):
    """The conversion is keyed by the file's content, not its path: a fresh clone or a new virtual environment with
    the same package reuses it (per-path keys filled the disk with one copy per install)."""
    from hybrid_ai.backends import local_model

    calls = []

    def dequantize(folder, gguf, to):  # the converter is the seam: it writes a folder
        calls.append(folder)
        (to / "config.json").write_text("{}")

    monkeypatch.setenv("HYBRID_AI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(local_model, "_dequantize", dequantize)
    first = local_model._converted_gguf(_fake_gguf(tmp_path / "venv-a"), "m.gguf")
    again = local_model._converted_gguf(_fake_gguf(tmp_path / "venv-b"), "m.gguf")
    other = local_model._converted_gguf(_fake_gguf(tmp_path / "venv-c", b"GGUF" + b"\2" * 4096), "m.gguf")
    assert first == again != other and len(calls) == 2


def test_a_half_written_gguf_conversion_is_rebuilt_not_loaded(monkeypatch, tmp_path):
    from hybrid_ai.backends import local_model

    def dequantize(folder, gguf, to):
        (to / "config.json").write_text("{}")
        (to / "model.safetensors").write_bytes(b"whole")

    monkeypatch.setenv("HYBRID_AI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(local_model, "_dequantize", dequantize)
    source = _fake_gguf(tmp_path / "pkg")
    dest = local_model._converted_gguf(source, "m.gguf")
    (dest / "config.json").unlink()  # cut short by a crash or a careless clean-up: the rest is suspect
    (dest / "model.safetensors").write_bytes(b"half")
    again = local_model._converted_gguf(source, "m.gguf")
    assert again == dest and (dest / "model.safetensors").read_bytes() == b"whole"


def test_an_adapter_is_keyed_by_its_content_not_its_path(tmp_path):
    import shutil

    import hybrid_ai
    from hybrid_ai.backends.convert_cache import cache_key

    shipped = Path(hybrid_ai.__file__).parent / "assets" / "adapter"
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(shipped, a)
    shutil.copytree(shipped, b)
    assert cache_key("base", str(a)) == cache_key("base", str(b)) != cache_key("base", None)
    weights = b / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    assert cache_key("base", str(b)) != cache_key("base", str(a))


def test_a_full_disk_while_converting_a_gguf_is_one_clear_error_and_not_retried_per_request(monkeypatch, tmp_path):
    """A request after a failed load gets the same error at once (for RETRY_LOAD_S) instead of converting again,
    and the error holds no traceback that would keep the half-loaded model alive (24 GB seen from an eval that
    retried per batch on a full disk)."""
    import weakref

    from hybrid_ai.backends import local_model

    class Weights:  # what a half-done conversion holds
        pass

    held: list[weakref.ref] = []

    def dequantize(folder, gguf, to):
        weights = Weights()
        held.append(weakref.ref(weights))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setenv("HYBRID_AI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(local_model, "_dequantize", dequantize)
    source = _fake_gguf(tmp_path / "pkg")
    tier = TransformersTier(model=f"{source}/m.gguf")
    for _ in range(3):
        with pytest.raises(BackendError, match="disk is full") as e:
            local_model.load_model(tier)
        assert "m.gguf" in str(e.value) and e.value.kind == "load"
        assert e.value.__cause__ is None and e.value.__context__ is None
    assert len(held) == 1 and held[0]() is None  # converted once; nothing of it kept
    monkeypatch.setattr(local_model, "RETRY_LOAD_S", 0.0)
    with pytest.raises(BackendError, match="disk is full"):
        local_model.load_model(tier)
    assert len(held) == 2  # tried again once the time is up
    assert list((tmp_path / "cache" / "models").iterdir()) == []  # no half folder


def test_the_cache_removes_the_least_recently_used_conversions_beyond_its_size(monkeypatch, tmp_path):
    import os

    from hybrid_ai.backends import model_cache

    root = tmp_path / "cache" / "models"
    monkeypatch.setenv("HYBRID_AI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HYBRID_AI_CACHE_MAX_GB", str(2.5 * 2**20 / 2**30))  # room for 2.5 of the 1 MiB folders
    folders = [root / "old-gguf", root / "onnx" / "older", root / "ct2" / "newer", root / "onnx" / "in-use"]
    for age, folder in enumerate(folders):
        folder.mkdir(parents=True)
        (folder / "weights").write_bytes(b"\0" * 2**20)
        os.utime(folder, (1_000_000 + age, 1_000_000 + age))
    os.utime(folders[1], (999_000, 999_000))  # the oldest use
    (root / "eval-answers.sqlite").write_bytes(b"\0" * 2**20)  # not a conversion: never removed
    monkeypatch.setattr(model_cache, "_IN_USE", {folders[3].resolve()})
    os.utime(folders[3], (1, 1))  # in use by this process although its time is the oldest
    removed = model_cache.make_room()
    assert removed == [folders[1], folders[0]]
    assert folders[2].exists() and folders[3].exists() and (root / "eval-answers.sqlite").exists()
    assert model_cache.make_room() == []
    model_cache.used(folders[2])
    assert model_cache.make_room(2**20) == []  # the in-use and just-used ones are all that is left: kept


def test_a_conversion_another_process_has_loaded_is_not_removed_under_it(monkeypatch, tmp_path):
    import os
    import subprocess
    import sys

    from hybrid_ai.backends import convert_cache, model_cache

    root = tmp_path / "cache" / "models"
    monkeypatch.setenv("HYBRID_AI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HYBRID_AI_CACHE_MAX_GB", "0")  # every conversion is over the bound
    folder = root / "onnx" / "loaded-elsewhere"
    convert_cache.cached_folder(folder, lambda tmp: (tmp / "model.onnx").write_bytes(b"\0" * 1024), "m", "test")
    model_cache._IN_USE.discard(folder.resolve())  # as if another process had made it
    os.close(model_cache._HELD.pop(folder.resolve()))
    other = subprocess.Popen(  # another process loads it and keeps it loaded until told to stop
        [sys.executable, "-c", "import sys, pathlib; from hybrid_ai.backends import model_cache as m; "
         "m.used(pathlib.Path(sys.argv[1])); print('loaded', flush=True); sys.stdin.read()", str(folder)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=os.environ)
    try:
        assert other.stdout.readline().strip() == "loaded"
        assert model_cache.make_room() == [] and folder.exists()
        assert convert_cache.intact(folder)  # the lock file is not part of the conversion
    finally:
        other.communicate("", timeout=30)
    assert model_cache.make_room() == [folder] and not folder.exists()  # that process has ended: removable


@pytest.mark.parametrize("bad", ["twenty", "-1", "nan"])
def test_a_bad_cache_size_is_a_clear_error(monkeypatch, tmp_path, bad):
    from hybrid_ai.backends import model_cache

    monkeypatch.setenv("HYBRID_AI_CACHE", str(tmp_path))
    monkeypatch.setenv("HYBRID_AI_CACHE_MAX_GB", bad)
    with pytest.raises(BackendError, match=f"HYBRID_AI_CACHE_MAX_GB must be a number of GB .*{bad!r}"):
        model_cache.make_room()
