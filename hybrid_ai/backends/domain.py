"""A local tier with a domain adapter (`tiers.NAME.domain`): one model for the domain, one for everything else.

A LoRA fine-tune on a team's few dozen questions learns them and forgets some of everything else (measured: the
bundled suite's local quality 40.3% -> 27.4%). Here a request whose question is at least `min_similarity` alike to
one of the domain's training questions (references.py, by TF-IDF or sentence embeddings) goes to the domain's
model (the base with the domain adapter merged), with the answers of the `context` nearest ones in its system
message when it was trained so; any other request to the tier's own model, whose answers are unchanged. Both are
loaded once per process by their engine, so the tier holds two models (the bundled SLM: about 300 MiB more with
ONNX Runtime int8). A batch is split between the two and answered in its order. The record's `adapter` names
the one that answered."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator, Generator
from typing import TYPE_CHECKING, Any

from .base import Backend, StreamState, WrapperBackend

if TYPE_CHECKING:
    from ..references import References
    from ..types import BackendResult, ChatRequest, Piece


class DomainSplit(WrapperBackend):
    """`inner` answers every request but the domain's, which `domain` answers."""

    def __init__(self, inner: Backend, domain: Backend, references: References, context: int = 0):
        super().__init__(inner)
        self.domain, self.references, self.context = domain, references, context

    def for_request(self, request: ChatRequest) -> Backend:
        return self.domain if self.references.near(request.question) else self.inner

    def _routed(self, request: ChatRequest) -> tuple[Backend, ChatRequest]:
        """The backend for `request`, and the request as it gets it: the domain's model with the `context`
        nearest references' answers in its system message (as it was trained)."""
        backend = self.for_request(request)
        if backend is self.inner or not self.context:
            return backend, request
        from ..references import with_context
        from ..request import parse_messages

        answers = self.references.context(request.question, self.context)
        messages = with_context(request.as_openai_messages(), answers)
        return backend, dataclasses.replace(request, messages=parse_messages(messages))

    def complete(self, request: ChatRequest, generation) -> BackendResult:
        backend, request = self._routed(request)
        return backend.complete(request, generation)

    async def acomplete(self, request: ChatRequest, generation) -> BackendResult:
        backend, request = self._routed(request)
        return await backend.acomplete(request, generation)

    def stream(self, request: ChatRequest, generation, state: StreamState) -> Generator[Piece, None, None]:
        backend, request = self._routed(request)
        yield from backend.stream(request, generation, state)

    def astream(self, request: ChatRequest, generation, state: StreamState) -> AsyncGenerator[Piece, None]:
        backend, request = self._routed(request)
        return backend.astream(request, generation, state)

    def complete_batch(self, requests: list[ChatRequest], generation) -> list[Any]:
        routed = [self._routed(r) for r in requests]
        out: list[Any] = [None] * len(requests)
        for backend in (self.inner, self.domain):
            mine = [i for i, (b, _) in enumerate(routed) if b is backend]
            if mine:
                for i, got in zip(mine, backend.complete_batch([routed[i][1] for i in mine], generation)):
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
    from ..references import load_references

    d = tier.domain
    general = tier.model_copy(update={"domain": None})
    return DomainSplit(general.build(tier_name), general.model_copy(update={"adapter": d.adapter}).build(tier_name),
                       load_references(d.references, d.min_similarity, d.similarity, d.embedding_model), d.context)
