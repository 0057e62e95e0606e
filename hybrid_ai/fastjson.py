"""JSON on the hot paths: orjson where installed (the server extra installs it), else the standard library's,
with the same results (compact separators aside)."""

from __future__ import annotations

import json
from typing import Any

_orjson: Any
try:
    import orjson as _orjson
except ImportError:
    _orjson = None


def loads(raw: bytes | str) -> Any:
    return _orjson.loads(raw) if _orjson is not None else json.loads(raw)


def dumps(value: Any) -> bytes:
    """UTF-8 JSON bytes (non-ASCII kept as it is)."""
    return _orjson.dumps(value) if _orjson is not None else json.dumps(value, ensure_ascii=False).encode()


def string(text: str) -> str:
    """`text` as a JSON string literal."""
    try:
        return str(_orjson.dumps(text).decode())
    except (TypeError, AttributeError):  # no orjson, or a lone surrogate (orjson refuses; json escapes it)
        return json.dumps(text)


def line(event: dict) -> str:
    """One JSON line; what JSON cannot hold is written as its str()."""
    if _orjson is not None:
        return str(_orjson.dumps(event, default=str, option=_orjson.OPT_APPEND_NEWLINE).decode())
    return json.dumps(event, default=str) + "\n"
