"""`backend: llama_cpp`: the in-process SLM on llama.cpp (llama-cpp-python), running a GGUF file's own quantized
weights. On the 2026-11-30 2-core AVX2 CPU it decoded the bundled SmolLM2-135M Q4_1 GGUF at 60-80 tokens/s through
the request path, with 61-85 ms to the first token of a new prompt, against 32-35 tokens/s for CTranslate2 int8
(docs/engines.md).

llama-cpp-python is optional (the `llamacpp` extra): where no prebuilt wheel exists it compiles for about 20
minutes. Without it the tier is not ready and a request falls back with a load error that says what to install.
One generation at a time per model (a lock: a llama.cpp context is not thread-safe); the GGUF's own chat template;
stop strings, greedy and sampling, a seed, `repetition_penalty`; streaming that an abandoned stream stops; the
template's fixed opening kept evaluated between requests (`_hold_prefix`: the same prompt, the same chunks). Not
supported: PEFT adapters (merge and convert to GGUF first), per-token log-probabilities (they need every
position's logits, which slows decoding)."""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from ..config import LocalTier
from ..errors import BackendError, require
from ..types import BackendResult
from .base import StreamState, sampling
from .local_model import LocalBackend, load_once, resolve_source
from .onnx_prefix import MIN_PREFIX, PROBES, common_prefix, probe_messages

_QUANT = re.compile(r"[._-](I?Q\d\w*|F16|BF16|F32)\.gguf$", re.I)


class LlamaCppTier(LocalTier):
    """`backend: llama_cpp`: a GGUF model (`pkg:` package, a `.gguf` path, or a folder with `gguf_file`)."""

    backend: Literal["llama_cpp"] = "llama_cpp"

    engine = "hybrid_ai.backends.llama_cpp_backend:LlamaCppBackend"
    can_support: ClassVar[tuple[str, ...]] = ("json_object", "json_schema")  # JSON checked (checks/structured.py)
    default_supports: ClassVar[tuple[str, ...]] = ()  # no per-token log-probabilities (see the docstring)
    trainable = False  # adapters are trained on transformers and served by ctranslate2 / transformers


@dataclass
class _Loaded:
    llm: Any
    name: str
    quantization: str
    device: str
    prefix: list[int] = field(default_factory=list)  # the chat template's fixed opening, kept evaluated
    lock: threading.Lock = field(default_factory=threading.Lock)


def _load(tier: LlamaCppTier) -> _Loaded:
    if tier.adapter:
        raise BackendError(f"backend llama_cpp does not load PEFT adapters ({tier.adapter!r}): serve the adapter "
                           "with backend ctranslate2 or transformers, or merge it and convert the result to GGUF",
                           kind="load")
    folder, gguf, name = resolve_source(tier.model, tier.gguf_file)
    if gguf is None:
        raise BackendError(f"backend llama_cpp needs a GGUF file; local model {tier.model!r} has none (give a .gguf "
                           "path, a pkg: package with one, or gguf_file)", kind="load")
    llama_cpp = require("llama_cpp", "llamacpp")
    device = "cuda" if tier.device == "cuda" else "cpu"
    threads = tier.threads or min(4, os.cpu_count() or 1)
    llm = llama_cpp.Llama(str(Path(folder) / gguf), n_ctx=tier.context_window, n_threads=threads,
                          n_gpu_layers=-1 if device == "cuda" else 0, verbose=False)
    m = _QUANT.search(gguf)
    quant = f"gguf-{m.group(1).lower()}" if m else "gguf"
    return _Loaded(llm, name, quant, device, _probe_prefix(llm, tier.system_prompt))


def _probe_prefix(llm, system: str | None) -> list[int]:
    """The token ids every conversation without a system message of its own starts with, as llama.cpp's own chat
    template and tokenizer make them (two probe prompts evaluated; at least MIN_PREFIX tokens, else none)."""
    seqs = []
    for text in PROBES:
        llm.reset()
        for _ in llm.create_chat_completion(messages=probe_messages(text, system), max_tokens=1,
                                            temperature=0.0, stream=True):
            pass
        seqs.append([int(t) for t in llm.input_ids[: llm.n_tokens]])
    llm.reset()
    n = common_prefix(*seqs)
    return seqs[0][:n] if n >= MIN_PREFIX else []


