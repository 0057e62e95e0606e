"""Features of a (request, local answer) pair for the answer-aware verifier (verifier.py): does the answer look
like an answer to what was asked? Pure Python, bounded work (the first MAX_CHARS characters of each side).

What they capture, each a float:
- shape: answer length, length against the request, lines, whether it ends mid-sentence (cut by max_tokens);
- kind asked vs kind given: the request asks for a number ("how many", arithmetic, a conversion) and the answer
  has one or not; the answer's first / last number is one of the request's numbers (copied, not computed); the
  request is multiple choice and the answer names a letter;
- rambling: repeated word trigrams, repeated lines, distinct numbers in the answer;
- hedges and refusals ("I'm sorry", "as an AI", "I cannot", "not sure");
- overlap: the share of the answer's words found in the request; whether the request's quoted text is in the
  answer, and how much of the answer is a quoted passage given back unchanged.
Per-token log-probabilities, where the engine gives them, add their mean and minimum (the issue measured them
near chance for the 135M model; a larger local model may differ)."""

from __future__ import annotations

import math
import re

from ..routing.features import MAX_CHARS

_WORD = re.compile(r"[a-z]+")
_NUM = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_QUOTED = re.compile(r"\"([^\"]{1,200})\"|'([^']{2,200})'")
_ASKS_NUMBER = re.compile(r"\bhow (?:many|much|long|old)\b|\bwhat is \d|\bcalculate\b|\bcompute\b|\bsolve\b|"
                          r"\d\s*[-+*/x×]\s*\d|\bpercent\b|%|\bconvert\b|\bsum\b|\btotal\b|=\s*\?", re.I)
_CHOICES = re.compile(r"^\s*\(?[A-D][.)]\s", re.M)
_LETTER = re.compile(r"\b(?:answer(?: is)?:?\s*\(?[A-D]\)?|^\s*\(?[A-D][.):]?(?:\s|$))", re.M)
_HEDGES = ("i'm sorry", "i am sorry", "as an ai", "i cannot", "i can't", "not sure", "i don't know", "unable to",
           "i do not have", "it is not possible", "it depends", "however")

NAMES = ("log_answer_chars", "length_ratio", "answer_lines", "cut_mid_sentence", "asks_number", "has_number",
         "asks_number_no_number", "first_number_copied", "last_number_copied", "answer_numbers", "mc_question",
         "mc_letter", "repeated_trigrams", "repeated_lines", "hedge", "overlap", "quoted_echo", "echo_share", "empty",
         "mean_logprob", "min_logprob", "has_logprobs")


def _nums(text: str) -> list[str]:
    return [n.replace(",", "").rstrip(".") for n in _NUM.findall(text)]


def answer_features(request: str, answer: str, logprobs: list[float] | None = None) -> list[float]:
    req, ans = request[:MAX_CHARS], answer[:MAX_CHARS]
    low = ans.lower()
    words = _WORD.findall(low)
    req_words = set(_WORD.findall(req.lower()))
    req_nums, ans_nums = set(_nums(req)), _nums(ans)
    asks_number = _ASKS_NUMBER.search(req) is not None
    mc = len(_CHOICES.findall(req)) >= 3
    trigrams = list(zip(words, words[1:], words[2:]))
    lines = [x.strip() for x in ans.splitlines() if x.strip()]
    quoted = [a or b for a, b in _QUOTED.findall(req)]
    stripped = ans.rstrip()
    lp = [x for x in (logprobs or []) if x is not None and math.isfinite(x)]
    return [
        math.log1p(len(answer)),
        math.log1p(len(answer)) - math.log1p(len(request)),
        math.log1p(len(lines)),
        float(bool(stripped) and stripped[-1] not in ".!?)\"'`*]}0123456789"),
        float(asks_number),
        float(bool(ans_nums)),
        float(asks_number and not ans_nums),
        float(bool(ans_nums) and ans_nums[0] in req_nums),
        float(bool(ans_nums) and ans_nums[-1] in req_nums),
        math.log1p(len(set(ans_nums))),
        float(mc),
        float(mc and _LETTER.search(ans) is not None),
        (1 - len(set(trigrams)) / len(trigrams)) if trigrams else 0.0,
        (1 - len(set(lines)) / len(lines)) if lines else 0.0,
        float(any(h in low for h in _HEDGES)),
        (sum(w in req_words for w in words) / len(words)) if words else 0.0,
        float(any(q.lower() in low for q in quoted)),
        _echo_share(quoted, words),
        float(not stripped),
        sum(lp) / len(lp) if lp else 0.0,
        min(lp) if lp else 0.0,
        float(bool(lp)),
    ]


def _echo_share(quoted: list[str], words: list[str]) -> float:
    """How much of the answer is a quoted passage of the request (3+ words) given back: a rewrite or translation
    that returns its input unchanged."""
    best = 0
    for q in quoted:
        qw = _WORD.findall(q.lower())
        if len(qw) >= 3 and " ".join(qw) in " ".join(words):
            best = max(best, len(qw))
    return best / len(words) if words else 0.0


def answer_ngrams(answer: str) -> list[str]:
    """Word unigrams and bigrams of the answer's first 24 words (digits collapsed to their length), prefixed so
    they hash apart from the request's n-grams: the openings and phrases that mark a wrong answer."""
    toks = re.findall(r"[a-z]+|\d+|[^\sa-z\d]", answer[:400].lower())[:24]
    toks = [f"#{len(t)}" if t[0].isdigit() else t for t in toks]
    return [f"a:{t}" for t in toks] + [f"a:{a} {b}" for a, b in zip(toks, toks[1:])]
