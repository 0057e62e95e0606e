"""Chat examples -> token ids and labels with the model's own chat template; the loss is on the assistant's
tokens only (every other token is labelled -100).

An example longer than `max_length` tokens is truncated at the end (its first assistant tokens are kept) when
at least `min_answer_tokens` answer tokens survive, and dropped otherwise; both are counted."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import with_system_prompt

IGNORE = -100


@dataclass
class Encoded:
    input_ids: list[list[int]] = field(default_factory=list)
    labels: list[list[int]] = field(default_factory=list)
    truncated: int = 0
    dropped: int = 0


def _ids(tokenizer, messages, generation_prompt: bool) -> list[int]:
    out = tokenizer.apply_chat_template(list(messages), add_generation_prompt=generation_prompt, tokenize=True)
    if isinstance(out, dict) or hasattr(out, "keys"):  # some tokenizers return a BatchEncoding
        out = out["input_ids"]
    return list(out)


def encode_example(tokenizer, messages) -> tuple[list[int], list[int]]:
    """Token ids of the whole conversation and labels that are -100 except on assistant turns."""
    ids = _ids(tokenizer, messages, False)
    labels = [IGNORE] * len(ids)
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        start = len(_ids(tokenizer, messages[:i], True))  # the prompt up to this answer
        end = len(_ids(tokenizer, messages[: i + 1], False))  # ... and through it (with its end-of-turn token)
        labels[start:end] = ids[start:end]
    return ids, labels


def encode(tokenizer, examples, max_length: int, min_answer_tokens: int = 4, system: str | None = None) -> Encoded:
    """`system`: the tier's system prompt, given to each example without a system message (as it is served)."""
    enc = Encoded()
    for ex in examples:
        ids, labels = encode_example(tokenizer, with_system_prompt(list(ex.messages), system))
        if len(ids) > max_length:
            ids, labels = ids[:max_length], labels[:max_length]
            if sum(label != IGNORE for label in labels) < min_answer_tokens:
                enc.dropped += 1
                continue
            enc.truncated += 1
        enc.input_ids.append(ids)
        enc.labels.append(labels)
    return enc
