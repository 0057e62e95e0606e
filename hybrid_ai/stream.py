"""Stream objects returned by `create(stream=True)`: iterate them for `ChatCompletionChunk`s, as with the OpenAI
SDK. `close()` / `aclose()` (or leaving a `with` block, or dropping the object) stops the tier's generation and
writes the request's record, whether the stream finished, failed, was abandoned half-way or never read.
After the last chunk, `hybrid` holds the routing facts and the record, `text` the whole answer and `tool_calls` the
tool calls it made, assembled."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator
from typing import TYPE_CHECKING, Any, cast

from .types import ToolCallParts

if TYPE_CHECKING:
    from .response import HybridChatCompletionChunk, SSEText


class _Base:
    def __init__(self, on_unread: Callable[[], None], as_frames: Callable[[], None] | None = None):
        self._on_unread, self._as_frames, self._started, self._closed = on_unread, as_frames, False, False
        self.hybrid: Any = None  # HybridInfo, from the last chunk
        self._text: list[str] = []
        self._calls = ToolCallParts()

    @property
    def text(self) -> str:
        return "".join(self._text)

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        """The tool calls streamed so far, assembled (OpenAI's `{"id", "type", "function": {"name", "arguments"}}`)."""
        return [{"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                for _, cid, name, args in self._calls.calls()]

    def as_frames(self) -> None:
        """Before the first chunk is read: text chunks come as `SSEText`, their server-sent event ready to write
        (`text` its content) instead of chunk objects; the others stay chunks. What the server asks for."""
        if self._started or self._as_frames is None:
            raise RuntimeError("as_frames() is for a stream of this package's clients, before its first chunk")
        self._as_frames()

    def _seen(self, chunk: Any) -> Any:
        if isinstance(chunk, str):  # an SSEText
            self._text.append(chunk.text)  # type: ignore[attr-defined]
            return chunk
        delta = chunk.choices[0].delta if chunk.choices else None
        if delta is not None and delta.content:
            self._text.append(delta.content)
        for piece in (delta.tool_calls or []) if delta is not None else []:
            self._calls.add(piece)
        if getattr(chunk, "hybrid", None) is not None:
            self.hybrid = chunk.hybrid
        return chunk

    def _close_unread(self) -> bool:
        """Record a stream closed before it was read; True when there is nothing else to close."""
        if self._closed:
            return True
        self._closed = True
        if not self._started:
            self._on_unread()
            return True
        return False


class HybridStream(_Base):
    def __init__(self, chunks: Generator[HybridChatCompletionChunk | SSEText, None, None], on_unread: Callable[[], None],
                 as_frames: Callable[[], None] | None = None):
        super().__init__(on_unread, as_frames)
        self._chunks = chunks

    def __iter__(self) -> HybridStream:
        return self

    def __next__(self) -> HybridChatCompletionChunk:
        self._started = True
        return cast("HybridChatCompletionChunk", self._seen(next(self._chunks)))  # an SSEText after as_frames()

    def close(self) -> None:
        if not self._close_unread():
            self._chunks.close()

    def __enter__(self) -> HybridStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


class AsyncHybridStream(_Base):
    def __init__(self, chunks: AsyncGenerator[HybridChatCompletionChunk | SSEText, None], on_unread: Callable[[], None],
                 as_frames: Callable[[], None] | None = None):
        super().__init__(on_unread, as_frames)
        self._chunks = chunks

    def __aiter__(self) -> AsyncHybridStream:
        return self

    async def __anext__(self) -> HybridChatCompletionChunk:
        self._started = True
        return cast("HybridChatCompletionChunk", self._seen(await self._chunks.__anext__()))

    async def aclose(self) -> None:
        if not self._close_unread():
            await self._chunks.aclose()

    async def __aenter__(self) -> AsyncHybridStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        if not self._closed and not self._started:  # a started one is closed by the event loop's finalizer
            try:
                self._closed = True
                self._on_unread()
            except Exception:  # pragma: no cover - interpreter shutdown
                pass
