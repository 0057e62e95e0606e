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


class NearReferences:
    """Cascade mode with references (`classifier.verifier.references`): a request close to one of them is in the
    fine-tuned domain and goes to the local tier first (score 0), where the reference check guards its answer;
    any other request is scored by the router."""

    def __init__(self, base: Classifier, check):
        self.base, self.check = base, check

    def score(self, request: ChatRequest) -> float:
        return 0.0 if self.check.references.near(request.question) else float(self.base.score(request))


def load_classifier(config: ClassifierConfig) -> Classifier:
    base: Classifier
    if config.type == "heuristic":
        base = HeuristicClassifier()
    else:
        from .scorer import DEFAULT_MODEL, load_scorer

        base = load_scorer(str(config.model or DEFAULT_MODEL))
    v = config.verifier
    if config.mode == "cascade" and v.references:
        from ..checks.reference import policy_reference_check

        return NearReferences(base, policy_reference_check(v))
    return base
