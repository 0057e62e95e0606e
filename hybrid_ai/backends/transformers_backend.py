"""The in-process SLM tier: transformers generation with the model's chat template."""

from __future__ import annotations

import time
from typing import Literal

from ..config import LocalTier
from ..errors import BackendError
from ..types import BackendResult
from .base import MIN_TEMPERATURE, cut_at_stop, sampling
from .local_model import LoadedModel, LocalBackend, load_model, token_logprobs


class TransformersTier(LocalTier):
    """`backend: transformers`: the in-process SLM (transformers; bitsandbytes on CUDA). Priced by machine time."""

    backend: Literal["transformers"] = "transformers"
    quantization: Literal["auto", "none", "bf16", "fp16", "int8-dynamic", "nf4", "int8"] = "auto"

    engine = "hybrid_ai.backends.transformers_backend:TransformersBackend"
    can_support = ("json_object", "json_schema", "logprobs", "top_logprobs")
    default_supports = ("logprobs", "top_logprobs")  # from the raw logits of each step (output_logits)


class _FirstToken:
    """A generate() streamer that notes when the first new token arrives (for ttft_ms)."""

    def __init__(self, t0: float):
        self.t0, self.ttft_ms, self._prompt_seen = t0, None, False

    def put(self, value):
        if not self._prompt_seen:  # the first call carries the prompt
            self._prompt_seen = True
        elif self.ttft_ms is None:
            self.ttft_ms = (time.perf_counter() - self.t0) * 1000

    def end(self):
        pass


