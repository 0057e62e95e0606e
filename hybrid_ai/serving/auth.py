"""Bearer-key authentication for the server: a pure ASGI middleware (context variables and streaming intact).

Every path but the open ones (`/healthz`) needs `Authorization: Bearer <key>` with one of the configured keys;
keys are compared in constant time, all of them every time. Anything else gets OpenAI's 401 body."""

from __future__ import annotations

import hmac
import json
import os

from ..errors import PolicyError
from ..redact import watch_env

OPEN_PATHS = frozenset({"/healthz"})
_UNAUTHORIZED = json.dumps({"error": {
    "message": "Incorrect or missing API key: send 'Authorization: Bearer <key>' with a key of this server.",
    "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}}).encode()


def keys_from_env(name: str) -> list[str]:
    """The comma-separated keys in environment variable `name`; PolicyError when there are none."""
    watch_env(name)
    keys = [k.strip() for k in os.environ.get(name, "").split(",") if k.strip()]
    if not keys:
        raise PolicyError(f"authentication is on but environment variable {name} holds no key: set it to one or "
                          f"more comma-separated keys, or turn authentication off explicitly (--no-auth, or "
                          f"server.auth: false in the policy)", key="server.api_keys_env")
    return keys


class BearerAuth:
    def __init__(self, app, keys: list[str], open_paths=OPEN_PATHS):
        if not keys:
            raise ValueError("BearerAuth needs at least one key")
        self.app, self.open_paths = app, frozenset(open_paths)
        self._keys = [k.encode() for k in keys]

    def _allowed(self, headers) -> bool:
        value = next((v for k, v in headers if k == b"authorization"), b"")
        scheme, _, token = value.partition(b" ")
        ok = False
        for key in self._keys:  # no early exit: the time taken does not tell which key came close
            ok |= hmac.compare_digest(token.strip(), key)
        return ok and scheme.lower() == b"bearer"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in self.open_paths or self._allowed(scope["headers"]):
            return await self.app(scope, receive, send)
        await send({"type": "http.response.start", "status": 401, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(_UNAUTHORIZED)).encode()),
            (b"www-authenticate", b'Bearer realm="hybrid-ai"')]})
        await send({"type": "http.response.body", "body": _UNAUTHORIZED})
