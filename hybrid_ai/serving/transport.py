"""The OpenAI SDK, unchanged application code: an HTTP transport that answers `POST .../chat/completions` through
the hybrid and hands every other request (embeddings, files, models, ...) to the real upstream transport.

    import openai, hybrid_ai
    client = openai.OpenAI(http_client=hybrid_ai.http_client(policy="my-policy.yaml"))
    async_client = openai.AsyncOpenAI(http_client=hybrid_ai.async_http_client(policy="my-policy.yaml"))

openai 3.x is built on `httpx2`, openai 1.x / 2.x on `httpx`; both have the same transport interface
(`handle_request` / `handle_async_request`), so one core serves both through thin classes made for the module in
use (`module=`: default `httpx2` when it is installed, else `httpx`). The protocol (body -> parameters, result ->
JSON / SSE, error -> OpenAI JSON) is `serving/protocol.py`, as for the server. Streams stream: the response body is
produced lazily, chunk by chunk, as the tier generates (not buffered as `httpx.ASGITransport` would). Final errors
carry `x-should-retry: false`, so the SDK does not retry what the hybrid already retried and fell back from. Every
response carries the record's request id in `x-hybrid-request-id`; a completion's JSON keeps the `hybrid` field
(`response.model_extra["hybrid"]` in the SDK)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from . import protocol

CHAT_PATH = "/chat/completions"
_NO_RETRY = {"x-should-retry": "false"}


def _module(module: Any = None) -> Any:
    if module is not None:
        return module
    try:
        import httpx2

        return httpx2
    except ImportError:
        import httpx

        return httpx


def _is_chat(request) -> bool:
    return request.method == "POST" and request.url.path.rstrip("/").endswith(CHAT_PATH)


def _error(h, exc: BaseException):
    reply = protocol.error_reply(exc)
    return h.Response(reply.status, json=reply.body(), headers=_NO_RETRY)


def _completion(h, result):
    return h.Response(200, content=result.model_dump_json(), headers={
        "content-type": "application/json", "x-hybrid-request-id": result.id})


def _sse_head(first) -> dict:
    return {"content-type": "text/event-stream", "x-hybrid-request-id": first.id}


@lru_cache(maxsize=4)
def _classes(h):
    """The transport classes for one HTTP module (httpx or httpx2)."""

    class _Events(h.SyncByteStream):
        def __init__(self, first, rest):
            self.rest, self.lines = rest, protocol.events(first, rest)

        def __iter__(self):
            for line in self.lines:
                yield line.encode()

        def close(self):
            self.lines.close()  # the caller stopped reading: the tier stops, the record is written
            self.rest.close()

    class _AsyncEvents(h.AsyncByteStream):
        def __init__(self, first, rest):
            self.rest, self.lines = rest, protocol.aevents(first, rest)

        async def __aiter__(self):
            async for line in self.lines:
                yield line.encode()

        async def aclose(self):
            await self.lines.aclose()
            await self.rest.aclose()

    class HybridTransport(h.BaseTransport):
        def __init__(self, client, upstream=None):
            self.client, self.upstream = client, upstream or h.HTTPTransport()

        def handle_request(self, request):
            if not _is_chat(request):
                return self.upstream.handle_request(request)
            try:
                result = self.client.chat.completions.create(**protocol.parse_body(request.read()))
                if not hasattr(result, "__next__"):
                    return _completion(h, result)
                try:  # fail over before the response starts, while a status can still say so
                    first = next(result)
                except BaseException:
                    result.close()
                    raise
                return h.Response(200, headers=_sse_head(first), stream=_Events(first, result))
            except Exception as e:  # every failure is an OpenAI error response, never an exception in the SDK
                return _error(h, e)

        def close(self):
            self.upstream.close()

    class AsyncHybridTransport(h.AsyncBaseTransport):
        def __init__(self, client, upstream=None):
            self.client, self.upstream = client, upstream or h.AsyncHTTPTransport()

        async def handle_async_request(self, request):
            if not _is_chat(request):
                return await self.upstream.handle_async_request(request)
            try:
                result = await self.client.chat.completions.create(
                    **protocol.parse_body(await request.aread()))
                if not hasattr(result, "__anext__"):
                    return _completion(h, result)
                try:
                    first = await result.__anext__()
                except BaseException:
                    await result.aclose()
                    raise
                return h.Response(200, headers=_sse_head(first), stream=_AsyncEvents(first, result))
            except Exception as e:  # every failure is an OpenAI error response, never an exception in the SDK
                return _error(h, e)

        async def aclose(self):
            await self.upstream.aclose()

    return HybridTransport, AsyncHybridTransport


def transport(policy=None, *, client=None, upstream=None, module=None):
    """A sync transport: chat completions through `client` (default: a HybridClient for `policy`)."""
    from ..client import HybridClient

    h = _module(module)
    return _classes(h)[0](client or HybridClient(policy), upstream)


def async_transport(policy=None, *, client=None, upstream=None, module=None):
    from ..client import AsyncHybridClient

    h = _module(module)
    return _classes(h)[1](client or AsyncHybridClient(policy), upstream)


def http_client(policy=None, *, client=None, upstream=None, module=None, **kwargs):
    """An `httpx2.Client` (or `httpx.Client`) for `openai.OpenAI(http_client=...)`; `kwargs` go to the client."""
    h = _module(module)
    return h.Client(transport=transport(policy, client=client, upstream=upstream, module=h), **kwargs)


def async_http_client(policy=None, *, client=None, upstream=None, module=None, **kwargs):
    """An `httpx2.AsyncClient` (or `httpx.AsyncClient`) for `openai.AsyncOpenAI(http_client=...)`."""
    h = _module(module)
    return h.AsyncClient(transport=async_transport(policy, client=client, upstream=upstream, module=h), **kwargs)
