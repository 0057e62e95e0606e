"""Tool calls and structured output in the request contract: `tools`, `tool_choice`, `parallel_tool_calls`,
`response_format`, assistant `tool_calls` and `tool` messages, each validated as the OpenAI API does (a bad one is
an InvalidRequest naming its field). JSON Schemas (tool parameters, `response_format.json_schema.schema`) are
checked against their meta-schema, so a schema no tier could use is refused before any tier is called."""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import InvalidRequest
from .sized_cache import SizedCache
from .types import ToolCall

MAX_TOOLS = 128  # OpenAI's limit
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CHOICES = ("none", "auto", "required")


def _keys(obj: Any, where: str, allowed: set[str], required: tuple[str, ...] = ()) -> dict:
    if not isinstance(obj, dict):
        raise InvalidRequest(f"must be an object, got {type(obj).__name__}", field=where)
    for key in obj:
        if key not in allowed:
            raise InvalidRequest("unrecognized field", field=f"{where}.{str(key)[:64]}")
    for key in required:
        if obj.get(key) is None:
            raise InvalidRequest("is missing", field=f"{where}.{key}")
    return obj


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise InvalidRequest("must be 1-64 letters, digits, underscores or dashes", field=where)
    return value


SCHEMA_CHECKS = SizedCache(1 << 20)  # verdicts only (a digest and a short text each): thousands of schemas


def _schema_problem(text: str) -> str | None:
    return SCHEMA_CHECKS.get(text, _check_schema, lambda _t, v: len(v or ""))


def _check_schema(text: str) -> str | None:
    import jsonschema

    schema = json.loads(text)
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as e:
        path = "/".join(str(p) for p in e.absolute_path) or "(root)"
        return f"is not a valid JSON Schema: {e.message[:200]} (at {path})"
    return None


def check_schema(schema: Any, where: str) -> dict:
    if not isinstance(schema, dict):
        raise InvalidRequest(f"must be a JSON Schema object, got {type(schema).__name__}", field=where)
    try:
        problem = _schema_problem(json.dumps(schema, sort_keys=True))
    except RecursionError:  # in-process callers have no body-depth limit (the server refuses over 64 levels)
        problem = "nests too deeply to be checked as a JSON Schema"
    if problem:
        raise InvalidRequest(problem, field=where)
    return schema


def parse_tools(value: Any) -> tuple[dict, ...]:
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)):
        raise InvalidRequest(f"must be a list of tools, got {type(value).__name__}", field="tools")
    if len(value) > MAX_TOOLS:
        raise InvalidRequest(f"must have at most {MAX_TOOLS} tools, got {len(value)}", field="tools")
    out, seen = [], set()
    for i, tool in enumerate(value):
        where = f"tools[{i}]"
        if isinstance(tool, dict) and tool.get("type") != "function":
            raise InvalidRequest(f"only 'function' tools are supported, got {str(tool.get('type'))[:40]!r}",
                                 field=f"{where}.type")
        _keys(tool, where, {"type", "function"}, ("type", "function"))
        fn = _keys(tool["function"], f"{where}.function", {"name", "description", "parameters", "strict"}, ("name",))
        name = _name(fn["name"], f"{where}.function.name")
        if name in seen:
            raise InvalidRequest(f"tool name {name!r} is given twice", field=f"{where}.function.name")
        seen.add(name)
        if fn.get("description") is not None and not isinstance(fn["description"], str):
            raise InvalidRequest("must be a string", field=f"{where}.function.description")
        if fn.get("parameters") is not None:
            check_schema(fn["parameters"], f"{where}.function.parameters")
        if fn.get("strict") is not None and not isinstance(fn["strict"], bool):
            raise InvalidRequest("must be true or false", field=f"{where}.function.strict")
        out.append({"type": "function", "function": {k: v for k, v in fn.items() if v is not None}})
    return tuple(out)


