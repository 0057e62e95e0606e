"""Shared by the one-off router benchmarks: 5-fold out-of-fold APGR of a logistic router on any feature matrix."""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from hybrid_ai.learning.metrics import summarize


def oof_apgr(X, rows, folds: int = 5) -> float:
    """Soft label "the strong answer is better" (ties half) as two weighted rows, as routing.train.fit does."""
    y = np.array([(o.strong - o.weak + 1) / 2 for o in rows])
    fold = np.arange(len(rows)) % folds
    np.random.default_rng(0).shuffle(fold)
    scores = np.zeros(len(rows))
    for f in range(folds):
        tr, te = fold != f, fold == f
        X2 = sparse.vstack([X[tr], X[tr]]).tocsr()
        y2, w2 = np.r_[np.ones(tr.sum()), np.zeros(tr.sum())], np.r_[y[tr], 1 - y[tr]]
        keep = w2 > 0
        m = LogisticRegression(C=1.0, max_iter=2000).fit(X2[keep], y2[keep], sample_weight=w2[keep])
        scores[te] = m.decision_function(X[te])
    return summarize(scores.tolist(), [o.weak for o in rows], [o.strong for o in rows])["apgr"]
