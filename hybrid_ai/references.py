"""The nearest of a set of references (`{prompt, answer}` pairs: a fine-tuned domain's training questions and
teacher answers) to a request's question (its user messages), by one of two measures (`similarity`):

- `tfidf`: cosine of TF-IDF weights over each reference's prompt and answer, words lightly stemmed. Plain Python,
  about 0.1 ms for a few hundred references; it matches words, so a question worded another way ("what host do I
  put into the VPN client" against "which server do I connect the VPN to") is often not found (default
  `min_similarity` 0.15).
- `embedding`: cosine of sentence embeddings (embeddings.py, the bundled all-MiniLM-L6-v2) of each reference's
  prompt; it matches meaning (measured on the two examples' 48 held-out questions: the nearest reference is the
  right fact for 41 against 24 with TF-IDF, and all 48 are at least 0.45 alike against 33, while 3-4 of 110
  everyday requests are; benchmarks/reference_match.py). About 10 ms per request on 2 CPU cores, torch in memory
  (default `min_similarity` 0.45).

Used by the reference check (checks/reference.py), the router's `NearReferences` and a local tier's domain split
(backends/domain.py), which share one index per file and settings (`load_references`)."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Literal

from .config import MIN_SIMILARITY
from .errors import HybridAIError

Similarity = Literal["tfidf", "embedding"]
_WORD = re.compile(r"\w+")
REMEMBER_CHARS = 4096  # longer questions are scored each time (embeddings.py remembers their cut text anyway)
STOP = frozenset("a an and are as at be by can do does for from how i in is it its me my of on or our the this to "
                 "was we what when where which who why will with you your".split())


def _stem(word: str) -> str:
    for suffix in ("ing", "ly", "es", "s", "ed"):
        if len(word) > 4 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _terms(text: str) -> Counter:
    return Counter(_stem(w) for w in _WORD.findall(text.lower()) if w not in STOP)


class _TfIdf:
    def __init__(self, pairs: list[tuple[str, str]]):
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

    def scored(self, question: str) -> list[tuple[float, int]]:
        """(cosine, index) of every reference sharing a word with `question`, nearest first."""
        q = self._vector(_terms(question))
        sims: dict[int, float] = {}
        for t, w in q.items():
            for i in self.index.get(t, ()):
                sims[i] = sims.get(i, 0.0) + w * self.vectors[i][t]
        return sorted(((x, i) for i, x in sims.items()), key=lambda p: (-p[0], p[1]))


class _Embedded:
    def __init__(self, pairs: list[tuple[str, str]], model: str | None):
        from .embeddings import load_embedder

        self.embedder = load_embedder(model)
        self.matrix = self.embedder.encode([p for p, _ in pairs])  # the question alone matches best (measured)

    def scored(self, question: str) -> list[tuple[float, int]]:
        """(cosine, index) of every reference, nearest first."""
        sims = self.matrix @ self.embedder.one(question)
        return [(float(sims[i]), int(i)) for i in (-sims).argsort(kind="stable")]


class References:
    def __init__(self, pairs: list[tuple[str, str]], min_similarity: float | None = None,
                 similarity: Similarity = "tfidf", embedding_model: str | None = None):
        """`pairs`: (prompt, answer); `min_similarity` None: the measure's default (MIN_SIMILARITY)."""
        if similarity not in MIN_SIMILARITY:
            raise HybridAIError(f"similarity must be one of {', '.join(MIN_SIMILARITY)}, not {similarity!r}")
        self.prompts, self.answers = [p for p, _ in pairs], [a for _, a in pairs]
        self.similarity = similarity
        self.min_similarity = MIN_SIMILARITY[similarity] if min_similarity is None else min_similarity
        self._index = _TfIdf(pairs) if similarity == "tfidf" else _Embedded(pairs, embedding_model)

    def scored(self, question: str) -> list[tuple[float, int]]:
        """(cosine similarity, index) of the references, nearest to `question` (a request's `question`) first;
        remembered for the last few requests (the router asks, then the domain split, then the check) unless the
        question is over REMEMBER_CHARS long, so that what is remembered stays small."""
        if len(question) > REMEMBER_CHARS:
            return self._index.scored(question)
        return self._scored(question)

    @lru_cache(maxsize=256)  # noqa: B019  (one index per references file and settings, per process)
    def _scored(self, question: str) -> list[tuple[float, int]]:
        return self._index.scored(question)

    def nearest(self, question: str) -> tuple[float, int | None]:
        """(cosine similarity, index) of the reference nearest to `question`; (0, None) when none shares a word."""
        scored = self.scored(question)
        return scored[0] if scored else (0.0, None)

    def margin(self, question: str) -> float:
        """How much nearer the nearest reference is than the nearest one with another answer (its similarity
        when there is none): small when two facts are about as near, and the nearest may not be the one asked."""
        scored = self.scored(question)
        if not scored:
            return 0.0
        first = self.answers[scored[0][1]]
        other = next((x for x, i in scored if self.answers[i] != first), 0.0)
        return scored[0][0] - other

    def near(self, question: str) -> bool:
        """Whether `question` is in the references' domain (at least `min_similarity` alike to one)."""
        return self.nearest(question)[0] >= self.min_similarity

    def context(self, question: str, k: int) -> list[str]:
        """The answers of the `k` references nearest to `question`, distinct, nearest first; a reference whose
        prompt is `question` itself is left out (a training example's context is what a new wording would get)."""
        out: list[str] = []
        for _, i in self.scored(question):
            if self.prompts[i] != question and self.answers[i] not in out:
                out.append(self.answers[i])
                if len(out) == k:
                    break
        return out


CONTEXT_HEADER = "Known answers:"


def context_block(answers: list[str]) -> str:
    """The known answers put into the domain model's system message (the same in training and in serving)."""
    return CONTEXT_HEADER + "".join(f"\n- {a}" for a in answers)


def with_context(messages: list[dict], answers: list[str]) -> list[dict]:
    """`messages` (role/content dicts) with the known answers appended to the system message (one added first
    when there is none)."""
    if not answers:
        return list(messages)
    block = context_block(answers)
    if messages and messages[0]["role"] == "system":
        return [{**messages[0], "content": f"{messages[0]['content']}\n\n{block}"}, *messages[1:]]
    return [{"role": "system", "content": block}, *messages]


@lru_cache(maxsize=8)
def load_references(path: str, min_similarity: float | None = None, similarity: Similarity = "tfidf",
                    embedding_model: str | None = None) -> References:
    """The index of a references file, built once per process and settings (shared by the check and the split)."""
    return References(read_references(path), min_similarity, similarity, embedding_model)


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
