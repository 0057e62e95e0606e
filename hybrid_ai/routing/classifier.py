"""The classifier seam: `score(request) -> float in [0, 1]`, the estimated probability that the
weak (local) tier is not good enough. `HeuristicClassifier` is the first real implementation: a
logistic model over cheap lexical features, hand-weighted; the trained scorer replaces it."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..policy import Classifier as ClassifierConfig
    from ..types import ChatRequest


@runtime_checkable
class Classifier(Protocol):
    def score(self, request: ChatRequest) -> float: ...


_REASONING = frozenset("prove proof derive reason reasoning analyze analyse compare evaluate justify design "
                       "architecture optimize optimise algorithm complexity theorem calculate compute solve "
                       "probability estimate tradeoff tradeoffs trade-off trade-offs".split())
_REASONING_PHRASES = ("step by step", "step-by-step", "explain why", "why does", "how many", "how much")
_CODE = frozenset("def class function return python javascript sql regex bug compile refactor import "
                  "traceback exception".split())
_MATH = frozenset("integral derivative equation matrix sum average ratio percent dollars hours km miles "
                  "minutes speed".split())
_CONSTRAINTS = frozenset("must exactly constraint constraints requirement requirements".split())
_CONSTRAINT_PHRASES = ("at least", "at most", "no more than", "without using", "only use")
_EASY = ("what is", "what's", "who is", "who was", "when is", "when was", "when did", "where is", "define",
         "translate", "rewrite", "summarize", "summarise", "classify", "fix the grammar", "say", "list")
_NUMBER = re.compile(r"\d+")
_OPERATOR = re.compile(r"\d\s*[-+*/^=%]\s*\d")
_WORD = re.compile(r"[a-z][a-z'-]*")

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


def features(text: str, n_messages: int = 1) -> dict[str, float]:
    sample = text[:4000].lower()  # bounded work per request, whatever the prompt size
    words = set(_WORD.findall(sample))
    code = _hits(words, _CODE, sample) + sample.count("```") + sample.count(";\n") + sample.count("{\n")
    return {
        "bias": 1.0,
        "length": min(math.log1p(len(text)) / math.log1p(4000), 1.5),
        "reasoning": min(_hits(words, _REASONING, sample, _REASONING_PHRASES) / 2, 1.0),
        "code": min(code / 2, 1.0),
        "math": min((_hits(words, _MATH, sample) + len(_OPERATOR.findall(sample))) / 2, 1.0),
        "constraints": min(_hits(words, _CONSTRAINTS, sample, _CONSTRAINT_PHRASES) / 2, 1.0),
        "numbers": min(len(_NUMBER.findall(sample)) / 6, 1.0),
        "turns": min((n_messages - 1) / 4, 1.0),
        "easy_opening": 1.0 if sample.lstrip().startswith(_EASY) else 0.0,
    }


class HeuristicClassifier:
    """Hand-weighted logistic score over lexical features (no training)."""

    def score(self, request: ChatRequest) -> float:
        f = features(request.text, len(request.messages))
        z = sum(_WEIGHTS[k] * v for k, v in f.items())
        return 1.0 / (1.0 + math.exp(-z))


def load_classifier(config: ClassifierConfig) -> Classifier:
    if config.type == "heuristic":
        return HeuristicClassifier()
    from .scorer import DEFAULT_MODEL, load_scorer

    return load_scorer(str(config.model or DEFAULT_MODEL))
