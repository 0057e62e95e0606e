"""The data that flows through one request: ChatRequest -> RouteDecision -> BackendResult -> RouteRecord."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict

ROLES = ("system", "developer", "user", "assistant", "tool")
SPLIT_WINDOW = 64  # characters on each side of a boundary between two of the caller's turns that are read together


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call the assistant made (in an assistant message or an answer); `arguments` is its JSON text."""

    id: str
    name: str
    arguments: str

    def as_openai(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a streamed tool call, as OpenAI streams them: the first piece of call `index` has its id and
    name, the next ones more of its arguments."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


Piece = str | ToolCallDelta  # what a stream yields: a text delta or a piece of a tool call


class ToolCallParts:
    """Streamed tool-call pieces (any objects with `index`, `id` and `function.name` / `.arguments`, as OpenAI and
    litellm stream them) put back together by index."""

    def __init__(self) -> None:
        self._calls: dict[int, dict[str, Any]] = {}

    def add(self, piece: Any) -> None:
        fn = getattr(piece, "function", None)
        call = self._calls.setdefault(piece.index or 0, {"id": None, "name": None, "args": []})
        call["id"] = call["id"] or piece.id
        call["name"] = call["name"] or getattr(fn, "name", None)
        call["args"].append(getattr(fn, "arguments", None) or "")

    def __bool__(self) -> bool:
        return bool(self._calls)

    def calls(self) -> list[tuple[int, str | None, str | None, str]]:
        """(index, id, name, arguments) of each call, by index; id or name None when no piece carried it."""
        return [(i, c["id"], c["name"], "".join(c["args"])) for i, c in sorted(self._calls.items())]


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    content: str
    tool_calls: tuple[ToolCall, ...] = ()  # an assistant message's calls
    tool_call_id: str | None = None  # a tool message: the call it answers
    name: str | None = None

    def as_openai(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [c.as_openai() for c in self.tool_calls]
            out["content"] = self.content or None
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            out["name"] = self.name
        return out


@dataclass(frozen=True)
class ChatRequest:
    """A validated chat request. Build it with `request.parse_request`, which names the field of any problem."""

    messages: tuple[Message, ...]
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    route: str | None = None  # a pinned tier name, e.g. "local" or "cloud"
    stream: bool = False
    include_usage: bool = False  # stream_options.include_usage: a last chunk with usage and no choices
    model: str | None = None  # what the caller asked for; the policy decides what answers
    user: str | None = None  # the OpenAI end-user id, passed on to cloud tiers
    presence_penalty: float | None = None  # honoured by cloud tiers; the local tier uses its repetition_penalty
    frequency_penalty: float | None = None
    tools: tuple[dict[str, Any], ...] = ()  # OpenAI tool definitions, validated ({"type": "function", "function": {...}})
    tool_choice: str | dict[str, Any] | None = None  # "none" | "auto" | "required" | {"type": "function", "function": {...}}
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None  # {"type": "json_object"} or {"type": "json_schema", "json_schema": {...}}
    logprobs: bool = False  # each answer token's log-probability in the response (choices[0].logprobs)
    top_logprobs: int | None = None  # and the N most likely tokens at each position (needs logprobs)

    @cached_property
    def text(self) -> str:
        """All message contents joined, with the arguments of earlier tool calls: what rules and the classifier
        read (a personal-data rule must see data wherever in the conversation it is)."""
        parts = []
        for m in self.messages:
            parts.append(m.content)
            parts.extend(f"{c.name}({c.arguments})" for c in m.tool_calls)
        return "\n".join(parts)

    @cached_property
    def question(self) -> str:
        """The user's messages joined (the whole text where there is none): what a fine-tuned domain's references
        are matched against; a deployment's system prompt says nothing of which fact is asked."""
        asked = [m.content for m in self.messages if m.role == "user" and m.content]
        return "\n".join(asked) if asked else self.text

    @cached_property
    def scan_text(self) -> str:
        """Every text of the request that reaches a tier, joined by spaces (so a value split across two messages
        reads as one): contents, names, tool calls (ids, names, arguments) and tool-call ids, `user`, `stop`, the
        tools (descriptions, enums, schemas) and the response format's schema. What the personal-data rule and
        masking read."""
        import json

        parts: list[str] = []
        said = [m.content for m in self.messages if m.role in ("user", "tool") and m.content]
        for before, after in zip(said, said[1:]):  # a value split across the caller's turns, with a reply between
            parts.append(f"{before[-SPLIT_WINDOW:]} {after[:SPLIT_WINDOW]}")
        for m in self.messages:
            parts.append(m.content)
            parts.extend(x for x in (m.name, m.tool_call_id) if x)
            for c in m.tool_calls:
                parts += [c.id, c.name, c.arguments]
        parts.extend(x for x in (self.user, *self.stop) if x)
        for extra in (self.tools, self.response_format):
            if extra:
                parts.append(json.dumps(extra, ensure_ascii=False))
        return " ".join(parts)

    @cached_property
    def needs(self) -> tuple[str, ...]:
        """What a tier must support to answer: `tools` (tool definitions, or tool calls and results in the
        conversation), `json_object` or `json_schema` (the response format), `logprobs` and `top_logprobs`. Empty
        for a plain chat."""
        out = []
        in_turns = any(m.tool_calls or m.role == "tool" for m in self.messages)
        if (self.tools and self.tool_choice != "none") or in_turns:
            out.append("tools")
        kind = (self.response_format or {}).get("type")
        if kind in ("json_object", "json_schema"):
            out.append(kind)
        if self.logprobs:
            out.append("logprobs")
        if self.top_logprobs:
            out.append("top_logprobs")
        return tuple(out)

    @cached_property
    def last_user_text(self) -> str:
        return next((m.content for m in reversed(self.messages) if m.role == "user"), "")

    def as_openai_messages(self) -> list[dict[str, Any]]:
        return [m.as_openai() for m in self.messages]

    def tool_params(self) -> dict[str, Any]:
        """The request's tool, response-format and logprobs parameters, as OpenAI takes them (only those given)."""
        out: dict[str, Any] = {}
        if self.tools:
            out["tools"] = list(self.tools)
        for name in ("tool_choice", "parallel_tool_calls", "response_format", "top_logprobs"):
            if (value := getattr(self, name)) is not None:
                out[name] = value
        if self.logprobs:
            out["logprobs"] = True
        return out


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Which tiers to try, in order, and why. Made by the pure function `routing.decide`."""

    tiers: tuple[str, ...]
    reason: str  # e.g. "score>=threshold", "rule:pii", "rule:pinned"
    score: float | None
    threshold: float
    rule: str | None = None
    budget: str | None = None  # "budget:day" / "budget:month": a cloud budget took its tier out of `tiers`
    needs: tuple[str, ...] = ()  # what the request needs of a tier (ChatRequest.needs)
    skipped: tuple[str, ...] = ()  # tiers left out because they do not support what it needs

    @property
    def first(self) -> str:
        """The tier tried first (the record's `route` is the tier that answered, which a fallback can change)."""
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
    logprobs: list[float] | None = None  # each generated token's log-probability, where the engine gives them
    tool_calls: list[ToolCall] | None = None  # the answer calls tools (finish_reason "tool_calls")
    # OpenAI's choices[0].logprobs.content ({"token", "logprob", "bytes", "top_logprobs"} per token), when asked
    token_logprobs: list[dict[str, Any]] | None = None
    # backend-specific facts for the record: quantization, adapter, device, measured energy, ...
    info: dict[str, Any] = field(default_factory=dict)


class Attempt(BaseModel):
    """One try of one tier within a request: answered, failed, or cut short (an abandoned stream)."""

    model_config = ConfigDict(extra="forbid")

    tier: str
    model: str | None = None
    backend: str | None = None
    latency_ms: float
    ttft_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    cost_source: str = "unknown"
    energy_wh: float | None = None
    energy_source: str = "unknown"
    co2_g: float | None = None
    error: str | None = None
    error_kind: str | None = None  # BackendError.kind: load, context, timeout, connection, auth, escalated, ...


class RouteRecord(BaseModel):
    """One record per request: what was routed where, and what it cost. Cost, energy and CO2 are totals over
    every attempt (a failed local try costs its machine time too); `attempts` has each one."""

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
    stream: bool = False
    budget: str | None = None  # "budget:day" / "budget:month" when a cloud budget changed the route
    caller: str | None = None  # the server's API key id (key_<sha256 prefix>), never the key; None in-process
    counterfactual: dict[str, Any] | None = None  # the strong tier's tokens, cost and energy (answered by another)
    savings_usd: float | None = None  # counterfactual cost - cost
    savings_wh: float | None = None  # counterfactual energy - energy
    escalated: bool = False  # cascade mode: the verifier doubted the local answer and a stronger tier answered
    verifier_score: float | None = None  # cascade mode: the verifier's P(local answer not good enough)
    needs: list[str] = []  # what the request needed of a tier: tools, json_object, json_schema, logprobs, ...
    skipped_tiers: list[str] = []  # tiers the decision left out because they do not support what it needed
    tool_calls: int = 0  # how many tool calls the answer made
    attempts: list[Attempt] = []
    policy: str
    policy_hash: str
    variant: str | None = None  # with a canary: `current` or `canary` (which of the two answered)
    ran_on: str | None = None  # where the answer ran: `in-process`, `private:<host:port>` or `cloud:<host>`
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
