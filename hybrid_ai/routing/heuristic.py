"""The heuristic classifier: a logistic model over cheap lexical features, hand-weighted (no training). It is the
baseline (`classifier.type: heuristic`) and the trained router's optional request-kind prior (train.py)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .features import Parsed, parse

if TYPE_CHECKING:
    from ..types import ChatRequest


_REASONING = frozenset("prove proof derive reason reasoning analyze analyse compare evaluate justify design "
                       "architecture optimize optimise algorithm complexity theorem calculate compute solve "
                       "probability estimate tradeoff tradeoffs".split())  # words are [a-z]+ runs: "trade-off" is two
_REASONING_PHRASES = ("step by step", "step-by-step", "explain why", "why does", "how many", "how much")
_CODE = frozenset("def class function return python javascript sql regex bug compile refactor import "
                  "traceback exception".split())
_MATH = frozenset("integral derivative equation matrix sum average ratio percent dollars hours km miles "
                  "minutes speed".split())
_CONSTRAINTS = frozenset("must exactly constraint constraints requirement requirements".split())
_CONSTRAINT_PHRASES = ("at least", "at most", "no more than", "without using", "only use")
_EASY = ("what is", "what's", "who is", "who was", "when is", "when was", "when did", "where is", "define",
         "translate", "rewrite", "summarize", "summarise", "classify", "fix the grammar", "say", "list")

# weights of a logistic model over features in roughly [0, 1]
_WEIGHTS = {
    "bias": -1.6,
    "length": 1.8,  # log-scaled prompt length, saturating at ~4k characters
    "reasoning": 0.9,
    "code": 0.9,
    "math": 0.9,
    "constraints": 0.5,
    "numbers": 0.6,
    "turns": 0.4,
    "easy_opening": -1.0,
}


def _hits(words: set[str], vocab: frozenset, text: str, phrases: tuple = ()) -> int:
    """Distinct keywords present plus occurrences of the phrases."""
    return len(vocab & words) + sum(text.count(p) for p in phrases)


def features(text: str, n_messages: int = 1, parsed: Parsed | None = None) -> dict[str, float]:
    """Over the router's own parse of the first MAX_CHARS characters (words, numbers, arithmetic operators), so
    that the trained router's heuristic prior costs only a few set lookups and substring counts more."""
    p = parsed or parse(text)
    low, words = p.low, p.wset
    code = _hits(words, _CODE, low) + low.count("```") + low.count(";\n") + low.count("{\n")
    return {
        "bias": 1.0,
        "length": min(math.log1p(len(text)) / math.log1p(4000), 1.5),
        "reasoning": min(_hits(words, _REASONING, low, _REASONING_PHRASES) / 2, 1.0),
        "code": min(code / 2, 1.0),
        "math": min((_hits(words, _MATH, low) + p.operators) / 2, 1.0),
        "constraints": min(_hits(words, _CONSTRAINTS, low, _CONSTRAINT_PHRASES) / 2, 1.0),
        "numbers": min(len(p.numbers) / 6, 1.0),
        "turns": min((n_messages - 1) / 4, 1.0),
        "easy_opening": 1.0 if low.lstrip().startswith(_EASY) else 0.0,
    }


def heuristic_logit(text: str, n_messages: int = 1, parsed: Parsed | None = None) -> float:
    """The hand-weighted logit: also the trained router's optional request-kind prior (train.py)."""
    return sum(_WEIGHTS[k] * v for k, v in features(text, n_messages, parsed).items())


class HeuristicClassifier:
    """Hand-weighted logistic score over lexical features (no training)."""

    def score(self, request: ChatRequest) -> float:
        return self.score_text(request.text, len(request.messages))

    def score_text(self, text: str, n_messages: int = 1) -> float:
        return 1.0 / (1.0 + math.exp(-heuristic_logit(text, n_messages)))
