"""Test doubles for the Backend seam, for testing code that uses hybrid-ai (as httpx ships `MockTransport`):

- `ScriptedBackend(tier, pieces, fail_at)`: answers `pieces` joined (or streams them one by one), failing with a
  BackendError before any piece (`fail_at=0`), after N pieces, or never (None); counts `calls` and `closed`
  streams. Pass it as `HybridClient(policy, backends={"cloud": ScriptedBackend("cloud")})`: it is wrapped like a
  built tier (masking included), so a test sees exactly what that tier would be sent.
- `EchoBackend(tier, fail=None)`: answers the last user message's first `max_tokens` words at once, or fails with
  `fail` as its error (used to measure routing overhead without model time).

Neither loads a model or opens a connection."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Sequence
from typing import TYPE_CHECKING

from .backends.base import Backend, StreamState
from .backends.echo import EchoBackend
from .errors import BackendError
from .types import BackendResult

if TYPE_CHECKING:
    from .config import Generation
    from .types import ChatRequest, Piece

__all__ = ["EchoBackend", "ScriptedBackend"]


class ScriptedBackend(Backend):
    """A scripted tier: `pieces` as its answer, failing where `fail_at` says."""

    name = "scripted"
    runs_locally = False

    def __init__(self, tier: str, pieces: Sequence[str] = ("hello", " world"), fail_at: int | None = None):
        self.tier, self.pieces, self.fail_at = tier, list(pieces), fail_at
        self.calls, self.closed = 0, 0

    def _fail(self) -> None:
        raise BackendError(f"{self.tier} scripted failure", tier=self.tier)

    def _answer(self) -> BackendResult:
        return BackendResult("".join(self.pieces), model=f"{self.tier}-model", prompt_tokens=3,
                             completion_tokens=len(self.pieces))

    def complete(self, request: ChatRequest, generation: Generation) -> BackendResult:
        self.calls += 1
        if self.fail_at is not None:
            self._fail()
        return self._answer()

    async def acomplete(self, request: ChatRequest, generation: Generation) -> BackendResult:
        return self.complete(request, generation)

    def stream(self, request: ChatRequest, generation: Generation, state: StreamState) -> Generator[Piece, None, None]:
        self.calls += 1
        try:
            for i, piece in enumerate(self.pieces):
                if self.fail_at == i:
                    self._fail()
                yield piece
            if self.fail_at is not None and self.fail_at >= len(self.pieces):
                self._fail()
            state.result = self._answer()
        finally:
            self.closed += 1

    async def astream(self, request: ChatRequest, generation: Generation,
                      state: StreamState) -> AsyncGenerator[Piece, None]:
        for piece in self.stream(request, generation, state):
            yield piece
