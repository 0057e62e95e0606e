"""hybrid-ai as a LiteLLM model: a `CustomLLM` provider that answers through a HybridClient, so a LiteLLM Router (or
proxy) serves the in-process local SLM, or the whole hybrid, next to its other models.

    import litellm
    from hybrid_ai.integrations.litellm_provider import HybridLLM
    litellm.custom_provider_map = [{"provider": "hybrid", "custom_handler": HybridLLM(policy="default")}]
    litellm.completion(model="hybrid/local", messages=[...])     # pinned to the policy's tier "local"
    litellm.completion(model="hybrid/auto", messages=[...])      # the policy's own routing decides

The model name after `hybrid/` names a tier of the policy to pin (the policy needs a `pinned` rule), or `auto`.
OpenAI parameters LiteLLM passes on (`max_tokens`, `temperature`, `top_p`, `stop`, `seed`, and `tools`, `tool_choice`,
`parallel_tool_calls`, `response_format`, which only `hybrid/auto` or a tier that supports them can answer) are
validated like any request; tool calls come back as LiteLLM's (streamed as `tool_use` pieces); the answer carries
the record in `response._hidden_params["hybrid"]`. Checked against litellm 1.110
(`litellm/llms/custom_llm.py`: `completion`, `streaming`, `acompletion`, `astreaming`; streaming yields
`GenericStreamingChunk` dicts)."""

from __future__ import annotations

from typing import Any

from litellm import CustomLLM
from litellm.types.utils import GenericStreamingChunk, ModelResponse, Usage

PASSED = ("max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "seed", "user", "tools", "tool_choice",
          "parallel_tool_calls", "response_format")


def _params(model: str, messages: list, optional_params: dict | None) -> dict[str, Any]:
    tier = model.split("/", 1)[-1]
    params = {k: v for k, v in (optional_params or {}).items() if k in PASSED and v is not None}
    return {"messages": messages, **params, **({} if tier in ("auto", "hybrid", "") else {"route": tier})}


def _fill(model_response: ModelResponse, r) -> ModelResponse:
    choice = model_response.choices[0]
    choice.message.content = r.choices[0].message.content
    if r.choices[0].message.tool_calls:
        from litellm.types.utils import ChatCompletionMessageToolCall

        choice.message.tool_calls = [ChatCompletionMessageToolCall(**t.model_dump()) for t in
                                     r.choices[0].message.tool_calls]
    choice.finish_reason = r.choices[0].finish_reason
    model_response.model = r.model
    model_response.usage = Usage(prompt_tokens=r.usage.prompt_tokens,
                                 completion_tokens=r.usage.completion_tokens, total_tokens=r.usage.total_tokens)
    model_response._hidden_params["hybrid"] = r.hybrid.model_dump(mode="json")
    return model_response


def _chunk(text: str, finished: bool = False, finish: str = "", usage: dict | None = None,
           tool_use: dict | None = None) -> GenericStreamingChunk:
    return {"text": text, "is_finished": finished, "finish_reason": finish, "usage": usage, "index": 0,
            "tool_use": tool_use}


def _usage(chunk) -> dict | None:
    u = getattr(chunk, "usage", None)
    return None if u is None else {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
                                   "total_tokens": u.total_tokens}


class HybridLLM(CustomLLM):
    def __init__(self, policy: Any = None, *, client: Any = None, async_client: Any = None):
        super().__init__()
        from ..client import AsyncHybridClient, HybridClient

        self.client = client or HybridClient(policy)
        self.async_client = async_client or AsyncHybridClient(policy if client is None else client.policy)

    def completion(self, model, messages, *args, optional_params=None, **kwargs) -> ModelResponse:
        return _fill(kwargs["model_response"], self.client.chat.completions.create(
            **_params(model, messages, optional_params)))

    async def acompletion(self, model, messages, *args, optional_params=None, **kwargs) -> ModelResponse:
        return _fill(kwargs["model_response"], await self.async_client.chat.completions.create(
            **_params(model, messages, optional_params)))

    def streaming(self, model, messages, *args, optional_params=None, **kwargs):
        convert = _Converter()
        with self.client.chat.completions.create(**_params(model, messages, optional_params), stream=True,
                                                 stream_options={"include_usage": True}) as stream:
            for c in stream:
                if (out := convert(c)) is not None:
                    yield out

    async def astreaming(self, model, messages, *args, optional_params=None, **kwargs):
        convert = _Converter()
        stream = await self.async_client.chat.completions.create(
            **_params(model, messages, optional_params), stream=True, stream_options={"include_usage": True})
        async with stream:
            async for c in stream:
                if (out := convert(c)) is not None:
                    yield out


class _Converter:
    """ChatCompletionChunks -> LiteLLM's GenericStreamingChunk: text as it comes; the usage chunk (last) ends it."""

    def __init__(self):
        self.finish = ""

    def __call__(self, c) -> GenericStreamingChunk | None:
        if c.choices and c.choices[0].finish_reason:
            self.finish = c.choices[0].finish_reason
        if c.choices and c.choices[0].delta.content:
            return _chunk(c.choices[0].delta.content)
        if c.choices and c.choices[0].delta.tool_calls:  # one piece of one call per chunk, as hybrid-ai streams them
            t = c.choices[0].delta.tool_calls[0]
            fn = {"name": t.function.name, "arguments": t.function.arguments or ""} if t.function else {}
            return _chunk("", tool_use={"id": t.id, "type": "function", "function": fn, "index": t.index})
        if not c.choices:
            return _chunk("", True, self.finish or "stop", _usage(c))
        return None
