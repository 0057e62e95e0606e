"""HybridClient and AsyncHybridClient: drop-ins for `client.chat.completions.create`.

`BaseClient` does everything that is not I/O (validation, rules, classifier, decision, records);
the two clients are mirror images that differ only in how they call a backend."""

from __future__ import annotations

import asyncio
import time
from contextlib import aclosing, closing, nullcontext
from pathlib import Path
from typing import Any

from .backends.base import Backend, StreamState, build_backend
from .errors import AllTiersFailed, BackendError, InvalidRequest
from .policy import Policy, load_policy
from .routing import Classifier, decide, load_classifier
from .telemetry.energy import EnergyMeter
from .telemetry.record import build_record, new_request_id
from .telemetry.sinks import Sink, build_sinks, emit
from .request import parse_request
from .types import ChatRequest, RouteDecision


class BaseClient:
    def __init__(
        self,
        policy: str | Path | dict | Policy | None = None,
        *,
        backends: dict[str, Backend] | None = None,
        classifier: Classifier | None = None,
        sinks: list[Sink] | None = None,
    ):
        self.policy = load_policy(policy)
        self.classifier = classifier or load_classifier(self.policy.classifier)
        self.backends = {n: build_backend(n, t) for n, t in self.policy.tiers.items()}
        self.backends.update(backends or {})
        self.sinks = build_sinks(self.policy.telemetry) if sinks is None else sinks
        self.sink_failures = 0  # records a sink could not write (each also reported on stderr)
        self.chat = _Chat(self)

    # -- no I/O below: validation, decision, record ------------------------------------------
    def prepare(self, params: dict[str, Any]) -> tuple[ChatRequest, RouteDecision]:
        limits = self.policy.limits
        model = params.get("model")
        if (params.get("route") is None and isinstance(model, str) and model in self.policy.tiers
                and any(r.type == "pinned" for r in self.policy.rules)):
            params = {**params, "route": model}  # model="local" pins a tier, as /v1/models lists them
        request = parse_request(params, max_tokens_limit=limits.max_tokens)
        if len(request.text) > limits.max_prompt_chars:
            raise InvalidRequest(f"prompt is {len(request.text):,} characters, over the policy's limit of "
                                 f"{limits.max_prompt_chars:,} (limits.max_prompt_chars)", field="messages")
        score = float(self.classifier.score(request))
        return request, decide(self.policy, request, score)

    def _meter(self, tier: str):
        backend = self.backends[tier]
        return EnergyMeter(getattr(backend, "device", "cpu")) if backend.runs_locally else nullcontext()

    def _record(self, request, decision, rid, t0, tier=None, result=None, tier_s=0.0, meter=None, errors=(),
                error=None):
        record = build_record(policy=self.policy, request=request, decision=decision, request_id=rid, t_start=t0,
                              tier_name=tier, result=result, tier_wall_s=tier_s,
                              meter=meter if isinstance(meter, EnergyMeter) else None, errors=list(errors),
                              error=error)
        self.sink_failures += emit(self.sinks, record)
        return record

    def _finish(self, request, decision, rid, t0, tier=None, result=None, tier_s=0.0, meter=None, errors=()):
        record = self._record(request, decision, rid, t0, tier, result, tier_s, meter, errors)
        if result is None:
            raise AllTiersFailed(list(errors))
        from .response import make_completion

        return make_completion(decision, result, record)

    def _chunks_start(self, rid, tier):
        from .response import make_chunk

        return make_chunk(rid, self.policy.tiers[tier].model, role="assistant", content="")

    def _chunk(self, rid, tier, piece):
        from .response import make_chunk

        return make_chunk(rid, self.policy.tiers[tier].model, content=piece)

    def _chunks_end(self, request, decision, rid, t0, tier, state, tier_s, meter, errors):
        """The last chunks: finish reason and the `hybrid` field with the record (and usage, also in a chunk of
        its own with no choices when the request asked for stream_options.include_usage)."""
        from .response import make_chunk, make_usage_chunk

        record = self._record(request, decision, rid, t0, tier, state.result, tier_s, meter, errors)
        last = make_chunk(rid, state.result.model, finish=state.result.finish_reason, result=state.result,
                          decision=decision, record=record)
        return [last, make_usage_chunk(rid, state.result)] if request.include_usage else [last]

    def _abandoned(self, request, decision, rid, t0, tier, pieces, tier_s, meter, errors, why: BaseException):
        """The record of a stream that ended early: what was sent so far, and why (the caller stopped reading, or
        something unexpected was raised)."""
        from .types import BackendResult

        partial = None
        if tier is not None:
            partial = BackendResult(text="".join(pieces), model=self.policy.tiers[tier].model,
                                    finish_reason="abandoned")
        if isinstance(why, (GeneratorExit, asyncio.CancelledError)):
            error = f"client went away: the stream was closed after {len(pieces)} text chunk(s)"
        else:
            error = f"the stream ended after {len(pieces)} text chunk(s) on {type(why).__name__}: {why}"
        self._record(request, decision, rid, t0, tier, partial, tier_s, meter, errors, error=error)

    def warmup(self) -> None:
        """Load every tier's model / library now instead of on the first request."""
        for b in self.backends.values():
            try:
                b.warmup()
            except BackendError:
                pass  # the tier will fail (and fall back) on use; its error is recorded then

    def close(self) -> None:
        for s in self.sinks:
            getattr(s, "close", lambda: None)()


