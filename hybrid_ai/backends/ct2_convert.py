"""A CTranslate2 model folder for a local tier, converted once and cached (`convert_cache.py`: the cache key, the
manifest, what a failed or interrupted conversion leaves).

The source is whatever the transformers tier loads (`local_model.model_path`: a `pkg:` GGUF converted once into a
plain folder, a folder, a hub id); a LoRA adapter is merged into the base first. The cache folder
(HYBRID_AI_CACHE/ct2/...) is keyed by the source weights, the adapter's weights, the weight type and the
CTranslate2 version."""

from __future__ import annotations

from pathlib import Path

from ..errors import BackendError, require
from .convert_cache import MANIFEST, cache_key, cached_folder, intact, merged_source
from .local_model import cache_dir, model_path

__all__ = ["MANIFEST", "WEIGHTS", "converted", "intact"]

# the weight type stored on disk for each compute type (int8 compute loads int8 weights; float32 keeps them exact)
WEIGHTS = {"int8": "int8", "int8_float32": "int8", "int8_float16": "int8_float16", "int8_bfloat16": "int8_bfloat16",
           "float32": "float32", "float16": "float16", "bfloat16": "bfloat16"}


def _convert(source: str, adapter: str | None, name: str, weights: str, tmp: Path) -> None:
    ct2 = require("ctranslate2", "local")
    transformers = require("transformers", "local")
    transformers.utils.logging.disable_progress_bar()
    with merged_source(source, adapter, name, tmp.parent) as src:
        try:
            ct2.converters.TransformersConverter(src).convert(str(tmp), quantization=weights, force=True)
        except (ValueError, NotImplementedError, KeyError) as e:
            raise BackendError(f"CTranslate2 cannot convert local model {name!r} ({source}): {str(e)[:300]}; "
                               f"serve it with `backend: transformers`", kind="load") from None
        transformers.AutoTokenizer.from_pretrained(src).save_pretrained(tmp)


def converted(tier, weights: str) -> Path:
    """The CTranslate2 folder for `tier` with `weights` (see WEIGHTS), converting it first if needed."""
    import ctranslate2

    source, name = model_path(tier)
    key = cache_key(source, tier.adapter, weights=weights, ctranslate2=ctranslate2.__version__)
    dest = cache_dir() / "ct2" / f"{Path(name).stem}-{weights}-{key}"
    return cached_folder(dest, lambda tmp: _convert(source, tier.adapter, name, weights, tmp), name, "CTranslate2")
