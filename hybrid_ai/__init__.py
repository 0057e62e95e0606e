"""hybrid-ai: route each chat request between an in-process SLM and a cloud LLM, and log what it cost.

    from hybrid_ai import HybridClient
    client = HybridClient()                      # the bundled default policy
    r = client.chat.completions.create(messages=[{"role": "user", "content": "Hi"}], max_tokens=32)
    r.choices[0].message.content, r.hybrid.route, r.hybrid.record.cost_usd
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {  # name -> module: the public surface (tests/test_exported_members.py pins it)
    # clients and what they return
    "HybridClient": "client", "AsyncHybridClient": "client",
    "HybridStream": "stream", "AsyncHybridStream": "stream",
    "HybridChatCompletion": "response",
    "ChatRequest": "types", "RouteDecision": "types", "BackendResult": "types", "Attempt": "types",
    "RouteRecord": "types",
    # policies
    "Policy": "policy", "load_policy": "policy", "TierConfig": "config", "Generation": "config",
    # errors
    "HybridAIError": "errors", "PolicyError": "errors", "InvalidRequest": "errors", "BackendError": "errors",
    "AllTiersFailed": "errors", "MissingDependency": "errors", "BudgetExceeded": "errors",
    # extension points: engines and wrappers, classifiers
    "Backend": "backends.base", "BackendProtocol": "backends.base", "WrapperBackend": "backends.base",
    "StreamState": "backends.base", "Classifier": "routing",
    # adapters
    "create_app": "serving", "http_client": "serving.transport", "async_http_client": "serving.transport",
}
__all__ = sorted(_EXPORTS) + ["__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from .backends.base import Backend, BackendProtocol, StreamState, WrapperBackend
    from .client import AsyncHybridClient, HybridClient
    from .config import Generation, TierConfig
    from .errors import (
        AllTiersFailed,
        BackendError,
        BudgetExceeded,
        HybridAIError,
        InvalidRequest,
        MissingDependency,
        PolicyError,
    )
    from .policy import Policy, load_policy
    from .response import HybridChatCompletion
    from .routing import Classifier
    from .serving import create_app
    from .serving.transport import async_http_client, http_client
    from .stream import AsyncHybridStream, HybridStream
    from .types import Attempt, BackendResult, ChatRequest, RouteDecision, RouteRecord


def __getattr__(name: str) -> object:  # lazy: `import hybrid_ai` stays fast
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hybrid_ai' has no attribute {name!r}")
