"""structlog processors for route records. Redaction runs first in every sink's chain."""

from __future__ import annotations

from ..privacy.redact import REDACTED, scrub

SECRET_KEYS = {"api_key", "authorization", "password", "secret", "token"}
# Record fields whose values hybrid-ai writes itself (ids, names from the policy, enums): nothing to scrub there.
# Everything else that is a string (error texts, prompts, answers, any other event key) is scrubbed.
OWN_FIELDS = frozenset({"request_id", "timestamp", "route", "reason", "model", "backend", "quantization",
                        "cost_source", "energy_source", "policy", "policy_hash", "variant", "ran_on",
                        "event"})


def redact_secrets(_logger, _method, event: dict) -> dict:
    """Drop keys that hold credentials; mask secret values and anything key-like in string values."""
    for k in list(event):
        if k.lower() in SECRET_KEYS:
            event[k] = REDACTED
        elif k not in OWN_FIELDS and isinstance(event[k], str):
            event[k] = scrub(event[k])
    return event


def drop_prompts(_logger, _method, event: dict) -> dict:
    """Prompts and answers leave the process only when the policy sets telemetry.log_prompts."""
    event.pop("prompt", None)
    event.pop("answer", None)
    return event


def chain(log_prompts: bool) -> list:
    return [redact_secrets] + ([] if log_prompts else [drop_prompts])
