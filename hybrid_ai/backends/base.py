"""The Backend seam: one required method, `complete(request, generation) -> BackendResult`.

`acomplete` defaults to running `complete` in a worker thread; backends with a native async path
(litellm) override it. `runs_locally` tells telemetry whether this machine's energy counters apply."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..policy import Generation
    from ..types import BackendResult, ChatRequest


@dataclass
class StreamState:
    """Filled by a backend's stream when it ends: the result (text, tokens, ttft) for the record."""

    result: BackendResult | None = None


_END = object()


class Backend:
    name: str = "backend"
    runs_locally: bool = False

    def complete(self, request: ChatRequest, generation: Generation) -> BackendResult:
        raise NotImplementedError

    async def acomplete(self, request: ChatRequest, generation: Generation) -> BackendResult:
        return await asyncio.to_thread(self.complete, request, generation)

    def stream(self, request: ChatRequest, generation: Generation, state: StreamState) -> Iterator[str]:
        """Text deltas as they are generated; sets `state.result` at the end. Default: one delta."""
        state.result = self.complete(request, generation)
        if state.result.text:
            yield state.result.text

    async def astream(self, request: ChatRequest, generation: Generation, state: StreamState) -> AsyncIterator[str]:
        it = self.stream(request, generation, state)
        while (piece := await asyncio.to_thread(next, it, _END)) is not _END:
            yield piece

    def warmup(self) -> None:
        """Load what the first request would otherwise load (models, imports). Optional."""

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name}


def sampling(request: ChatRequest, generation: Generation) -> dict[str, Any]:
    """A request's own sampling parameters win over the tier's defaults."""
    return {
        "max_tokens": request.max_tokens or generation.max_tokens,
        "temperature": generation.temperature if request.temperature is None else request.temperature,
        "top_p": request.top_p if request.top_p is not None else generation.top_p,
    }


def build_backend(tier_name: str, tier) -> Backend:
    """The Backend serving one tier of a policy. Heavy libraries load later, on first use."""
    if tier.backend == "transformers":
        from .transformers_backend import TransformersBackend

        return TransformersBackend(tier_name, tier)
    if tier.backend == "litellm":
        from .litellm_backend import LiteLLMBackend

        return LiteLLMBackend(tier_name, tier)
    raise ValueError(f"unknown backend {tier.backend!r}")  # unreachable: the policy validates it
