"""The classifier seam: `score(request) -> float in [0, 1]`, the estimated probability that the weak (local) tier
is not good enough, and `load_classifier` for a policy's `classifier` section: the shipped or a trained router
(scorer.py) or the hand-weighted heuristic (heuristic.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .heuristic import HeuristicClassifier, heuristic_logit  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    from ..policy import ClassifierConfig
    from ..types import ChatRequest


@runtime_checkable
class Classifier(Protocol):
    def score(self, request: ChatRequest) -> float: ...


def load_classifier(config: ClassifierConfig) -> Classifier:
    if config.type == "heuristic":
        return HeuristicClassifier()
    from .scorer import DEFAULT_MODEL, load_scorer

    return load_scorer(str(config.model or DEFAULT_MODEL))
