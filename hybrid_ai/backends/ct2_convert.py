"""A CTranslate2 model folder for a local tier, converted once and cached.

The source is whatever the transformers tier loads (`local_model.model_path`: a `pkg:` GGUF converted once into a
plain folder, a folder, a hub id); a LoRA adapter is merged into the base first (PEFT `merge_and_unload`). The
cache folder (HYBRID_AI_CACHE/ct2/...) is keyed by the source weights (path, size, mtime of each weight file), the
adapter's weights, the weight type and the CTranslate2 version. It is built in a hidden temporary folder beside it
and renamed into place only when complete, with a `hybrid-ai.json` manifest written last that holds each file's
size and the weights' SHA-256: a folder without a manifest, or whose files do not match it, is half-written or
corrupt, and is removed and rebuilt, never loaded. Ctrl-C or a full disk during a conversion leaves nothing where
the next load looks. The converter's heavy imports (torch, transformers, peft) happen here, at conversion only."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import BackendError, require
from .local_model import cache_dir, model_path

MANIFEST = "hybrid-ai.json"
# the weight type stored on disk for each compute type (int8 compute loads int8 weights; float32 keeps them exact)
WEIGHTS = {"int8": "int8", "int8_float32": "int8", "int8_float16": "int8_float16", "int8_bfloat16": "int8_bfloat16",
           "float32": "float32", "float16": "float16", "bfloat16": "bfloat16"}


def _stamp(folder: Path, pattern: str) -> list:
    return [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.glob(pattern)) if p.is_file()]


def cache_key(source: str, adapter: str | None, weights: str) -> str:
    import ctranslate2

    src = Path(source)
    stamp = {"source": str(src.resolve()) if src.exists() else source, "weights": weights,
             "files": _stamp(src, "*.safetensors") + _stamp(src, "*.bin") if src.is_dir() else [],
             "adapter": [str(Path(adapter).resolve()), _stamp(Path(adapter), "adapter_model.*")] if adapter else None,
             "ctranslate2": ctranslate2.__version__}
    return hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()[:16]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _manifest(folder: Path) -> dict:
    files = {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file() and p.name != MANIFEST}
    return {"files": files, "model.bin": _sha256(folder / "model.bin")}


def intact(folder: Path) -> bool:
    """True when the folder is a complete conversion: its manifest exists and every file matches it."""
    try:
        want = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        return want == _manifest(folder)
    except (OSError, ValueError):
        return False


def _merged(source: str, adapter: str, name: str, work: Path) -> str:
    """The base with the adapter merged into it, saved as a plain folder under `work`."""
    from .local_model import _attach_adapter

    transformers = require("transformers", "local")
    model = transformers.AutoModelForCausalLM.from_pretrained(source, dtype="float32")
    model = _attach_adapter(model, adapter, name)
    out = work / "merged"
    model.save_pretrained(out)
    transformers.AutoTokenizer.from_pretrained(source).save_pretrained(out)
    return str(out)


def _convert(source: str, adapter: str | None, name: str, weights: str, tmp: Path) -> None:
    ct2 = require("ctranslate2", "local")
    transformers = require("transformers", "local")
    transformers.utils.logging.disable_progress_bar()
    work = Path(tempfile.mkdtemp(dir=tmp.parent, prefix=".work-"))
    try:
        src = _merged(source, adapter, name, work) if adapter else source
        try:
            ct2.converters.TransformersConverter(src).convert(str(tmp), quantization=weights, force=True)
        except (ValueError, NotImplementedError, KeyError) as e:
            raise BackendError(f"CTranslate2 cannot convert local model {name!r} ({source}): {str(e)[:300]}; "
                               f"serve it with `backend: transformers`", kind="load") from None
        transformers.AutoTokenizer.from_pretrained(src).save_pretrained(tmp)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def converted(tier, weights: str) -> Path:
    """The CTranslate2 folder for `tier` with `weights` (see WEIGHTS), converting it first if needed."""
    source, name = model_path(tier)
    dest = cache_dir() / "ct2" / f"{Path(name).stem}-{weights}-{cache_key(source, tier.adapter, weights)}"
    if intact(dest):
        return dest
    if dest.exists():  # half-written or corrupt: never loaded, rebuilt
        shutil.rmtree(dest, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".tmp-"))
    try:
        _convert(source, tier.adapter, name, weights, tmp)
        (tmp / MANIFEST).write_text(json.dumps(_manifest(tmp), sort_keys=True), encoding="utf-8")
        os.replace(tmp, dest)
    except OSError as e:
        if intact(dest):  # another process finished the same conversion first
            return dest
        why = "the disk is full" if e.errno == errno.ENOSPC else f"{type(e).__name__}: {e}"
        raise BackendError(f"cannot convert local model {name!r} for CTranslate2 into {dest}: {why}",
                           kind="load") from None
    finally:  # also on Ctrl-C: no half folder is left where the next load looks
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
