"""The value returned to callers: a real `openai.types.chat.ChatCompletion` with a `hybrid` field.

Imported on the first response only: the openai types take about a second to import."""

from __future__ import annotations

import time

from openai.types.chat import ChatCompletion, ChatCompletionMessage
from openai.types.chat.chat_completion import Choice
from openai.types.completion_usage import CompletionUsage

from .types import BackendResult, HybridInfo, RouteDecision, RouteRecord


class HybridChatCompletion(ChatCompletion):
    hybrid: HybridInfo


def make_completion(decision: RouteDecision, result: BackendResult, record: RouteRecord) -> HybridChatCompletion:
    usage = None
    if result.prompt_tokens is not None and result.completion_tokens is not None:
        usage = CompletionUsage(prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
                                total_tokens=result.prompt_tokens + result.completion_tokens)
    finish = result.finish_reason if result.finish_reason in ("stop", "length", "content_filter") else "stop"
    return HybridChatCompletion(
        id=record.request_id,
        object="chat.completion",
        created=int(time.time()),
        model=result.model,
        choices=[Choice(index=0, finish_reason=finish,
                        message=ChatCompletionMessage(role="assistant", content=result.text))],
        usage=usage,
        hybrid=HybridInfo(route=record.route, reason=record.reason, score=record.score, threshold=record.threshold,
                          tiers=list(decision.tiers), fallback=record.fallback, record=record),
    )
