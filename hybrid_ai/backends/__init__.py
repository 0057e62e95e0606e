"""Backends serve tiers. Heavy libraries (torch, transformers, litellm) are imported on first use.

- base: the seam (`Backend.complete`, its async and streaming twins) and `StreamState`
- registry: backend kinds by name (`transformers`, `litellm`, entry points) and `build_backend`
- metered, fallback: the wrappers a request runs through (attempts, the fallback chain)
- transformers_backend, litellm_backend: the built-in engines, each with its tier config
- echo, replay: a test double and recorded answers"""

from .base import Backend
from .echo import EchoBackend
from .registry import build_backend

__all__ = ["Backend", "EchoBackend", "build_backend"]
