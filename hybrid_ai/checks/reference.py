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

__all__ = ["ReferenceCheck", "load_reference_check", "read_references", "write_references"]


class ReferenceCheck(References):
    def __init__(self, pairs: list[tuple[str, str]], base: Any, min_similarity: float = 0.15):
        """`pairs`: (prompt, teacher answer); `base`: the verifier for requests like none of them."""
        super().__init__(pairs, min_similarity)
        self.base = base

    def score_text(self, request: str, answer: str, n_messages: int = 1,
                   logprobs: list[float] | None = None) -> float:
        """P(the local answer is not good enough): 1 - agreement with the nearest reference's answer, or the base
        verifier's score for a request like no reference."""
        sim, i = self.nearest(request)
        if i is None or sim < self.min_similarity:
            return float(self.base.score_text(request, answer, n_messages, logprobs))
        return 1.0 - agreement_score(answer, self.answers[i])[0]


@lru_cache(maxsize=8)
def load_reference_check(path: str, base_path: str, min_similarity: float) -> ReferenceCheck:
    from .verifier import load_verifier

    return ReferenceCheck(read_references(path), load_verifier(base_path), min_similarity)
