"""Shared state for several processes or replicas (docs/scale.md):

- PostgreSQL (`HYBRID_AI_DATABASE_URL`, or the variable named by `telemetry.database_url_env`, holding a
  `postgresql://` URL): the route log, shadow outcomes and budget spend; SQLite stays the embedded default.
  schema.py (migrations, daily partitions, retention), spool.py and pg_sink.py (the batched writer),
  logdb.py (one reader for both, used by `report`, `usage` and the training commands).
- Redis (`HYBRID_AI_REDIS_URL`, or `limits.redis_url_env`): the cloud budget and per-key limits, exact across
  replicas (limits.py).
- throwaway.py: disposable PostgreSQL and Redis servers for the tests and benchmarks.

Nothing here is imported unless a URL is set: psycopg and redis are the `scale` extra."""

from __future__ import annotations

import os

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(target: object) -> bool:
    """Whether a route log argument (a path or a URL) names a PostgreSQL database."""
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def database_url(telemetry) -> str | None:
    """The PostgreSQL URL the policy's telemetry points at through its environment variable, or None (SQLite)."""
    value = os.environ.get(telemetry.database_url_env, "").strip()
    return value if is_postgres(value) else None


def redis_url(limits) -> str | None:
    value = os.environ.get(limits.redis_url_env, "").strip()
    return value or None


def need(module: str, extra: str = "scale"):
    """Import a store's driver, or say which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        from ..errors import MissingDependency

        raise MissingDependency(f"{module} is needed for the shared store: pip install 'hybrid-ai[{extra}]'") from None


def where(target: object) -> str:
    """How a route log is named in messages and cards: a path as given, a URL without its secrets."""
    from ..privacy.redact import safe_url

    return str(safe_url(str(target))) if is_postgres(target) else str(target)
