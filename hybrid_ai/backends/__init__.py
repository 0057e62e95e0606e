"""Backends serve tiers. Heavy libraries (torch, transformers, litellm) are imported on first use."""

from .base import Backend, build_backend
from .echo import EchoBackend

__all__ = ["Backend", "EchoBackend", "build_backend"]
