"""A tier's backend bound to its name and generation settings, timed and metered: every call appends one
`Attempt` (tier, model, latency, tokens, cost, energy, error) to the request's list, whether it answered, failed
or was cut short. The fallback chain tries a list of these; the eval answers through them too (`complete_batch`).

The four call shapes (complete, acomplete, stream, astream) share one `_attempt` context: load the model (a first
load counts in the request's latency, not in the attempt's cost), time and meter the call, note the attempt."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncGenerator, Generator, Iterator
from contextlib import aclosing, closing, contextmanager, nullcontext

from ..config import Generation
from ..errors import BackendError
from ..telemetry.energy import EnergyMeter
from ..telemetry.record import measure_attempt
from ..types import BackendResult, ChatRequest, Piece
from .base import Backend, StreamState, slot_of

CLIENT_WENT_AWAY = "client went away"
_NO_METER = nullcontext()


class _Outcome:
    """What the attempt produced, filled in by the call inside `_attempt`."""

    def __init__(self, state: StreamState | None = None):
        self.result: BackendResult | None = None
        self.state = state
        self.pieces: list = []  # text deltas and pieces of tool calls


_WARM: weakref.WeakSet[object] = weakref.WeakSet()  # backends whose warmup has succeeded


def _warmed(backend: object) -> None:
    try:
        _WARM.add(backend)
    except TypeError:  # a backend that cannot be weakly referenced: warmed up (a no-op) on each call
        pass


class Metered:
    def __init__(self, name: str, backend: Backend, policy, attempts: list, generation: Generation | None = None):
        self.name, self.backend, self.policy, self.attempts = name, backend, policy, attempts
        self.generation = generation or policy.tiers[name].generation

    def noting_in(self, attempts: list) -> Metered:
        """The same tier, noting its attempts in another list (one per request)."""
        return Metered(self.name, self.backend, self.policy, attempts, self.generation)

    def _meter(self):
        if not self.backend.runs_locally:
            return _NO_METER
        return EnergyMeter(getattr(self.backend, "device", "cpu"))  # loaded by warmup() just before

    def _note(self, result: BackendResult | None, wall_s: float, meter, error: BackendError | str | None = None,
              share: int = 1) -> None:
        """One attempt; `share` > 1 when the call answered that many requests together (a batch): each is charged
        its share of the machine time and energy, and waited the whole time."""
        if isinstance(error, BackendError):
            error.tier = error.tier or self.name  # a backend may not know its tier's name
        kind = error.kind if isinstance(error, BackendError) else ("cancelled" if error else None)
        text = error.message if isinstance(error, BackendError) else error
        self.attempts.append(measure_attempt(self.policy, self.name, result, wall_s,
                                             meter if isinstance(meter, EnergyMeter) else None, text, kind,
                                             share=share))

    def load(self) -> None:
        """Load the model (a no-op once loaded); a failure is noted as an attempt and raised."""
        if self.backend in _WARM:
            return
        t0 = time.perf_counter()
        try:
            self.backend.warmup()
        except BackendError as e:
            self._note(None, time.perf_counter() - t0, None, e)
            raise
        _warmed(self.backend)

    async def aload(self) -> None:
        """`load` in a worker thread, the first time only (a thread hop per request costs ~0.2 ms of CPU)."""
        if self.backend in _WARM:
            return
        t0 = time.perf_counter()
        try:
            await asyncio.to_thread(self.backend.warmup)
        except BackendError as e:
            self._note(None, time.perf_counter() - t0, None, e)
            raise
        _warmed(self.backend)

    @contextmanager
    def _attempt(self, outcome: _Outcome) -> Iterator[_Outcome]:
        t0, meter = time.perf_counter(), self._meter()
        try:
            with slot_of(self.backend), meter:
                yield outcome
        except BackendError as e:
            self._note(None, time.perf_counter() - t0, meter, e)
            raise
        except BaseException:  # a stream closed by the caller (GeneratorExit), or a call cancelled (the client left)
            result = self._partial(outcome) if outcome.state is not None else None
            self._note(result, time.perf_counter() - t0, meter, CLIENT_WENT_AWAY)
            raise
        self._note(outcome.result if outcome.state is None else outcome.state.result, time.perf_counter() - t0,
                   meter)

    def _partial(self, outcome: _Outcome) -> BackendResult:
        assert outcome.state is not None
        text = "".join(p for p in outcome.pieces if isinstance(p, str))  # not the pieces of tool calls
        return outcome.state.result or BackendResult(text=text, finish_reason="abandoned",
                                                     model=self.policy.tiers[self.name].model)

    def complete(self, request: ChatRequest) -> BackendResult:
        self.load()
        with self._attempt(_Outcome()) as out:
            out.result = self.backend.complete(request, self.generation)
        return out.result

    async def acomplete(self, request: ChatRequest) -> BackendResult:
        await self.aload()
        with self._attempt(_Outcome()) as out:
            out.result = await self.backend.acomplete(request, self.generation)
        return out.result

    def complete_batch(self, requests: list[ChatRequest]) -> list[BackendResult | BackendError]:
        """Several requests answered together where the engine batches (else one after another): one attempt
        each, charged 1/N of the batch's time; a request's error is its item, not the batch's."""
        self.load()
        if len(requests) == 1 or not self.backend.batches:
            return [self._one(r) for r in requests]
        t0, meter = time.perf_counter(), self._meter()
        with meter:
            got = self.backend.complete_batch(requests, self.generation)
        wall = time.perf_counter() - t0
        for r in got:
            if isinstance(r, BackendError):
                self._note(None, wall, meter, r, share=len(got))
            else:
                self._note(r, wall, meter, share=len(got))
        return got

    def _one(self, request: ChatRequest) -> BackendResult | BackendError:
        try:
            return self.complete(request)
        except BackendError as e:
            return e

    def stream(self, request: ChatRequest, state: StreamState) -> Generator[Piece, None, None]:
        """Text deltas; `state.result` at the end. A stream closed early notes a cut-short attempt."""
        self.load()
        with self._attempt(_Outcome(state)) as out, closing(self.backend.stream(request, self.generation,
                                                                                 state)) as it:
            for piece in it:
                out.pieces.append(piece)
                yield piece

    async def astream(self, request: ChatRequest, state: StreamState) -> AsyncGenerator[Piece, None]:
        await self.aload()
        with self._attempt(_Outcome(state)) as out:
            async with aclosing(self.backend.astream(request, self.generation, state)) as it:
                async for piece in it:
                    out.pieces.append(piece)
                    yield piece
