"""Reading JSON lines files whose every problem names the file and the line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path


def read_objects(path: Path, error: type[Exception]) -> Iterator[tuple[str, dict]]:
    """(where, object) for each non-blank line; invalid UTF-8 is replaced. Raises `error("FILE line N: ...")`
    for a line that is not JSON or not an object."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    for n, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path} line {n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise error(f"{where}: not valid JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise error(f"{where}: expected a JSON object")
        yield where, row
