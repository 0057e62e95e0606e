"""HybridClient and AsyncHybridClient: drop-ins for `client.chat.completions.create`.

One request path: prepare (validate, classify) -> decide (rules, threshold, tier order) -> run the decision's
fallback chain of metered tiers (`backends.fallback`, `backends.metered`) -> record (one RouteRecord with every
attempt) -> a ChatCompletion or a stream object. `BaseClient` holds everything that is not I/O; the two clients
are mirror images that differ only in how they run the chain."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Generator
from contextlib import aclosing, closing
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self, cast, overload

from . import canary, offload
from .backends.base import Backend
from .backends.fallback import FallbackChain
from .backends.metered import CLIENT_WENT_AWAY, Metered
from .backends.registry import build_backend
from .checks.cascade import answer_check, load_policy_verifier
from .checks.structured import output_check
from .chunking import StreamTurn
from .errors import BackendError, InvalidRequest
from .policy import PersonalDataRule, Policy, load_policy
from .privacy.masking import wrap
from .request import parse_request
from .routing import Classifier, decide, load_classifier
from .stream import AsyncHybridStream, HybridStream
from .telemetry import caller
from .telemetry.metrics import Metrics
from .telemetry.record import new_request_id
from .telemetry.sinks import Sink, build_sinks, emit
from .turn import Observer, Turn
from .types import Attempt, ChatRequest, RouteDecision

if TYPE_CHECKING:
    from .learning.shadow import Shadow
    from .response import HybridChatCompletion, HybridChatCompletionChunk, SSEText
    from .store.limits import Gate, Ticket


class BaseClient:
    def __init__(
        self,
        policy: str | Path | dict[str, Any] | Policy | None = None,
        *,
        backends: dict[str, Backend] | None = None,
        classifier: Classifier | None = None,
        sinks: list[Sink] | None = None,
    ):
        self.policy = load_policy(policy)
        self.classifier = classifier or load_classifier(self.policy.classifier)
        self.verifier = load_policy_verifier(self.policy)  # cascade mode's answer check; None in route mode
        given = backends or {}  # injected or built, every tier is masked where a rule says so (one function: wrap)
        self.backends = {n: wrap(self.policy, n, given[n] if n in given else build_backend(n, t))
                         for n, t in self.policy.tiers.items()}
        self.backends.update({n: b for n, b in given.items() if n not in self.backends})
        self.sinks = build_sinks(self.policy.telemetry) if sinks is None else sinks
        self.metrics = next((s for s in self.sinks if isinstance(s, Metrics)), None)  # Prometheus, if on
        self.gate: Gate | None = None  # cloud budget and per-key limits: reserved before, settled after (store/limits.py)
        from .store.limits import Gate

        if Gate.wanted(self.policy):
            self.gate = Gate(self.policy)
            if self.metrics is not None:
                self.gate.on_count = self.metrics.store_count
        self.shadow: Shadow | None = None  # shadow mode: a sample of local answers also asked of the strong tier, off the path
        if self.policy.shadow.rate > 0:
            from .learning.shadow import Shadow

            self.shadow = Shadow(self.policy, self.backends[self.policy.classifier.strong_tier])
        self.sink_failures = 0  # records a sink could not write (each also reported on stderr)
        # what a finished request's record goes through, in order: the budget settles, the sinks write, shadow samples
        self.observers: list[Observer] = [self._settle, self._write, self._sample]
        self.variant: str | None = None  # with a canary: `current`, and `canary` for the candidate's client
        self.canary = canary.attach(self)  # a candidate policy for a share of requests (canary.py), or None

    # -- no I/O below: validation, decision, chain, record -------------------------------------
    def prepare(self, params: dict[str, Any], rid: str = "") -> tuple[ChatRequest, RouteDecision, Ticket | None]:
        """The validated request, its decision and what the limits reserved for it (None without limits)."""
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
        decision = decide(self.policy, request, score)
        ticket = None
        if self.gate is not None:
            decision, ticket = self.gate.admit(request, decision, caller.current(), rid)
        return request, decision, ticket

    def chain(self, decision: RouteDecision, request: ChatRequest) -> FallbackChain:
        """The decision's tiers, in order, each metered into one shared list of attempts (`chain.attempts`), with
        cascade mode's answer check and the check of a structured answer where they apply."""
        attempts: list[Attempt] = []
        return FallbackChain([Metered(t, self.backends[t], self.policy, attempts) for t in decision.tiers],
                             attempts=attempts, check=answer_check(self.policy, self.verifier, request, decision),
                             validate=output_check(request, decision))

    def _turn(self, prepared: tuple[ChatRequest, RouteDecision, Ticket | None], t0: float, rid: str) -> Turn:
        request, decision, ticket = prepared
        return Turn(request, decision, self.chain(decision, request), self.policy, t0, self.observers, ticket, rid)

    def _variant_for(self, rid: str | None) -> tuple[Self, str]:
        """The client that answers request `rid` (this one, or its canary's) and the id."""
        rid = rid or new_request_id()
        if self.canary is not None and self.canary.takes(rid):
            return cast(Self, self.canary.client), rid
        return self, rid

    # observers of a finished turn (self.observers)
    def _settle(self, turn: Turn) -> None:
        if self.gate is not None and turn.record is not None:
            self.gate.settle(turn.ticket, turn.record)

    def _write(self, turn: Turn) -> None:
        if turn.record is not None:
            self.sink_failures += emit(self.sinks, turn.record)

    def _sample(self, turn: Turn) -> None:
        if self.shadow is not None and turn.record is not None:
            result = turn.chain.result
            self.shadow.offer(turn.request, turn.decision, turn.record, result.text if result is not None else None)

    def warmup(self) -> None:
        """Load every tier's model / library now instead of on the first request (and the response types, about a
        second to import, which a first stream would otherwise count in its local attempt's latency)."""
        from . import response  # noqa: F401

        for b in self.backends.values():
            try:
                b.warmup()
            except BackendError:
                pass  # the tier will fail (and fall back) on use; its error is recorded then
        if any(isinstance(r, PersonalDataRule) for r in self.policy.rules):
            from .privacy import pii

            pii.warmup()  # its libraries' data, loaded now rather than by the first request with numbers in it
        if self.policy.telemetry.savings:  # the strong tier's tokenizer, which the savings counterfactual uses
            from .telemetry.counterfactual import warm

            warm(self.policy)
        if self.canary is not None:
            self.canary.client.warmup()

    def _close_own(self) -> None:
        """What this client holds alone: shadow mode's queue (drained), the limits (its sinks may be shared)."""
        shadow, self.shadow = self.shadow, None  # once: a second close() has nothing to drain
        if shadow is not None:
            shadow.close()
        if self.gate is not None:
            self.gate.close()
            self.gate = None

    def close(self) -> None:
        if self.canary is not None:
            self.canary.client._close_own()  # its sinks are this client's
        self._close_own()
        for s in self.sinks:
            getattr(s, "close", lambda: None)()