def _stop_when(event):
    """A generate() stopping criterion: stop every sequence once `event` is set (the caller went away)."""
    import torch
    from transformers import StoppingCriteria

    class _Cancelled(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            return torch.full((input_ids.shape[0],), event.is_set(), dtype=torch.bool, device=input_ids.device)

    return _Cancelled()


class TransformersBackend(LocalBackend):
    cancels = True  # acomplete runs through stream: a cancelled call stops within a token
    name = "transformers"

    def _load(self) -> LoadedModel:
        return load_model(self.tier)

    def describe(self):
        return {"backend": self.name, "model": self.tier.model, "quantization": self.tier.quantization}

    def _prepare(self, request, generation):
        lm = self.loaded()
        s = sampling(request, generation)
        try:
            inputs = lm.tokenizer.apply_chat_template(
                self.tier.messages(request), add_generation_prompt=True, return_tensors="pt", return_dict=True)
        except Exception as e:
            raise BackendError(f"chat template failed: {e}", tier=self.tier_name, kind="generation") from e
        n_in = int(inputs["input_ids"].shape[1])
        if n_in + 1 > self.tier.context_window:
            raise BackendError(f"prompt is {n_in} tokens, over the local context of {self.tier.context_window}",
                               tier=self.tier_name, kind="context")
        max_new = max(1, min(s["max_tokens"], self.tier.context_window - n_in))
        kwargs = {"max_new_tokens": max_new, "pad_token_id": lm.tokenizer.pad_token_id or lm.tokenizer.eos_token_id}
        if s["temperature"] >= MIN_TEMPERATURE:
            kwargs.update(do_sample=True, temperature=s["temperature"], top_p=s["top_p"] or 1.0)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if generation.repetition_penalty:
            kwargs["repetition_penalty"] = generation.repetition_penalty
        if request.stop:
            kwargs.update(stop_strings=list(request.stop), tokenizer=lm.tokenizer)
        if request.logprobs:
            kwargs.update(output_logits=True, return_dict_in_generate=True)
        kwargs.update({k: v.to(lm.model.device) for k, v in inputs.items()})
        return lm, kwargs, n_in, max_new

    def _generate(self, lm, kwargs, request, streamer):
        import torch

        with lm.lock:
            if request.seed is not None:
                torch.manual_seed(request.seed)
            try:
                with torch.inference_mode():
                    return lm.model.generate(streamer=streamer, **kwargs)
            except Exception as e:
                raise BackendError(f"generation failed: {type(e).__name__}: {str(e)[:300]}",
                                   tier=self.tier_name, kind="generation") from e

    def _result(self, lm, out, n_in, max_new, text, ttft_ms, request) -> BackendResult:
        seqs = getattr(out, "sequences", out)  # a dict-like output when logits were asked for
        new = seqs[0][n_in:]
        eos = lm.tokenizer.eos_token_id
        eos = set(eos if isinstance(eos, list) else [eos])
        hit_eos = len(new) > 0 and int(new[-1]) in eos
        result = BackendResult(
            text=text, model=lm.name, prompt_tokens=n_in, completion_tokens=int(len(new)),
            finish_reason="length" if len(new) >= max_new and not hit_eos else "stop", ttft_ms=ttft_ms,
            info={"quantization": lm.quantization, "adapter": lm.adapter, "device": lm.device},
        )
        if request.logprobs and getattr(out, "logits", None) is not None:
            self._logprobs(lm, out.logits, [int(t) for t in new], eos, request, result)
        return result

    @staticmethod
    def _logprobs(lm, logits, new: list[int], eos: set, request, result: BackendResult) -> None:
        """Each generated token's log-probability under the model (the raw logits of its step, before penalties
        and sampling), and the `top_logprobs` most likely tokens there."""
        import torch

        ids, lps, tops = [], [], []
        for step, token in enumerate(new):
            if token in eos:
                continue
            logp = torch.log_softmax(logits[step][0].float(), dim=-1)
            ids.append(token)
            lps.append(float(logp[token]))
            if request.top_logprobs:
                values, indices = torch.topk(logp, request.top_logprobs)
                tops.append(list(zip(indices.tolist(), values.tolist())))
        result.logprobs = lps
        result.token_logprobs = token_logprobs(lm.tokenizer, ids, lps, tops if request.top_logprobs else None)

    def complete(self, request, generation) -> BackendResult:
        lm, kwargs, n_in, max_new = self._prepare(request, generation)
        first = _FirstToken(time.perf_counter())
        out = self._generate(lm, kwargs, request, first)
        seqs = getattr(out, "sequences", out)
        text = cut_at_stop(lm.tokenizer.decode(seqs[0][n_in:], skip_special_tokens=True), request.stop)
        return self._result(lm, out, n_in, max_new, text.lstrip(), first.ttft_ms, request)

    def complete_batch(self, requests, generation) -> list[BackendResult | BackendError]:
        """Answer several requests in one left-padded generate() call (for evals: on this 2-core CPU, 16 short
        answers take about a fifth of the time they take one by one, and greedy answers come out the same).
        A request that cannot be prepared gets its BackendError; one with stop strings, a seed or logprobs is
        answered alone. Every result of the batch carries the batch's first-token time."""
        results: list = [None] * len(requests)
        batch = []
        for i, request in enumerate(requests):
            try:
                if request.stop or request.seed is not None or request.logprobs:
                    results[i] = self.complete(request, generation)
                else:
                    batch.append((i, request, *self._prepare(request, generation)))
            except BackendError as e:
                results[i] = e
        if not batch:
            return results
        lm = batch[0][2]
        tok = lm.tokenizer
        texts = [tok.apply_chat_template(self.tier.messages(r), add_generation_prompt=True, tokenize=False)
                 for _, r, *_ in batch]
        with lm.lock:  # the tokenizer's padding side is shared state
            side, tok.padding_side = tok.padding_side, "left"
            try:
                inputs = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            finally:
                tok.padding_side = side
        kwargs = {k: v for k, v in batch[0][3].items() if k not in ("input_ids", "attention_mask")}
        kwargs["max_new_tokens"] = max(b[5] for b in batch)
        kwargs.update({k: v.to(lm.model.device) for k, v in inputs.items()})
        first = _FirstToken(time.perf_counter())
        try:
            out = self._generate(lm, kwargs, batch[0][1], first)
        except BackendError as e:
            for i, *_ in batch:
                results[i] = e
            return results
        width = int(inputs["input_ids"].shape[1])
        eos = tok.eos_token_id
        stops = set(eos if isinstance(eos, list) else [eos])
        for row, (i, _request, lm, _, n_in, max_new) in enumerate(batch):
            new = [int(t) for t in out[row][width:]][:max_new]
            end = next((k + 1 for k, t in enumerate(new) if t in stops), len(new))
            new = new[:end]
            results[i] = BackendResult(
                text=tok.decode(new, skip_special_tokens=True).lstrip(), model=lm.name, prompt_tokens=n_in,
                completion_tokens=len(new), finish_reason="stop" if new and new[-1] in stops else "length",
                ttft_ms=first.ttft_ms, info={"quantization": lm.quantization, "adapter": lm.adapter,
                                             "device": lm.device, "batch_size": len(batch)})
        return results

    def stream(self, request, generation, state):
        import threading

        from transformers import TextIteratorStreamer

        lm, kwargs, n_in, max_new = self._prepare(request, generation)
        streamer = TextIteratorStreamer(lm.tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs["stopping_criteria"] = [_stop_when(state.cancelled)]
        box: dict = {}

        def run():
            try:
                box["out"] = self._generate(lm, kwargs, request, streamer)
            except BackendError as e:
                box["error"] = e
                streamer.end()  # unblock the reader

        t0 = time.perf_counter()
        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        hold = max((len(s) for s in request.stop), default=0)  # text that may still turn into a stop string
        text, sent, ttft, finished = "", 0, None, False
        try:
            for piece in streamer:
                if ttft is None and piece:
                    ttft = (time.perf_counter() - t0) * 1000
                text = (text + piece).lstrip() if not sent else text + piece
                safe = min(len(cut_at_stop(text, request.stop)), len(text) - hold)
                if safe > sent:
                    yield text[sent:safe]
                    sent = safe
            finished = True
        finally:
            if not finished:  # the caller closed this stream: generation stops at the next token, freeing the model
                state.cancelled.set()
                worker.join(timeout=30)
        worker.join()  # generate() returns just after it ends the streamer
        if "error" in box:
            raise box["error"]
        text = cut_at_stop(text, request.stop)
        if len(text) > sent:
            yield text[sent:]
        state.result = self._result(lm, box["out"], n_in, max_new, text, ttft, request)


def as_transformers(tier, **overrides) -> TransformersTier:
    """The transformers tier over the same model, adapter, device and costs as any local `tier`: what `hybrid-ai
    finetune` trains and rehearses with, whatever engine serves the tier."""
    keep = {k: v for k, v in tier.model_dump().items() if k in TransformersTier.model_fields and k != "backend"}
    return TransformersTier(**{**keep, **overrides})
