"""HybridClient and AsyncHybridClient: drop-ins for `client.chat.completions.create`.

One request path: prepare (validate, classify) -> decide (rules, threshold, tier order) -> run the decision's
fallback chain of metered tiers (`backends.fallback`, `backends.metered`) -> record (one RouteRecord with every
attempt) -> a ChatCompletion or a stream object. `BaseClient` holds everything that is not I/O; the two clients
are mirror images that differ only in how they run the chain."""

from __future__ import annotations

import asyncio
import time
from contextlib import aclosing, closing
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from .backends.base import Backend
from .backends.registry import build_backend
from .backends.fallback import FallbackChain
from .backends.metered import CLIENT_WENT_AWAY, Metered
from .chunking import StreamTurn
from . import offload
from .errors import BackendError, InvalidRequest
from .privacy.redact import scrub
from .policy import Policy, load_policy
from .request import parse_request
from .routing import Classifier, decide, load_classifier
from .checks.cascade import answer_check, load_policy_verifier
from .privacy.masking import wrap
from .checks.structured import output_check
from .stream import AsyncHybridStream, HybridStream
from .telemetry.metrics import Metrics
from .telemetry.record import build_record, new_request_id
from .telemetry.sinks import Sink, build_sinks, emit
from .types import ChatRequest, RouteDecision

if TYPE_CHECKING:
    from .response import HybridChatCompletion
    from .learning.shadow import Shadow


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
        self.verifier = load_policy_verifier(self.policy)  # cascade mode's answer check; None in route mode
        given = backends or {}  # injected or built, every tier is masked where a rule says so (one function: wrap)
        self.backends = {n: wrap(self.policy, n, given[n] if n in given else build_backend(n, t))
                         for n, t in self.policy.tiers.items()}
        self.backends.update({n: b for n, b in given.items() if n not in self.backends})
        self.sinks = build_sinks(self.policy.telemetry) if sinks is None else sinks
        self.metrics = next((s for s in self.sinks if isinstance(s, Metrics)), None)  # Prometheus, if on
        self.budget = None  # cloud budgets: admission by reservation, spend kept in the route log
        self._tickets: dict[int, Any] = {}  # id(request) -> the budget reservation its record settles
        if self.policy.budget.enabled:
            from .routing.budget import Budget

            self.budget = Budget(self.policy)
        self.shadow: Shadow | None = None  # shadow mode: a sample of local answers also asked of the strong tier, off the path
        if self.policy.shadow.rate > 0:
            from .learning.shadow import Shadow

            self.shadow = Shadow(self.policy, self.backends[self.policy.classifier.strong_tier])
        self.sink_failures = 0  # records a sink could not write (each also reported on stderr)

    # -- no I/O below: validation, decision, chain, record -------------------------------------
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
        decision = decide(self.policy, request, score)
        if self.budget is not None:
            decision, ticket, why = self.budget.admit(request, decision)
            if why is not None:
                decision = replace(decision, budget=why)
            if ticket is not None:
                self._tickets[id(request)] = ticket
        return request, decision

    def chain(self, decision: RouteDecision, request: ChatRequest) -> FallbackChain:
        """The decision's tiers, in order, each metered into one shared list of attempts (`chain.attempts`), with
        cascade mode's answer check and the check of a structured answer where they apply."""
        attempts: list = []
        return FallbackChain([Metered(t, self.backends[t], self.policy, attempts) for t in decision.tiers],
                             attempts=attempts, check=answer_check(self.policy, self.verifier, request, decision),
                             validate=output_check(request, decision))

    def _record(self, request, decision, rid, t0, chain, error=None):
        record = build_record(policy=self.policy, request=request, decision=decision, request_id=rid, t_start=t0,
                              attempts=chain.attempts, result=chain.result if chain.answered else None, error=error,
                              verifier_score=chain.check.score if chain.check else None,
                              answered_tier=chain.answered)
        if self.budget is not None:
            self.budget.settle(self._tickets.pop(id(request), None), record)
        self.sink_failures += emit(self.sinks, record)
        if self.shadow is not None:
            self.shadow.offer(request, decision, record, chain.result.text if chain.result is not None else None)
        return record

    def _completion(self, request, decision, rid, t0, chain):
        from .response import make_completion

        record = self._record(request, decision, rid, t0, chain)
        return make_completion(decision, scrubbed(chain.result), record)

    def _turn(self, request, decision, t0) -> StreamTurn:
        return StreamTurn(self, request, decision, t0, new_request_id(), self.chain(decision, request))

    def warmup(self) -> None:
        """Load every tier's model / library now instead of on the first request (and the response types, about a
        second to import, which a first stream would otherwise count in its local attempt's latency)."""
        from . import response  # noqa: F401

        for b in self.backends.values():
            try:
                b.warmup()
            except BackendError:
                pass  # the tier will fail (and fall back) on use; its error is recorded then
        if self.policy.telemetry.savings:  # the strong tier's tokenizer, which the savings counterfactual uses
            from .telemetry.counterfactual import warm

            warm(self.policy)

    def close(self) -> None:
        shadow, self.shadow = self.shadow, None  # once: a second close() has nothing to drain
        if shadow is not None:
            shadow.close()
        if self.budget is not None:
            self.budget.close()
            self.budget = None
        for s in self.sinks:
            getattr(s, "close", lambda: None)()


