"""Routing: hard rules, the classifier seam and the pure `decide` function."""

from .classifier import Classifier, HeuristicClassifier, load_classifier
from .decide import decide

__all__ = ["Classifier", "HeuristicClassifier", "decide", "load_classifier"]
