"""The group prior (hybrid_ai/routing/groups.py): which known group a request looks like and the strong
model's gain there, as one more feature of the trained router."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from hybrid_ai.learning.data import Outcome
from hybrid_ai.routing.features import hashed_ngrams
from hybrid_ai.routing.groups import GROUP_BUCKETS, SHRINK, fold, train_group_prior
from hybrid_ai.routing.scorer import LinearScorer
from hybrid_ai.learning.train import featurize, fit

VOCAB = {"tax": "invoice vat refund receipt deduction payroll audit ledger",
         "poetry": "sonnet rhyme stanza verse metaphor meter ode lyric",
         "chemistry": "molecule reaction acid bond electron catalyst isotope solvent"}
GAIN = {"tax": 0.1, "poetry": 0.5, "chemistry": 0.9}  # how often the strong model is the better one


def _rows(n_per_group=60, seed=0) -> list[Outcome]:
    rng = random.Random(seed)
    rows = []
    for group, words in VOCAB.items():
        for _ in range(n_per_group):
            text = " ".join(rng.choices(words.split() + "the a of please explain".split(), k=rng.randint(6, 14)))
            better = rng.random() < GAIN[group]
            rows.append(Outcome(text, weak=0.0 if better else 1.0, strong=1.0, source="s", group=group))
    return rows


def _gain(rows):
    return np.array([(o.strong - o.weak + 1) / 2 for o in rows])


def test_group_prior_recognises_the_group_and_its_gain():
    rows = _rows()
    _, hashed = featurize(rows)
    prior = train_group_prior(hashed, [o.group for o in rows], _gain(rows))
    assert prior.names == sorted(VOCAB) and prior.weights.shape == (GROUP_BUCKETS, 3)
    for name, g in zip(prior.names, prior.gain):  # shrunk toward the overall mean by SHRINK pseudo-rows
        members = [o for o in rows if o.group == name]
        raw = float(_gain(members).mean())
        assert g == pytest.approx((raw * len(members) + SHRINK * _gain(rows).mean()) / (len(members) + SHRINK))
    unseen = {g: " ".join(VOCAB[g].split()[:5]) + " please" for g in VOCAB}
    feats = {g: prior.feature(hashed_ngrams(t, 1 << 18)) for g, t in unseen.items()}
    assert feats["tax"] < feats["poetry"] < feats["chemistry"]
    for g, f in feats.items():  # a confident classifier: close to that group's gain
        assert abs(1 / (1 + math.exp(-f)) - prior.gain[prior.names.index(g)]) < 0.12


@pytest.mark.parametrize("groups", [2, 3])
def test_group_prior_reproduces_scikit_learn_probabilities(groups):
    """The exported one-vs-rest weights give scikit-learn's predict_proba (binary case included)."""
    from sklearn.linear_model import SGDClassifier

    rows = [o for o in _rows() if o.group in sorted(VOCAB)[:groups]]
    _, hashed = featurize(rows)
    names = [o.group for o in rows]
    prior = train_group_prior(hashed, names, _gain(rows))
    clf = SGDClassifier(loss="log_loss", alpha=2e-5, max_iter=20, tol=None, random_state=0)
    proba = clf.fit(fold(hashed, GROUP_BUCKETS), [prior.names.index(n) for n in names]).predict_proba(
        fold(hashed, GROUP_BUCKETS))
    expected = np.clip(proba @ prior.gain, 1e-3, 1 - 1e-3)
    assert np.allclose(prior.features(hashed), np.log(expected / (1 - expected)), atol=0.02)  # float16 weights
    single = [prior.feature(hashed_ngrams(o.prompt, 1 << 18)) for o in rows[:20]]
    assert np.allclose(single, prior.features(hashed[:20]), atol=1e-5)


@pytest.mark.slow
def test_trained_router_carries_the_group_prior_through_save_and_load(tmp_path):
    rows = _rows()
    model = fit(rows)
    assert model.group is not None and model.meta["group_prior"] and model.group_w > 0  # it ranks: positive weight
    path = model.save(tmp_path / "r.npz")
    again = LinearScorer.load(path)
    assert again.group.names == model.group.names and "groups" not in again.meta
    texts = [o.prompt for o in rows[::7]]
    assert [again.score_text(t) for t in texts] == [model.score_text(t) for t in texts]
    plain = fit(rows, group_prior=False)
    one_group = fit([Outcome(o.prompt, o.weak, o.strong, "s") for o in rows])
    assert plain.group is None and one_group.group is None
    assert LinearScorer.load(plain.save(tmp_path / "p.npz")).group is None
