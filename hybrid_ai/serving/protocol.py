"""The OpenAI protocol without I/O: request body bytes -> parameters; results -> JSON and SSE lines; errors ->
OpenAI error JSON with an HTTP status. The FastAPI app is a thin adapter over this module.

Every text that reaches a caller goes through `redact.public_message`: no keys, tracebacks or file paths."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..errors import AllTiersFailed, BudgetExceeded, HybridAIError, InvalidRequest, LimitStoreUnavailable, RateLimited
from ..privacy.redact import public_message

MAX_DEPTH = 64  # JSON nesting a chat request needs is under 10; deeper is refused before parsing


@dataclass(frozen=True)
class ErrorReply:
    status: int
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None
    retry_after_s: int | None = None  # the Retry-After header of a 429 or 503

    def body(self) -> dict[str, Any]:
        return {"error": {"message": public_message(self.message), "type": self.type,
                          "param": self.param, "code": self.code}}


def too_large(limit: int) -> ErrorReply:
    return ErrorReply(413, f"request body is over {limit:,} bytes (server.max_body_bytes)", code="body_too_large")


def _depth_ok(raw: bytes) -> bool:
    """Whether brackets nest at most MAX_DEPTH deep (brackets inside strings count too: a safe over-estimate).
    Most bodies have fewer brackets than that in all; the others are counted in one vectorised pass."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return True
    import numpy as np

    b = np.frombuffer(raw, dtype=np.uint8)
    step = (b == 0x5B).astype(np.int32) + (b == 0x7B) - (b == 0x5D) - (b == 0x7D)
    return int(np.cumsum(step).max()) <= MAX_DEPTH


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object of a chat request body; InvalidRequest says what is wrong with it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidRequest(f"request body is not valid UTF-8 (byte {e.start})") from None
    if not _depth_ok(raw):
        raise InvalidRequest(f"request body nests deeper than {MAX_DEPTH} levels") from None
    try:
        body = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidRequest(f"request body is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    except (ValueError, RecursionError) as e:  # e.g. an integer of more than 4,300 digits
        raise InvalidRequest(f"request body cannot be read: {str(e)[:120]}") from None
    if not isinstance(body, dict):
        raise InvalidRequest(f"request body must be a JSON object, got {type(body).__name__}")
    return body


def error_reply(exc: BaseException) -> ErrorReply:
    """The OpenAI-style error for an exception raised while answering (400 bad input, 502 no tier answered)."""
    if isinstance(exc, InvalidRequest):
        return ErrorReply(400, str(exc), param=exc.field)
    if isinstance(exc, RateLimited):
        return ErrorReply(429, str(exc), type="rate_limit_error", code="rate_limited", retry_after_s=exc.retry_after_s)
    if isinstance(exc, LimitStoreUnavailable):
        return ErrorReply(503, str(exc), type="server_error", code="limit_store_unavailable", retry_after_s=1)
    if isinstance(exc, BudgetExceeded):
        return ErrorReply(429, str(exc), type="insufficient_quota", code="budget_exceeded")
    if isinstance(exc, AllTiersFailed):
        if exc.errors and all(e.kind == "overloaded" for e in exc.errors):
            return ErrorReply(503, str(exc), type="server_error", code="local_queue_full", retry_after_s=1)
        return ErrorReply(502, str(exc), type="backend_error", code="all_tiers_failed")
    if isinstance(exc, HybridAIError):
        return ErrorReply(500, str(exc), type="server_error")
    return ErrorReply(500, f"internal error ({type(exc).__name__}); the server log has the details",
                      type="server_error")


def sse(chunk) -> str:
    """One server-sent event for a chat.completion.chunk (or the final `[DONE]` for None; an `SSEText` is one)."""
    if chunk is None:
        return "data: [DONE]\n\n"
    if isinstance(chunk, str):
        return chunk
    return f"data: {chunk.model_dump_json(exclude_none=True)}\n\n"


def sse_error(exc: BaseException) -> str:
    """The event that ends a stream that failed after its first chunk (the status line is already sent)."""
    reply = error_reply(exc)
    return f"data: {json.dumps(reply.body())}\n\n"


def events(first, rest):
    """The SSE lines of a stream whose first chunk is already out of `rest` (taken before the status was sent, so a
    failure there could still fall back or be an error status). An error after it ends the stream with an error
    event; closing this generator (the caller went away) closes `rest`, which stops the tier and writes its record."""
    try:
        yield sse(first)
        try:
            for chunk in rest:
                yield sse(chunk)
        except Exception as e:
            yield sse_error(e)
        yield sse(None)
    finally:
        rest.close()


async def aevents(first, rest, on_error=None):
    """The async twin of `events`; `on_error(e)` sees an error before its event is sent (the server logs it)."""
    try:
        yield sse(first)
        try:
            async for chunk in rest:
                yield sse(chunk)
        except Exception as e:
            if on_error is not None:
                on_error(e)
            yield sse_error(e)
        yield sse(None)
    finally:
        await rest.aclose()
