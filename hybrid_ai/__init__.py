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

_EXPORTS = {
    "HybridClient": "client",
    "AsyncHybridClient": "client",
    "BaseClient": "client",
    "Policy": "policy",
    "load_policy": "policy",
    "ChatRequest": "types",
    "RouteDecision": "types",
    "BackendResult": "types",
    "RouteRecord": "types",
    "HybridAIError": "errors",
    "PolicyError": "errors",
    "InvalidRequest": "errors",
    "BackendError": "errors",
    "AllTiersFailed": "errors",
    "MissingDependency": "errors",
    "BudgetExceeded": "errors",
    "Backend": "backends",
    "EchoBackend": "backends",
    "Classifier": "routing",
    "HeuristicClassifier": "routing",
    "decide": "routing",
    "http_client": "serving.transport",
    "async_http_client": "serving.transport",
}
__all__ = sorted(_EXPORTS) + ["__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from .backends import Backend, EchoBackend
    from .client import AsyncHybridClient, BaseClient, HybridClient
    from .errors import (AllTiersFailed, BackendError, BudgetExceeded, HybridAIError, InvalidRequest,
                         MissingDependency, PolicyError)
    from .policy import Policy, load_policy
    from .routing import Classifier, HeuristicClassifier, decide
    from .serving.transport import async_http_client, http_client
    from .types import BackendResult, ChatRequest, RouteDecision, RouteRecord


def __getattr__(name: str):  # lazy: `import hybrid_ai` stays fast
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hybrid_ai' has no attribute {name!r}")
