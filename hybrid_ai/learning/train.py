"""Train the router: logistic regression (scikit-learn, training only) over dense features and hashed
n-grams, exported to a LinearScorer.

Labels: `gain` (default) learns P(the strong answer is better than the weak one; ties count half), the
ordering that matters for routing; `weak_wrong` learns P(the weak answer is wrong), each row weighted by
|strong - weak| (floored so every row counts). Either way the logit is then Platt-scaled to P(weak answer
wrong) on the training rows: a monotone map, so the ranking is kept and the score reads as a probability.

Centring within groups (default): the dense features are fitted as deviations from their group's mean (an
MMLU subject, a benchmark, a user's `group`), so the weights learn what makes a request harder than its
neighbours (longer, more numbers, more steps) rather than which benchmark it came from, which does not carry
over to other traffic. Inference centres on the overall training mean (the group of a new request is unknown);
within one group that is the same ranking. Word n-grams are not centred, so topic still counts.

Group prior (default, when the data has two or more groups): one more feature, the gain expected from the
group a request looks like (groups.py); it puts back, for requests of a known kind, the level that centring
takes out of the dense features.

Heuristic prior (`heuristic_prior=W`, default 0): W x the hand-weighted heuristic's logit (classifier.py: asks
for reasoning, code, math, constraints; easy openings; length) is added to the learned logit, at a fixed weight,
before Platt scaling. Outcome data of benchmark questions cannot teach how chat requests of different kinds
compare (fitted as a free feature on GSM8K + MMLU its weight is slightly negative); the prior says it for
traffic unlike the training data. The shipped router uses it (scripts/build_router.sh); with outcomes of your
own traffic the data can say it, so it is off by default."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

from ..routing.features import DENSE, dense_features, hashed_ngrams
from ..routing.scorer import LinearScorer
from .data import Outcome

BUCKETS = 1 << 18


def _sklearn():
    try:
        import numpy as np
        from scipy import sparse
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        from ..errors import MissingDependency

        raise MissingDependency("training a router needs scikit-learn: pip install 'hybrid-ai[train]'") from None
    return np, sparse, LogisticRegression


def featurize(rows: Sequence[Outcome], buckets: int = BUCKETS):
    np, sparse, _ = _sklearn()
    dense = np.array([dense_features(o.prompt, o.n_messages) for o in rows], dtype=np.float64)
    indptr, indices, data = [0], [], []
    for o in rows:
        idx = sorted(hashed_ngrams(o.prompt, buckets))  # a fixed order: the fit is the same in every process
        indices.extend(idx)
        data.extend([1.0 / math.sqrt(len(idx))] * len(idx) if idx else [])
        indptr.append(len(indices))
    hashed = sparse.csr_matrix((data, indices, indptr), shape=(len(rows), buckets))
    return dense, hashed


def _group_centred(dense, rows: Sequence[Outcome]):
    """Dense features minus the mean of their (source, group)."""
    np = _sklearn()[0]
    keys = [(o.source, o.group) for o in rows]
    out = dense.copy()
    for key in set(keys):
        mask = np.array([k == key for k in keys])
        out[mask] -= dense[mask].mean(axis=0)
    return out


def fit(rows: Sequence[Outcome], *, c: float = 1.0, buckets: int = BUCKETS, label: str = "gain",
        center: bool = True, group_prior: bool = True, heuristic_prior: float = 0.0, meta: dict | None = None,
        progress: Callable[[str], None] | None = None) -> LinearScorer:
    np, sparse, LogisticRegression = _sklearn()
    if len(rows) < 20:
        from .data import DataError

        raise DataError(f"need at least 20 rows to train a router, got {len(rows)}")
    dense, hashed = featurize(rows, buckets)
    mean = dense.mean(axis=0)
    fitted = _group_centred(dense, rows) if center else dense - mean
    gain = np.array([(o.strong - o.weak + 1) / 2 for o in rows])  # expected benefit of the strong model, in [0, 1]
    groups = [f"{o.source}/{o.group}" for o in rows]
    prior = None
    if group_prior and len(set(groups)) > 1:
        from ..routing.groups import out_of_fold_feature, train_group_prior

        if progress:
            progress(f"group prior over {len(set(groups))} groups")
        fitted = np.column_stack([fitted, out_of_fold_feature(hashed, groups, gain)])
        prior = train_group_prior(hashed, groups, gain)
    std = fitted.std(axis=0)
    std[std == 0] = 1.0
    X = sparse.hstack([sparse.csr_matrix(fitted / std), hashed]).tocsr()
    if label == "gain":
        y = gain
        weight = np.ones(len(rows))
    else:
        y = np.array([1.0 - o.weak for o in rows])
        weight = 0.25 + np.array([abs(o.strong - o.weak) for o in rows])
    # soft labels as two weighted rows: (x, 1) with weight y and (x, 0) with weight 1 - y
    X2 = sparse.vstack([X, X]).tocsr()
    y2 = np.concatenate([np.ones(len(rows)), np.zeros(len(rows))])
    w2 = np.concatenate([y * weight, (1 - y) * weight])
    keep = w2 > 0
    if progress:
        progress(f"fitting on {len(rows):,} rows, {X.shape[1]:,} features")
    clf = LogisticRegression(C=c, max_iter=2000, solver="lbfgs")
    clf.fit(X2[keep], y2[keep], sample_weight=w2[keep])
    coef = clf.coef_[0]
    # Platt scaling: map the ranking logit to P(weak answer wrong) on the training rows (monotone: same ranking)
    z = X @ coef + clf.intercept_[0]  # the fitted logit: mapping it cannot flip the learned ranking
    prior_mean = 0.0
    if heuristic_prior:
        from ..routing.heuristic import heuristic_logit

        h = np.array([heuristic_logit(o.prompt, o.n_messages) for o in rows])
        prior_mean = float(h.mean())  # centred for the Platt fit's conditioning; folded back into the bias below
        z = z + heuristic_prior * (h - prior_mean)
    y_wrong = np.array([1.0 - o.weak for o in rows])
    platt = LogisticRegression(C=1e6).fit(z.reshape(-1, 1), (y_wrong >= 0.5).astype(int))
    a, b = float(platt.coef_[0][0]), float(platt.intercept_[0])
    k = len(DENSE)
    from array import array

    hash_w, bias, group_w = coef[k:] * a, float((clf.intercept_[0] - heuristic_prior * prior_mean) * a + b), 0.0
    if prior is not None:  # the group column sits after the dense ones: scale it into one weight
        group_w, hash_w = float(coef[k] * a / std[k]), hash_w[1:]
    return LinearScorer(mean.tolist(), std[:k].tolist(), (coef[:k] * a).tolist(),
                        array("f", hash_w.astype(np.float32).tobytes()), bias,
                        {"dense": list(DENSE), "buckets": buckets, "c": c, "label": label, "centred": center,
                         "group_prior": prior is not None, "heuristic_prior": heuristic_prior,
                         "weak_wrong_rate": float(y_wrong.mean()), **(meta or {})}, prior, group_w,
                        heuristic_prior * a)


def out_of_fold(rows: Sequence[Outcome], folds: int = 5, seed: int = 0, progress=None, **kw) -> list[float]:
    """Scores for every row from a model trained on the other folds (stratified by source)."""
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    order.sort(key=lambda i: rows[i].source)  # stable: shuffled within each source, then dealt round-robin
    fold_of = {i: k % folds for k, i in enumerate(order)}
    scores = [0.0] * len(rows)
    for f in range(folds):
        train = [rows[i] for i in range(len(rows)) if fold_of[i] != f]
        test = [i for i in range(len(rows)) if fold_of[i] == f]
        model = fit(train, **kw)
        for i in test:
            scores[i] = model.score_text(rows[i].prompt, rows[i].n_messages)
        if progress:
            progress(f"fold {f + 1}/{folds}")
    return scores
