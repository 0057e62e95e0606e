"""The fast path of a `litellm` tier whose upstream speaks the OpenAI API (OpenAI, Azure OpenAI, vLLM, llama.cpp
server, TGI, SGLang, Ollama, another hybrid-ai). Sync calls go through the openai SDK's request path (one pooled
client per tier and key); async calls (the server, AsyncHybridClient) post the same JSON over one pooled aiohttp
session per tier and event loop (`openai_http.py`), without the SDK's per-call object building. Both read the
answer as JSON rather than as the SDK's typed models. Same timeouts, retries, error mapping, usage and cost as the
litellm path (it is a LiteLLMBackend with another way to call); litellm is not imported for these tiers (its
price table is, when the policy names no prices, once per model and cached on disk).

Which tiers take it: `sdk: openai`, or `sdk: auto` (the default) when the model is `openai/...`,
`hosted_vllm/...` or `azure/...`, or has no provider prefix and the tier names an `api_base`. `sdk: litellm`
keeps the litellm path. The environment variable HYBRID_AI_CLOUD_SDK (`openai` or `litellm`) says what `auto` means
for every tier of the process (the test suite runs its cloud tests both ways with it)."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncGenerator
from types import SimpleNamespace
from typing import Any

from ..errors import BackendError
from ..fastjson import dumps, loads
from ..privacy.redact import public_message
from ..types import BackendResult, Piece, ToolCall, ToolCallDelta
from .litellm_backend import OPENAI_PROVIDERS, LiteLLMBackend, count_tokens
from .openai_http import AsyncCaller

AZURE_API_VERSION = "2024-10-21"  # when neither the tier's api_version nor AZURE_API_VERSION says


def _model_name(model: str) -> str:
    provider, slash, rest = model.partition("/")
    return rest if slash and provider in OPENAI_PROVIDERS else model


class OpenAIBackend(LiteLLMBackend):
    """A litellm tier called the fast way (its name, in records and eval reports, stays the tier's kind,
    `litellm`; /healthz says `sdk: openai`)."""

    def __init__(self, tier_name: str, tier):
        super().__init__(tier_name, tier)
        self._sync: dict[str, Any] = {}
        self._azure = tier.model.startswith("azure/")
        self._model = _model_name(tier.model)
        self._caller: AsyncCaller | None = None

    def _async_caller(self) -> AsyncCaller:
        """The async path's caller: URL and headers built once (as the SDK builds them for this tier)."""
        if self._caller is None:
            t = self.tier
            if self._azure:
                url = f"{(t.api_base or '').rstrip('/')}/openai/deployments/{self._model}/chat/completions" \
                      f"?api-version={self._azure_version()}"
            else:
                base = t.api_base or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
                url = f"{base.rstrip('/')}/chat/completions"
            self._caller = AsyncCaller(url, {"content-type": "application/json", "accept": "application/json"},
                                       t.timeout_s)
        return self._caller

    def _azure_version(self) -> str:
        return self.tier.api_version or os.environ.get("AZURE_API_VERSION") or AZURE_API_VERSION

    def _auth(self) -> dict[str, str]:
        key = self._key()
        return {"api-key": key} if self._azure else {"authorization": f"Bearer {key}"}

    async def aclose(self) -> None:
        if self._caller is not None:
            await self._caller.aclose()

    def warmup(self) -> None:
        import openai  # noqa: F401  (the SDK and its HTTP stack; the client itself is made on first use)

    def describe(self):
        return {**super().describe(), "backend": "litellm", "sdk": "openai"}

    def _client(self) -> Any:
        """The sync path's pooled openai client, one per key (a rotated key gets a new one)."""
        import openai

        key, t = self._key(), self.tier
        client = self._sync.get(key)
        if client is None:
            common: dict[str, Any] = {"api_key": key, "timeout": t.timeout_s, "max_retries": 0}  # retries: _again
            if self._azure:
                client = openai.AzureOpenAI(azure_endpoint=t.api_base, api_version=self._azure_version(), **common)
            else:  # base_url None: the SDK's default (OPENAI_BASE_URL, else OpenAI's)
                client = openai.OpenAI(base_url=t.api_base, **common)
            self._sync[key] = client
        return client

    def _kwargs(self, request, generation) -> dict[str, Any]:
        return self._params(request, generation, self._model)

    def _stream_result(self, acc):
        """As litellm does for an upstream that streams no usage (it ignored `stream_options`): the tokens counted
        with litellm's counter for the model (imported only then), so the cost is never silently 0."""
        result = super()._stream_result(acc)
        if result.prompt_tokens is None or result.completion_tokens is None:
            result.prompt_tokens = count_tokens(self.tier.model, messages=acc["messages"])
            result.completion_tokens = count_tokens(self.tier.model, text=result.text)
        return result

    def _post(self, client: Any, kw: dict[str, Any], stream: bool = False) -> Any:
        """The SDK's own request path (its URL, headers, auth, timeouts and status errors) without its typed
        models: the body is sent as built here and the answer is read as JSON (the models cost ~1 ms a call)."""
        if stream:
            return client.post("/chat/completions", body=kw, cast_to=_response_class(), stream=True)
        return client.post("/chat/completions", body=kw, cast_to=bytes)

    def _answer(self, raw: bytes) -> BackendResult:
        try:
            data = loads(raw)
            choice = data["choices"][0]
            message = choice.get("message") or {}
            usage = data.get("usage") or {}
            calls = [ToolCall(c["id"], c["function"]["name"], c["function"].get("arguments") or "")
                     for c in message.get("tool_calls") or []]
            content = (choice.get("logprobs") or {}).get("content")
            return BackendResult(
                text=message.get("content") or "", model=self.tier.model, prompt_tokens=usage.get("prompt_tokens"),
                completion_tokens=usage.get("completion_tokens"), finish_reason=choice.get("finish_reason") or "stop",
                info={"upstream_model": data.get("model")}, tool_calls=calls or None, token_logprobs=content,
                logprobs=[t["logprob"] for t in content] if content else None)
        except Exception as e:
            raise BackendError(public_message(f"the upstream's answer cannot be read: {_why(raw, e)}", 300),
                               tier=self.tier_name, kind="generation") from None

    def _fold(self, data: dict, acc: dict) -> list[Piece]:
        """`_consume` for a chunk read as JSON."""
        if data.get("error"):
            raise BackendError(public_message(f"the upstream stream failed: {data['error']}", 300),
                               tier=self.tier_name, kind="stream")
        if data.get("usage"):
            acc["usage"] = SimpleNamespace(**data["usage"])
        choices = data.get("choices")
        if not choices:
            return []
        choice = choices[0]
        if choice.get("finish_reason"):
            acc["finish"] = choice["finish_reason"]
        if (choice.get("logprobs") or {}).get("content") is not None:
            acc.setdefault("logprobs", []).extend(choice["logprobs"]["content"])
        delta = choice.get("delta") or {}
        out: list[Piece] = []
        if delta.get("content"):
            acc["text"].append(delta["content"])
            out.append(delta["content"])
        for c in delta.get("tool_calls") or []:
            fn = c.get("function") or {}
            acc["calls"].add(SimpleNamespace(index=c.get("index"), id=c.get("id"), function=SimpleNamespace(
                name=fn.get("name"), arguments=fn.get("arguments"))))
            out.append(ToolCallDelta(c.get("index") or 0, c.get("id"), fn.get("name"), fn.get("arguments") or ""))
        if out and acc.get("ttft") is None:
            acc["ttft"] = (time.perf_counter() - acc["t0"]) * 1000
        return out

    def _event(self, line: str, acc: dict) -> list[Piece] | None:
        """The pieces of one SSE line; None at `[DONE]`."""
        if not line.startswith("data:"):
            return []  # blank lines, comments, `event:` names
        payload = line[5:].strip()
        if payload == "[DONE]":
            return None
        try:
            data = loads(payload)
        except ValueError as e:
            raise BackendError(public_message(f"the upstream streamed data that is not JSON: {_why(payload, e)}",
                                              300), tier=self.tier_name, kind="stream") from None
        return self._fold(data, acc)

    def complete(self, request, generation):
        kw = self._kwargs(request, generation)
        return self._answer(self._call(lambda **k: self._post(self._client(), k), kw))

    async def acomplete(self, request, generation):
        body = dumps(self._kwargs(request, generation))
        caller = self._async_caller()
        return self._answer(await self._acall(lambda: caller.post(body, self._auth()), {}))

    def stream(self, request, generation, state):
        kw = self._stream_kwargs(request, generation)
        acc = {**self._acc(), "messages": kw["messages"]}
        response = self._call(lambda **k: self._post(self._client(), k, stream=True), kw)
        try:
            for line in response.iter_lines():
                pieces = self._event(line, acc)
                if pieces is None:
                    break
                yield from pieces
            state.result = self._stream_result(acc)
        except Exception as e:
            raise self._error(e) from e
        finally:
            response.close()

    async def astream(self, request, generation, state):
        kw = self._stream_kwargs(request, generation)
        acc = {**self._acc(), "messages": kw["messages"]}
        body, caller = dumps(kw), self._async_caller()
        lines = await self._acall(lambda: _opened(caller.lines(body, self._auth())), {})
        try:
            async for line in lines:
                pieces = self._event(line, acc)
                if pieces is None:
                    break
                for piece in pieces:
                    yield piece
            state.result = self._stream_result(acc)
        except Exception as e:
            raise self._error(e) from e
        finally:
            await lines.aclose()


def _response_class() -> type:
    """The HTTP response class of the SDK's HTTP library (httpx2 for openai 3.x, httpx before)."""
    try:
        from openai._httpx2 import http_response_types

        return http_response_types()[0]
    except ImportError:
        import httpx

        return httpx.Response


def _why(raw: bytes | str, error: Exception) -> str:
    """What is wrong with a JSON text, in the standard library's words (as the litellm path reports it)."""
    import json

    try:
        json.loads(raw)
    except ValueError as e:
        return f"{type(e).__name__}: {e}"
    return f"{type(error).__name__}: {error}"


async def _opened(lines: AsyncGenerator[str, None]) -> AsyncGenerator[str, None]:
    """`lines` with its request sent and its status checked (the part a retry may repeat): the first line is
    read now and put back in front."""
    first = await anext(lines, None)

    async def again() -> AsyncGenerator[str, None]:
        try:
            if first is not None:
                yield first
                async for line in lines:
                    yield line
        finally:
            await lines.aclose()

    return again()


