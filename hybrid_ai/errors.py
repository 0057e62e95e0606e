"""The exceptions hybrid_ai raises. Every one names what was wrong and where."""

from __future__ import annotations

from types import ModuleType
from typing import Any


class HybridAIError(Exception):
    """Base class of every error raised by hybrid_ai."""


class PolicyError(HybridAIError):
    """A policy file is missing, unreadable or invalid. Names the file and the key."""

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None):
        self.path, self.key = path, key
        where = ": ".join(p for p in (path, key) if p)
        super().__init__(f"{where}: {message}" if where else message)


class InvalidRequest(HybridAIError):
    """A chat request is malformed. `field` names the offending field, e.g. `messages[1].role`."""

    def __init__(self, message: str, *, field: str | None = None):
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class BackendError(HybridAIError):
    """A tier could not answer (failed to load, timed out, refused, 5xx, missing key).

    `kind` is a short machine-readable cause, kept in the record's attempts (`error_kind`): `load` (the model or
    library cannot load), `context` (the prompt does not fit), `generation` (the engine failed), `timeout`,
    `connection`, `auth` (missing or refused key), `http_status` (another error status), `stream` (a stream cut
    short or malformed), `replay_miss` (no recorded answer), `all_failed` (AllTiersFailed).
    """

    def __init__(self, message: str, *, tier: str | None = None, kind: str = "generation"):
        self.message, self.tier, self.kind = message, tier, kind
        super().__init__(message)

    def __str__(self) -> str:
        return f"[{self.tier}] {self.message}" if self.tier else self.message


class AllTiersFailed(BackendError):
    """Every tier the decision allowed failed; `errors` holds each tier's error in order."""

    def __init__(self, errors: list[BackendError]):
        self.errors = errors
        super().__init__("all tiers failed: " + "; ".join(str(e) for e in errors) if errors else "no tier was tried",
                         kind="all_failed")


class BudgetExceeded(HybridAIError):
    """A cloud budget is spent and the policy says to refuse (`budget.action: refuse`); the server answers 429."""


class RateLimited(HybridAIError):
    """A caller's limit (`limits.per_key`) is reached; the server answers 429 with `Retry-After`."""

    def __init__(self, message: str, *, retry_after_s: int):
        self.retry_after_s = retry_after_s
        super().__init__(message)


class LimitStoreUnavailable(HybridAIError):
    """The shared limits' store (Redis) cannot be reached and `limits.on_store_error` is `fail_closed` (503)."""


class MissingDependency(HybridAIError):
    """An optional dependency is not installed; the message says which extra to install."""


def first_problem(e: Any) -> str:
    """`key.path: reason` of a pydantic ValidationError's first error ("unknown key" for a rejected extra key)."""
    err = e.errors()[0]
    key = ".".join(str(x) for x in err["loc"])
    return f"{key}: {'unknown key' if err['type'] == 'extra_forbidden' else err['msg']}"


def require(module: str, extra: str) -> ModuleType:
    """Import `module` or raise MissingDependency with the pip extra that provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise MissingDependency(
            f"{module} is not installed: pip install 'hybrid-ai[{extra}]' ({e})"
        ) from e
