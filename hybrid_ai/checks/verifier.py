"""The answer-aware verifier: P(the local answer is not good enough | request, local answer), the check a cascade
makes before it returns a local answer (FrugalGPT's scorer, AutoMix's verification, without a second model call).

A logistic model over the request's features (features.py), the answer's (answer_features.py) and hashed word
n-grams of both, trained by verifier_train.py on graded local answers (the outcome corpus, or a route log's
shadow outcomes). Inference is plain Python over lists of floats (about 0.1 ms); stored as one .npz file."""

from __future__ import annotations

import json
import math
import zlib
from array import array
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ..routing.features import DENSE, dense_features, hashed_ngrams, parse
from .answer_features import NAMES, answer_features, answer_ngrams

if TYPE_CHECKING:
    from ..types import ChatRequest

DEFAULT_VERIFIER = Path(__file__).resolve().parent.parent / "assets" / "router" / "verifier.npz"
FEATURES = [*DENSE, *NAMES]


def verifier_inputs(request: str, answer: str, buckets: int, n_messages: int = 1,
                    logprobs: list[float] | None = None) -> tuple[list[float], list[int]]:
    """(dense features, distinct hashed n-gram buckets) of a request and its local answer."""
    parsed = parse(request)
    dense = dense_features(request, n_messages, parsed) + answer_features(request, answer, logprobs)
    idx = set(hashed_ngrams(request, buckets, parsed.low))
    idx.update(zlib.crc32(g.encode()) % buckets for g in answer_ngrams(answer))
    return dense, sorted(idx)


def clip(z: float) -> float:
    """A standardized feature, bounded: a value far outside the training range (a feature nearly constant there)
    cannot swamp the others."""
    return -CLIP if z < -CLIP else CLIP if z > CLIP else z


CLIP = 5.0


@dataclass
class Verifier:
    mean: list[float]
    std: list[float]
    dense_w: list[float]
    hash_w: array
    bias: float
    meta: dict = field(default_factory=dict)

    def score_request(self, request: ChatRequest, answer: str, logprobs: list[float] | None = None) -> float:
        """P(the answer to `request` is not good enough), as the reference check scores one too."""
        return self.score_text(request.text, answer, len(request.messages), logprobs)

    def score_text(self, request: str, answer: str, n_messages: int = 1,
                   logprobs: list[float] | None = None) -> float:
        dense, idx = verifier_inputs(request, answer, len(self.hash_w), n_messages, logprobs)
        z = self.bias + sum(clip((x - m) / s) * w for x, m, s, w in zip(dense, self.mean, self.std, self.dense_w))
        if idx:
            z += sum(self.hash_w[i] for i in idx) / math.sqrt(len(idx))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def save(self, path: str | Path) -> Path:
        import numpy as np

        from ..routing.scorer import save_npz

        return save_npz(path, self.meta, mean=np.asarray(self.mean), std=np.asarray(self.std),
                        dense_w=np.asarray(self.dense_w), hash_w=np.asarray(self.hash_w, np.float32),
                        bias=np.asarray([self.bias]))

    @classmethod
    def load(cls, path: str | Path) -> Verifier:
        import numpy as np

        from ..errors import HybridAIError

        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                if meta.get("features") != FEATURES:
                    raise HybridAIError(f"verifier {path} was trained with other features; retrain it")
                return cls(z["mean"].tolist(), z["std"].tolist(), z["dense_w"].tolist(),
                           array("f", z["hash_w"].astype(np.float32).tobytes()), float(z["bias"][0]), meta)
        except (OSError, KeyError, ValueError) as e:
            raise HybridAIError(f"cannot read verifier {path}: {e}") from None


@lru_cache(maxsize=8)
def load_verifier(path: str) -> Verifier:
    return Verifier.load(path)
