"""LLM-as-judge: the cloud tier grades an answer against the reference, 0-10, scaled to [0, 1]. Used only when
asked (`hybrid-ai eval --judge`) for items whose grader is `judge`; verdicts are cached like answers."""

from __future__ import annotations

from ..errors import BackendError
from ..grading.judge import PROMPT, parse_verdict
from ..request import parse_request
from .cache import Answer, AnswerCache, answer_key


class Judge:
    def __init__(self, backend, generation, model: str, cache: AnswerCache):
        self.backend, self.model, self.cache = backend, model, cache
        self.generation = generation.model_copy(update={"max_tokens": 16, "temperature": 0.0})

    def grade(self, question: str, reference, answer: str) -> float | None:
        """The verdict in [0, 1]; None when the judge failed or gave no score (the report counts these)."""
        messages = [{"role": "user", "content": PROMPT.format(question=question, reference=reference, answer=answer)}]
        key = answer_key(f"judge:{self.model}", self.generation.model_dump(mode="json"), messages)
        hit = self.cache.get(key)
        if hit is None:
            try:
                r = self.backend.complete(parse_request({"messages": messages}), self.generation)
            except BackendError:
                return None
            hit = Answer("judge", "judge", self.model, r.text)
            if parse_verdict(r.text) is not None:
                self.cache.put(key, hit)
        return parse_verdict(hit.text or "")