class HybridClient(BaseClient):
    """Synchronous client: `client.chat.completions.create(messages=[...], max_tokens=...)`."""

    def _create(self, params: dict):
        t0 = time.perf_counter()
        request, decision = self.prepare(params)
        if request.stream:
            return self._stream(request, decision, t0)
        rid, errors = new_request_id(), []
        for tier in decision.tiers:
            try:
                self.backends[tier].warmup()  # a first load counts in latency, not in the request's cost
                t1 = time.perf_counter()
                with self._meter(tier) as meter:
                    result = self.backends[tier].complete(request, self.policy.tiers[tier].generation)
            except BackendError as e:
                errors.append(e)
                continue
            return self._finish(request, decision, rid, t0, tier, result, time.perf_counter() - t1, meter, errors)
        return self._finish(request, decision, rid, t0, errors=errors)

    def _stream(self, request, decision, t0):
        """Chunks as they are generated. A tier that fails before its first text falls back to the next;
        one that fails after it ends the stream with its error (the record says so). A stream the caller closes
        or drops stops its tier's generation and is recorded as abandoned."""
        rid, errors, recorded = new_request_id(), [], False
        tier, pieces, t1, meter = None, [], t0, None
        try:
            for tier in decision.tiers:
                state, pieces = StreamState(), []
                try:
                    self.backends[tier].warmup()
                    t1 = time.perf_counter()
                    with self._meter(tier) as meter, closing(self.backends[tier].stream(
                            request, self.policy.tiers[tier].generation, state)) as it:
                        for piece in it:
                            if not pieces:
                                yield self._chunks_start(rid, tier)
                            pieces.append(piece)
                            yield self._chunk(rid, tier, piece)
                except BackendError as e:
                    errors.append(e)
                    if pieces:
                        recorded = True
                        self._record(request, decision, rid, t0, errors=errors)
                        raise
                    continue
                if not pieces:
                    yield self._chunks_start(rid, tier)
                last = self._chunks_end(request, decision, rid, t0, tier, state, time.perf_counter() - t1, meter,
                                        errors)
                recorded = True
                yield from last
                return
            recorded = True
            self._finish(request, decision, rid, t0, errors=errors)
        except BaseException as e:  # GeneratorExit (closed), CancelledError, or a bug: the record says which
            if not recorded:
                self._abandoned(request, decision, rid, t0, tier, pieces, time.perf_counter() - t1, meter, errors, e)
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class AsyncHybridClient(BaseClient):
    """Asynchronous mirror: `await client.chat.completions.create(...)`."""

    async def _create(self, params: dict):
        t0 = time.perf_counter()
        request, decision = self.prepare(params)
        if request.stream:
            return self._astream(request, decision, t0)
        rid, errors = new_request_id(), []
        for tier in decision.tiers:
            try:
                await asyncio.to_thread(self.backends[tier].warmup)
                t1 = time.perf_counter()
                with self._meter(tier) as meter:
                    result = await self.backends[tier].acomplete(request, self.policy.tiers[tier].generation)
            except BackendError as e:
                errors.append(e)
                continue
            return self._finish(request, decision, rid, t0, tier, result, time.perf_counter() - t1, meter, errors)
        return self._finish(request, decision, rid, t0, errors=errors)

    async def _astream(self, request, decision, t0):
        """The async mirror of HybridClient._stream."""
        rid, errors, recorded = new_request_id(), [], False
        tier, pieces, t1, meter = None, [], t0, None
        try:
            for tier in decision.tiers:
                state, pieces = StreamState(), []
                try:
                    await asyncio.to_thread(self.backends[tier].warmup)
                    t1 = time.perf_counter()
                    with self._meter(tier) as meter:
                        async with aclosing(self.backends[tier].astream(
                                request, self.policy.tiers[tier].generation, state)) as it:
                            async for piece in it:
                                if not pieces:
                                    yield self._chunks_start(rid, tier)
                                pieces.append(piece)
                                yield self._chunk(rid, tier, piece)
                except BackendError as e:
                    errors.append(e)
                    if pieces:
                        recorded = True
                        self._record(request, decision, rid, t0, errors=errors)
                        raise
                    continue
                if not pieces:
                    yield self._chunks_start(rid, tier)
                last = self._chunks_end(request, decision, rid, t0, tier, state, time.perf_counter() - t1, meter,
                                        errors)
                recorded = True
                for chunk in last:
                    yield chunk
                return
            recorded = True
            self._finish(request, decision, rid, t0, errors=errors)
        except BaseException as e:  # GeneratorExit (closed), CancelledError, or a bug: the record says which
            if not recorded:
                self._abandoned(request, decision, rid, t0, tier, pieces, time.perf_counter() - t1, meter, errors, e)
            raise

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.close()


class _Completions:
    def __init__(self, client: BaseClient):
        self._client = client

    def create(self, /, **params):
        """`params` are OpenAI chat-completion parameters (see `hybrid_ai.request`); a dict of them from a request
        body can be passed as `create(**body)` whatever its keys."""
        return self._client._create(params)


class _Chat:
    def __init__(self, client: BaseClient):
        self.completions = _Completions(client)
