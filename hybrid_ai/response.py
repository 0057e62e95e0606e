"""The value returned to callers: a real `openai.types.chat.ChatCompletion` with a `hybrid` field.

Imported on the first response only: the openai types take about a second to import."""

from __future__ import annotations

import time
from typing import Any

from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessage
from openai.types.chat.chat_completion import Choice, ChoiceLogprobs
from openai.types.chat.chat_completion_chunk import Choice as ChunkChoice
from openai.types.chat.chat_completion_chunk import ChoiceDelta, ChoiceDeltaToolCall, ChoiceDeltaToolCallFunction
from openai.types.chat.chat_completion_chunk import ChoiceLogprobs as ChunkLogprobs
from openai.types.completion_usage import CompletionUsage

from .fastjson import string
from .types import BackendResult, HybridInfo, RouteDecision, RouteRecord, ToolCallDelta

FINISH = ("stop", "length", "tool_calls", "content_filter")


class HybridChatCompletion(ChatCompletion):
    hybrid: HybridInfo


def make_completion(decision: RouteDecision, result: BackendResult, record: RouteRecord) -> HybridChatCompletion:
    usage = _usage(result)
    calls = [c.as_openai() for c in result.tool_calls or []]
    fields = {"role": "assistant", "content": result.text or (None if calls else "")}
    message = ChatCompletionMessage.model_validate({**fields, "tool_calls": calls} if calls else fields)
    return HybridChatCompletion(
        id=record.request_id,
        object="chat.completion",
        created=int(time.time()),
        model=result.model,
        choices=[Choice(index=0, finish_reason=_finish(result.finish_reason, bool(calls)), message=message,
                        logprobs=_logprobs(ChoiceLogprobs, result))],
        usage=usage,
        hybrid=_info(decision, record),
    )


def _logprobs(cls: Any, result: BackendResult | None) -> Any:
    """`choices[0].logprobs` when the request asked for them (the tier filled `token_logprobs`), else None."""
    if result is None or result.token_logprobs is None:
        return None
    return cls.model_validate({"content": result.token_logprobs})


def _finish(reason: str | None, called: bool) -> Any:
    """OpenAI's finish reasons only; an answer with tool calls finishes with `tool_calls` whatever the tier said."""
    if called:
        return "tool_calls"
    return reason if reason in FINISH else "stop"


def _info(decision: RouteDecision, record: RouteRecord) -> HybridInfo:
    return HybridInfo(route=record.route, reason=record.reason, score=record.score, threshold=record.threshold,
                      tiers=list(decision.tiers), fallback=record.fallback, record=record)


def _usage(result: BackendResult) -> CompletionUsage | None:
    if result.prompt_tokens is None or result.completion_tokens is None:
        return None
    cached = result.info.get("cached_prompt_tokens")  # a local engine's prompt prefix cache, as OpenAI reports it
    return CompletionUsage(prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
                           total_tokens=result.prompt_tokens + result.completion_tokens,
                           prompt_tokens_details={"cached_tokens": cached} if cached is not None else None)


class HybridChatCompletionChunk(ChatCompletionChunk):
    hybrid: HybridInfo | None = None  # on the last chunk of a stream


def make_chunk(rid: str, model: str, *, role: str | None = None, content: str | None = None,
               call: ToolCallDelta | None = None, finish: str | None = None, result: BackendResult | None = None,
               decision: RouteDecision | None = None, record: RouteRecord | None = None) -> HybridChatCompletionChunk:
    usage = hybrid = None
    if record is not None and decision is not None:
        hybrid = _info(decision, record)
        usage = _usage(result) if result is not None else None
    if finish is not None:
        finish = _finish(finish, bool(result is not None and result.tool_calls))
    calls = None
    if call is not None:
        fn = ChoiceDeltaToolCallFunction(name=call.name, arguments=call.arguments)
        calls = [ChoiceDeltaToolCall(index=call.index, id=call.id, type="function" if call.id else None, function=fn)]
    return HybridChatCompletionChunk(
        id=rid, object="chat.completion.chunk", created=int(time.time()), model=model,
        choices=[ChunkChoice(index=0, delta=ChoiceDelta(role=role, content=content, tool_calls=calls),
                             finish_reason=finish, logprobs=_logprobs(ChunkLogprobs, result) if finish else None)],
        usage=usage, hybrid=hybrid)


def make_usage_chunk(rid: str, result: BackendResult) -> HybridChatCompletionChunk:
    """The chunk OpenAI sends last for stream_options.include_usage: no choices, the whole stream's usage."""
    return HybridChatCompletionChunk(id=rid, object="chat.completion.chunk", created=int(time.time()),
                                     model=result.model, choices=[], usage=_usage(result))


class SSEText(str):
    """A text chunk already in its wire form, `data: {...}\\n\\n` (the server's streams, which skip building and
    serialising a chunk object per text delta); `text` is its content. Parsed, it is the chunk `make_chunk` gives."""

    text: str


class TextFrames:
    """Builds the `SSEText` of one stream's text deltas: the JSON around the text is made once per model."""

    def __init__(self, rid: str):
        self.rid, self.created = rid, int(time.time())
        self._heads: dict[str, str] = {}

    def __call__(self, model: str, text: str) -> SSEText:
        head = self._heads.get(model)
        if head is None:
            head = self._heads[model] = (f'data: {{"id":{string(self.rid)},"object":"chat.completion.chunk",'
                                         f'"created":{self.created},"model":{string(model)},'
                                         f'"choices":[{{"index":0,"delta":{{"content":')
        frame = SSEText(head + string(text) + "}}]}\n\n")
        frame.text = text
        return frame


