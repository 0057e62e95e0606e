"""Eval suites: a folder with `suite.yaml` (metadata) and `items.jsonl` (one item a line).

suite.yaml keys: `name`, `description`, `source`, `license` (where the items come from and under which terms),
`grader` (the default for items), `reference_is_standin` (true when, in offline replay, an item with no recorded
cloud answer is answered by its `standin` text, or else its reference, as the stand-in for a frontier model),
`max_tokens` (the answer length for every item; default: the policy tier's), `items` (the JSON lines file,
default `items.jsonl`).

An item: `id` (unique), `prompt` (a string) or `messages` (OpenAI-style), `reference` (what the grader compares
with), optional `grader` (overrides the suite's; `judge` = LLM-as-judge through the cloud tier), `tags` (list of
strings), `max_tokens`, `standin` (a full answer a frontier model would give, used with `reference_is_standin`)
and `recorded` (answers recorded from named models: `{"<model>": {"answer": "...", "correct": true}}`, either key
may be absent: an outcome without text is replayed from `correct` alone).
A malformed file is rejected with the file, the line and the field."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import HybridAIError, first_problem
from ..grading.graders import GRADER_NAMES
from ..jsonl import read_objects
from ..request import parse_messages


class SuiteError(HybridAIError):
    """A suite file that cannot be used; names the file, the line and the field."""


class SuiteMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    source: str
    license: str
    grader: str
    reference_is_standin: bool = False
    max_tokens: int | None = Field(None, ge=1)
    items: str = "items.jsonl"


@dataclass(frozen=True)
class Item:
    id: str
    messages: list[dict[str, str]]
    reference: Any
    grader: str
    tags: tuple[str, ...] = ()
    recorded: dict[str, dict] = field(default_factory=dict)
    max_tokens: int | None = None
    standin: str | None = None


@dataclass(frozen=True)
class Suite:
    meta: SuiteMeta
    items: list[Item]
    path: Path


def _item(row: dict, where: str, default_grader: str, default_max_tokens: int | None) -> Item:
    for key in ("id", "reference"):
        if key not in row:
            raise SuiteError(f"{where}: missing field '{key}'")
    if not isinstance(row["id"], (str, int)):
        raise SuiteError(f"{where}: field 'id' must be a string")
    if "prompt" in row:
        if not isinstance(row["prompt"], str):
            raise SuiteError(f"{where}: field 'prompt' must be a string")
        messages = [{"role": "user", "content": row["prompt"]}]
    elif "messages" in row:
        try:
            messages = [{"role": m.role, "content": m.content} for m in parse_messages(row["messages"])]
        except HybridAIError as e:
            raise SuiteError(f"{where}: field {e}") from None
    else:
        raise SuiteError(f"{where}: missing field 'prompt' (or 'messages')")
    grader = row.get("grader", default_grader)
    if grader not in GRADER_NAMES:
        raise SuiteError(f"{where}: field 'grader': unknown grader {grader!r} (graders: {', '.join(GRADER_NAMES)})")
    if row["reference"] is None or row["reference"] == "" or row["reference"] == []:
        raise SuiteError(f"{where}: field 'reference' is empty")
    recorded = row.get("recorded", {})
    if not isinstance(recorded, dict) or not all(isinstance(v, dict) for v in recorded.values()):
        raise SuiteError(f"{where}: field 'recorded' must map model names to {{'answer', 'correct'}} objects")
    tags = row.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise SuiteError(f"{where}: field 'tags' must be a list of strings")
    max_tokens = row.get("max_tokens", default_max_tokens)
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1):
        raise SuiteError(f"{where}: field 'max_tokens' must be a positive integer")
    standin = row.get("standin")
    if standin is not None and not isinstance(standin, str):
        raise SuiteError(f"{where}: field 'standin' must be a string")
    return Item(str(row["id"]), messages, row["reference"], grader, tuple(tags), recorded, max_tokens, standin)


def load_suite(path: str | Path) -> Suite:
    """Load a suite folder (or its suite.yaml)."""
    folder = Path(path)
    manifest = folder if folder.suffix in (".yaml", ".yml") else folder / "suite.yaml"
    folder = manifest.parent
    try:
        meta_raw = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SuiteError(f"{manifest}: no such file") from None
    except yaml.YAMLError as e:
        raise SuiteError(f"{manifest}: invalid YAML: {e}") from None
    try:
        meta = SuiteMeta.model_validate(meta_raw)
    except ValidationError as e:
        raise SuiteError(f"{manifest}: {first_problem(e)}") from None
    if meta.grader not in GRADER_NAMES:
        raise SuiteError(f"{manifest}: grader: unknown grader {meta.grader!r} (graders: {', '.join(GRADER_NAMES)})")
    items_path = folder / meta.items
    items, seen = [], set()
    for where, row in read_objects(items_path, SuiteError):
        item = _item(row, where, meta.grader, meta.max_tokens)
        if item.id in seen:
            raise SuiteError(f"{where}: field 'id': duplicate id {item.id!r}")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise SuiteError(f"{items_path}: the suite has no items")
    return Suite(meta, items, folder)