def scrubbed(result):
    """The answer as the caller gets it: no secret in its text or tool-call arguments (an upstream that echoes its
    Authorization header does not hand the key on)."""
    from .types import ToolCall

    result.text = scrub(result.text)
    if result.tool_calls:
        result.tool_calls = [ToolCall(c.id, c.name, scrub(c.arguments)) for c in result.tool_calls]
    return result


class HybridClient(BaseClient):
    """Synchronous client: `client.chat.completions.create(messages=[...], max_tokens=...)`."""

    @cached_property
    def chat(self) -> _Chat:
        return _Chat(_Completions(self))

    def _create(self, params: dict):
        t0 = time.perf_counter()
        request, decision = self.prepare(params)
        if request.stream:
            turn = self._turn(request, decision, t0)
            return HybridStream(self._chunks(request, turn), turn.ended_early)
        rid, chain = new_request_id(), self.chain(decision, request)
        try:
            chain.complete(request)
        except BackendError:
            self._record(request, decision, rid, t0, chain)
            raise
        return self._completion(request, decision, rid, t0, chain)

    def _chunks(self, request, turn: StreamTurn):
        """Chunks as the chain yields text. A tier that fails before its first text falls back to the next; one
        that fails after it ends the stream with its error (the record says so)."""
        with turn.recording(), closing(turn.chain.stream(request)) as deltas:
            try:
                for tier, piece in deltas:
                    yield from turn.piece(tier, piece)
            except BackendError:
                yield from turn.flush()  # the text held back for scrubbing, then the error
                raise
            yield from turn.end()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class AsyncHybridClient(BaseClient):
    """Asynchronous mirror: `await client.chat.completions.create(...)`."""

    @cached_property
    def chat(self) -> _AsyncChat:
        return _AsyncChat(_AsyncCompletions(self))

    async def _create(self, params: dict):
        t0 = time.perf_counter()
        if offload.large(params):  # validation, the personal-data scan and scoring grow with the text
            request, decision = await offload.run(self.prepare, params)
        else:
            request, decision = self.prepare(params)
        if request.stream:
            turn = self._turn(request, decision, t0)
            return AsyncHybridStream(self._chunks(request, turn), turn.ended_early)
        rid, chain = new_request_id(), self.chain(decision, request)
        try:
            await chain.acomplete(request)
        except BackendError:
            self._record(request, decision, rid, t0, chain)
            raise
        except asyncio.CancelledError:  # the caller left (the server cancels on disconnect): the tier stopped
            self._record(request, decision, rid, t0, chain, error=f"{CLIENT_WENT_AWAY}: cancelled before the answer")
            raise
        return self._completion(request, decision, rid, t0, chain)

    async def _chunks(self, request, turn: StreamTurn):
        """The async mirror of HybridClient._chunks."""
        with turn.recording():
            async with aclosing(turn.chain.astream(request)) as deltas:
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
        self.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.close()


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
