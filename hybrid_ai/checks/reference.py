"""The reference check: cascade mode's verifier for a domain the local model was fine-tuned on.

A model fine-tuned on a few dozen of a team's own questions learns their answers' sentences; asked a question
worded another way it often answers with a neighbouring fact's sentence (fluent, confident and wrong), which a
verifier trained on general traffic cannot tell from a right answer. The reference check knows the teacher's
answers the model was trained on (`classifier.verifier.references`, a JSON-lines file of `{"prompt", "answer"}`
that `hybrid-ai improve` writes into each bundle version). For a request whose nearest reference (its prompt
and answer, words lightly stemmed) is at least `min_similarity` alike (cosine of TF-IDF weights), it scores the
local answer 1 - its agreement with that reference's answer (grading's agreement: the same final number, else
token F1); a request like no reference goes to the general verifier. Plain Python, about 0.1 ms for a few
hundred references."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ..grading.graders import agreement_score
from ..references import References, read_references, write_references

__all__ = ["ReferenceCheck", "load_reference_check", "off_scale", "on_scale", "policy_reference_check",
           "read_references", "write_references"]


class ReferenceCheck(References):
    def __init__(self, pairs: list[tuple[str, str]], base: Any, min_similarity: float = 0.15,
                 thresholds: tuple[float, float] | None = None):
        """`pairs`: (prompt, teacher answer); `base`: the verifier for requests like none of them. `thresholds`:
        (the check's own, the policy's): a close request's score is then put on the policy's scale (see
        `on_scale`), so that one comparison with the policy's threshold serves both kinds of request."""
        super().__init__(pairs, min_similarity)
        self.base, self.thresholds = base, thresholds

    def score_text(self, request: str, answer: str, n_messages: int = 1,
                   logprobs: list[float] | None = None) -> float:
        """P(the local answer is not good enough): 1 - agreement with the nearest reference's answer, or the base
        verifier's score for a request like no reference."""
        sim, i = self.nearest(request)
        if i is None or sim < self.min_similarity:
            return float(self.base.score_text(request, answer, n_messages, logprobs))
        score = 1.0 - agreement_score(answer, self.answers[i])[0]
        return on_scale(score, *self.thresholds) if self.thresholds else score


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
def load_reference_check(path: str, base_path: str, min_similarity: float,
                         thresholds: tuple[float, float] | None = None) -> ReferenceCheck:
    from .verifier import load_verifier

    return ReferenceCheck(read_references(path), load_verifier(base_path), min_similarity, thresholds)


def policy_reference_check(v) -> ReferenceCheck:
    """The reference check a policy's `classifier.verifier` (with `references`) describes."""
    from .verifier import DEFAULT_VERIFIER

    own = v.reference_threshold
    return load_reference_check(str(v.references), str(v.model or DEFAULT_VERIFIER), v.min_similarity,
                                None if own is None else (own, v.threshold))
