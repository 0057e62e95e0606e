"""OpenAI-compatible HTTP serving: `create_app(client)`."""

from .app import create_app

__all__ = ["create_app"]
