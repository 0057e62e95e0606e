"""structlog processors for route records. Redaction runs first in every sink's chain."""

from __future__ import annotations

import re

SECRET = re.compile(r"\b(sk-[A-Za-z0-9_-]{8,}|(?:Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}|AKIA[0-9A-Z]{16})")
SECRET_KEYS = {"api_key", "authorization", "password", "secret", "token"}


def redact_secrets(_logger, _method, event: dict) -> dict:
    """Drop keys that hold credentials; mask anything that looks like an API key in string values."""
    for k in list(event):
        if k.lower() in SECRET_KEYS:
            event[k] = "[redacted]"
        elif isinstance(event[k], str) and SECRET.search(event[k]):
            event[k] = SECRET.sub("[redacted]", event[k])
    return event


def drop_prompts(_logger, _method, event: dict) -> dict:
    """Prompts and answers leave the process only when the policy sets telemetry.log_prompts."""
    event.pop("prompt", None)
    event.pop("answer", None)
    return event


def chain(log_prompts: bool) -> list:
    return [redact_secrets] + ([] if log_prompts else [drop_prompts])
