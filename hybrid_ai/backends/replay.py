"""Offline replay: a Backend that answers from recorded responses instead of calling a model.

Each recorded answer carries its provenance (where it was recorded). Token counts come from litellm's
`token_counter` for the named model (its bundled tokenizer where litellm has one, else cl100k_base), so cost
and energy are computed as if that model had produced the answer. A prompt with no recording fails with
`BackendError(kind="replay_miss")`, which the client treats like any other tier failure."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..errors import BackendError
from ..types import BackendResult
from .base import Backend


@dataclass(frozen=True)
class Recorded:
    answer: str
    provenance: str


def replay_key(messages) -> str:
    """The lookup key of a conversation: its role/content pairs as canonical JSON."""
    pairs = [(m["role"], m["content"]) if isinstance(m, dict) else (m.role, m.content) for m in messages]
    return json.dumps(pairs, ensure_ascii=False)


def count_tokens(model: str, text: str) -> int | None:
    try:
        from .litellm_backend import import_litellm

        return int(import_litellm().token_counter(model=model, text=text))
    except Exception:  # unknown is None, never a failed request
        return None


class ReplayBackend(Backend):
    name = "replay"
    runs_locally = False

    def __init__(self, tier_name: str, model: str, recordings: dict[str, Recorded]):
        self.tier_name, self.model, self.recordings = tier_name, model, recordings

    @classmethod
    def from_suite(cls, tier_name: str, suite, model: str) -> ReplayBackend:
        """Answers recorded for `model` in a suite's items (`recorded.<model>.answer`)."""
        rec = {}
        for item in suite.items:
            answer = item.recorded.get(model, {}).get("answer")
            if isinstance(answer, str):
                rec[replay_key(item.messages)] = Recorded(answer, f"{suite.meta.name}:{item.id} ({suite.meta.source})")
        return cls(tier_name, model, rec)

    def describe(self):
        return {"backend": self.name, "model": self.model, "recordings": len(self.recordings)}

    def complete(self, request, generation) -> BackendResult:
        hit = self.recordings.get(replay_key(request.messages))
        if hit is None:
            raise BackendError(f"no recorded answer of {self.model} for this prompt", tier=self.tier_name,
                               kind="replay_miss")
        return BackendResult(
            text=hit.answer, model=self.model, prompt_tokens=count_tokens(self.model, request.text),
            completion_tokens=count_tokens(self.model, hit.answer), ttft_ms=None,
            info={"backend": "replay", "provenance": hit.provenance},
        )
