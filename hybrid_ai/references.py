"""The nearest of a set of references (`{prompt, answer}` pairs: a fine-tuned domain's training questions and
teacher answers) to a request: TF-IDF cosine over prompt and answer, words lightly stemmed. Plain Python, about
0.1 ms for a few hundred references. Used by the reference check (checks/reference.py) and by a local tier's
domain adapter (backends/domain.py)."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

from .errors import HybridAIError

_WORD = re.compile(r"\w+")
STOP = frozenset("a an and are as at be by can do does for from how i in is it its me my of on or our the this to "
                 "was we what when where which who why will with you your".split())


def _stem(word: str) -> str:
    for suffix in ("ing", "ly", "es", "s", "ed"):
        if len(word) > 4 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _terms(text: str) -> Counter:
    return Counter(_stem(w) for w in _WORD.findall(text.lower()) if w not in STOP)


class References:
    def __init__(self, pairs: list[tuple[str, str]], min_similarity: float = 0.15):
        """`pairs`: (prompt, answer)."""
        self.answers = [a for _, a in pairs]
        self.min_similarity = min_similarity
        docs = [_terms(f"{p}\n{a}") for p, a in pairs]  # the answer names the fact too: "Pro costs $6 a month"
        df = Counter(t for d in docs for t in d)
        self.idf = {t: math.log((1 + len(docs)) / (1 + n)) for t, n in df.items()}  # 0 for words in every one
        self.unseen = math.log(1 + len(docs))
        self.vectors = [self._vector(d) for d in docs]
        self.index: dict[str, list[int]] = {}
        for i, v in enumerate(self.vectors):
            for t in v:
                self.index.setdefault(t, []).append(i)

    def _vector(self, terms: Counter) -> dict[str, float]:
        """TF-IDF, normalised; a word no reference has weighs as the rarest (it makes a request less alike)."""
        v = {t: n * self.idf.get(t, self.unseen) for t, n in terms.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {t: x / norm for t, x in v.items() if t in self.idf}

    def nearest(self, prompt: str) -> tuple[float, int | None]:
        """(cosine similarity, index) of the reference nearest to `prompt`; (0, None) when none shares a word.
        Remembered for the last few requests: the router (NearReferences) asks, then the check asks again."""
        return self._nearest(prompt)

    @lru_cache(maxsize=256)  # noqa: B019  (one ReferenceCheck per references file and process)
    def _nearest(self, prompt: str) -> tuple[float, int | None]:
        q = self._vector(_terms(prompt))
        sims: dict[int, float] = {}
        for t, w in q.items():
            for i in self.index.get(t, ()):
                sims[i] = sims.get(i, 0.0) + w * self.vectors[i][t]
        if not sims:
            return 0.0, None
        i = max(sims, key=sims.__getitem__)
        return sims[i], i


def read_references(path: str | Path) -> list[tuple[str, str]]:
    """The (prompt, answer) pairs of a references file; a clear error naming the file and line otherwise."""
    pairs = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise HybridAIError(f"cannot read references {path}: {e}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            pairs.append((str(row["prompt"]), str(row["answer"])))
        except (ValueError, KeyError, TypeError):
            raise HybridAIError(f"{path}:{n}: a reference is a JSON object with 'prompt' and 'answer'") from None
    if not pairs:
        raise HybridAIError(f"{path}: no references")
    return pairs


def write_references(path: str | Path, pairs: list[tuple[str, str]]) -> None:
    Path(path).write_text("".join(json.dumps({"prompt": p, "answer": a}, ensure_ascii=False) + "\n"
                                  for p, a in pairs), encoding="utf-8")
