"""The fallback chain: try the decision's tiers in order; a tier whose error `fallback_on` accepts hands the request
to the next one. Streams fall back only before their first text (after it, the caller holds part of an answer
and the error ends the stream). `AllTiersFailed` carries every tier's error.

The predicate is the seam for what counts as a failure: any BackendError today; a local answer the verifier
doubts, in cascade mode, later."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator
from contextlib import aclosing, closing

from ..errors import AllTiersFailed, BackendError
from ..types import BackendResult, ChatRequest
from .base import StreamState
from .metered import Metered


def any_error(error: BackendError) -> bool:
    return True


class FallbackChain:
    def __init__(self, tiers: list[Metered], fallback_on: Callable[[BackendError], bool] = any_error,
                 attempts: list | None = None):
        self.tiers, self.fallback_on = tiers, fallback_on
        self.attempts = attempts if attempts is not None else []  # the list the tiers note their attempts in
        self.errors: list[BackendError] = []
        self.answered: str | None = None  # the tier that answered
        self.result: BackendResult | None = None

    def _failed(self, e: BackendError) -> bool:
        """Note the error; True when the next tier may try."""
        self.errors.append(e)
        return self.fallback_on(e)

    def _stream_failed(self, e: BackendError, started: bool) -> bool:
        """As `_failed`, for a stream: after its first text the error is the caller's (raised from here)."""
        if started:
            self.errors.append(e)
            raise e
        return self._failed(e)

    def complete(self, request: ChatRequest) -> BackendResult:
        for tier in self.tiers:
            try:
                self.result = tier.complete(request)
            except BackendError as e:
                if self._failed(e):
                    continue
                break
            self.answered = tier.name
            return self.result
        raise AllTiersFailed(self.errors)

    async def acomplete(self, request: ChatRequest) -> BackendResult:
        for tier in self.tiers:
            try:
                self.result = await tier.acomplete(request)
            except BackendError as e:
                if self._failed(e):
                    continue
                break
            self.answered = tier.name
            return self.result
        raise AllTiersFailed(self.errors)

    def stream(self, request: ChatRequest) -> Generator[tuple[str, str], None, None]:
        """(tier, text delta) pairs; `answered` and `result` are set when it ends."""
        for tier in self.tiers:
            state, started = StreamState(), False
            try:
                with closing(tier.stream(request, state)) as pieces:
                    for piece in pieces:
                        started = True
                        yield tier.name, piece
            except BackendError as e:
                if self._stream_failed(e, started):
                    continue
                break
            self.answered, self.result = tier.name, state.result
            return
        raise AllTiersFailed(self.errors)

    async def astream(self, request: ChatRequest) -> AsyncGenerator[tuple[str, str], None]:
        for tier in self.tiers:
            state, started = StreamState(), False
            try:
                async with aclosing(tier.astream(request, state)) as pieces:
                    async for piece in pieces:
                        started = True
                        yield tier.name, piece
            except BackendError as e:
                if self._stream_failed(e, started):
                    continue
                break
            self.answered, self.result = tier.name, state.result
            return
        raise AllTiersFailed(self.errors)
