"""LLM-as-judge: the cloud tier grades an answer against the reference, 0-10, scaled to [0, 1]. Used only when
asked (`hybrid-ai eval --judge`) for items whose grader is `judge`; verdicts are cached like answers. With a
spend cap (`max_usd`, priced as the tier prices its answers), an item past it is left unscored (counted), never
judged over the cap."""

from __future__ import annotations

import time

from ..errors import BackendError
from ..grading.judge import PROMPT, parse_verdict
from ..request import parse_request
from .cache import Answer, AnswerCache, answer_key


class Judge:
    def __init__(self, backend, tier, cache: AnswerCache, max_usd: float | None = None):
        """`tier`: the judging tier's config (its model, generation and prices)."""
        self.backend, self.tier, self.model, self.cache, self.max_usd = backend, tier, tier.model, cache, max_usd
        self.generation = tier.generation.model_copy(update={"max_tokens": 16, "temperature": 0.0})
        self.spent_usd, self.calls, self.over_budget, self.unpriced = 0.0, 0, 0, 0

    def summary(self) -> dict:
        return {"model": self.model, "calls": self.calls, "spent_usd": self.spent_usd, "max_usd": self.max_usd,
                "over_budget": self.over_budget, "unpriced_calls": self.unpriced}

    def grade(self, question: str, reference, answer: str) -> float | None:
        """The verdict in [0, 1]; None when the judge failed or gave no score (the report counts these)."""
        messages = [{"role": "user", "content": PROMPT.format(question=question, reference=reference, answer=answer)}]
        key = answer_key(f"judge:{self.model}", self.generation.model_dump(mode="json"), messages)
        hit = self.cache.get(key)
        if hit is None:
            if self.max_usd is not None and self.spent_usd >= self.max_usd:
                self.over_budget += 1
                return None
            t0 = time.perf_counter()
            try:
                r = self.backend.complete(parse_request({"messages": messages}), self.generation)
            except BackendError:
                return None
            usd, _ = self.tier.price(r.prompt_tokens, r.completion_tokens, time.perf_counter() - t0, None)
            self.calls += 1
            self.spent_usd += usd or 0.0
            self.unpriced += usd is None
            hit = Answer("judge", "judge", self.model, r.text)
            if parse_verdict(r.text) is not None:
                self.cache.put(key, hit)
        return parse_verdict(hit.text or "")
