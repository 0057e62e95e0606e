"""Secrets never leave: every text that reaches a caller, a record or a log passes through `scrub`.

Two nets: the values of the environment variables that policies name as credentials (whatever their shape:
a 32-character hex key is caught as surely as an `sk-` one), and patterns of well-known key formats.
`public_message` also drops tracebacks and file paths, for error bodies that reach callers."""

from __future__ import annotations

import os
import re
from functools import lru_cache

REDACTED = "[redacted]"
MIN_SECRET = 6  # shorter values would redact ordinary words

_PATTERNS = re.compile(
    r"(?:sk|pk|rk)-[A-Za-z0-9_-]{8,}"                       # OpenAI, Anthropic (sk-ant-...), Stripe-style
    r"|(?:Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}"     # an Authorization header value
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"                        # AWS access key id
    r"|\bAIza[0-9A-Za-z_-]{30,}"                             # Google API key
    r"|\b(?:ghp|gho|ghu|ghs|ghr|github_pat|glpat|xox[abpr])[-_][A-Za-z0-9_-]{8,}"  # GitHub, GitLab, Slack
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"  # a JWT
    r"|(?<![A-Za-z0-9_-])[0-9a-fA-F]{32,}(?![A-Za-z0-9_-])"       # a bare hex key (not a `chatcmpl-<hex>` id)
    r"|(?i:(?<=api[_-]key[=:])|(?<=api[_-]key\": \")|(?<=token[=:])|(?<=secret[=:])|(?<=password[=:]))"
    r"[^\s\"'&,;]{6,}"                                       # key=VALUE in URLs, headers and messages
)
_TRACEBACK = re.compile(r"Traceback \(most recent call last\):.*", re.S)
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:/[\w.@+-]+){2,}\.py\b|File \"[^\"]+\"(?:, line \d+)?")

_watched: set[str] = set()


def watch_env(*names: str | None) -> None:
    """Treat the values of these environment variables as secrets from now on (read at each scrub, so a key
    rotated in the environment is still caught)."""
    _watched.update(n for n in names if n)


def _values() -> tuple[str, ...]:
    return _secret_values(tuple(os.environ.get(n) for n in sorted(_watched)))


@lru_cache(maxsize=8)
def _secret_values(current: tuple[str | None, ...]) -> tuple[str, ...]:
    vals = {v for v in current if v}
    parts = {p.strip() for v in vals for p in v.split(",")}  # a variable may hold several comma-separated keys
    return tuple(sorted((s for s in vals | parts if len(s) >= MIN_SECRET), key=len, reverse=True))


def scrub(text: str) -> str:
    """`text` with every known secret value and key-like string replaced by [redacted]."""
    if not text:
        return text
    for value in _values():
        if value in text:
            text = text.replace(value, REDACTED)
    return _PATTERNS.sub(REDACTED, text)


def public_message(text: str, limit: int = 600) -> str:
    """An error text fit for a caller: scrubbed, without tracebacks or file paths, at most `limit` characters."""
    text = _TRACEBACK.sub(lambda m: m.group(0).strip().splitlines()[-1], scrub(text))  # keep the exception line
    text = _PATH.sub("<path>", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
