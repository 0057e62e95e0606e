"""The LLM judge's prompt and how its verdict is read (0-10, scaled to [0, 1]); shared by the eval's `judge` grader
(evaluation/judge.py) and shadow mode."""

from __future__ import annotations

import re

PROMPT = """You are grading an assistant's answer against a reference answer.

Question:
{question}

Reference answer:
{reference}

Assistant's answer:
{answer}

Does the assistant's answer give what the reference gives (facts, result, requested form)? Style does not matter.
Reply with one line: "Score: N" where N is an integer from 0 (wrong) to 10 (fully right)."""

_SCORE = re.compile(r"score\s*[:=]?\s*(\d+(?:\.\d+)?)", re.I)
_NUMBER = re.compile(r"\b(\d+(?:\.\d+)?)\b")


def parse_verdict(text: str) -> float | None:
    """The judge's 0-10 score as a fraction, or None when the reply holds no score."""
    m = _SCORE.search(text) or _NUMBER.search(text)
    if m is None:
        return None
    return min(max(float(m.group(1)) / 10.0, 0.0), 1.0)
