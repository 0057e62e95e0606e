"""Features of a request for the trained router: dense request-shape features plus hashed word n-grams.

Pure Python + the standard library: no numpy or scikit-learn at inference. Work is bounded: only the
first MAX_CHARS characters are read, whatever the prompt size (the length features see it all)."""

from __future__ import annotations

import math
import re
import zlib
from typing import NamedTuple

MAX_CHARS = 2000  # features read this much (the length features see it all): bounded cost for long prompts
_TOKEN = re.compile(r"[a-z]+|\d+|[^\sa-z\d]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_OPERATOR = re.compile(r"\d\s*[-+*/^=×÷]\s*\d")
_CHOICE = re.compile(r"^[ \t]*\(?[A-Ea-e][.)][ \t](.*)$", re.M)  # captures the text of an answer option
_DIGIT = re.compile(r"\d")
_UPPER = re.compile(r"[A-Z]")
_FRACTION = re.compile(r"\d/\d")
_FRACTION_WORDS = frozenset("half third quarter fifth twice thrice double triple".split())
_CAPITALIZED = re.compile(r"\b[A-Z][a-z]+")
_NEGATION = frozenset("not except false incorrect least never none".split())

_REASONING = frozenset("prove proof derive reason reasoning why explain analyze analyse compare evaluate justify "
                       "design architecture optimize algorithm complexity theorem calculate compute solve "
                       "probability estimate implications argue critique".split())
_CODE = frozenset("def class function return python javascript java sql regex bug compile refactor import "
                  "code program script array loop recursion".split())
_MATH = frozenset("integral derivative equation matrix sum average ratio percent total each per twice half "
                  "remaining left altogether how many much cost price profit rate speed hours minutes".split())
_CONSTRAINTS = frozenset("must exactly least most only without limit words sentences format json bullet "
                         "constraints requirement".split())
_CREATIVE = frozenset("write story poem essay blog compose email letter rewrite imagine describe creative".split())

DENSE = ("log_chars", "log_words", "lines", "numbers", "distinct_numbers", "decimals", "max_number", "operators",
         "questions", "sentences", "avg_word_len", "choices", "reasoning", "code", "math", "constraints",
         "creative", "turns", "uppercase_ratio", "negation", "all_none_above", "numeric_choices", "fractions",
         "percent", "money", "capitalized")


class Parsed(NamedTuple):
    """One pass over the first MAX_CHARS characters, shared by the dense features and the heuristic prior."""
    sample: str
    low: str
    words: list[str]
    wset: set[str]
    numbers: list[str]
    operators: int


def parse(text: str) -> Parsed:
    sample = text[:MAX_CHARS]
    low = sample.lower()
    words = re.findall(r"[a-z]+", low)
    return Parsed(sample, low, words, set(words), _NUMBER.findall(sample), len(_OPERATOR.findall(sample)))


def dense_features(text: str, n_messages: int = 1, parsed: Parsed | None = None) -> list[float]:
    sample, low, words, wset, numbers, operators = parsed or parse(text)
    max_num = max(map(float, (n.replace(",", "") for n in numbers[:200])), default=0.0)
    options = _CHOICE.findall(sample)
    mc = len(options) >= 3
    return [
        math.log1p(len(text)),
        math.log1p(len(words)),
        math.log1p(sample.count("\n")),
        math.log1p(len(numbers)),
        math.log1p(len(set(numbers))),
        float(any("." in n for n in numbers)),
        math.log10(1 + max_num),
        math.log1p(operators),
        math.log1p(sample.count("?")),
        math.log1p(sample.count(". ") + sample.count("? ") + sample.count("! ")),
        (sum(map(len, words)) / len(words)) if words else 0.0,
        float(mc),
        math.log1p(len(wset & _REASONING)),
        math.log1p(len(wset & _CODE) + sample.count("```") + sample.count(";\n")),
        math.log1p(len(wset & _MATH)),
        math.log1p(len(wset & _CONSTRAINTS)),
        math.log1p(len(wset & _CREATIVE)),
        math.log1p(max(n_messages - 1, 0)),
        len(_UPPER.findall(sample, 0, 500)) / max(min(len(sample), 500), 1),
        float(bool(wset & _NEGATION)),
        float("of the above" in low),
        sum(1 for o in options if _DIGIT.search(o)) / len(options) if mc else 0.0,
        math.log1p(len(_FRACTION.findall(sample)) + len(wset & _FRACTION_WORDS)),
        math.log1p(sample.count("%") + low.count("percent")),
        math.log1p(sample.count("$")),
        math.log1p(len(set(_CAPITALIZED.findall(sample)))),
    ]


def hashed_ngrams(text: str, buckets: int, low: str | None = None) -> list[int]:
    """Distinct bucket ids of word unigrams and bigrams (digits collapsed to their length); `low` is the
    lowercased window when the caller has it already (`parse(text).low`)."""
    toks = _TOKEN.findall(text[:MAX_CHARS].lower() if low is None else low)
    toks = [f"#{len(t)}" if t[0].isdigit() else t for t in toks]
    grams = set(toks)
    grams.update(f"{a} {b}" for a, b in zip(toks, toks[1:]))
    crc = zlib.crc32
    return list({crc(g.encode()) % buckets for g in grams})
