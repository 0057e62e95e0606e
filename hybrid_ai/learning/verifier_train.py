"""Train the answer-aware verifier (verifier.py) on graded local answers: logistic regression (scikit-learn,
training only) on the label "the local answer is wrong" (1 - its grade; a grade in [0, 1] counts as a soft label,
two weighted rows), exported to plain arrays."""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence

from ..checks.verifier import CLIP, FEATURES, Verifier, verifier_inputs
from .data import DataError, Outcome
from .train import _sklearn

BUCKETS = 1 << 16

def fit_verifier(rows: Sequence[Outcome], *, c: float = 1.0, buckets: int = BUCKETS, meta: dict | None = None,
                 logprobs: Sequence[list[float] | None] | None = None) -> Verifier:
    """`rows`: outcomes with the weak model's answer (`weak_answer`) and its grade (`weak`)."""
    np, sparse, LogisticRegression = _sklearn()
    rows = [r for r in rows if r.weak_answer is not None]
    if len(rows) < 20:
        raise DataError(f"need at least 20 graded answers with the weak model's answer ('weak_answer') to train a "
                        f"verifier, got {len(rows)}")
    inputs = [verifier_inputs(r.prompt, r.weak_answer or "", buckets, r.n_messages, logprobs[i] if logprobs else None)
              for i, r in enumerate(rows)]
    dense = np.array([d for d, _ in inputs], dtype=np.float64)
    indptr, indices, data = [0], [], []
    for _, idx in inputs:
        indices.extend(idx)
        data.extend([1.0 / math.sqrt(len(idx))] * len(idx))
        indptr.append(len(indices))
    hashed = sparse.csr_matrix((data, indices, indptr), shape=(len(rows), buckets))
    mean, std = dense.mean(axis=0), dense.std(axis=0)
    std[std == 0] = 1.0
    X = sparse.hstack([sparse.csr_matrix(np.clip((dense - mean) / std, -CLIP, CLIP)), hashed]).tocsr()
    y = np.array([1.0 - r.weak for r in rows])
    X2 = sparse.vstack([X, X]).tocsr()
    y2 = np.r_[np.ones(len(rows)), np.zeros(len(rows))]
    w2 = np.r_[y, 1 - y]
    keep = w2 > 0
    clf = LogisticRegression(C=c, max_iter=3000).fit(X2[keep], y2[keep], sample_weight=w2[keep])
    coef, k = clf.coef_[0], len(FEATURES)
    return Verifier(mean.tolist(), std.tolist(), coef[:k].tolist(), array("f", coef[k:].astype(np.float32).tobytes()),
                    float(clf.intercept_[0]), {"features": FEATURES, "buckets": buckets, "c": c, "rows": len(rows),
                                               "wrong_rate": float(y.mean()), **(meta or {})})
