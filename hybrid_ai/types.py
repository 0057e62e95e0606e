"""The data that flows through one request: ChatRequest -> RouteDecision -> BackendResult -> RouteRecord."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict

from .errors import InvalidRequest

ROLES = ("system", "developer", "user", "assistant", "tool")


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class ChatRequest:
    """A validated chat request. Build it with `parse_request`, which names the field of any problem."""

    messages: tuple[Message, ...]
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    route: str | None = None  # a pinned tier name, e.g. "local" or "cloud"
    stream: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # other OpenAI parameters, passed to the cloud tier

    @cached_property
    def text(self) -> str:
        """All message contents joined: what rules and the classifier read."""
        return "\n".join(m.content for m in self.messages)

    @cached_property
    def last_user_text(self) -> str:
        return next((m.content for m in reversed(self.messages) if m.role == "user"), "")

    def as_openai_messages(self) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.content} for m in self.messages]


def _content_text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for j, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise InvalidRequest(
                    f"only text content parts ({{'type': 'text', 'text': ...}}) are supported, got {kind!r}",
                    field=f"{where}[{j}]",
                )
            parts.append(part["text"])
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
        m = _as_dict(raw, f"messages[{i}]")
        role = m.get("role")
        if role not in ROLES:
            raise InvalidRequest(f"unknown role {role!r} (expected one of {', '.join(ROLES)})", field=f"messages[{i}].role")
        content = m.get("content")
        if content is None:
            if role != "assistant":
                raise InvalidRequest("is missing", field=f"messages[{i}].content")
            content = ""
        out.append(Message(role, _content_text(content, f"messages[{i}].content")))
    return tuple(out)


def _number(params: dict, name: str, lo: float, hi: float, integer: bool = False):
    v = params.get(name)
    if v is None:
        return None
    ok_type = isinstance(v, int) if integer else isinstance(v, (int, float))
    if isinstance(v, bool) or not ok_type:
        raise InvalidRequest(f"must be {'an integer' if integer else 'a number'}, got {v!r}", field=name)
    if not lo <= v <= hi:
        raise InvalidRequest(f"must be between {lo} and {hi}, got {v!r}", field=name)
    return v


_KNOWN = {"messages", "model", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "seed",
          "route", "stream", "extra_body", "extra_headers", "extra_query", "timeout"}


def parse_request(params: dict[str, Any], *, max_tokens_limit: int = 1 << 20) -> ChatRequest:
    """Validate OpenAI-style `chat.completions.create` parameters into a ChatRequest."""
    params = dict(params)
    extra_body = params.pop("extra_body", None) or {}
    if not isinstance(extra_body, dict):
        raise InvalidRequest("must be an object", field="extra_body")
    params = {**extra_body, **params}
    if "max_tokens" not in params and "max_completion_tokens" in params:
        params["max_tokens"] = params["max_completion_tokens"]
    stop = params.get("stop")
    if isinstance(stop, str):
        stop = (stop,)
    elif stop is None:
        stop = ()
    elif not (isinstance(stop, (list, tuple)) and all(isinstance(s, str) for s in stop)):
        raise InvalidRequest("must be a string or a list of strings", field="stop")
    route = params.get("route")
    if route is not None and not isinstance(route, str):
        raise InvalidRequest(f"must be a tier name, got {route!r}", field="route")
    stream = params.get("stream") or False
    if not isinstance(stream, bool):
        raise InvalidRequest(f"must be true or false, got {stream!r}", field="stream")
    return ChatRequest(
        messages=parse_messages(params.get("messages")),
        max_tokens=_number(params, "max_tokens", 1, max_tokens_limit, integer=True),
        temperature=_number(params, "temperature", 0, 2),
        top_p=_number(params, "top_p", 0, 1),
        stop=tuple(stop),
        seed=_number(params, "seed", -(2**63), 2**63 - 1, integer=True),
        route=route,
        stream=stream,
        extra={k: v for k, v in params.items() if k not in _KNOWN},
    )


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Which tiers to try, in order, and why. Made by the pure function `routing.decide`."""

    tiers: tuple[str, ...]
    reason: str  # e.g. "score>=threshold", "rule:pii", "rule:pinned"
    score: float | None
    threshold: float
    rule: str | None = None

    @property
    def route(self) -> str:
        return self.tiers[0]


@dataclass(slots=True)
class BackendResult:
    """What a backend returns for one request."""

    text: str
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str = "stop"
    ttft_ms: float | None = None
    # backend-specific facts for the record: quantization, adapter, device, measured energy, ...
    info: dict[str, Any] = field(default_factory=dict)


class RouteRecord(BaseModel):
    """One record per request: what was routed where, and what it cost."""

    model_config = ConfigDict(extra="forbid")

    request_id: str
    timestamp: str
    route: str | None
    reason: str
    score: float | None
    threshold: float
    model: str | None = None
    backend: str | None = None
    quantization: str | None = None
    adapter: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float
    ttft_ms: float | None = None
    cost_usd: float | None = None
    cost_source: str = "unknown"
    energy_wh: float | None = None
    energy_source: str = "unknown"
    co2_g: float | None = None
    fallback: bool = False
    fallback_reason: str | None = None
    error: str | None = None
    policy: str
    policy_hash: str
    prompt: str | None = None
    answer: str | None = None


class HybridInfo(BaseModel):
    """The `hybrid` field added to each ChatCompletion."""

    route: str | None
    reason: str
    score: float | None
    threshold: float
    tiers: list[str]
    fallback: bool
    record: RouteRecord
