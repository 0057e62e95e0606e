"""The async half of the OpenAI-compatible fast path: `POST .../chat/completions` over one pooled aiohttp session
per event loop (keep-alive; aiohttp is what the openai SDK itself offers as `DefaultAioHttpClient`), with the URL
and headers built once per tier. The SDK's own request path (typed options, httpx URL and header objects) costs
about 0.5 ms of CPU per call on top of the HTTP exchange; this one costs what aiohttp costs.

Failures are `UpstreamError`s named as the openai SDK names them (`RateLimitError: Error code: 429 - ...`,
`APITimeoutError`, `APIConnectionError`), with the kind the retry and fallback rules read."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncGenerator
from typing import Any

_SDK_NAMES = {400: "BadRequestError", 401: "AuthenticationError", 403: "PermissionDeniedError",
              404: "NotFoundError", 409: "ConflictError", 422: "UnprocessableEntityError", 429: "RateLimitError"}


class UpstreamError(Exception):
    """A failed call: `upstream_kind` (timeout, connection, auth, http_status) and the HTTP status where one came."""

    def __init__(self, kind: str, message: str, status_code: int | None = None):
        super().__init__(message)
        self.upstream_kind, self.status_code = kind, status_code


def _status_error(status: int, body: bytes) -> UpstreamError:
    name = _SDK_NAMES.get(status, "InternalServerError" if status >= 500 else "APIStatusError")
    text = body[:2000].decode("utf-8", "replace")
    kind = "auth" if status in (401, 403) else "http_status"
    return UpstreamError(kind, f"{name}: Error code: {status} - {text}", status)


class AsyncCaller:
    """One tier's POSTs: `url`, fixed `headers` (without the key, added per call so a rotated key applies)."""

    def __init__(self, url: str, headers: dict[str, str], timeout_s: float):
        self.url, self.headers, self.timeout_s = url, headers, timeout_s
        self._sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    def _session(self) -> Any:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            import aiohttp

            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
                timeout=aiohttp.ClientTimeout(total=self.timeout_s), skip_auto_headers=("User-Agent",),
                headers={"user-agent": "hybrid-ai"})
            self._sessions[loop] = session
        return session

    async def aclose(self) -> None:
        """Close the session of the running event loop (the server calls it at shutdown)."""
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.close()

    async def _open(self, body: bytes, auth: dict[str, str]) -> Any:
        import aiohttp

        try:
            response = await self._session().post(self.url, data=body, headers={**self.headers, **auth})
        except asyncio.TimeoutError:
            raise UpstreamError("timeout", "APITimeoutError: Request timed out.") from None
        except aiohttp.ClientError as e:
            raise UpstreamError("connection", f"APIConnectionError: Connection error. ({type(e).__name__})") from None
        if response.status >= 400:
            try:
                raw = await response.read()
            finally:
                response.release()
            raise _status_error(response.status, raw)
        return response

    async def post(self, body: bytes, auth: dict[str, str]) -> bytes:
        import aiohttp

        response = await self._open(body, auth)
        try:
            return bytes(await response.read())
        except asyncio.TimeoutError:
            raise UpstreamError("timeout", "APITimeoutError: Request timed out.") from None
        except aiohttp.ClientError as e:
            raise UpstreamError("connection", f"APIConnectionError: the answer was cut ({type(e).__name__})") from None
        finally:
            response.release()

    async def lines(self, body: bytes, auth: dict[str, str]) -> AsyncGenerator[str, None]:
        """The answer's lines as they arrive (server-sent events); closing this closes the response."""
        import aiohttp

        response = await self._open(body, auth)
        try:
            async for line in response.content:
                yield line.decode("utf-8", "replace").rstrip("\r\n")
        except asyncio.TimeoutError:
            raise UpstreamError("timeout", "APITimeoutError: Request timed out.") from None
        except aiohttp.ClientError as e:
            raise UpstreamError("connection", f"APIConnectionError: the stream was cut ({type(e).__name__})") from None
        finally:  # read to its end: the connection goes back to the pool; left early: it is closed
            response.release() if response.content.at_eof() else response.close()
