"""The OpenAPI description of POST /v1/chat/completions: the request contract and the error responses, so that
clients and API fuzzers (schemathesis) know what the server accepts and answers."""

from __future__ import annotations

from typing import Any

_TEXT_PART = {"type": "object", "required": ["type", "text"], "additionalProperties": False,
              "properties": {"type": {"const": "text"}, "text": {"type": "string"}}}
_MESSAGE = {
    "type": "object", "required": ["role", "content"], "additionalProperties": False,
    "properties": {
        "role": {"enum": ["system", "developer", "user", "assistant", "tool"]},
        "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": _TEXT_PART}]},
        "name": {"type": "string", "maxLength": 256},
    },
}
_NUMBER = {"type": "number"}

def request_schema(max_tokens: int, tiers: list[str]) -> dict:
    """The JSON schema of a chat request under a policy's limits (`null` is also accepted for every optional field;
    strings must be valid Unicode: no unpaired surrogates)."""
    return {**REQUEST, "properties": {
        **REQUEST["properties"],
        "max_tokens": {"type": "integer", "minimum": 1, "maximum": max_tokens},
        "max_completion_tokens": {"type": "integer", "minimum": 1, "maximum": max_tokens},
        "route": {"enum": tiers, "description": "pin a tier (needs a `pinned` rule in the policy)"},
    }}


REQUEST: dict[str, Any] = {
    "type": "object", "required": ["messages"], "additionalProperties": False,
    "dependentSchemas": {"stream_options": {"required": ["stream"], "properties": {"stream": {"const": True}}}},
    "properties": {
        "messages": {"type": "array", "minItems": 1, "items": _MESSAGE},
        "model": {"type": "string", "maxLength": 256},
        "temperature": {**_NUMBER, "minimum": 0, "maximum": 2},
        "top_p": {**_NUMBER, "minimum": 0, "maximum": 1},
        "presence_penalty": {**_NUMBER, "minimum": -2, "maximum": 2},
        "frequency_penalty": {**_NUMBER, "minimum": -2, "maximum": 2},
        "stop": {"anyOf": [{"type": "string", "minLength": 1},
                           {"type": "array", "maxItems": 4, "items": {"type": "string", "minLength": 1}}]},
        "seed": {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
        "stream": {"type": "boolean"},
        "stream_options": {"type": "object", "additionalProperties": False,
                           "properties": {"include_usage": {"type": "boolean"}}},
        "user": {"type": "string", "maxLength": 256},
        "n": {"const": 1},
    },
}
ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["message", "type"],
    "properties": {"message": {"type": "string"}, "type": {"type": "string"},
                   "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]}}}}}


_EVENTS = "each event's data: a chat.completion.chunk (the last one with `hybrid`), or an error object; then [DONE]"


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def chat_openapi(max_tokens: int, tiers: list[str]) -> dict:
    """The OpenAPI operation of POST /v1/chat/completions under a policy's limits."""
    return {**CHAT_OPENAPI, "requestBody": {"required": True, "content": {"application/json": {
        "schema": request_schema(max_tokens, tiers)}}}}


CHAT_OPENAPI = {
    "responses": {
        "200": {"description": "a chat.completion, or server-sent chat.completion.chunk events when stream is true",
                "content": {"application/json": {"schema": {"type": "object"}},
                            "text/event-stream": {"schema": {"type": "object", "description": _EVENTS}}}},
        "400": _error("the request breaks the contract; `param` names the field"),
        "401": _error("missing or wrong API key"),
        "413": _error("the body is over server.max_body_bytes"),
        "502": _error("every tier the routing allowed failed"),
    },
}
