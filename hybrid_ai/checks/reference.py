"""The reference check: cascade mode's verifier for a domain the local model was fine-tuned on.

A model fine-tuned on a few dozen of a team's own questions learns their answers' sentences; asked a question
worded another way it often answers with a neighbouring fact's sentence (fluent, confident and wrong), which a
verifier trained on general traffic cannot tell from a right answer. The reference check knows the teacher's
answers the model was trained on (`classifier.verifier.references`, a JSON-lines file of `{"prompt", "answer"}`
that `hybrid-ai improve` writes into each bundle version). For a request whose question is at least
`min_similarity` alike to a reference's (references.py: TF-IDF or sentence embeddings, `similarity`), it scores
the local answer 1 - its agreement with the nearest reference's answer (grading's agreement: the same final
number, else token F1); a request like no reference goes to the general verifier."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..grading.graders import agreement_score
from ..references import References, Similarity, load_references, read_references, write_references

if TYPE_CHECKING:
    from ..types import ChatRequest

# The margin (cosine, by meaning) from which an answer agreeing with the nearest reference is fully trusted. On the
# helpdesk example's held-out questions the two whose nearest training question has another fact's answer had
# margins of 0.017 and 0.088; the 22 right ones a median of 0.17.
FULL_MARGIN = {"embedding": 0.2}

__all__ = ["ReferenceCheck", "load_reference_check", "off_scale", "on_scale", "policy_reference_check",
           "read_references", "write_references"]


class ReferenceCheck:
    def __init__(self, references: References, base: Any, thresholds: tuple[float, float] | None = None):
        """`references`: the index of (prompt, teacher answer); `base`: the verifier for requests like none of
        them. `thresholds`: (the check's own, the policy's): a close request's score is then put on the policy's
        scale (see `on_scale`), so that one comparison with the policy's threshold serves both kinds of
        request."""
        self.references, self.base, self.thresholds = references, base, thresholds

    def nearest(self, question: str) -> tuple[float, int | None]:
        return self.references.nearest(question)

    def score_request(self, request: ChatRequest, answer: str, logprobs: list[float] | None = None) -> float:
        """P(the local answer is not good enough): 1 - agreement with the answer of the reference nearest to the
        request's question, or the base verifier's score for a request like no reference."""
        question = request.question
        sim, i = self.nearest(question)
        if i is None or sim < self.references.min_similarity:
            return float(self.base.score_request(request, answer, logprobs))
        score = 1.0 - agreement_score(answer, self.references.answers[i])[0] * self.confidence(question)
        return on_scale(score, *self.thresholds) if self.thresholds else score

    def confidence(self, question: str) -> float:
        """How far an answer that agrees with the nearest reference is trusted: by meaning, in proportion to how
        much nearer that reference is than the nearest with another answer (fully from FULL_MARGIN on); a model
        that answers from known answers copies the nearest, right or not, so agreement alone cannot tell. By
        words: fully."""
        full = FULL_MARGIN.get(self.references.similarity)
        return 1.0 if not full else min(1.0, self.references.margin(question) / full)


def on_scale(score: float, own: float, policy: float) -> float:
    """`score` moved, monotonically, from a scale whose threshold is `own` onto one whose threshold is `policy`:
    at or above `own` exactly when the result is at or above `policy` (piecewise linear; 0 and 1 stay)."""
    if score >= own:
        return policy + (score - own) * (1.0 - policy) / (1.0 - own) if own < 1.0 else 1.0
    return score * policy / own


def off_scale(value: float, own: float, policy: float) -> float:
    """The inverse of `on_scale`: a threshold chosen on the policy's scale, as the check's own."""
    if value >= policy:
        return own + (value - policy) * (1.0 - own) / (1.0 - policy) if policy < 1.0 else 1.0
    return value * own / policy if policy > 0 else 0.0


@lru_cache(maxsize=8)
def load_reference_check(path: str, base_path: str, min_similarity: float | None,
                         thresholds: tuple[float, float] | None = None, similarity: Similarity = "tfidf",
                         embedding_model: str | None = None) -> ReferenceCheck:
    from .verifier import load_verifier

    return ReferenceCheck(load_references(path, min_similarity, similarity, embedding_model), load_verifier(base_path),
                          thresholds)


def policy_reference_check(v) -> ReferenceCheck:
    """The reference check a policy's `classifier.verifier` (with `references`) describes."""
    from .verifier import DEFAULT_VERIFIER

    own = v.reference_threshold
    return load_reference_check(str(v.references), str(v.model or DEFAULT_VERIFIER), v.min_similarity,
                                None if own is None else (own, v.threshold), v.similarity, v.embedding_model)
