"""The request contract: OpenAI chat-completion parameters only, each validated, into a `ChatRequest`.

One contract for the Python client and every adapter (the server, later the SDK transport). A request chooses
what to ask, never where or how a tier is called: endpoints, keys, providers, headers, callbacks, retries and
mock responses come from the policy alone. Any parameter not listed here, at the top level or inside
`extra_body`, is refused with an error naming it (as the OpenAI API does), so it can never reach a backend."""

from __future__ import annotations

import re
from typing import Any

from .errors import InvalidRequest
from .tooling import (
    check_tool_results,
    parse_parallel,
    parse_response_format,
    parse_tool_calls,
    parse_tool_choice,
    parse_tools,
)
from .types import ROLES, ChatRequest, Message, ToolCall

# Parameters a tier cannot honour yet: accepted only with their neutral value (None or the value given here).
_NOT_YET: dict[str, Any] = {
    "n": 1, "functions": [], "function_call": "none", "logit_bias": {},
    "audio": None, "modalities": ["text"], "prediction": None, "reasoning_effort": None, "verbosity": None,
    "web_search_options": None, "service_tier": None, "store": False, "metadata": None,
    "prompt_cache_key": None, "safety_identifier": None,
}
# Options of the OpenAI SDK's `create()` that would steer the HTTP call to a tier: the policy decides those.
_TRANSPORT = {"extra_headers": "headers", "extra_query": "query parameters", "timeout": "timeouts"}
_MESSAGE_KEYS = {"role", "content", "name", "tool_call_id", "tool_calls", "function_call", "refusal", "audio",
                 "annotations"}
_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_SHORT = 256  # characters of `model`, `user`, `route`, `name`


def _text(value: str, where: str) -> str:
    if _SURROGATE.search(value):
        raise InvalidRequest("contains an unpaired UTF-16 surrogate, which is not valid Unicode", field=where)
    return value


def _short(params: dict, name: str) -> str | None:
    v = params.get(name)
    if v is None:
        return None
    if not isinstance(v, str):
        raise InvalidRequest(f"must be a string, got {type(v).__name__}", field=name)
    if len(v) > MAX_SHORT:
        raise InvalidRequest(f"must be at most {MAX_SHORT} characters, got {len(v):,}", field=name)
    return _text(v, name)


def _content_text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return _text(content, where)
    if isinstance(content, list):
        parts = []
        for j, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise InvalidRequest(
                    f"only text content parts ({{'type': 'text', 'text': ...}}) are supported, got {kind!r}",
                    field=f"{where}[{j}]",
                )
            parts.append(_text(part["text"], f"{where}[{j}].text"))
        return "".join(parts)
    raise InvalidRequest(f"must be a string or a list of text parts, got {type(content).__name__}", field=where)


def _as_dict(obj: Any, where: str) -> dict:
    if isinstance(obj, dict):
        return obj
    dump = getattr(obj, "model_dump", None)  # pydantic objects, e.g. openai's message params
    if callable(dump):
        return dump(exclude_none=True)
    raise InvalidRequest(f"must be an object with 'role' and 'content', got {type(obj).__name__}", field=where)


def parse_messages(messages: Any) -> tuple[Message, ...]:
    if not isinstance(messages, (list, tuple)):
        raise InvalidRequest(f"must be a non-empty list of messages, got {type(messages).__name__}", field="messages")
    if not messages:
        raise InvalidRequest("must contain at least one message", field="messages")
    out = []
    for i, raw in enumerate(messages):
        where = f"messages[{i}]"
        m = _as_dict(raw, where)
        unknown = sorted(str(k) for k in m if k not in _MESSAGE_KEYS)
        if unknown:
            raise InvalidRequest("unrecognized message field", field=f"{where}.{unknown[0]}")
        role = m.get("role")
        if role not in ROLES:
            raise InvalidRequest(f"unknown role {role!r} (expected one of {', '.join(ROLES)})", field=f"{where}.role")
        if m.get("function_call"):
            raise InvalidRequest("is deprecated by OpenAI and not supported; use tool_calls",
                                 field=f"{where}.function_call")
        calls: tuple[ToolCall, ...] = ()
        if m.get("tool_calls") is not None:
            if role != "assistant":
                raise InvalidRequest("only assistant messages make tool calls", field=f"{where}.tool_calls")
            calls = parse_tool_calls(m["tool_calls"], f"{where}.tool_calls")
        call_id = m.get("tool_call_id")
        if call_id is not None and (role != "tool" or not isinstance(call_id, str)):
            raise InvalidRequest("must be a string, on a tool message only", field=f"{where}.tool_call_id")
        content = m.get("content")
        if content is None:
            if role != "assistant":
                raise InvalidRequest("is missing", field=f"{where}.content")
            content = ""
        out.append(Message(role, _content_text(content, f"{where}.content"), calls, call_id,
                           _short(m, "name") if m.get("name") is not None else None))
    check_tool_results(out)
    return tuple(out)


