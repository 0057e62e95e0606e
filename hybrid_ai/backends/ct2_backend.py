"""`backend: ctranslate2`: the in-process SLM on CTranslate2 (int8 on CPU by default: about 4x transformers fp32
here, see docs/measurements.md). Loads any model the transformers tier loads, converted once into a cached folder
(`ct2_convert.py`); the model's chat template; stop strings; greedy and sampling; streaming that an abandoned
stream cancels; concurrent requests batched together (`ct2_batcher.py`); per-token log-probabilities on every
result (`BackendResult.logprobs`)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

from ..config import LocalTier
from ..errors import BackendError, require
from ..types import BackendResult
from .base import MIN_TEMPERATURE, drain, sampling
from .ct2_batcher import Batcher, Job
from .local_model import LocalBackend, cuda_present, load_once, resolve_source, token_logprobs
from .token_text import TokenText


class CTranslate2Tier(LocalTier):
    """`backend: ctranslate2`. `compute_type`: int8 (int8 weights and matmuls), int8_float32, float32 (the same
    greedy text as transformers fp32), or auto (int8 on CPU, int8_float16 on CUDA)."""

    backend: Literal["ctranslate2"] = "ctranslate2"
    compute_type: Literal["auto", "int8", "int8_float32", "float32"] = "auto"
    max_batch: int = 16  # concurrent requests generated together

    engine = "hybrid_ai.backends.ct2_backend:CTranslate2Backend"

    def build(self, tier_name: str):
        """`compute_type: auto` on a CUDA machine keeps the engine measured there: transformers with bitsandbytes
        nf4 (CTranslate2's CUDA path is not measured yet). Everywhere else: CTranslate2."""
        if self.compute_type == "auto" and self.device != "cpu" and cuda_present():
            from .transformers_backend import TransformersBackend, as_transformers

            return TransformersBackend(tier_name, as_transformers(self, quantization="auto"))
        return CTranslate2Backend(tier_name, self)


@dataclass
class _Loaded:
    batcher: Batcher
    tokenizer: Any
    name: str
    compute_type: str
    device: str
    adapter: str | None
    eos_ids: frozenset[int]


def _load(tier) -> _Loaded:
    ct2 = require("ctranslate2", "local")
    transformers = require("transformers", "local")
    from .ct2_convert import WEIGHTS, converted

    device = tier.device if tier.device != "auto" else ("cuda" if ct2.get_cuda_device_count() else "cpu")
    if device == "cuda" and not ct2.get_cuda_device_count():
        raise BackendError("device 'cuda' requested but CTranslate2 sees no CUDA device", kind="load")
    compute = tier.compute_type if tier.compute_type != "auto" else ("int8_float16" if device == "cuda" else "int8")
    folder = converted(tier, WEIGHTS[compute])
    try:
        generator = ct2.Generator(str(folder), device=device, compute_type=compute, intra_threads=tier.threads or 0)
    except (RuntimeError, ValueError) as e:
        raise BackendError(f"CTranslate2 cannot load local model {tier.model!r} from {folder}: {str(e)[:300]}",
                           kind="load") from None
    tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    eos = tok.eos_token_id
    eos_ids = frozenset(eos if isinstance(eos, list) else [eos])
    _, _, name = resolve_source(tier.model, tier.gguf_file)
    return _Loaded(Batcher(generator, tok.convert_ids_to_tokens(sorted(eos_ids)), tier.max_batch), tok, name,
                   compute, device, tier.adapter, eos_ids)


def load_ct2(tier) -> _Loaded:
    """The loaded engine for a tier configuration, shared by every client in the process."""
    key = ("ctranslate2", tier.model, tier.gguf_file, tier.adapter, tier.compute_type, tier.device, tier.threads,
           tier.max_batch)
    return load_once(key, lambda: _load(tier), f"local model {tier.model!r} with CTranslate2")


class CTranslate2Backend(LocalBackend):
    cancels = True  # acomplete runs through stream: a cancelled call stops within a token
    name = "ctranslate2"
    requires = ("ctranslate2", "local")

    def _load(self) -> _Loaded:
        return load_ct2(self.tier)

    def describe(self):
        return {"backend": self.name, "model": self.tier.model, "compute_type": self.tier.compute_type}


    def _job(self, engine: _Loaded, request, generation) -> tuple[Job, int]:
        s = sampling(request, generation)
        try:
            ids = engine.tokenizer.apply_chat_template(self.tier.messages(request), add_generation_prompt=True,
                                                       tokenize=True, return_dict=True)["input_ids"]
        except Exception as e:
            raise BackendError(f"chat template failed: {e}", tier=self.tier_name, kind="generation") from e
        n_in = len(ids)
        if n_in + 1 > self.tier.context_window:
            raise BackendError(f"prompt is {n_in} tokens, over the local context of {self.tier.context_window}",
                               tier=self.tier_name, kind="context")
        options: dict[str, Any] = {"sampling_topk": 1}
        if s["temperature"] >= MIN_TEMPERATURE:
            options = {"sampling_topk": 0, "sampling_temperature": s["temperature"], "sampling_topp": s["top_p"] or 1.0}
        if generation.repetition_penalty:
            options["repetition_penalty"] = generation.repetition_penalty
        if request.seed is not None:
            options["sampling_seed"] = request.seed
        max_new = max(1, min(s["max_tokens"], self.tier.context_window - n_in))
        job = Job(engine.tokenizer.convert_ids_to_tokens(ids), max_new, tuple(sorted(options.items())))
        return job, n_in

    def _start(self, request, generation, cancelled: threading.Event | None = None, submit: bool = True) -> tuple:
        """Prepare (and unless told otherwise, queue) one request: (engine, job, prompt tokens, start time)."""
        engine = self.loaded()
        job, n_in = self._job(engine, request, generation)
        if cancelled is not None:
            job.cancelled = cancelled
        if submit:
            engine.batcher.submit(job)
        return engine, job, n_in, time.perf_counter()

    def _run(self, request, started: tuple):
        """Text pieces as they become safe, then the BackendResult, for one queued request."""
        engine, job, n_in, t0 = started
        ttft, logprobs, ids, stopped = None, [], [], False
        decoder = TokenText(engine.tokenizer, request.stop)
        try:
            for token_id, log_prob in job.results():
                if token_id in engine.eos_ids:
                    continue
                ttft = ttft if ttft is not None else (time.perf_counter() - t0) * 1000
                logprobs.append(log_prob)
                ids.append(token_id)
                piece, stopped = decoder.add(token_id)
                if piece:
                    yield piece
                if stopped:
                    break
        except Exception as e:
            raise BackendError(f"generation failed: {type(e).__name__}: {str(e)[:300]}", tier=self.tier_name,
                               kind="generation") from e
        finally:
            job.cancelled.set()  # done, stopped by a stop string, or the caller stopped reading: free the slot
        rest = decoder.rest()
        if rest:
            yield rest
        n_out = job.produced
        yield BackendResult(
            text=decoder.text(), model=engine.name, prompt_tokens=n_in, completion_tokens=n_out,
            finish_reason="stop" if stopped or n_out < job.max_new else "length", ttft_ms=ttft, logprobs=logprobs,
            token_logprobs=token_logprobs(engine.tokenizer, ids, logprobs) if request.logprobs else None,
            info={"engine": "ctranslate2", "quantization": engine.compute_type, "compute_type": engine.compute_type,
                  "adapter": engine.adapter, "device": engine.device, "batch_size": job.batch_size})

    def complete(self, request, generation) -> BackendResult:
        *_, result = self._run(request, self._start(request, generation))
        return result

    def complete_batch(self, requests, generation) -> list[BackendResult | BackendError]:
        """Every request queued in one submission, so the batcher generates them together; then each read in turn."""
        started: list = []
        for r in requests:
            try:
                started.append(self._start(r, generation, submit=False))
            except BackendError as e:
                started.append(e)
        jobs = [s[1] for s in started if not isinstance(s, BackendError)]
        if jobs:
            self.loaded().batcher.submit(*jobs)
        out: list[BackendResult | BackendError] = []
        for r, s in zip(requests, started):
            if isinstance(s, BackendError):
                out.append(s)
                continue
            try:
                *_, result = self._run(r, s)
                out.append(result)
            except BackendError as e:
                out.append(e)
        return out

    def stream(self, request, generation, state):
        yield from drain(self._run(request, self._start(request, generation, state.cancelled)), state)
