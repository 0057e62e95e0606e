"""An ONNX Runtime GenAI model folder for a local tier, built once and cached (`convert_cache.py`: the cache key,
the manifest, what a failed or interrupted conversion leaves).

The source is whatever the transformers tier loads (a `pkg:` GGUF converted once into a plain folder, a folder, a
hub id); a LoRA adapter is merged into the base first. onnxruntime-genai's model builder writes the graph, the
weights (int8 or int4: blocks of 32 weights with a scale each, round-to-nearest; fp32), the tokenizer and `genai_config.json`.
Two builder options make the CPU fast here: `prune_lm_head` (the prompt's logits only for its last token: the time
to first token is about half) and `fuse_mlp_gate_up`. The builder runs in a subprocess (its output captured, its
last error line in ours; Ctrl-C stops it), with the hub offline (nothing is downloaded) and a minimal environment
(`builder_env`: no API keys)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..errors import BackendError, require
from .convert_cache import MANIFEST, cache_key, cached_folder, intact, merged_source
from .local_model import cache_dir, model_path

__all__ = ["MANIFEST", "PRECISIONS", "converted", "intact"]

PRECISIONS = ("int4", "int8", "fp32")
OPTIONS = ("prune_lm_head=true", "fuse_mlp_gate_up=true")
KEEP_ENV = {"PATH", "HOME", "LANG", "TMPDIR", "TEMP", "TMP", "VIRTUAL_ENV", "HF_HOME", "SYSTEMROOT", "USERPROFILE"}


def _last_error(output: str) -> str:
    lines = [ln.strip() for ln in output.splitlines() if ln.strip() and "%|" not in ln]
    errors = [ln for ln in lines if "Error" in ln.split(":")[0] or ln.startswith("Exception")]
    return (errors or lines or ["no output"])[-1][:300]


def builder_env() -> dict[str, str]:
    """The builder's environment: what Python and its thread pools need, the hub offline, and nothing else (no
    cloud keys or server secrets reach a third-party program)."""
    keep = {k: v for k, v in os.environ.items()
            if k in KEEP_ENV or k.startswith(("LC_", "OMP_", "MKL_", "PYTHON")) and k != "PYTHONSTARTUP"}
    return {**keep, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _convert(source: str, adapter: str | None, name: str, precision: str, tmp: Path) -> None:
    require("onnxruntime_genai", "local")
    require("onnx_ir", "local")
    with merged_source(source, adapter, name, tmp.parent) as src:
        cmd = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", src, "-o", str(tmp), "-p", precision,
               "-e", "cpu", "-c", str(tmp / ".builder-cache"), "--extra_options", *OPTIONS]
        done = subprocess.run(cmd, capture_output=True, text=True, env=builder_env())
    if done.returncode != 0 or not (tmp / "genai_config.json").exists():
        raise BackendError(f"ONNX Runtime GenAI cannot convert local model {name!r} ({source}): "
                           f"{_last_error(done.stderr + done.stdout)}; serve it with `backend: ctranslate2` or "
                           f"`backend: transformers`", kind="load")
    shutil.rmtree(tmp / ".builder-cache", ignore_errors=True)


def converted(tier, precision: str) -> Path:
    """The ONNX Runtime GenAI folder for `tier` at `precision` (see PRECISIONS), building it first if needed."""
    import onnxruntime_genai

    source, name = model_path(tier)
    key = cache_key(source, tier.adapter, precision=precision, options=OPTIONS,
                    onnxruntime_genai=onnxruntime_genai.__version__)
    dest = cache_dir() / "onnx" / f"{Path(name).stem}-{precision}-{key}"
    return cached_folder(dest, lambda tmp: _convert(source, tier.adapter, name, precision, tmp), name,
                         "ONNX Runtime GenAI")
