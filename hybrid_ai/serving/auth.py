"""Bearer-key authentication for the server: a pure ASGI middleware (context variables and streaming intact).

Every path but the open ones (`/healthz`) needs `Authorization: Bearer <key>` with one of the configured keys;
keys are compared in constant time, all of them every time. Anything else gets OpenAI's 401 body. An accepted
request runs with its key's id as the current caller (telemetry/caller.py), which its record keeps."""

from __future__ import annotations

import hmac
import json
import os

from ..errors import PolicyError
from ..privacy.redact import watch_env
from ..telemetry.caller import CALLER, key_id

OPEN_PATHS = frozenset({"/healthz"})
_UNAUTHORIZED = json.dumps({"error": {
    "message": "Incorrect or missing API key: send 'Authorization: Bearer <key>' with a key of this server.",
    "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}}).encode()


def keys_in_env(name: str) -> list[str]:
    """The comma-separated keys in environment variable `name` (watched as secrets from now on); maybe none."""
    watch_env(name)
    return [k.strip() for k in os.environ.get(name, "").split(",") if k.strip()]


def keys_from_env(name: str) -> list[str]:
    """The comma-separated keys in environment variable `name`; PolicyError when there are none."""
    keys = keys_in_env(name)
    if not keys:
        raise PolicyError(f"authentication is on but environment variable {name} holds no key: set it to one or "
                          f"more comma-separated keys, or turn authentication off explicitly (--no-auth, or "
                          f"server.auth: false in the policy)", key="server.api_keys_env")
    return keys


def presented(headers, keys: list[bytes]) -> int | None:
    """Which of `keys` the request's `Authorization: Bearer` header carries (its index), or None. Every key is
    compared in constant time, with no early exit: the time taken does not tell which key came close."""
    value = next((v for k, v in headers if k == b"authorization"), b"")
    scheme, _, token = value.partition(b" ")
    found = None
    for i, key in enumerate(keys):
        if hmac.compare_digest(token.strip(), key):
            found = i
    return found if scheme.lower() == b"bearer" else None


class BearerAuth:
    def __init__(self, app, keys: list[str], open_paths=OPEN_PATHS, on_reject=None):
        if not keys:
            raise ValueError("BearerAuth needs at least one key")
        self.app, self.open_paths, self.on_reject = app, frozenset(open_paths), on_reject  # on_reject: Rejections
        self._keys = [k.encode() for k in keys]
        self._ids = [key_id(k) for k in self._keys]

    def _caller(self, headers) -> str | None:
        """The id of the key the request carries (telemetry/caller.py), or None when it carries none of ours."""
        found = presented(headers, self._keys)
        return None if found is None else self._ids[found]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        caller = self._caller(scope["headers"])
        if scope["path"] in self.open_paths:  # open, but an authenticated caller sees more (/healthz details)
            scope.setdefault("state", {})["authenticated"] = caller is not None
            return await self.app(scope, receive, send)
        if caller is not None:
            token = CALLER.set(caller)  # the record's `caller`: per-key usage
            try:
                return await self.app(scope, receive, send)
            finally:
                CALLER.reset(token)
        if self.on_reject is not None:
            self.on_reject(401, "invalid_api_key", scope.get("path"), scope["headers"])
        await send({"type": "http.response.start", "status": 401, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(_UNAUTHORIZED)).encode()),
            (b"www-authenticate", b'Bearer realm="hybrid-ai"')]})
        await send({"type": "http.response.body", "body": _UNAUTHORIZED})
