"""The value returned to callers: a real `openai.types.chat.ChatCompletion` with a `hybrid` field.

Imported on the first response only: the openai types take about a second to import."""

from __future__ import annotations

import time

from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessage
from openai.types.chat.chat_completion import Choice
from openai.types.chat.chat_completion_chunk import Choice as ChunkChoice
from openai.types.chat.chat_completion_chunk import ChoiceDelta
from openai.types.completion_usage import CompletionUsage

from .types import BackendResult, HybridInfo, RouteDecision, RouteRecord


class HybridChatCompletion(ChatCompletion):
    hybrid: HybridInfo


def make_completion(decision: RouteDecision, result: BackendResult, record: RouteRecord) -> HybridChatCompletion:
    usage = _usage(result)
    finish = result.finish_reason if result.finish_reason in ("stop", "length", "content_filter") else "stop"
    return HybridChatCompletion(
        id=record.request_id,
        object="chat.completion",
        created=int(time.time()),
        model=result.model,
        choices=[Choice(index=0, finish_reason=finish,
                        message=ChatCompletionMessage(role="assistant", content=result.text))],
        usage=usage,
        hybrid=_info(decision, record),
    )


def _info(decision: RouteDecision, record: RouteRecord) -> HybridInfo:
    return HybridInfo(route=record.route, reason=record.reason, score=record.score, threshold=record.threshold,
                      tiers=list(decision.tiers), fallback=record.fallback, record=record)


def _usage(result: BackendResult) -> CompletionUsage | None:
    if result.prompt_tokens is None or result.completion_tokens is None:
        return None
    return CompletionUsage(prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
                           total_tokens=result.prompt_tokens + result.completion_tokens)


class HybridChatCompletionChunk(ChatCompletionChunk):
    hybrid: HybridInfo | None = None  # on the last chunk of a stream


def make_chunk(rid: str, model: str, *, role: str | None = None, content: str | None = None,
               finish: str | None = None, result: BackendResult | None = None, decision: RouteDecision | None = None,
               record: RouteRecord | None = None) -> HybridChatCompletionChunk:
    usage = hybrid = None
    if record is not None and decision is not None:
        hybrid = _info(decision, record)
        usage = _usage(result) if result is not None else None
    if finish is not None and finish not in ("stop", "length", "content_filter"):
        finish = "stop"
    return HybridChatCompletionChunk(
        id=rid, object="chat.completion.chunk", created=int(time.time()), model=model,
        choices=[ChunkChoice(index=0, delta=ChoiceDelta(role=role, content=content), finish_reason=finish)],
        usage=usage, hybrid=hybrid)


def make_usage_chunk(rid: str, result: BackendResult) -> HybridChatCompletionChunk:
    """The chunk OpenAI sends last for stream_options.include_usage: no choices, the whole stream's usage."""
    return HybridChatCompletionChunk(id=rid, object="chat.completion.chunk", created=int(time.time()),
                                     model=result.model, choices=[], usage=_usage(result))