def _number(params: dict, name: str, lo: float, hi: float, integer: bool = False):
    v = params.get(name)
    if v is None:
        return None
    ok_type = isinstance(v, int) if integer else isinstance(v, (int, float))
    if isinstance(v, bool) or not ok_type:
        raise InvalidRequest(f"must be {'an integer' if integer else 'a number'}, got {_show(v)}", field=name)
    if not lo <= v <= hi:
        raise InvalidRequest(f"must be between {lo} and {hi}, got {_show(v)}", field=name)
    return v


def _show(v: Any) -> str:
    """A value for an error message, bounded: a caller can send megabytes (or a 4,000-digit integer)."""
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > 10**30:
        return "an integer of more than 30 digits"
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def _flag(params: dict, name: str) -> bool:
    v = params.get(name)
    if v is None:
        return False
    if not isinstance(v, bool):
        raise InvalidRequest(f"must be true or false, got {_show(v)}", field=name)
    return v


def _stop(params: dict) -> tuple[str, ...]:
    stop = params.get("stop")
    if stop is None:
        return ()
    if isinstance(stop, str):
        stop = [stop]
    if not (isinstance(stop, (list, tuple)) and all(isinstance(s, str) and s for s in stop)) or len(stop) > 4:
        raise InvalidRequest("must be a non-empty string or a list of up to 4 non-empty strings", field="stop")
    return tuple(_text(s, "stop") for s in stop)


def _include_usage(params: dict) -> bool:
    opts = params.get("stream_options")
    if opts is None:
        return False
    if not isinstance(opts, dict):
        raise InvalidRequest(f"must be an object, got {type(opts).__name__}", field="stream_options")
    for key in opts:
        if key != "include_usage":
            raise InvalidRequest("unrecognized stream option", field=f"stream_options.{key}")
    return _flag(opts, "include_usage") if "include_usage" in opts else False


def _merged(params: dict) -> dict:
    """`extra_body` (the OpenAI SDK's way to add body fields) merged in; SDK transport options refused."""
    params = dict(params)
    extra = params.pop("extra_body", None)
    if extra is not None:
        if not isinstance(extra, dict):
            raise InvalidRequest(f"must be an object, got {type(extra).__name__}", field="extra_body")
        if "extra_body" in extra:
            raise InvalidRequest("extra_body cannot be nested", field="extra_body.extra_body")
        params.update(extra)
    for name, what in _TRANSPORT.items():
        if params.get(name) is not None:
            raise InvalidRequest(f"is not accepted: the {what} of a call to a tier come from the policy", field=name)
    return params


ACCEPTED = frozenset({"messages", "model", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop",
                      "seed", "stream", "stream_options", "user", "presence_penalty", "frequency_penalty", "route",
                      "tools", "tool_choice", "parallel_tool_calls", "response_format", "logprobs", "top_logprobs",
                      *_NOT_YET, *_TRANSPORT})


def parse_request(params: dict[str, Any], *, max_tokens_limit: int = 1 << 20) -> ChatRequest:
    """Validate OpenAI `chat.completions.create` parameters into a ChatRequest; InvalidRequest names the field."""
    if not isinstance(params, dict):
        raise InvalidRequest(f"the request must be an object, got {type(params).__name__}")
    params = _merged(params)
    for name in params:
        if name not in ACCEPTED:
            raise InvalidRequest("unrecognized request argument", field=str(name)[:MAX_SHORT])
    for name, neutral in _NOT_YET.items():
        v = params.get(name)
        if v is not None and v != neutral:
            raise InvalidRequest(f"is not supported yet (only {_show(neutral)} or null is accepted)", field=name)
    mt, mct = (_number(params, n, 1, max_tokens_limit, integer=True) for n in ("max_tokens", "max_completion_tokens"))
    if mt is not None and mct is not None and mt != mct:
        raise InvalidRequest("differs from max_tokens; give one of them", field="max_completion_tokens")
    stream = _flag(params, "stream")
    include_usage = _include_usage(params)
    if params.get("stream_options") is not None and not stream:
        raise InvalidRequest("is only allowed when stream is true", field="stream_options")
    model = _short(params, "model")
    tools = parse_tools(params.get("tools"))
    logprobs = _flag(params, "logprobs")
    top = _number(params, "top_logprobs", 0, 20, integer=True)
    if top and not logprobs:
        raise InvalidRequest("needs logprobs: true", field="top_logprobs")
    return ChatRequest(
        messages=parse_messages(params.get("messages")),
        max_tokens=mt if mt is not None else mct,
        temperature=_number(params, "temperature", 0, 2),
        top_p=_number(params, "top_p", 0, 1),
        stop=_stop(params),
        seed=_number(params, "seed", -(2**63), 2**63 - 1, integer=True),
        route=_short(params, "route"),
        stream=stream,
        include_usage=include_usage,
        model=model,
        user=_short(params, "user"),
        presence_penalty=_number(params, "presence_penalty", -2, 2),
        frequency_penalty=_number(params, "frequency_penalty", -2, 2),
        tools=tools,
        tool_choice=parse_tool_choice(params.get("tool_choice"), tools),
        parallel_tool_calls=parse_parallel(params.get("parallel_tool_calls"), tools),
        response_format=parse_response_format(params.get("response_format")),
        logprobs=logprobs,
        top_logprobs=top if logprobs else None,
    )
