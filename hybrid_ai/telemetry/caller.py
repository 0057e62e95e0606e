"""Who made the request, for per-key usage: the server's authentication sets it for the duration of a request (a
context variable, so concurrent requests do not mix), and the record keeps it as `caller`.

A caller is `key_<12 hex>`, the start of the SHA-256 of the API key: stable across restarts, never the key itself
(`key_id(key)` gives the id of a key, to match usage to the keys you hand out)."""

from __future__ import annotations

import hashlib
from contextvars import ContextVar

CALLER: ContextVar[str | None] = ContextVar("hybrid_ai_caller", default=None)


def key_id(key: str | bytes) -> str:
    raw = key.encode() if isinstance(key, str) else key
    return "key_" + hashlib.sha256(raw).hexdigest()[:12]


def current() -> str | None:
    return CALLER.get()
