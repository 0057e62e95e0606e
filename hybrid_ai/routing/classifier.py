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


_REASONING = re.compile(
    r"\b(step[- ]by[- ]step|prove|proof|derive|explain why|why does|reason(ing)?|analy[sz]e|compare|"
    r"trade-?offs?|evaluate|justify|design|architecture|optimi[sz]e|algorithm|complexity|theorem|"
    r"calculate|compute|solve|how many|how much|probability|estimate)\b",
    re.I,
)
_CODE = re.compile(r"```|\bdef |\bclass |\bfunction\b|\breturn\b|[{};]\s*$|\b(python|javascript|sql|regex|bug|"
                   r"stack trace|compile|refactor)\b", re.I | re.M)
_MATH = re.compile(r"\d+\s*[-+*/^=%]\s*\d+|\$\d|\b\d+(\.\d+)?\s*(%|percent|dollars?|hours?|km|miles)\b|"
                   r"\b(integral|derivative|equation|matrix|sum of|average|ratio)\b", re.I)
_CONSTRAINTS = re.compile(r"\b(must|exactly|at least|at most|no more than|without using|only use|"
                          r"in \d+ words|constraints?|requirements?)\b", re.I)
_EASY = re.compile(r"^\s*(what is|what's|who is|who was|when (is|was|did)|where is|define|translate|"
                   r"rewrite|summari[sz]e|classify|fix the grammar|say|list)\b", re.I)

# (weight, feature) pairs; features are in roughly [0, 1]
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


def features(text: str, n_messages: int = 1) -> dict[str, float]:
    sample = text[:8000]  # bounded work per request, whatever the prompt size
    n = len(text)
    return {
        "bias": 1.0,
        "length": min(math.log1p(n) / math.log1p(4000), 1.5),
        "reasoning": min(len(_REASONING.findall(sample)) / 2, 1.0),
        "code": min(len(_CODE.findall(sample)) / 2, 1.0),
        "math": min(len(_MATH.findall(sample)) / 2, 1.0),
        "constraints": min(len(_CONSTRAINTS.findall(sample)) / 2, 1.0),
        "numbers": min(len(re.findall(r"\d+", sample)) / 6, 1.0),
        "turns": min((n_messages - 1) / 4, 1.0),
        "easy_opening": 1.0 if _EASY.match(sample) else 0.0,
    }


class HeuristicClassifier:
    """Hand-weighted logistic score over lexical features (no training, about 20 microseconds)."""

    def score(self, request: ChatRequest) -> float:
        f = features(request.text, len(request.messages))
        z = sum(_WEIGHTS[k] * v for k, v in f.items())
        return 1.0 / (1.0 + math.exp(-z))


def load_classifier(config: ClassifierConfig) -> Classifier:
    if config.type == "heuristic":
        return HeuristicClassifier()
    raise ValueError(f"unknown classifier type {config.type!r}")  # unreachable: the policy validates it
