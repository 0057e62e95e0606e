"""Group prior: which known group of the training data does a request look like, and how often is the strong
model better there?

Outcome data comes in groups (each MMLU subject, GSM8K, a user's `group` field such as a product area). A
request's group is unknown at inference, but its words say a lot about it. A small classifier over the same
hashed n-grams (folded into GROUP_BUCKETS buckets, one-vs-rest logistic, as scikit-learn's SGDClassifier
computes it) gives P(group | request); the feature is the logit of the expected gain, sum_g P(g) * gain_g,
with each group's gain shrunk toward the overall mean by SHRINK pseudo-rows. Unlike the router's own linear
n-gram weights, this is a sharp, non-linear "which topic is this" signal, estimated from many rows per group
(less noisy than one row's label). Training rows get the feature out of fold (nested folds), so its weight is
learned from predictions as noisy as the ones seen at inference. Inference: one gather and sum in numpy."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

GROUP_BUCKETS = 1 << 12  # on MMLU as good as 2^14 and 2^16 in one-off tests (5-fold APGR within 0.001), far smaller
SHRINK = 10.0  # pseudo-rows at the overall mean added to each group's gain estimate
_INNER_FOLDS = 5


def _logit(p):
    p = np.clip(p, 1e-3, 1 - 1e-3)
    return np.log(p / (1 - p))


@dataclass
class GroupPrior:
    names: list[str]
    weights: np.ndarray  # (GROUP_BUCKETS, groups) float32: one-vs-rest weights per bucket
    bias: np.ndarray  # (groups,)
    gain: np.ndarray  # (groups,) shrunk mean gain of the strong model over the weak one, in [0, 1]

    @property
    def buckets(self) -> int:
        return self.weights.shape[0]

    def feature(self, idx: Sequence[int]) -> float:
        """The feature for one request, from the router's own hashed n-gram ids: a handful of numpy calls
        (their fixed cost dominates for short prompts), whatever the number of ids."""
        if not idx:
            return float(self._from_scores(self.bias[None, :])[0])
        a = np.fromiter(idx, np.intp, len(idx))
        a &= self.buckets - 1  # == % buckets: a power of two
        s = self._half_w[a].sum(axis=0)
        s *= 1.0 / math.sqrt(len(idx))
        s += self._half_b
        num, den = np.tanh(s, out=s) @ self._gain_and_one  # sigmoid(x) = (1 + tanh(x / 2)) / 2
        e = min(max((self._gain_sum + float(num)) / (len(s) + float(den)), 1e-3), 1 - 1e-3)  # sum p*gain / sum p
        return math.log(e / (1 - e))

    def __post_init__(self):
        if self.buckets & (self.buckets - 1) or self.weights.shape[1] != len(self.names):
            raise ValueError("group prior: the weight table must have a power-of-two number of rows, one column per group")
        self._half_w, self._half_b = self.weights * 0.5, self.bias * 0.5
        self._gain_and_one = np.column_stack([self.gain, np.ones_like(self.gain)]).astype(np.float32)
        self._gain_sum = float(self.gain.sum())

    def features(self, hashed) -> np.ndarray:
        """The feature for every row of a router's hashed n-gram matrix (training)."""
        return self._from_scores(fold(hashed, self.buckets) @ self.weights + self.bias)

    def _from_scores(self, s: np.ndarray) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-np.clip(s, -30, 30)))
        p /= p.sum(axis=1, keepdims=True)  # one-vs-rest probabilities normalised, as scikit-learn does
        return _logit(p @ self.gain)


def fold(hashed, buckets: int):
    """Fold a router's hashed n-gram matrix (each row's n-grams at 1/sqrt(count)) into `buckets` columns;
    n-grams that land in the same column add up, as they do in `GroupPrior.feature`."""
    from scipy import sparse

    coo = hashed.tocoo()
    return sparse.csr_matrix((coo.data, (coo.row, coo.col % buckets)), shape=(hashed.shape[0], buckets))


def train_group_prior(hashed, groups: Sequence[str], gain: np.ndarray) -> GroupPrior:
    from sklearn.linear_model import SGDClassifier

    names = sorted(set(groups))
    index = {n: i for i, n in enumerate(names)}
    y = np.array([index[g] for g in groups])
    counts = np.bincount(y, minlength=len(names))
    sums = np.bincount(y, weights=gain, minlength=len(names))
    shrunk = (sums + SHRINK * gain.mean()) / (counts + SHRINK)
    clf = SGDClassifier(loss="log_loss", alpha=2e-5, max_iter=20, tol=None, random_state=0)
    clf.fit(fold(hashed, GROUP_BUCKETS), y)
    # weights rounded to float16 here, as the .npz stores them: training sees what inference will
    w, b = clf.coef_.T.astype(np.float16).astype(np.float32), clf.intercept_.astype(np.float64)
    if len(names) == 2:  # binary: one score s for the second group; the first group's is -s
        w, b = np.hstack([-w, w]), np.array([-b[0], b[0]])
    return GroupPrior(names, np.ascontiguousarray(w), b, shrunk)


def out_of_fold_feature(hashed, groups: Sequence[str], gain: np.ndarray, seed: int = 0) -> np.ndarray:
    """The group-prior feature of each training row from a classifier trained without that row."""
    order = list(range(len(groups)))
    random.Random(seed).shuffle(order)
    part = np.empty(len(groups), dtype=int)
    part[order] = np.arange(len(groups)) % _INNER_FOLDS
    out = np.empty(len(groups))
    for k in range(_INNER_FOLDS):
        tr, te = part != k, part == k
        names = [g for g, t in zip(groups, tr) if t]
        if len(set(names)) < 2:  # a fold that saw one group only: it can say nothing about groups
            out[te] = _logit(np.full(te.sum(), gain[tr].mean()))
            continue
        out[te] = train_group_prior(hashed[tr], names, gain[tr]).features(hashed[te])
    return out
