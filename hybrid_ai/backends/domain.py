"""A local tier with a domain adapter (`tiers.NAME.domain`): one model for the domain, one for everything else.

A LoRA fine-tune on a team's few dozen questions learns them and forgets some of everything else (measured: the
bundled suite's local quality 40.3% -> 27.4%). Here a request whose nearest reference prompt (the domain's
training questions, references.py) is at least `min_similarity` alike goes to the domain's model (the base
with the domain adapter merged); any other request to the tier's own model, whose answers are unchanged. Both are
loaded once per process by their engine, so the tier holds two models (the bundled SLM: about 300 MiB more with
ONNX Runtime int8). A batch is split between the two and answered in its order. The record's `adapter` names
the one that answered."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .base import Backend, StreamState, WrapperBackend

if TYPE_CHECKING:
    from ..types import BackendResult, ChatRequest, Piece


@lru_cache(maxsize=8)
def _check(references: str, min_similarity: float):
    from ..references import References, read_references

    return References(read_references(references), min_similarity)


class DomainSplit(WrapperBackend):
    """`inner` answers every request but the domain's, which `domain` answers."""

    def __init__(self, inner: Backend, domain: Backend, references: str, min_similarity: float):
        super().__init__(inner)
        self.domain = domain
        self.check = _check(references, min_similarity)

    def for_request(self, request: ChatRequest) -> Backend:
        similarity, _ = self.check.nearest(request.text)
        return self.domain if similarity >= self.check.min_similarity else self.inner

    def complete(self, request: ChatRequest, generation) -> BackendResult:
        return self.for_request(request).complete(request, generation)

    async def acomplete(self, request: ChatRequest, generation) -> BackendResult:
        return await self.for_request(request).acomplete(request, generation)

    def stream(self, request: ChatRequest, generation, state: StreamState) -> Generator[Piece, None, None]:
        yield from self.for_request(request).stream(request, generation, state)

    def astream(self, request: ChatRequest, generation, state: StreamState) -> AsyncGenerator[Piece, None]:
        return self.for_request(request).astream(request, generation, state)

    def complete_batch(self, requests: list[ChatRequest], generation) -> list[Any]:
        picked = [self.for_request(r) for r in requests]
        out: list[Any] = [None] * len(requests)
        for backend in (self.inner, self.domain):
            mine = [i for i, b in enumerate(picked) if b is backend]
            if mine:
                for i, got in zip(mine, backend.complete_batch([requests[i] for i in mine], generation)):
                    out[i] = got
        return out

    def warmup(self) -> None:
        self.inner.warmup()
        self.domain.warmup()

    def ready(self) -> tuple[bool, str | None]:
        ok, why = self.inner.ready()
        return (ok, why) if not ok else self.domain.ready()

    def describe(self) -> dict[str, Any]:
        return {**self.inner.describe(), "domain": self.domain.describe()}


def split(tier_name: str, tier) -> DomainSplit:
    """The backend of a tier with a `domain`: its engine's twice, with and without the domain adapter."""
    d = tier.domain
    general = tier.model_copy(update={"domain": None})
    return DomainSplit(general.build(tier_name), general.model_copy(update={"adapter": d.adapter}).build(tier_name),
                       d.references, d.min_similarity)
