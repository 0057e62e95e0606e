"""A converted model folder for a local engine (CTranslate2, ONNX Runtime GenAI), built once and cached.

The cache folder (HYBRID_AI_CACHE/<engine>/...) is keyed by the source weights (path, size, mtime of each weight
file; a folder the cache itself made is keyed by its own content-derived name), the adapter's weights by content
(so a fresh clone or a new virtual environment reuses what an earlier one converted) and what the engine adds
(weight type, engine version). It is built in a hidden
temporary folder beside it and renamed into place only when complete, with a `hybrid-ai.json` manifest written
last that holds each file's size and SHA-256: a folder without a manifest, or whose files do not match it, is
half-written or corrupt, and is removed and rebuilt, never loaded. Ctrl-C or a full disk during a conversion
leaves nothing where the next load looks. A LoRA adapter is merged into the base first (PEFT `merge_and_unload`);
the heavy imports (torch, transformers, peft) happen at conversion only.

The cache is bounded (`model_cache.make_room`)."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import require
from .model_cache import IN_USE_LOCK, _sha256, built_once, cache_root, digest

MANIFEST = "hybrid-ai.json"


def _stamp(folder: Path, pattern: str) -> list:
    return [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.glob(pattern)) if p.is_file()]


def cache_key(source: str, adapter: str | None, **extra) -> str:
    """A short hash of the source's and the adapter's weight files and of `extra` (weight type, engine version)."""
    src = Path(source)
    ours = src.is_dir() and cache_root() in src.resolve().parents  # a conversion: its name holds its content key
    stamp = {"source": src.name if ours else str(src.resolve()) if src.exists() else source, **extra,
             "files": [] if ours or not src.is_dir() else _stamp(src, "*.safetensors") + _stamp(src, "*.bin"),
             "adapter": [digest(p) for p in sorted(Path(adapter).glob("adapter_model.*")) if p.is_file()]
             if adapter else None}
    return hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()[:16]


def _manifest(folder: Path) -> dict:
    files = [p for p in sorted(folder.iterdir()) if p.is_file() and p.name not in (MANIFEST, IN_USE_LOCK)]
    return {"files": {p.name: p.stat().st_size for p in files}, "sha256": {p.name: _sha256(p) for p in files}}


def intact(folder: Path) -> bool:
    """True when the folder is a complete conversion: its manifest exists and every file matches it."""
    try:
        want = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        return want == _manifest(folder)
    except (OSError, ValueError):
        return False


@contextmanager
def merged_source(source: str, adapter: str | None, name: str, beside: Path) -> Iterator[str]:
    """The folder to convert: `source` itself, or (with an adapter) the base with the adapter merged into it,
    saved in a temporary folder beside `beside` and removed afterwards."""
    if not adapter:
        yield source
        return
    from .local_model import _attach_adapter

    transformers = require("transformers", "local")
    transformers.utils.logging.disable_progress_bar()
    def save(to: Path) -> None:  # its own frame: the merged model is freed before the engine's converter runs
        model = _attach_adapter(transformers.AutoModelForCausalLM.from_pretrained(source, dtype="float32"),
                                adapter, name)
        model.save_pretrained(to)
        transformers.AutoTokenizer.from_pretrained(source).save_pretrained(to)

    work = Path(tempfile.mkdtemp(dir=beside, prefix=".work-"))
    try:
        save(work / "merged")
        yield str(work / "merged")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def cached_folder(dest: Path, build: Callable[[Path], None], name: str, engine: str) -> Path:
    """`dest` when it holds an intact conversion; else `build(tmp)` fills a temporary folder that is then renamed
    to `dest` with its manifest (written last). Errors name the model (`name`), the engine and the folder."""
    def build_sealed(tmp: Path) -> None:
        build(tmp)
        (tmp / MANIFEST).write_text(json.dumps(_manifest(tmp), sort_keys=True), encoding="utf-8")

    return built_once(dest, build_sealed, intact, f"convert local model {name!r} for {engine}")
