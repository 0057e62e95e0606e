"""The Backend seam: one required method, `complete(request, generation) -> BackendResult`.

`acomplete` defaults to running `complete` in a worker thread; backends with a native async path
(litellm) override it; `complete_batch` defaults to one request after another (the local engines batch).
`runs_locally` tells telemetry whether this machine's energy counters apply."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Generator, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..errors import BackendError

if TYPE_CHECKING:
    from ..config import Generation
    from ..types import BackendResult, ChatRequest, Piece


@dataclass
class StreamState:
    """Filled by a backend's stream when it ends: the result (text, tokens, ttft) for the record.
    `cancelled` is set when the caller stops reading; a generating backend stops within a token or so."""

    result: BackendResult | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)


def result_pieces(result: BackendResult) -> list[Piece]:
    """A whole answer as stream pieces: its text, then each tool call whole (as one piece)."""
    from ..types import ToolCallDelta

    out: list[Piece] = [result.text] if result.text else []
    return out + [ToolCallDelta(i, c.id, c.name, c.arguments) for i, c in enumerate(result.tool_calls or [])]


class Backend:
    name: str = "backend"
    runs_locally: bool = False
    batches: bool = False  # complete_batch answers several requests in one generation (not one after another)
    cacheable: bool = True  # the eval may cache its answers (replayed answers are not worth caching)
    # `stream` gives the same answer as `complete` and stops when `state.cancelled` is set: `acomplete` then runs
    # through it, so a cancelled call (a caller that left) stops generating within a token
    cancels: bool = False

    def complete(self, request: ChatRequest, generation: Generation) -> BackendResult:
        raise NotImplementedError

    def complete_batch(self, requests: list[ChatRequest], generation: Generation) -> list[BackendResult | BackendError]:
        """One result or error per request. Default: one after another; engines that batch override it (and set
        `batches`)."""
        out: list[BackendResult | BackendError] = []
        for r in requests:
            try:
                out.append(self.complete(r, generation))
            except BackendError as e:
                out.append(e)
        return out

    async def acomplete(self, request: ChatRequest, generation: Generation) -> BackendResult:
        if not self.cancels:
            return await asyncio.to_thread(self.complete, request, generation)
        state = StreamState()
        pieces = self.astream(request, generation, state)
        try:
            async for _ in pieces:
                pass
        finally:
            await pieces.aclose()  # sets state.cancelled: the worker stops at its next token
        if state.result is None:
            raise BackendError("the stream ended without a result", kind="generation")
        return state.result

    def stream(self, request: ChatRequest, generation: Generation, state: StreamState) -> Generator[Piece, None, None]:
        """Text deltas as they are generated; sets `state.result` at the end. Default: one delta."""
        state.result = self.complete(request, generation)
        yield from result_pieces(state.result)

    async def astream(self, request: ChatRequest, generation: Generation,
                      state: StreamState) -> AsyncGenerator[Piece, None]:
        """`stream` run in a worker thread that hands each piece to the event loop. When the caller stops reading
        (closes or cancels this generator), `state.cancelled` is set and the worker closes `stream`."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def put(item: tuple[str, Any]) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is gone: nobody is reading
                state.cancelled.set()

        def pump() -> None:
            it = self.stream(request, generation, state)
            try:
                for piece in it:
                    if state.cancelled.is_set():
                        break
                    put(("piece", piece))
                put(("end", None))
            except BaseException as e:  # handed to the reader, raised there
                put(("error", e))
            finally:
                it.close()

        loop.run_in_executor(None, pump)
        try:
            while True:
                kind, value = await queue.get()
                if kind == "piece":
                    yield value
                elif kind == "error":
                    raise value
                else:
                    break
        finally:
            state.cancelled.set()

    def slot(self) -> AbstractContextManager[object]:
        """Held around each call (Metered): a tier with a bounded queue raises BackendError `overloaded` here when
        it is full. Default: unbounded."""
        return nullcontext()

    def warmup(self) -> None:
        """Load what the first request would otherwise load (models, imports). Optional."""

    def ready(self) -> tuple[bool, str | None]:
        """Whether this tier can answer now, without loading anything; if not, what is missing (for /healthz)."""
        return True, None

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name}


