"""Training examples for `hybrid-ai finetune`: JSON lines of `{"messages": [...]}` (the last message is the
assistant's answer; every assistant message is trained on) or `{"prompt": ..., "response": ...}`, or pairs built
from the route log (distillation: requests the cloud tier answered become the local model's training data).

Every problem names the file, the line and the field."""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import HybridAIError
from ..jsonl import read_objects
from ..request import parse_messages


class DataError(HybridAIError):
    """A training data file or route log that cannot be used."""


@dataclass(frozen=True)
class Example:
    messages: tuple[dict, ...]  # role/content dicts, ending with an assistant message
    source: str  # "FILE line N" or "route log ID"


def _messages(raw, where: str) -> tuple[dict, ...]:
    """A validated message list as plain role/content dicts; a problem names the line and the field."""
    try:
        return tuple({"role": m.role, "content": m.content} for m in parse_messages(raw))
    except HybridAIError as e:
        raise DataError(f"{where}: field {e}") from None


def _example(row: dict, where: str) -> Example:
    if "messages" in row:
        msgs = _messages(row["messages"], where)
    elif "prompt" in row or "response" in row:
        for key in ("prompt", "response"):
            if not isinstance(row.get(key), str) or not row[key].strip():
                raise DataError(f"{where}: field '{key}' must be a non-empty string")
        msgs = ({"role": "user", "content": row["prompt"]}, {"role": "assistant", "content": row["response"]})
    else:
        raise DataError(f"{where}: missing field 'messages' (or 'prompt' and 'response')")
    if msgs[-1]["role"] != "assistant" or not msgs[-1]["content"].strip():
        raise DataError(f"{where}: field 'messages': the last message must be a non-empty assistant answer")
    if not any(m["role"] == "user" for m in msgs):
        raise DataError(f"{where}: field 'messages': no user message")
    return Example(msgs, where)


def load_examples(path: str | Path) -> list[Example]:
    path = Path(path)
    examples = [_example(row, where) for where, row in read_objects(path, DataError)]
    if not examples:
        raise DataError(f"{path}: no training examples (the file is empty)")
    return examples


def load_prompts(path: str | Path) -> list[tuple[dict, ...]]:
    """Prompts for rehearsal: JSON lines with `prompt` or `messages` (without the answer)."""
    path = Path(path)
    out: list[tuple[dict, ...]] = []
    for where, row in read_objects(path, DataError):
        if isinstance(row.get("prompt"), str) and row["prompt"].strip():
            out.append(({"role": "user", "content": row["prompt"]},))
        elif "messages" in row:
            out.append(_messages(row["messages"], where))
        else:
            raise DataError(f"{where}: missing field 'prompt' (or 'messages')")
    if not out:
        raise DataError(f"{path}: no prompts (the file is empty)")
    return out


def rehearsal(tier, prompts: list[tuple[dict, ...]], max_tokens: int, progress=None) -> list[Example]:
    """The local model's own answers to `prompts`, as training examples: mixed into the training set they keep
    the adapter from forgetting what the model already did well on them (rehearsal / self-distillation)."""
    from ..backends.transformers_backend import TransformersBackend, as_transformers
    from ..policy import Generation
    from ..request import parse_request

    backend = TransformersBackend("local", as_transformers(tier))  # the weights being trained, whatever serves them
    gen = Generation(max_tokens=max_tokens, temperature=0.0, repetition_penalty=tier.generation.repetition_penalty)
    task = progress.add_task("rehearsal answers", total=len(prompts), loss=float("nan")) if progress else None
    out = []
    for k in range(0, len(prompts), 8):
        chunk = prompts[k:k + 8]
        results = backend.complete_batch([parse_request({"messages": list(m)}) for m in chunk], gen)
        for msgs, r in zip(chunk, results):
            if not isinstance(r, Exception) and r.text.strip():
                out.append(Example((*msgs, {"role": "assistant", "content": r.text}), "rehearsal"))
        if progress:
            progress.advance(task, len(chunk))
    return out


def upsampled(mixed: list[Example], n_train: int, share: float) -> list[Example]:
    """`mixed` (rehearsal examples) repeated in order until they are at least `share` of a training mix with
    `n_train` other examples: a few rehearsal prompts beside many domain examples would otherwise barely count."""
    if not mixed or share <= 0:
        return mixed
    need = math.ceil(share * n_train / (1 - share))
    return mixed if len(mixed) >= need else [mixed[i % len(mixed)] for i in range(need)]


def data_hash(examples: list[Example]) -> str:
    blob = json.dumps([e.messages for e in examples], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.casefold()).strip()


def from_route_log(db: str | Path, policy, *, min_answer_chars: int = 1, max_chars: int = 4000) -> tuple[
        list[Example], dict[str, int]]:
    """(prompt, cloud answer) pairs from a SQLite route log written with `log_prompts: true`: requests routed to
    the policy's strong tier that got an answer. Dropped and counted: answers shorter than `min_answer_chars`,
    prompt + answer over `max_chars`, repeated prompts (the newest answer is kept), and prompts that the
    policy's pattern and personal-data rules keep away from the strong tier (personal data never becomes training
    data from the cloud log)."""
    from ..routing.decide import keeps_from
    from ..store import where
    from ..telemetry.sinks import read_answers

    path = where(db)
    try:
        rows = read_answers(db, policy.classifier.strong_tier)[::-1]  # newest first: its answer is kept
    except HybridAIError as e:
        raise DataError(str(e)) from None

    def private(prompt: str) -> bool:
        return keeps_from(policy, prompt, policy.classifier.strong_tier)

    counts = {"rows": len(rows), "no_text": 0, "too_short": 0, "too_long": 0, "duplicate": 0, "private": 0, "kept": 0}
    seen, out = set(), []
    for rid, _, prompt, answer in rows:
        if not prompt or not answer:
            counts["no_text"] += 1
        elif len(answer.strip()) < min_answer_chars:
            counts["too_short"] += 1
        elif len(prompt) + len(answer) > max_chars:
            counts["too_long"] += 1
        elif private(prompt):
            counts["private"] += 1
        elif _norm(prompt) in seen:
            counts["duplicate"] += 1
        else:
            seen.add(_norm(prompt))
            out.append(Example(({"role": "user", "content": prompt}, {"role": "assistant", "content": answer}),
                               f"route log {rid}"))
    counts["kept"] = len(out)
    if counts["rows"] and counts["no_text"] == counts["rows"]:
        raise DataError(f"{path}: the log holds no prompts or answers: set `telemetry.log_prompts: true` in the "
                        f"policy to collect training data")
    return out[::-1], counts


def export(examples: list[Example], path: str | Path) -> None:
    Path(path).write_text("".join(json.dumps({"messages": list(e.messages)}, ensure_ascii=False) + "\n"
                                  for e in examples), encoding="utf-8")
