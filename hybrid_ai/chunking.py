"""One streamed request turned into chunks, whichever way the chain is run (sync or async): the first chunk (the
role) before the first text, a chunk per text delta, the last chunks with finish reason, usage and the record, and
exactly one record whether the stream finished, failed or was abandoned. The clients' generators only drive it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

from .backends.metered import CLIENT_WENT_AWAY
from .errors import BackendError
from .privacy.redact import StreamScrubber
from .types import Piece, ToolCallDelta

if TYPE_CHECKING:
    from .response import HybridChatCompletionChunk, SSEText, TextFrames
    from .turn import Turn
    from .types import RouteRecord


class StreamTurn:
    """A streamed `Turn`: its chunks, and its record once, however the stream ends."""

    def __init__(self, turn: Turn):
        self.turn, self.request, self.chain, self.rid = turn, turn.request, turn.chain, turn.rid
        self.decision, self.tiers = turn.decision, turn.policy.tiers
        self.pieces, self.recorded, self._model = 0, False, ""
        self._scrub = StreamScrubber()  # the answer reaches the caller without secrets, in text and tool calls
        self._call_scrub: dict[int, StreamScrubber] = {}
        self._frames: TextFrames | None = None

    def as_frames(self) -> None:
        """Text deltas from now on as `SSEText` (their server-sent event, ready to write) instead of chunk
        objects: what the server asks for, as it only writes them out."""
        from .response import TextFrames

        self._frames = TextFrames(self.rid)

    def _text(self, model: str, text: str) -> HybridChatCompletionChunk | SSEText:
        from .response import make_chunk

        return make_chunk(self.rid, model, content=text) if self._frames is None else self._frames(model, text)

    def _record(self, error: str | None = None) -> RouteRecord:
        self.recorded = True
        return self.turn.finish(error)

    def _start(self, tier: str) -> HybridChatCompletionChunk:
        from .response import make_chunk

        return make_chunk(self.rid, self.tiers[tier].model, role="assistant", content="")

    def piece(self, tier: str, piece: Piece) -> list[HybridChatCompletionChunk | SSEText]:
        """The chunk of a text delta, or of a piece of a tool call."""
        from .response import make_chunk

        first = [self._start(tier)] if not self.pieces else []
        self.pieces += 1
        model = self._model = self.tiers[tier].model
        if isinstance(piece, str):
            text = self._scrub.add(piece)
            return first + ([self._text(model, text)] if text else [])
        args = self._call_scrub.setdefault(piece.index, StreamScrubber()).add(piece.arguments)
        return [*first, make_chunk(self.rid, model, call=replace(piece, arguments=args))]

    def flush(self) -> list[HybridChatCompletionChunk | SSEText]:
        """The text the scrubbers still hold, as chunks: sent before the error of a stream that fails midway."""
        return self._held(self._model) if self.pieces else []

    def _held(self, model: str) -> list[HybridChatCompletionChunk | SSEText]:
        """What the scrubbers still hold at the end of the answer, as chunks."""
        from .response import make_chunk

        out = [self._text(model, text)] if (text := self._scrub.rest()) else []
        return out + [make_chunk(self.rid, model, call=ToolCallDelta(i, arguments=rest))
                      for i, s in self._call_scrub.items() if (rest := s.rest())]

    def end(self) -> list[HybridChatCompletionChunk | SSEText]:
        """The last chunks: finish reason and the `hybrid` field with the record (and usage, also in a chunk of
        its own with no choices when the request asked for stream_options.include_usage)."""
        from .response import make_chunk, make_usage_chunk

        answered, result = self.chain.answered, self.chain.result
        assert answered is not None and result is not None  # the chain returned, so a tier answered
        first = ([] if self.pieces else [self._start(answered)]) + self._held(result.model)
        record = self._record()
        last = make_chunk(self.rid, result.model, finish=result.finish_reason, result=result,
                          decision=self.decision, record=record)
        return first + ([last, make_usage_chunk(self.rid, result)] if self.request.include_usage else [last])

    def ended_early(self, why: BaseException | None = None) -> None:
        """The record of a stream that ended early: closed by the caller (or never read), or broken by something
        unexpected. The tier that was answering is the last attempt."""
        if why is None or isinstance(why, (GeneratorExit, asyncio.CancelledError)):
            error = f"{CLIENT_WENT_AWAY}: the stream was closed after {self.pieces} text chunk(s)"
        else:
            error = f"the stream ended after {self.pieces} text chunk(s) on {type(why).__name__}: {why}"
        self._record(error=error)

    @contextmanager
    def recording(self) -> Iterator[StreamTurn]:
        """Around the generator's body: a failure (every tier failed, or a tier failed after its first text) is
        recorded with the attempts' errors; anything else that ends it early (GeneratorExit when closed,
        CancelledError, a bug) is recorded as an early end saying which."""
        try:
            yield self
        except BackendError:
            if not self.recorded:
                self._record()
            raise
        except BaseException as e:
            if not self.recorded:
                self.ended_early(e)
            raise