@runtime_checkable
class BackendProtocol(Protocol):
    """What the client asks of a tier's backend. Subclassing `Backend` gives every method but `complete` a
    default; any object with these methods works too (`HybridClient(backends=...)`)."""

    name: str
    runs_locally: bool

    def complete(self, request: ChatRequest, generation: Generation) -> BackendResult: ...
    async def acomplete(self, request: ChatRequest, generation: Generation) -> BackendResult: ...
    def stream(self, request: ChatRequest, generation: Generation,
               state: StreamState) -> Generator[Piece, None, None]: ...
    def astream(self, request: ChatRequest, generation: Generation,
                state: StreamState) -> AsyncGenerator[Piece, None]: ...
    def warmup(self) -> None: ...
    def ready(self) -> tuple[bool, str | None]: ...
    def describe(self) -> dict[str, Any]: ...


class WrapperBackend(Backend):
    """A Backend around another one (`inner`): behaviour added by wrapping, not by branches. Every method passes
    through to `inner` until a subclass overrides it; attributes it does not have are `inner`'s (its device,
    tier, ...). Masking is one (privacy/masking.py)."""

    def __init__(self, inner: Backend):
        self.inner = inner
        self.name, self.runs_locally = inner.name, inner.runs_locally
        self.cacheable = getattr(inner, "cacheable", True)  # a duck-typed backend may not say
        self.batches = getattr(inner, "batches", False)

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not set yet (during unpickling, say): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    def complete(self, request: ChatRequest, generation: Generation) -> BackendResult:
        return self.inner.complete(request, generation)

    async def acomplete(self, request: ChatRequest, generation: Generation) -> BackendResult:
        return await self.inner.acomplete(request, generation)

    def stream(self, request: ChatRequest, generation: Generation, state: StreamState) -> Generator[Piece, None, None]:
        yield from self.inner.stream(request, generation, state)

    def astream(self, request: ChatRequest, generation: Generation,
                state: StreamState) -> AsyncGenerator[Piece, None]:
        return self.inner.astream(request, generation, state)

    def warmup(self) -> None:
        self.inner.warmup()

    def ready(self) -> tuple[bool, str | None]:
        return self.inner.ready()

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

    def slot(self) -> AbstractContextManager[object]:
        return slot_of(self.inner)


def slot_of(backend: object) -> AbstractContextManager[object]:
    """The backend's queue place (`Backend.slot`); a duck-typed backend without one has no queue."""
    slot = getattr(backend, "slot", None)
    return slot() if slot is not None else nullcontext()


MIN_TEMPERATURE = 1e-4  # below it, every local engine decodes greedily (1e-270 would turn logits into inf)


def sampling(request: ChatRequest, generation: Generation) -> dict[str, Any]:
    """A request's own sampling parameters win over the tier's defaults."""
    return {
        "max_tokens": request.max_tokens or generation.max_tokens,
        "temperature": generation.temperature if request.temperature is None else request.temperature,
        "top_p": request.top_p if request.top_p is not None else generation.top_p,
    }



def cut_at_stop(text: str, stops: Iterable[str]) -> str:
    """Stop strings are excluded from the answer, as in the OpenAI API."""
    cut = min((text.index(s) for s in stops if s in text), default=len(text))
    return text[:cut]


def drain(pieces: Generator[Piece | BackendResult, None, None], state: StreamState) -> Generator[Piece, None, None]:
    """The text pieces of a generator whose last item is its BackendResult (kept in `state.result`); closing this
    closes the generator, so an abandoned stream stops the engine."""
    from contextlib import closing

    from ..types import BackendResult

    with closing(pieces):
        for piece in pieces:
            if isinstance(piece, BackendResult):
                state.result = piece
            else:
                yield piece

