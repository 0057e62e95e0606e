"""structlog processors for route records. Redaction runs first in every sink's chain."""

from __future__ import annotations

from ..redact import REDACTED, scrub

SECRET_KEYS = {"api_key", "authorization", "password", "secret", "token"}


def redact_secrets(_logger, _method, event: dict) -> dict:
    """Drop keys that hold credentials; mask secret values and anything key-like in string values
    (the request id is ours, and is kept as it is)."""
    for k in list(event):
        if k.lower() in SECRET_KEYS:
            event[k] = REDACTED
        elif isinstance(event[k], str) and k != "request_id":
            event[k] = scrub(event[k])
    return event


def drop_prompts(_logger, _method, event: dict) -> dict:
    """Prompts and answers leave the process only when the policy sets telemetry.log_prompts."""
    event.pop("prompt", None)
    event.pop("answer", None)
    return event


def chain(log_prompts: bool) -> list:
    return [redact_secrets] + ([] if log_prompts else [drop_prompts])
