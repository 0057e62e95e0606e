"""A tier's backend bound to its name and generation settings, timed and metered: every call appends one
`Attempt` (tier, model, latency, tokens, cost, energy, error) to the request's list, whether it answered, failed
or was cut short. The fallback chain tries a list of these."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Generator
from contextlib import aclosing, closing, nullcontext

from ..errors import BackendError
from ..telemetry.energy import EnergyMeter
from ..telemetry.record import measure_attempt
from ..types import BackendResult, ChatRequest
from .base import Backend, StreamState

CLIENT_WENT_AWAY = "client went away"
_NO_METER = nullcontext()


class Metered:
    def __init__(self, name: str, backend: Backend, policy, attempts: list):
        self.name, self.backend, self.policy, self.attempts = name, backend, policy, attempts
        self.generation = policy.tiers[name].generation

    def _meter(self):
        if not self.backend.runs_locally:
            return _NO_METER
        return EnergyMeter(getattr(self.backend, "device", "cpu"))  # loaded by warmup() just before

    def _note(self, result: BackendResult | None, t0: float, meter, error: BackendError | str | None = None) -> None:
        if isinstance(error, BackendError):
            error.tier = error.tier or self.name  # a backend may not know its tier's name
        kind = error.kind if isinstance(error, BackendError) else ("cancelled" if error else None)
        text = error.message if isinstance(error, BackendError) else error
        self.attempts.append(measure_attempt(self.policy, self.name, result, time.perf_counter() - t0,
                                             meter if isinstance(meter, EnergyMeter) else None, text, kind))

    def _load_failed(self, e: BackendError, t0: float) -> None:
        self._note(None, t0, None, e)

    def complete(self, request: ChatRequest) -> BackendResult:
        t0 = time.perf_counter()
        try:
            self.backend.warmup()  # a first load counts in the request's latency, not in this attempt's cost
        except BackendError as e:
            self._load_failed(e, t0)
            raise
        t0, meter = time.perf_counter(), self._meter()
        try:
            with meter:
                result = self.backend.complete(request, self.generation)
        except BackendError as e:
            self._note(None, t0, meter, e)
            raise
        self._note(result, t0, meter)
        return result

    async def acomplete(self, request: ChatRequest) -> BackendResult:
        t0 = time.perf_counter()
        try:
            await asyncio.to_thread(self.backend.warmup)
        except BackendError as e:
            self._load_failed(e, t0)
            raise
        t0, meter = time.perf_counter(), self._meter()
        try:
            with meter:
                result = await self.backend.acomplete(request, self.generation)
        except BackendError as e:
            self._note(None, t0, meter, e)
            raise
        self._note(result, t0, meter)
        return result

    def _partial(self, pieces: list[str], state: StreamState) -> BackendResult:
        return state.result or BackendResult(text="".join(pieces), model=self.policy.tiers[self.name].model,
                                             finish_reason="abandoned")

    def stream(self, request: ChatRequest, state: StreamState) -> Generator[str, None, None]:
        """Text deltas; `state.result` at the end. A stream closed early notes a cut-short attempt."""
        t0 = time.perf_counter()
        try:
            self.backend.warmup()
        except BackendError as e:
            self._load_failed(e, t0)
            raise
        t0, meter, pieces = time.perf_counter(), self._meter(), []
        try:
            with meter, closing(self.backend.stream(request, self.generation, state)) as it:
                for piece in it:
                    pieces.append(piece)
                    yield piece
        except BackendError as e:
            self._note(None, t0, meter, e)
            raise
        except BaseException:  # closed by the caller (GeneratorExit) or cancelled
            self._note(self._partial(pieces, state), t0, meter, CLIENT_WENT_AWAY)
            raise
        self._note(state.result, t0, meter)

    async def astream(self, request: ChatRequest, state: StreamState) -> AsyncGenerator[str, None]:
        t0 = time.perf_counter()
        try:
            await asyncio.to_thread(self.backend.warmup)
        except BackendError as e:
            self._load_failed(e, t0)
            raise
        t0, meter, pieces = time.perf_counter(), self._meter(), []
        try:
            with meter:
                async with aclosing(self.backend.astream(request, self.generation, state)) as it:
                    async for piece in it:
                        pieces.append(piece)
                        yield piece
        except BackendError as e:
            self._note(None, t0, meter, e)
            raise
        except BaseException:
            self._note(self._partial(pieces, state), t0, meter, CLIENT_WENT_AWAY)
            raise
        self._note(state.result, t0, meter)
