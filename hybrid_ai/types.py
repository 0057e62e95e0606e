"""The data that flows through one request: ChatRequest -> RouteDecision -> BackendResult -> RouteRecord."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict


ROLES = ("system", "developer", "user", "assistant", "tool")


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    content: str


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

    @cached_property
    def text(self) -> str:
        """All message contents joined: what rules and the classifier read."""
        return "\n".join(m.content for m in self.messages)

    @cached_property
    def last_user_text(self) -> str:
        return next((m.content for m in reversed(self.messages) if m.role == "user"), "")

    def as_openai_messages(self) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.content} for m in self.messages]


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Which tiers to try, in order, and why. Made by the pure function `routing.decide`."""

    tiers: tuple[str, ...]
    reason: str  # e.g. "score>=threshold", "rule:pii", "rule:pinned"
    score: float | None
    threshold: float
    rule: str | None = None
    budget: str | None = None  # "budget:day" / "budget:month": a cloud budget took its tier out of `tiers`

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
    counterfactual: dict | None = None  # the strong tier's tokens, cost and energy for this request (answered by another)
    savings_usd: float | None = None  # counterfactual cost - cost
    savings_wh: float | None = None  # counterfactual energy - energy
    escalated: bool = False  # cascade mode: the verifier doubted the local answer and a stronger tier answered
    verifier_score: float | None = None  # cascade mode: the verifier's P(local answer not good enough)
    attempts: list[Attempt] = []
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
