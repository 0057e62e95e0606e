"""The fallback chain: try the decision's tiers in order; a tier whose error `fallback_on` accepts hands the request
to the next one. Streams fall back only before their first text (after it, the caller holds part of an answer
and the error ends the stream). `AllTiersFailed` carries every tier's error.

`fallback_on` says which errors hand on (any BackendError by default). `check` (cascade mode, checks/cascade.py)
reads a tier's answer and raises `Escalated` when the verifier doubts it: that tier's attempt is marked
escalated and the next tier answers. `validate` (checks/structured.py) does the same for an answer that is not the
JSON the request asked for. A stream from a checked tier is held until the check (it needs the whole answer), then
given as one piece. When every tier after a verifier's escalation fails (the cloud is down, its key is missing),
the doubted answer is given rather than none: the record says `escalated` and keeps every error. An answer that
is not the JSON asked for is never given."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator, Iterator
from contextlib import aclosing, closing, contextmanager
from typing import TYPE_CHECKING

from ..errors import AllTiersFailed, BackendError
from ..types import BackendResult, ChatRequest, Piece
from .base import StreamState, result_pieces
from .metered import Metered

if TYPE_CHECKING:
    from ..checks.cascade import Check
    from ..checks.structured import OutputCheck


def any_error(error: BackendError) -> bool:
    return True


class _Try:
    started = False  # a stream gave its first text


class FallbackChain:
    def __init__(self, tiers: list[Metered], fallback_on: Callable[[BackendError], bool] = any_error,
                 attempts: list | None = None, check: Check | None = None, validate: OutputCheck | None = None):
        self.tiers, self.fallback_on, self.check = tiers, fallback_on, check
        self.checks = [c for c in (validate, check) if c is not None]  # the format first, then the verifier
        self.attempts = attempts if attempts is not None else []  # the list the tiers note their attempts in
        self.errors: list[BackendError] = []
        self.answered: str | None = None  # the tier that answered
        self.result: BackendResult | None = None
        self.doubted: tuple[Metered, BackendResult] | None = None  # the answer the verifier escalated

    def _order(self) -> Iterator[Metered]:
        """The tiers to try: the next one only while every error so far was one `fallback_on` accepts."""
        for tier in self.tiers:
            if self.errors and not self.fallback_on(self.errors[-1]):
                return
            yield tier

    @contextmanager
    def _trying(self) -> Iterator[_Try]:
        """One tier's try: its BackendError is noted and swallowed (the loop goes on to the next tier), unless
        a stream had already given text (then the caller holds part of an answer and the error is theirs)."""
        attempt = _Try()
        try:
            yield attempt
        except BackendError as e:
            self.errors.append(e)
            if attempt.started:
                raise

    def _done(self, tier: Metered, result: BackendResult | None) -> None:
        self.answered, self.result = tier.name, result

    def _last_resort(self) -> BackendResult:
        """Every tier failed: the doubted answer of an escalation if there is one, else AllTiersFailed."""
        if self.doubted is None:
            raise AllTiersFailed(self.errors)
        tier, result = self.doubted
        self._done(tier, result)
        return result

    def complete(self, request: ChatRequest) -> BackendResult:
        for tier in self._order():
            with self._trying():
                return self._answer(tier, tier.complete(request))
        return self._last_resort()

    async def acomplete(self, request: ChatRequest) -> BackendResult:
        for tier in self._order():
            with self._trying():
                return self._answer(tier, await tier.acomplete(request))
        return self._last_resort()

    def _answer(self, tier: Metered, result: BackendResult) -> BackendResult:
        for check in self.checks:
            try:
                check(tier.name, result)
            except BackendError as e:  # escalated: the attempt that gave this answer says why
                self.attempts[-1] = self.attempts[-1].model_copy(update={"error": e.message, "error_kind": e.kind})
                if e.kind == "escalated":
                    self.doubted = (tier, result)
                raise
        self._done(tier, result)
        return result

    def _held(self, tier: Metered) -> bool:
        return any(c.holds(tier.name) for c in self.checks)

    def stream(self, request: ChatRequest) -> Generator[tuple[str, Piece], None, None]:
        """(tier, piece) pairs, a piece being a text delta or a piece of a tool call; `answered` and `result` are
        set when it ends."""
        for tier in self._order():
            if self._held(tier):
                held = None
                with self._trying():
                    held = self._answer(tier, tier.complete(request))
                if held is not None:
                    for piece in result_pieces(held):
                        yield tier.name, piece
                    return
                continue
            state = StreamState()
            with self._trying() as attempt, closing(tier.stream(request, state)) as pieces:
                for piece in pieces:
                    attempt.started = True
                    yield tier.name, piece
                self._done(tier, state.result)
                return
        for piece in result_pieces(self._last_resort()):
            yield self.answered or "", piece

    async def astream(self, request: ChatRequest) -> AsyncGenerator[tuple[str, Piece], None]:
        for tier in self._order():
            if self._held(tier):
                held = None
                with self._trying():
                    held = self._answer(tier, await tier.acomplete(request))
                if held is not None:
                    for piece in result_pieces(held):
                        yield tier.name, piece
                    return
                continue
            state = StreamState()
            with self._trying() as attempt:
                async with aclosing(tier.astream(request, state)) as pieces:
                    async for piece in pieces:
                        attempt.started = True
                        yield tier.name, piece
                self._done(tier, state.result)
                return
        for piece in result_pieces(self._last_resort()):
            yield self.answered or "", piece
