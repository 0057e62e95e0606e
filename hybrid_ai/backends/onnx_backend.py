"""`backend: onnxruntime`, the bundled policies' local engine: the in-process SLM on ONNX Runtime GenAI, int8 on
the CPU by default. On 2 cores it decodes the bundled SmolLM2-135M as fast as llama.cpp in the same run (0.92x on
an AVX2 machine, 1.01x on an AVX-512 one; int4 is faster at a third less graded quality) (docs/engines.md).

Loads any model the transformers tier loads, converted once into a cached folder (`onnx_convert.py`; a LoRA
adapter merged first); the model's chat template; stop strings; greedy and sampling (temperature, top_p, a seed),
`repetition_penalty`; streaming that an abandoned stream stops; per-token log-probabilities on every result and
the `top_logprobs` alternatives (from each step's logits); the chat template's fixed opening computed once and
reused by greedy requests (`onnx_prefix.py`). Concurrent requests each run their own generator over the one shared
model (no batching: on 2 cores the total throughput is the same as one at a time)."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from ..config import LocalTier
from ..errors import BackendError, require
from ..types import BackendResult
from .base import MIN_TEMPERATURE, drain, sampling
from .local_model import LocalBackend, cuda_present, load_once, resolve_source, token_logprobs
from .onnx_prefix import PrefixCache, template_prefix
from .token_text import TokenText


class OnnxTier(LocalTier):
    """`backend: onnxruntime`. `precision`: int8 (the graded quality of fp32 here), int4 (faster, but it loses a
    third of the quality on the bundled suites: the bundled GGUF is 4-bit already and a second rounding hurts),
    fp32 (the same greedy text as transformers fp32), or auto (int8 on the CPU; on a CUDA machine, transformers
    with bitsandbytes nf4, as `ctranslate2` does)."""

    backend: Literal["onnxruntime"] = "onnxruntime"
    precision: Literal["auto", "int4", "int8", "fp32"] = "auto"
    prefix_cache: bool = True  # greedy requests reuse the chat template's fixed opening (onnx_prefix.py)

    engine = "hybrid_ai.backends.onnx_backend:OnnxBackend"
    can_support: ClassVar[tuple[str, ...]] = ("json_object", "json_schema", "logprobs", "top_logprobs")
    default_supports: ClassVar[tuple[str, ...]] = ("logprobs", "top_logprobs")  # from each step's logits

    def build(self, tier_name: str):
        if self.precision == "auto" and self.device != "cpu" and cuda_present():
            from .transformers_backend import TransformersBackend, as_transformers

            return TransformersBackend(tier_name, as_transformers(self, quantization="auto"))
        return OnnxBackend(tier_name, self)


@dataclass
class _Loaded:
    model: Any
    tokenizer: Any
    name: str
    precision: str
    adapter: str | None
    eos_ids: frozenset[int]
    prefix: PrefixCache
    device: str = "cpu"
    running: int = 0  # generations in progress (an abandoned stream's ends within a token of its closing)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _load(tier: OnnxTier) -> _Loaded:
    og = require("onnxruntime_genai", "local")
    transformers = require("transformers", "local")
    from .onnx_convert import converted

    if tier.device == "cuda":
        raise BackendError("backend onnxruntime runs on the CPU (onnxruntime-genai's CPU build); on CUDA use "
                           "backend ctranslate2 or transformers", kind="load")
    precision = "int8" if tier.precision == "auto" else tier.precision
    folder = converted(tier, precision)
    threads = tier.threads or os.cpu_count() or 1  # onnxruntime's own default used half the cores here
    try:
        config = og.Config(str(folder))
        config.overlay(json.dumps({"model": {"decoder": {"session_options": {"intra_op_num_threads": threads}}}}))
        model = og.Model(config)
    except Exception as e:
        raise BackendError(f"ONNX Runtime GenAI cannot load local model {tier.model!r} from {folder}: "
                           f"{str(e)[:300]}", kind="load") from None
    tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    eos = tok.eos_token_id
    _, _, name = resolve_source(tier.model, tier.gguf_file)
    return _Loaded(model, tok, name, precision, tier.adapter, frozenset(eos if isinstance(eos, list) else [eos]),
                   PrefixCache(model, template_prefix(tok, tier.system_prompt) if tier.prefix_cache else []))


def _log_softmax_at(logits, top: int) -> tuple[Any, list[tuple[int, float]]]:
    """The log-probabilities of one step (numpy) and its `top` most likely (token, log-probability)."""
    import numpy as np

    shifted = logits - logits.max()
    logp = shifted - np.log(np.exp(shifted).sum())
    if not top:
        return logp, []
    best = np.argpartition(-logp, top)[:top]
    best = best[np.argsort(-logp[best])]
    return logp, [(int(i), float(logp[i])) for i in best]


class OnnxBackend(LocalBackend):
    cancels = True  # acomplete runs through stream: a cancelled call stops within a token
    name = "onnxruntime"
    batches = False  # one generator per request; see the module docstring
    requires = ("onnxruntime_genai", "local")

    def _load(self) -> _Loaded:
        t = self.tier
        key = ("onnxruntime", t.model, t.gguf_file, t.adapter, t.precision, t.device, t.threads, t.prefix_cache,
               t.system_prompt)
        return load_once(key, lambda: _load(t), f"local model {t.model!r} with ONNX Runtime GenAI")

    def warmup(self) -> None:
        """Loads the model and computes the template prefix for this tier's greedy setting."""
        rp = self.tier.generation.repetition_penalty
        self.loaded().prefix.prewarm({"repetition_penalty": rp} if rp else {})

    def describe(self):
        return {"backend": self.name, "model": self.tier.model, "precision": self.tier.precision}

    def _prompt(self, lm: _Loaded, request, generation) -> tuple[list[int], dict[str, Any], int]:
        """(the prompt's ids, onnxruntime-genai's search options for this request, new tokens allowed)."""
        s = sampling(request, generation)
        try:
            ids = lm.tokenizer.apply_chat_template(self.tier.messages(request), add_generation_prompt=True,
                                                   tokenize=True, return_dict=True)["input_ids"]
        except Exception as e:
            raise BackendError(f"chat template failed: {e}", tier=self.tier_name, kind="generation") from e
        n_in, window = len(ids), self.tier.context_window
        if n_in + 1 > window:
            raise BackendError(f"prompt is {n_in} tokens, over the local context of {window}",
                               tier=self.tier_name, kind="context")
        max_new = max(1, min(s["max_tokens"], window - n_in))
        options: dict[str, Any] = {"max_length": n_in + max_new, "do_sample": False}
        if s["temperature"] >= MIN_TEMPERATURE:
            options.update(do_sample=True, temperature=s["temperature"], top_p=s["top_p"] or 1.0, top_k=0)
        if generation.repetition_penalty:
            options["repetition_penalty"] = generation.repetition_penalty
        if request.seed is not None:
            options["random_seed"] = request.seed
        return list(ids), options, max_new

    def _run(self, request, generation, cancelled: threading.Event | None = None):
        """Text pieces as they become safe, then the BackendResult."""
        lm = self.loaded()
        t0 = time.perf_counter()
        ids, options, max_new = self._prompt(lm, request, generation)
        decoder, top = TokenText(lm.tokenizer, request.stop), request.top_logprobs or 0
        ttft, out, logprobs, tops, produced, stopped, cached = None, [], [], [], 0, False, 0
        with lm.lock:
            lm.running += 1
        try:
            with lm.prefix.generator(options, ids) as (gen, cached):
                while produced < max_new and not gen.is_done() and not (cancelled and cancelled.is_set()):
                    logits = gen.get_logits()[0, -1]  # this step's, before the token is chosen (and fed back)
                    gen.generate_next_token()
                    produced += 1
                    token = int(gen.get_next_tokens()[0])
                    if token in lm.eos_ids:
                        stopped = True
                        break
                    logp, best = _log_softmax_at(logits, top)
                    ttft = ttft if ttft is not None else (time.perf_counter() - t0) * 1000
                    out.append(token)
                    logprobs.append(float(logp[token]))
                    tops.append(best)
                    piece, stopped = decoder.add(token)
                    if piece:
                        yield piece
                    if stopped:
                        break
        except BackendError:
            raise
        except Exception as e:
            raise BackendError(f"generation failed: {type(e).__name__}: {str(e)[:300]}", tier=self.tier_name,
                               kind="generation") from e
        finally:
            with lm.lock:
                lm.running -= 1
        rest = decoder.rest()
        if rest:
            yield rest
        yield BackendResult(
            text=decoder.text(), model=lm.name, prompt_tokens=len(ids), completion_tokens=produced,
            finish_reason="stop" if stopped or produced < max_new else "length", ttft_ms=ttft, logprobs=logprobs,
            token_logprobs=token_logprobs(lm.tokenizer, out, logprobs, tops if top else None)
            if request.logprobs else None,
            info={"engine": "onnxruntime-genai", "quantization": lm.precision, "compute_type": lm.precision,
                  "adapter": lm.adapter, "device": lm.device, "cached_prompt_tokens": cached})

    def complete(self, request, generation) -> BackendResult:
        *_, result = self._run(request, generation)
        return result

    def stream(self, request, generation, state):
        yield from drain(self._run(request, generation, state.cancelled), state)
