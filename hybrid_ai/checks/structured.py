"""Structured output on tiers that cannot constrain their decoding (the in-process SLM): the answer is checked
before anyone sees it (`output_check`). One that is not a JSON object (or, for `json_schema`, not valid under the
schema) is handed to the next tier of the chain, like a failed attempt (`error_kind: invalid_output`); a Markdown
code fence around valid JSON is removed. The last tier of a chain is not checked: its answer is what the caller
gets.

The prompt is left as the caller wrote it, as OpenAI's JSON mode expects (the caller asks for JSON in a message).
An added format instruction was measured and rejected: it cut the shipped SLM's valid JSON from 80% to 25%
(`benchmarks/structured_output.py`)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from ..errors import BackendError
from ..sized_cache import SizedCache

if TYPE_CHECKING:
    from ..types import BackendResult, ChatRequest, RouteDecision

_FENCE = re.compile(r"^```[A-Za-z]*\s*\n(.*?)\n?```$", re.S)


def unfenced(text: str) -> str:
    text = text.strip()
    m = _FENCE.match(text)
    return m.group(1).strip() if m else text


VALIDATORS = SizedCache(32 << 20)  # compiled response-format validators, charged 4x their schema's text


def _validator(schema_text: str):
    return VALIDATORS.get(schema_text, _build_validator, lambda t, _v: 4 * len(t))


def _build_validator(schema_text: str):
    import jsonschema

    schema = json.loads(schema_text)
    return jsonschema.validators.validator_for(schema)(schema)


def problem(text: str, response_format: dict) -> str | None:
    """Why `text` is not an answer in `response_format`, or None when it is."""
    try:
        value: Any = json.loads(text)
    except ValueError as e:
        return f"not valid JSON ({str(e)[:80]})"
    except RecursionError:
        return "JSON nested too deeply to read"
    if response_format.get("type") == "json_object" and not isinstance(value, dict):
        return f"a JSON {type(value).__name__}, not an object"
    schema = (response_format.get("json_schema") or {}).get("schema")
    if schema is not None:
        error = next(iter(_validator(json.dumps(schema, sort_keys=True)).iter_errors(value)), None)
        if error is not None:
            return f"not valid under the schema: {error.message[:120]}"
    return None


class OutputCheck:
    """The chain's check of structured answers, for every tier that has a tier after it."""

    def __init__(self, request: ChatRequest, checked: tuple[str, ...]):
        self.format, self.checked = request.response_format or {}, checked

    def holds(self, tier: str) -> bool:
        return tier in self.checked

    def __call__(self, tier: str, result: BackendResult) -> None:
        if not self.holds(tier):
            return
        text = unfenced(result.text)
        why = problem(text, self.format)
        if why is not None:
            raise BackendError(f"the answer is {why}; asked for {self.format.get('type')}", tier=tier,
                               kind="invalid_output")
        result.text = text


def output_check(request: ChatRequest, decision: RouteDecision) -> OutputCheck | None:
    if not {"json_object", "json_schema"} & set(request.needs) or len(decision.tiers) < 2:
        return None
    return OutputCheck(request, decision.tiers[:-1])
