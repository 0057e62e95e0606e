"""The trained router's compact scorer: a logistic model over standardized dense features, hashed
n-grams and, optionally, the group prior (groups.py) and the heuristic's logit at a fixed weight (train.py),
stored as one .npz file (weights) with its metadata. Inference is plain Python over a list of floats, plus a
few numpy calls for the group prior; no scikit-learn. Imported only when a trained router is used."""

from __future__ import annotations

import json
import math
from array import array
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .features import DENSE, dense_features, hashed_ngrams, parse
from .heuristic import heuristic_logit

if TYPE_CHECKING:
    from ..types import ChatRequest
    from .groups import GroupPrior

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "assets" / "router" / "default.npz"


@dataclass
class LinearScorer:
    dense_mean: list[float]
    dense_std: list[float]
    dense_w: list[float]
    hash_w: array  # float32 weights of the hashed n-gram buckets (indexed from Python: fast for a few hundred)
    bias: float
    meta: dict = field(default_factory=dict)
    group: GroupPrior | None = None
    group_w: float = 0.0  # weight of the group-prior feature (a logit; see groups.py)
    prior_w: float = 0.0  # weight of the heuristic classifier's logit (the request-kind prior; see train.py)

    @property
    def buckets(self) -> int:
        return len(self.hash_w)

    def score_text(self, text: str, n_messages: int = 1) -> float:
        parsed = parse(text)
        d = dense_features(text, n_messages, parsed)
        z = self.bias
        for x, m, s, w in zip(d, self.dense_mean, self.dense_std, self.dense_w):
            z += (x - m) / s * w
        idx = hashed_ngrams(text, self.buckets, parsed.low)
        if idx:
            hw = self.hash_w
            z += sum(hw[i] for i in idx) / math.sqrt(len(idx))
        if self.group is not None:
            z += self.group_w * self.group.feature(idx)
        if self.prior_w:
            z += self.prior_w * heuristic_logit(text, n_messages, parsed)
        if z < -30:
            return 0.0
        return 1.0 / (1.0 + math.exp(-z))

    def score(self, request: ChatRequest) -> float:
        return self.score_text(request.text, len(request.messages))

    def save(self, path: str | Path) -> Path:
        meta, group = dict(self.meta), {}
        if self.group is not None:
            meta["groups"] = self.group.names
            group = {"group_weights": self.group.weights.astype(np.float16), "group_bias": self.group.bias,
                     "group_gain": self.group.gain, "group_w": np.asarray([self.group_w])}
        return save_npz(path, meta, dense_mean=np.asarray(self.dense_mean, np.float64),
                        dense_std=np.asarray(self.dense_std, np.float64),
                        dense_w=np.asarray(self.dense_w, np.float64), hash_w=np.asarray(self.hash_w, np.float32),
                        bias=np.asarray([self.bias]), prior_w=np.asarray([self.prior_w]), **group)

    @classmethod
    def load(cls, path: str | Path) -> LinearScorer:
        from ..errors import HybridAIError

        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                if meta.get("dense") != list(DENSE):
                    raise HybridAIError(f"router model {path} was trained with other features; retrain it")
                group, group_w = None, 0.0
                if "group_weights" in z:
                    from .groups import GroupPrior

                    group = GroupPrior(meta.pop("groups"), z["group_weights"].astype(np.float32), z["group_bias"],
                                       z["group_gain"])
                    group_w = float(z["group_w"][0])
                prior_w = float(z["prior_w"][0]) if "prior_w" in z else 0.0  # files from before it existed
                return cls(z["dense_mean"].tolist(), z["dense_std"].tolist(), z["dense_w"].tolist(),
                           array("f", z["hash_w"].astype(np.float32).tobytes()), float(z["bias"][0]), meta,
                           group, group_w, prior_w)
        except (OSError, KeyError, ValueError) as e:
            raise HybridAIError(f"cannot read router model {path}: {e}") from None


def save_npz(path: str | Path, meta: dict, **arrays) -> Path:
    """A model file: the arrays and the JSON metadata in one compressed .npz, written to a temporary name and then
    renamed, so a reader never sees half a file (the router here, the verifier in verifier.py)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, meta=np.asarray(json.dumps(meta)), **arrays)
    tmp.replace(path)
    return path


@lru_cache(maxsize=16)
def load_scorer(path: str) -> LinearScorer:
    """A scorer file loaded once per process."""
    return LinearScorer.load(path)