def _hold_prefix(lm: _Loaded) -> None:
    """Leave exactly the template prefix in llama.cpp's cache before a request (under the lock), so each prompt is
    computed in the same chunks every time, [prefix][rest]: llama-cpp-python reuses whatever prefix the previous
    prompt shared with this one (all but one token of a repeated prompt), and other chunks give other greedy
    tokens now and then."""
    llm, p = lm.llm, lm.prefix
    if _holds_prefix(lm):
        llm.n_tokens = len(p)
        return
    llm.reset()
    if p:
        llm.eval(p)


def _holds_prefix(lm: _Loaded) -> bool:
    """Whether llama.cpp's cache starts with the template prefix."""
    p = lm.prefix
    return bool(p) and lm.llm.n_tokens >= len(p) and [int(t) for t in lm.llm.input_ids[: len(p)]] == p


class LlamaCppBackend(LocalBackend):
    name = "llama_cpp"
    batches = False  # one generation at a time
    requires = ("llama_cpp", "llamacpp")

    def _load(self) -> _Loaded:
        t = self.tier
        return load_once(("llama_cpp", t.model, t.gguf_file, t.adapter, t.device, t.threads, t.context_window,
                          t.system_prompt),
                         lambda: _load(t), f"local model {t.model!r} with llama.cpp")

    def describe(self):
        return {"backend": self.name, "model": self.tier.model}


    def _call(self, lm: _Loaded, request, generation):
        s = sampling(request, generation)
        kw: dict[str, Any] = {"messages": self.tier.messages(request), "max_tokens": s["max_tokens"],
                              "temperature": s["temperature"], "top_p": s["top_p"] or 1.0, "stream": True,
                              "repeat_penalty": generation.repetition_penalty or 1.0}
        if request.stop:
            kw["stop"] = list(request.stop)
        if request.seed is not None:
            kw["seed"] = request.seed
        return lm.llm.create_chat_completion(**kw)  # a generator: its errors come with its first chunk

    def _result(self, lm: _Loaded, text: str, prompt_tokens, completion_tokens, finish, ttft) -> BackendResult:
        cached = len(lm.prefix) if _holds_prefix(lm) else 0
        return BackendResult(text=text, model=lm.name, prompt_tokens=prompt_tokens,
                             completion_tokens=completion_tokens, finish_reason=finish or "stop", ttft_ms=ttft,
                             info={"engine": "llama.cpp", "quantization": lm.quantization, "device": lm.device,
                                   "cached_prompt_tokens": cached})

    def complete(self, request, generation) -> BackendResult:
        """The stream, read to its end (so the record has a time to first token, as for the other engines)."""
        state = StreamState()
        for _ in self.stream(request, generation, state):
            pass
        assert state.result is not None
        return state.result

    def stream(self, request, generation, state):
        """Text as llama.cpp yields it (it holds back what may still become a stop string). Usage: the prompt's
        tokens as evaluated, the answer's by tokenizing it (llama.cpp streams no usage; no end token counted)."""
        lm = self.loaded()
        with lm.lock:
            t0, ttft, text, finish, n_in = time.perf_counter(), None, [], None, None
            _hold_prefix(lm)
            chunks = self._call(lm, request, generation)
            try:
                for chunk in chunks:
                    if n_in is None:
                        n_in = lm.llm.n_tokens  # the prompt, evaluated before the first token comes out
                    if state.cancelled.is_set():
                        break
                    choice = chunk["choices"][0]
                    finish = choice.get("finish_reason") or finish
                    piece = choice["delta"].get("content") or ""
                    piece = piece if text else piece.lstrip()
                    if piece:
                        ttft = ttft if ttft is not None else (time.perf_counter() - t0) * 1000
                        text.append(piece)
                        yield piece
            except ValueError as e:  # raised on the first chunk: a prompt longer than the context
                raise BackendError(f"llama.cpp: {str(e)[:300]}", tier=self.tier_name, kind="context") from e
            except Exception as e:
                raise BackendError(f"generation failed: {type(e).__name__}: {str(e)[:300]}", tier=self.tier_name,
                                   kind="generation") from e
            finally:
                chunks.close()  # stops llama.cpp's generation when the caller left
            answer = "".join(text)
            n_out = len(lm.llm.tokenize(answer.encode(), add_bos=False)) if answer else 0
            state.result = self._result(lm, answer, n_in, n_out, finish, ttft)

