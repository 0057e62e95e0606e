"""Cascade mode (`classifier.mode: cascade`): a request the prompt router sends to the weak tier is answered there
first, and the verifier (verifier.py) reads the answer; a doubtful one is escalated to the next tier of the chain.

`answer_check(policy, verifier, request, decision)` gives the fallback chain its `check` (or None): only for a
decision made by the score (a rule's route, such as personal data kept local, is never escalated), only for the
weak tier, and only while the chain has a tier after it (the last tier's answer is kept whatever the verifier
says). An escalation is an `Escalated` error on the weak tier's attempt (`error_kind: escalated`), so the record
keeps both attempts, why it escalated, and costs, energy and latency of both."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import BackendError

if TYPE_CHECKING:
    from ..policy import Policy
    from ..types import BackendResult, ChatRequest, RouteDecision
    from .reference import ReferenceCheck
    from .verifier import Verifier

SCORED = "score<threshold"  # the decision reason of a request the prompt router kept on the weak tier


class Escalated(BackendError):
    """The verifier doubted the weak tier's answer; the chain goes on to the next tier."""

    def __init__(self, message: str, *, tier: str, score: float):
        super().__init__(message, tier=tier, kind="escalated")
        self.score = score


class Check:
    """The chain's answer check for one request; `score` is the verifier's, once it has read an answer."""

    def __init__(self, verifier: Verifier | ReferenceCheck, request: ChatRequest, tier: str, threshold: float):
        self.verifier, self.request, self.tier, self.threshold = verifier, request, tier, threshold
        self.score: float | None = None

    def holds(self, tier: str) -> bool:
        """Whether this tier's answer is checked (so a stream holds its text until the check)."""
        return tier == self.tier

    def __call__(self, tier: str, result: BackendResult) -> None:
        """Raise Escalated when the verifier doubts `tier`'s answer."""
        if not self.holds(tier):
            return
        self.score = self.verifier.score_request(self.request, result.text, result.logprobs)
        if self.score >= self.threshold:
            raise Escalated(f"verifier: P(not good enough) {self.score:.3f} >= {self.threshold:g}", tier=tier,
                            score=self.score)


def answer_check(policy: Policy, verifier: Verifier | ReferenceCheck | None, request: ChatRequest,
                 decision: RouteDecision) -> Check | None:
    c = policy.classifier
    if c.mode != "cascade" or verifier is None or decision.reason != SCORED or len(decision.tiers) < 2:
        return None
    return Check(verifier, request, c.weak_tier, c.verifier.threshold)


def load_policy_verifier(policy: Policy) -> Verifier | ReferenceCheck | None:
    """The policy's verifier (cascade mode), loaded once per process; None in route mode."""
    if policy.classifier.mode != "cascade":
        return None
    from .verifier import DEFAULT_VERIFIER, load_verifier

    v = policy.classifier.verifier
    if v.references:  # a fine-tuned domain's answers: checked against them (reference.py)
        from .reference import policy_reference_check

        return policy_reference_check(v)
    return load_verifier(str(v.model or DEFAULT_VERIFIER))

