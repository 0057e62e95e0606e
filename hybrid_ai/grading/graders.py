"""Graders: `grade(answer, reference) -> float in [0, 1]`. Pure functions, no model calls.

- `exact`: equal after case folding, whitespace collapsing and dropping trailing punctuation.
- `numeric`: the final number of the answer (after `####` if present, else the last number) equals the
  reference's (GSM8K style `... #### 42`), ignoring `,`, `$` and `%`; relative tolerance 1e-6.
- `choice`: the chosen letter (A-J) of a multiple-choice answer ("The answer is (B)", "B.", "B") equals the
  reference letter.
- `contains`: the reference (or any of a list of references) occurs in the answer, case-insensitively.
- `regex`: the reference is a regular expression that must match somewhere in the answer (case-insensitive).
- `agreement`: the reference is another answer (a teacher's, the cloud's); 1 when the answer agrees with it: the
  same final number where the reference ends with one, else a token F1 of at least 0.5. Shadow mode's measure, and
  the gate of `hybrid-ai improve` on logged traffic. A proxy: a differently worded right answer can read as wrong.
- `judge` (not here: evaluation/judge.py, with grading/judge.py's prompt): LLM-as-judge through the cloud tier,
  only when asked for."""

from __future__ import annotations

import re
from collections.abc import Callable

_NUM = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
_SPACE = re.compile(r"\s+")
_CHOICE_PATTERNS = (
    re.compile(r"(?i:answer)\s*(?:is|:)?\s*[:\-]?\s*\(?([A-J])\)?(?![A-Za-z])"),
    re.compile(r"^\s*\(?([A-J])[).:](?:\s|$)", re.M),
    re.compile(r"^\s*\(?([A-J])\)?\s*$", re.M),
    re.compile(r"\(([A-J])\)"),
)


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text.casefold()).strip().rstrip(".!?;:").strip()


def final_number(text: str) -> float | None:
    """The number an answer ends with: the one after the last `####`, else the last number in the text."""
    if "####" in text:
        text = text.rsplit("####", 1)[1]
        nums = _NUM.findall(text)
        candidate = nums[0] if nums else None
    else:
        nums = _NUM.findall(text)
        candidate = nums[-1] if nums else None
    if candidate is None:
        return None
    try:
        return float(candidate.replace(",", ""))
    except ValueError:
        return None


def chosen_letter(text: str) -> str | None:
    for pattern in _CHOICE_PATTERNS:
        if m := pattern.search(text):
            return m.group(1).upper()
    return None


def exact(answer: str, reference) -> float:
    return float(_norm(answer) == _norm(str(reference)))


def numeric(answer: str, reference) -> float:
    want = reference if isinstance(reference, (int, float)) else final_number(str(reference))
    got = final_number(answer)
    if want is None or got is None:
        return 0.0
    return float(abs(got - want) <= 1e-6 * max(1.0, abs(want)))


def choice(answer: str, reference) -> float:
    got = chosen_letter(answer)
    return float(got is not None and got == str(reference).strip().strip("()").upper()[:1])


def contains(answer: str, reference) -> float:
    refs = reference if isinstance(reference, list) else [reference]
    low = answer.casefold()
    return float(any(str(r).casefold() in low for r in refs))


def regex(answer: str, reference) -> float:
    return float(re.search(str(reference), answer, re.I | re.S) is not None)


_WORD = re.compile(r"\w+")


def agreement_score(answer: str, reference: str) -> tuple[float, str]:
    """(how far `answer` agrees with `reference`, in [0, 1]; the measure): a reference that ends in a number
    agrees when the answer's final number is the same (1 or 0, `agreement:number`), else the token F1 of the two
    (`agreement:f1`)."""
    from collections import Counter

    want = final_number(reference) if re.search(r"\d[\d,.]*\D{0,3}$", reference.strip()) else None
    if want is not None:
        got = final_number(answer)
        return float(got is not None and abs(got - want) <= 1e-6 * max(1.0, abs(want))), "agreement:number"
    a, b = Counter(_WORD.findall(answer.lower())), Counter(_WORD.findall(reference.lower()))
    common = sum((a & b).values())
    if not common:
        return 0.0, "agreement:f1"
    p, r = common / sum(a.values()), common / sum(b.values())
    return 2 * p * r / (p + r), "agreement:f1"


def agreement_measure(answer: str, reference: str) -> tuple[float, str]:
    """(1.0 if `answer` agrees with `reference` else 0.0, the measure used: agreement:number or agreement:f1, the
    latter agreeing at a token F1 of 0.5 or more)."""
    score, measure = agreement_score(answer, reference)
    return float(score >= 0.5), measure


def agreement(answer: str, reference) -> float:
    return agreement_measure(answer, str(reference))[0]


GRADERS: dict[str, Callable[[str, object], float]] = {
    "exact": exact, "numeric": numeric, "choice": choice, "contains": contains, "regex": regex,
    "agreement": agreement,
}


GRADER_NAMES = (*GRADERS, "judge")  # `judge` asks the cloud tier (evaluation/judge.py), so it is not pure


def get_grader(name: str) -> Callable[[str, object], float]:
    from ..errors import HybridAIError

    try:
        return GRADERS[name]
    except KeyError:
        raise HybridAIError(f"unknown grader {name!r} (graders: {', '.join(GRADERS)})") from None