def parse_tool_choice(value: Any, tools: tuple[dict, ...]) -> str | dict | None:
    if value is None or (not tools and value in ("none", "auto")):  # what SDKs send by default: nothing asked
        return None
    if not tools:
        raise InvalidRequest("is only allowed when tools are given", field="tool_choice")
    if isinstance(value, str):
        if value not in _CHOICES:
            raise InvalidRequest(f"must be one of {', '.join(_CHOICES)} or a function, got {value[:40]!r}",
                                 field="tool_choice")
        return value
    _keys(value, "tool_choice", {"type", "function"}, ("type", "function"))
    if value["type"] != "function":
        raise InvalidRequest("only {'type': 'function', 'function': {'name': ...}} is supported",
                             field="tool_choice.type")
    name = _name(_keys(value["function"], "tool_choice.function", {"name"}, ("name",))["name"],
                 "tool_choice.function.name")
    if name not in {t["function"]["name"] for t in tools}:
        raise InvalidRequest(f"names {name!r}, which is not one of the request's tools",
                             field="tool_choice.function.name")
    return {"type": "function", "function": {"name": name}}


def parse_parallel(value: Any, tools: tuple[dict, ...]) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidRequest("must be true or false", field="parallel_tool_calls")
    return value if tools else None  # without tools it asks nothing (some SDKs always send it)


def parse_response_format(value: Any) -> dict | None:
    """None for plain text; else the validated json_object / json_schema format."""
    if value is None:
        return None
    _keys(value, "response_format", {"type", "json_schema"}, ("type",))
    kind = value["type"]
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind != "json_schema":
        raise InvalidRequest(f"must be 'text', 'json_object' or 'json_schema', got {str(kind)[:40]!r}",
                             field="response_format.type")
    where = "response_format.json_schema"
    js = _keys(value.get("json_schema"), where, {"name", "description", "schema", "strict"}, ("name",))
    _name(js["name"], f"{where}.name")
    if js.get("schema") is not None:
        check_schema(js["schema"], f"{where}.schema")
    if js.get("strict") is not None and not isinstance(js["strict"], bool):
        raise InvalidRequest("must be true or false", field=f"{where}.strict")
    return {"type": "json_schema", "json_schema": {k: v for k, v in js.items() if v is not None}}


def parse_tool_calls(value: Any, where: str) -> tuple[ToolCall, ...]:
    """An assistant message's `tool_calls`."""
    if not isinstance(value, (list, tuple)) or not value:
        raise InvalidRequest("must be a non-empty list of tool calls", field=where)
    out = []
    for j, call in enumerate(value):
        w = f"{where}[{j}]"
        _keys(call, w, {"id", "type", "function"}, ("id", "function"))
        if call.get("type", "function") != "function":
            raise InvalidRequest("only 'function' tool calls are supported", field=f"{w}.type")
        if not isinstance(call["id"], str) or not call["id"] or len(call["id"]) > 256:
            raise InvalidRequest("must be a non-empty string of at most 256 characters", field=f"{w}.id")
        fn = _keys(call["function"], f"{w}.function", {"name", "arguments"}, ("name", "arguments"))
        if not isinstance(fn["arguments"], str):
            raise InvalidRequest("must be a string (the arguments as JSON text)", field=f"{w}.function.arguments")
        out.append(ToolCall(call["id"], _name(fn["name"], f"{w}.function.name"), fn["arguments"]))
    return tuple(out)


def check_tool_results(messages) -> None:
    """Each `tool` message answers a call an earlier assistant message made (as the OpenAI API requires)."""
    called: set[str] = set()
    for i, m in enumerate(messages):
        called.update(c.id for c in m.tool_calls)
        if m.role == "tool":
            if m.tool_call_id is None:
                raise InvalidRequest("is missing (a tool message answers a tool call)",
                                     field=f"messages[{i}].tool_call_id")
            if m.tool_call_id not in called:
                raise InvalidRequest(f"{m.tool_call_id[:64]!r} answers no tool call of an earlier assistant message",
                                     field=f"messages[{i}].tool_call_id")
