"""One request on its way through a client: a `Turn` holds what it asked (the request), what was decided, the
chain of tiers that answers it, its budget reservation, its id and start time. `finish(error)` builds the request's
one record and hands the turn to the client's observers in order (structlog's processor style): the budget
settles, the sinks write, shadow mode takes a sample. Streams wrap a turn (`chunking.StreamTurn`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .privacy.redact import scrub
from .telemetry.record import build_record, new_request_id
from .types import BackendResult, ChatRequest, RouteDecision, RouteRecord, ToolCall

if TYPE_CHECKING:
    from .backends.fallback import FallbackChain
    from .policy import Policy
    from .response import HybridChatCompletion

Observer = Callable[["Turn"], None]  # called with a finished turn (its `record` set)


@dataclass(eq=False)
class Turn:
    request: ChatRequest
    decision: RouteDecision
    chain: FallbackChain
    policy: Policy
    t0: float
    observers: Sequence[Observer] = ()
    ticket: Any = None  # the budget's reservation, settled by an observer
    rid: str = field(default_factory=new_request_id)
    record: RouteRecord | None = None

    def finish(self, error: str | None = None) -> RouteRecord:
        """The request's record (`error`: why a tier that was answering stopped), handed to every observer."""
        chain = self.chain
        self.record = build_record(
            policy=self.policy, request=self.request, decision=self.decision, request_id=self.rid, t_start=self.t0,
            attempts=chain.attempts, result=chain.result if chain.answered else None, error=error,
            verifier_score=chain.check.score if chain.check else None, answered_tier=chain.answered)
        for observe in self.observers:
            observe(self)
        return self.record

    def completion(self) -> HybridChatCompletion:
        """The answered turn as the caller gets it, its record written."""
        from .response import make_completion

        record = self.finish()
        assert self.chain.result is not None  # the chain returned: a tier answered
        return make_completion(self.decision, scrubbed(self.chain.result), record)


def scrubbed(result: BackendResult) -> BackendResult:
    """The answer as the caller gets it: no secret in its text or tool-call arguments (an upstream that echoes its
    Authorization header does not hand the key on)."""
    result.text = scrub(result.text)
    if result.tool_calls:
        result.tool_calls = [ToolCall(c.id, c.name, scrub(c.arguments)) for c in result.tool_calls]
    return result
