"""OpenAI protocol adapters: `create_app(client)` (a FastAPI app, the `server` extra) and the OpenAI SDK transport
(`transport.http_client`, no web framework needed). Imported lazily, so the transport does not load FastAPI."""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module 'hybrid_ai.serving' has no attribute {name!r}")