class HybridClient(BaseClient):
    """Synchronous client: `client.chat.completions.create(messages=[...], max_tokens=...)`."""

    @cached_property
    def chat(self) -> _Chat:
        return _Chat(_Completions(self))

    def _create(self, params: dict[str, Any], rid: str | None = None) -> HybridChatCompletion | HybridStream:
        client, rid = self._variant_for(rid)
        if client is not self:
            return client._create(params, rid)
        turn = self._turn(self.prepare(params, rid), time.perf_counter(), rid)
        if turn.request.stream:
            stream = StreamTurn(turn)
            return HybridStream(self._chunks(stream), stream.ended_early, stream.as_frames)
        try:
            turn.chain.complete(turn.request)
        except BackendError:
            turn.finish()
            raise
        return turn.completion()

    def _chunks(self, turn: StreamTurn) -> Generator[HybridChatCompletionChunk | SSEText, None, None]:
        """Chunks as the chain yields text. A tier that fails before its first text falls back to the next; one
        that fails after it ends the stream with its error (the record says so)."""
        with turn.recording(), closing(turn.chain.stream(turn.request)) as deltas:
            try:
                for tier, piece in deltas:
                    yield from turn.piece(tier, piece)
            except BackendError:
                yield from turn.flush()  # the text held back for scrubbing, then the error
                raise
            yield from turn.end()

    def __enter__(self) -> HybridClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncHybridClient(BaseClient):
    """Asynchronous mirror: `await client.chat.completions.create(...)`."""

    @cached_property
    def chat(self) -> _AsyncChat:
        return _AsyncChat(_AsyncCompletions(self))

    async def _create(self, params: dict[str, Any], rid: str | None = None) -> HybridChatCompletion | AsyncHybridStream:
        client, rid = self._variant_for(rid)
        if client is not self:
            return await client._create(params, rid)
        t0 = time.perf_counter()
        if offload.large(params):  # validation, the personal-data scan and scoring grow with the text
            prepared = await offload.run(self.prepare, params, rid)
        else:
            prepared = self.prepare(params, rid)
        turn = self._turn(prepared, t0, rid)
        if turn.request.stream:
            stream = StreamTurn(turn)
            return AsyncHybridStream(self._chunks(stream), stream.ended_early, stream.as_frames)
        try:
            await turn.chain.acomplete(turn.request)
        except BackendError:
            turn.finish()
            raise
        except asyncio.CancelledError:  # the caller left (the server cancels on disconnect): the tier stopped
            turn.finish(error=f"{CLIENT_WENT_AWAY}: cancelled before the answer")
            raise
        return turn.completion()

    async def _chunks(self, turn: StreamTurn) -> AsyncGenerator[HybridChatCompletionChunk | SSEText, None]:
        """The async mirror of HybridClient._chunks."""
        with turn.recording():
            async with aclosing(turn.chain.astream(turn.request)) as deltas:
                try:
                    async for tier, piece in deltas:
                        for chunk in turn.piece(tier, piece):
                            yield chunk
                except BackendError:
                    for chunk in turn.flush():
                        yield chunk
                    raise
            for chunk in turn.end():
                yield chunk

    async def aclose(self) -> None:
        """Close the tiers' connections of the running event loop (pooled HTTP sessions), then what `close`
        closes (sinks, shadow, budget)."""
        for backend in [*self.backends.values(), *(self.canary.client.backends.values() if self.canary else ())]:
            aclose = getattr(backend, "aclose", None)
            if aclose is not None:
                await aclose()
        self.close()

    async def __aenter__(self) -> AsyncHybridClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _Completions:
    """`client.chat.completions` of HybridClient."""

    def __init__(self, client: HybridClient):
        self._client = client

    @overload
    def create(self, /, *, stream: Literal[True], **params: Any) -> HybridStream: ...
    @overload
    def create(self, /, **params: Any) -> HybridChatCompletion: ...

    def create(self, /, **params: Any) -> HybridChatCompletion | HybridStream:
        """`params` are OpenAI chat-completion parameters (see `hybrid_ai.request`); a dict of them from a request
        body can be passed as `create(**body)` whatever its keys. With `stream=True`: a HybridStream."""
        return self._client._create(params)


class _AsyncCompletions:
    """`client.chat.completions` of AsyncHybridClient."""

    def __init__(self, client: AsyncHybridClient):
        self._client = client

    @overload
    async def create(self, /, *, stream: Literal[True], **params: Any) -> AsyncHybridStream: ...
    @overload
    async def create(self, /, **params: Any) -> HybridChatCompletion: ...

    async def create(self, /, **params: Any) -> HybridChatCompletion | AsyncHybridStream:
        """As HybridClient's, awaited; with `stream=True`: an AsyncHybridStream."""
        return await self._client._create(params)


class _Chat:
    def __init__(self, completions: _Completions):
        self.completions = completions


class _AsyncChat:
    def __init__(self, completions: _AsyncCompletions):
        self.completions = completions
