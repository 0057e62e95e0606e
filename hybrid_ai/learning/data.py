"""Outcome data for training and evaluating routers: one row per prompt with how well the weak and the
strong model did (1/0 correctness, or a score scaled to [0, 1]).

Accepted inputs (`load_outcomes(path)`):
- the RouteLLM folder layout: `gsm8k/gsm8k_responses.csv`, `mmlu/responses/*.csv`, `mt_bench/judgements.jsonl`
  (+ `question.jsonl`), a folder holding several of them, or one such CSV; prompts listed in a
  `contaminated_prompts.jsonl` beside the data are dropped;
- JSON lines `{"prompt": ..., "weak_correct": bool|float, "strong_correct": bool|float}` (or `messages`
  instead of `prompt`; optional `group`, a string such as a product area or task type; optional `weak_answer`,
  the weak model's answer, which the answer-aware verifier trains on), the format a user exports from their own
  logs or evals and the one `hybrid-ai eval` writes (outcomes.jsonl).

Each row has a source (the benchmark or file) and a group (an MMLU subject, the `group` field, else the
source): training centres the request-shape features within each group (see train.py)."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ..errors import HybridAIError
from ..jsonl import read_objects

STRONG = "gpt-4-1106-preview"
WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"


class DataError(HybridAIError):
    """Outcome data that cannot be used; names the file, line and field."""


@dataclass(frozen=True, slots=True)
class Outcome:
    prompt: str
    weak: float
    strong: float
    source: str
    n_messages: int = 1
    group: str = ""  # finest known grouping (an MMLU subject, a user's `group` field); training centres within it
    weak_answer: str | None = None  # the weak model's answer text, where recorded (the verifier trains on it)


def messages_text(messages, where: str) -> tuple[str, int]:
    """The text a router scores from an OpenAI-style message list: text parts only, other parts ignored."""
    if not isinstance(messages, list) or not messages:
        raise DataError(f"{where}: 'messages' must be a non-empty list")
    parts = []
    for m in messages:
        c = m.get("content") if isinstance(m, dict) else None
        if isinstance(c, str):
            parts.append(c)
        elif isinstance(c, list):
            parts.extend(p["text"] for p in c if isinstance(p, dict) and isinstance(p.get("text"), str))
    return "\n".join(parts), len(messages)


def _contaminated(folder: Path) -> set[str]:
    f = folder / "contaminated_prompts.jsonl"
    if not f.exists():
        return set()
    return {json.loads(line)["eval_prompt"].strip() for line in f.open(encoding="utf-8") if line.strip()}


def _truth(v, where: str) -> float:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)) and 0 <= v <= 1:
        return float(v)
    if isinstance(v, str) and v in ("True", "False"):
        return float(v == "True")
    raise DataError(f"{where}: expected true/false or a number in [0, 1], got {v!r}")


def _csv_outcomes(path: Path, source: str, strong: str, weak: str, group: str = "") -> list[Outcome]:
    csv.field_size_limit(1 << 30)
    drop = _contaminated(path.parent) | _contaminated(path.parent.parent)
    out = []
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("prompt", strong, weak) if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: missing column(s) {missing} (columns: {reader.fieldnames})")
        for i, row in enumerate(reader, start=2):
            if row["prompt"].strip() in drop:
                continue
            out.append(Outcome(row["prompt"], _truth(row[weak], f"{path}:{i}:{weak}"),
                               _truth(row[strong], f"{path}:{i}:{strong}"), source, group=group))
    return out


def _mt_bench(folder: Path, strong: str, weak: str) -> list[Outcome]:
    questions = {str(q["question_id"]): q for q in map(json.loads, (folder / "question.jsonl").open())}
    scores: dict[tuple[str, str], list[float]] = defaultdict(list)
    for line in (folder / "judgements.jsonl").open(encoding="utf-8"):
        j = json.loads(line)
        if float(j["score"]) >= 0:
            scores[(str(j["question_id"]), j["model"])].append(float(j["score"]) / 10)
    drop = _contaminated(folder)
    out = []
    for qid, q in questions.items():
        s, w = scores.get((qid, strong)), scores.get((qid, weak))
        if s and w and q["turns"][0].strip() not in drop:  # routed on the first turn; quality = mean of turns
            out.append(Outcome(q["turns"][0], sum(w) / len(w), sum(s) / len(s), "mt_bench"))
    return out


def _jsonl(path: Path) -> list[Outcome]:
    out = []
    for where, row in read_objects(path, DataError):
        for f in ("weak_correct", "strong_correct"):
            if f not in row:
                raise DataError(f"{where}: missing field '{f}'")
        if "prompt" in row:
            if not isinstance(row["prompt"], str):
                raise DataError(f"{where}: field 'prompt' must be a string")
            text, n = row["prompt"], 1
        elif "messages" in row:
            text, n = messages_text(row["messages"], where)
        else:
            raise DataError(f"{where}: missing field 'prompt' (or 'messages')")
        group, answer = row.get("group", ""), row.get("weak_answer")
        if not isinstance(group, str):
            raise DataError(f"{where}: field 'group' must be a string")
        if answer is not None and not isinstance(answer, str):
            raise DataError(f"{where}: field 'weak_answer' must be a string")
        out.append(Outcome(text, _truth(row["weak_correct"], f"{where}: weak_correct"),
                           _truth(row["strong_correct"], f"{where}: strong_correct"), path.stem, n, group, answer))
    return out


def load_outcomes(path: str | Path, strong: str = STRONG, weak: str = WEAK) -> list[Outcome]:
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file or folder")
    if p.is_file():
        if p.suffix == ".jsonl":
            return _jsonl(p)
        if p.suffix == ".csv":
            if p.parent.name == "responses":
                return _csv_outcomes(p, "mmlu", strong, weak, group=p.stem)
            return _csv_outcomes(p, p.stem.replace("_responses", ""), strong, weak)
        raise DataError(f"{p}: expected a .jsonl or .csv file, or a folder")
    out: list[Outcome] = []
    if (p / "gsm8k_responses.csv").exists():
        out += _csv_outcomes(p / "gsm8k_responses.csv", "gsm8k", strong, weak)
    if (p / "responses").is_dir():
        for f in sorted((p / "responses").glob("*.csv")):
            out += _csv_outcomes(f, "mmlu", strong, weak, group=f.stem)
    if (p / "judgements.jsonl").exists():
        out += _mt_bench(p, strong, weak)
    for sub in ("gsm8k", "mmlu", "mt_bench"):
        if (p / sub).is_dir():
            out += load_outcomes(p / sub, strong, weak)
    if not out:
        raise DataError(f"{p}: no outcome data found (see `hybrid-ai router train --help`)")
    return out
