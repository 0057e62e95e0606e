"""Offline replay: a Backend that answers from recorded responses instead of calling a model.

Each recorded answer carries its provenance (where it was recorded) and its kind: `recorded` (the model's answer
text), `outcome` (only whether the model was right, as in RouteLLM's MMLU files: the answer is replayed as the
reference when it was right and as an empty answer when not, one token either way), `standin` (an item written
for this repo whose reference answer stands in for a frontier model's) or `route_log` (an answer the project's
own SQLite route log kept, with `log_prompts: true`) or `eval_cache` (what an earlier live `hybrid-ai eval` of
the same model and settings got, from the eval answer cache). Token counts come from litellm's
`token_counter` for the named model (its bundled tokenizer where litellm has one, else cl100k_base), so cost
and energy are computed as if that model had produced the answer. A prompt with no recording fails with
`BackendError(kind="replay_miss")`, which the client treats like any other tier failure."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..backends.base import Backend
from ..backends.litellm_backend import count_tokens
from ..errors import BackendError
from ..types import BackendResult


@dataclass(frozen=True)
class Recorded:
    answer: str
    provenance: str
    kind: str = "recorded"
    correct: bool | None = None


def replay_key(messages) -> str:
    """The lookup key of a conversation: its role/content pairs as canonical JSON."""
    pairs = [(m["role"], m["content"]) if isinstance(m, dict) else (m.role, m.content) for m in messages]
    return json.dumps(pairs, ensure_ascii=False)


def _has_word(word: str, where: str) -> bool:
    """`word` (case-folded) as a whole word of `where`."""
    return re.search(rf"\b{re.escape(word)}\b", where.casefold()) is not None


class ReplayBackend(Backend):
    name = "replay"
    runs_locally = False
    cacheable = False  # the eval cache would only duplicate what is already recorded

    def __init__(self, tier_name: str, model: str, recordings: dict[str, Recorded], answer_cache=None):
        self.tier_name, self.model, self.recordings = tier_name, model, recordings
        self.answer_cache = answer_cache  # an eval AnswerCache: what an earlier live eval of `model` answered

    @classmethod
    def from_suite(cls, tier_name: str, suite, model: str, *, standins: bool = True) -> ReplayBackend:
        """Answers recorded for `model` in a suite's items (`recorded.<model>`: its answer text, or only its
        outcome), else, where the suite declares `reference_is_standin` (and `standins`), the item's stand-in."""
        rec = {}
        for item in suite.items:
            where = f"{suite.meta.name}:{item.id}"
            got = item.recorded.get(model, {})
            correct = got.get("correct") if isinstance(got.get("correct"), bool) else None
            if isinstance(got.get("answer"), str):
                hit = Recorded(got["answer"], f"{where} ({suite.meta.source})", "recorded", correct)
            elif correct is not None:
                hit = Recorded(str(item.reference) if correct else "", f"{where} (outcome only, {suite.meta.source})",
                               "outcome", correct)
            elif standins and suite.meta.reference_is_standin:
                text = item.standin if item.standin is not None else str(item.reference)
                hit = Recorded(text, f"{where} (reference as stand-in, {suite.meta.source})", "standin")
            else:
                continue
            rec[replay_key(item.messages)] = hit
        return cls(tier_name, model, rec)

    @classmethod
    def from_route_log(cls, tier_name: str, path, model: str, route: str = "cloud") -> ReplayBackend:
        """Answers of `route` kept in a SQLite route log (only a log written with `log_prompts: true` keeps
        them), keyed by the prompt text; the newest answer per prompt wins."""
        from ..errors import HybridAIError
        from ..telemetry.sinks import read_answers

        try:
            rows = read_answers(path, route)
        except HybridAIError as e:
            raise BackendError(str(e), tier=tier_name, kind="replay_miss") from None
        from ..store import where

        rec = {prompt: Recorded(answer, f"route log {where(path)}: {rid} at {ts}", "route_log")
               for rid, ts, prompt, answer in rows if prompt is not None and answer is not None}
        return cls(tier_name, model, rec)

    def _tokens(self, text: str) -> int | None:
        if self.answer_cache is None:
            return count_tokens(self.model, text=text)
        return self.answer_cache.tokens(self.model, text, lambda m, t: count_tokens(m, text=t))

    def _from_answer_cache(self, request, generation) -> Recorded | None:
        """The answer an earlier live eval got from `model` with these generation settings, if it is cached."""
        from .cache import answer_key

        if request.max_tokens is not None:  # an item's own max_tokens, as the eval keyed that answer
            generation = generation.model_copy(update={"max_tokens": request.max_tokens})
        key = answer_key(self.model, generation.model_dump(mode="json"), request.as_openai_messages())
        got = self.answer_cache.get(key)
        if got is None or got.text is None:
            return None
        return Recorded(got.text, f"eval answer cache {self.answer_cache.path} ({self.model})", "eval_cache")

    def update(self, other: ReplayBackend) -> ReplayBackend:
        """Add another source's recordings (ours win where both have one)."""
        self.recordings = {**other.recordings, **self.recordings}
        return self

    def describe(self):
        return {"backend": self.name, "model": self.model, "recordings": len(self.recordings)}

    def _hit(self, request, generation) -> Recorded:
        hit = self.recordings.get(replay_key(request.messages)) or self.recordings.get(request.text)
        if hit is None and self.answer_cache is not None:
            hit = self._from_answer_cache(request, generation)
        if hit is None:
            raise BackendError(f"no recorded answer of {self.model} for this prompt", tier=self.tier_name,
                               kind="replay_miss")
        return hit

    def complete_masked(self, masked, original, mask, generation) -> BackendResult:
        """The answer recorded for the unmasked request, as the masked request could have got it: each whole value
        in it becomes its placeholder (the masking backend puts the values back). An answer that uses a part of a
        value the masked request hides (a first name taken from an e-mail address) could not have come from it:
        that is a miss, which the eval counts as a wrong answer."""
        hit = self._hit(original, generation)
        text = hit.answer
        for value, placeholder in mask.values.items():
            text = text.replace(value, placeholder)
        words = {w for value in mask.values for w in re.findall(r"[^\W_]{3,}", value.casefold())}
        leaked = [w for w in words if _has_word(w, text) and not _has_word(w, masked.text)]  # elsewhere: the cloud's
        if leaked and hit.kind != "outcome":
            raise BackendError(f"the recorded answer of {self.model} uses personal data that the masked request "
                               f"hides ({len(leaked)} word(s))", tier=self.tier_name, kind="replay_miss")
        return self._result(masked, Recorded(text, hit.provenance + " (masked)", hit.kind, hit.correct))

    def complete(self, request, generation) -> BackendResult:
        return self._result(request, self._hit(request, generation))

    def _result(self, request, hit: Recorded) -> BackendResult:
        completion = 1 if hit.kind == "outcome" else self._tokens(hit.answer)
        return BackendResult(
            text=hit.answer, model=self.model, prompt_tokens=self._tokens(request.text),
            completion_tokens=completion, ttft_ms=None,
            info={"backend": "replay", "provenance": hit.provenance, "replay_kind": hit.kind,
                  "recorded_correct": hit.correct},
        )
