"""The loop's data: teacher examples from a route log (the cloud's answers) or a file in the `finetune --data`
format, duplicates folded, split by time: the newest share is the gate set and is never trained on."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import HybridAIError
from ..finetune import data as ft_data
from ..finetune.data import Example


class NotEnoughData(HybridAIError):
    """Too few examples to train and gate on; nothing was written."""


def collect(policy, log: str | None, data: str | None) -> tuple[list[Example], dict, str]:
    """(examples oldest first, counts, where they came from). A file's line order is taken as time order."""
    if log:
        examples, counts = ft_data.from_route_log(log, policy)
        from ..store import where

        return examples, counts, where(log)
    examples = ft_data.load_examples(data or "")
    return examples, {"rows": len(examples)}, str(data)


def local_prompts(policy, log: str, limit: int = 64) -> list[tuple[dict, ...]]:
    """Rehearsal prompts from the log's own local traffic: the newest distinct requests the weak tier answered
    (the model's own answers to them are mixed into training against forgetting), never one a personal-data or
    pattern rule would keep from the strong tier (the adapter must not learn personal data)."""
    from ..routing.decide import keeps_from
    from ..telemetry.sinks import read_answers

    strong, seen = policy.classifier.strong_tier, set()
    out: list[tuple[dict, ...]] = []
    for _, _, prompt, _ in reversed(read_answers(log, policy.classifier.weak_tier)):
        if prompt and prompt.casefold() not in seen and not keeps_from(policy, prompt, strong):
            seen.add(prompt.casefold())
            out.append(({"role": "user", "content": prompt},))
        if len(out) >= limit:
            break
    return out


BUNDLED_REHEARSAL = Path(__file__).resolve().parent.parent / "assets" / "rehearsal" / "general.jsonl"


def rehearsal(policy, given: str | None, log: str | None) -> tuple[list[tuple[dict, ...]], str]:
    """(the prompts whose own answers are mixed into training, where from): `--rehearse FILE` (`none`: no
    rehearsal), else the log's local traffic, else the bundled everyday prompts."""
    if given == "none":
        return [], "nowhere"
    if given:
        return ft_data.load_prompts(given), given
    if log and (prompts := local_prompts(policy, log)):
        return prompts, "the log's local traffic"
    return ft_data.load_prompts(BUNDLED_REHEARSAL), "the bundled everyday prompts"


def _key(e: Example) -> str:
    return re.sub(r"\s+", " ", json.dumps(e.messages[:-1], ensure_ascii=False).casefold())


def fold(examples: list[Example]) -> tuple[list[Example], int]:
    """Each conversation once, with its newest answer, at the place of its newest occurrence; and how many folded."""
    last = {_key(e): i for i, e in enumerate(examples)}
    kept = [e for i, e in enumerate(examples) if last[_key(e)] == i]
    return kept, len(examples) - len(kept)


def split(examples: list[Example], holdout: float) -> tuple[list[Example], list[Example]]:
    """(train, gate): the newest `holdout` share (at least one example) is the gate set."""
    if holdout <= 0:
        return list(examples), []
    k = max(1, round(holdout * len(examples)))
    return examples[:-k], examples[-k:]


def calibration(train: list[Example], share: float) -> tuple[list[Example], list[Example]]:
    """(trained on, calibration): every k-th training example (spread over time) is kept out of training, so the
    threshold is chosen on answers the candidate did not learn."""
    if share <= 0 or len(train) < 2:
        return list(train), []
    k = max(2, round(1 / share))
    return [e for i, e in enumerate(train) if i % k != k - 1], [e for i, e in enumerate(train) if i % k == k - 1]


def gate_suite(examples: list[Example], folder: Path, max_tokens: int, grader: str = "agreement") -> Path:
    """An eval suite of the gate set: each prompt, graded by agreement with its teacher answer (or by the LLM
    judge against it: `grader: judge`), which also stands in for the cloud's answer (the teacher answered it)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "suite.yaml").write_text(
        "name: improve-gate\ndescription: the newest logged requests, kept out of training\n"
        "source: the route log or training file given to hybrid-ai improve\nlicense: the user's own data\n"
        f"grader: {grader}\nreference_is_standin: true\nmax_tokens: {max_tokens}\n", encoding="utf-8")
    with (folder / "items.jsonl").open("w", encoding="utf-8") as f:
        for i, e in enumerate(examples):
            answer = e.messages[-1]["content"]
            f.write(json.dumps({"id": f"gate-{i:05d}", "messages": list(e.messages[:-1]), "reference": answer,
                                "standin": answer}, ensure_ascii=False) + "\n")
    return folder


def question(e: Example) -> str:
    """An example's question as references are matched on (a request's `question`: its user messages)."""
    return "\n".join(m["content"] for m in e.messages[:-1] if m["role"] == "user")


def with_known_answers(examples: list[Example], k: int, similarity: str) -> list[Example]:
    """Each training example with the answers of the `k` other examples nearest its question in its system
    message (references.py `with_context`), as the domain adapter gets them when serving: learning to answer from
    known answers carries to questions worded unlike every training one, where recall alone does not."""
    from ..references import References, with_context

    refs = References([(question(e), e.messages[-1]["content"]) for e in examples], similarity=similarity)  # type: ignore[arg-type]
    return [Example(tuple(with_context(list(e.messages[:-1]), refs.context(question(e), k))) + e.messages[-1:],
                    e.source) for e in examples]


def prompts_file(examples: list[Example], path: Path) -> Path:
    """The examples' conversations without their answers (`finetune --rehearse` format)."""
    path.write_text("".join(json.dumps({"messages": list(e.messages[:-1])}, ensure_ascii=False) + "\n"
                            for e in examples), encoding="utf-8")
    return path
