"""The eval answer cache: one SQLite row per (model, generation settings, conversation), written as soon as an
answer arrives, so an interrupted run keeps every answer it got and a re-run is instant."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Answer:
    item_id: str
    tier: str
    model: str
    text: str | None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None
    ttft_ms: float | None = None
    error: str | None = None
    backend: str | None = None
    batch_size: int = 1  # answers generated together (latency_s is the batch's wall time)
    energy_wh: float | None = None  # this answer's share of energy a machine counter (RAPL, NVML) measured
    energy_source: str | None = None  # that counter; None: estimated when costed
    cached: bool = False
    info: dict = field(default_factory=dict)  # the backend's info (replay provenance); not stored


def answer_key(model: str, settings: dict, messages: list[dict]) -> str:
    blob = json.dumps([model, settings, messages], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


_FIELDS = [f for f in Answer.__dataclass_fields__ if f not in ("cached", "info")]


class AnswerCache:
    def __init__(self, path: str | Path):
        from ..telemetry.db import connect

        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = connect(self.path)
        types = {f: "TEXT" if f in ("item_id", "tier", "model", "text", "error", "backend", "energy_source")
                 else "REAL" for f in _FIELDS}
        self._db.execute(f"CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, "
                         f"{', '.join(f'{f} {t}' for f, t in types.items())})")
        self._db.execute("CREATE TABLE IF NOT EXISTS token_counts (model TEXT, digest TEXT, n INTEGER, "
                         "PRIMARY KEY (model, digest))")
        self._db.execute("CREATE TABLE IF NOT EXISTS memo (digest TEXT PRIMARY KEY, value TEXT)")
        have = {row[1] for row in self._db.execute("PRAGMA table_info(answers)")}
        for f in _FIELDS:  # a cache written by an older version: add the new columns, keep every answer
            if f not in have:
                self._db.execute(f"ALTER TABLE answers ADD COLUMN {f} {types[f]}")

    def get(self, key: str) -> Answer | None:
        with self._lock:
            row = self._db.execute(f"SELECT {', '.join(_FIELDS)} FROM answers WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        a = Answer(**dict(zip(_FIELDS, row)), cached=True)
        for f in ("prompt_tokens", "completion_tokens", "batch_size"):
            v = getattr(a, f)
            setattr(a, f, None if v is None else int(v))
        a.batch_size = a.batch_size or 1
        return a

    def put(self, key: str, answer: Answer) -> None:
        row = asdict(answer)
        with self._lock:
            self._db.execute(f"INSERT OR REPLACE INTO answers (key, {', '.join(_FIELDS)}) VALUES "
                             f"(?, {', '.join('?' * len(_FIELDS))})", [key, *(row[f] for f in _FIELDS)])

    def tokens(self, model: str, text: str, count) -> int | None:
        """`count(model, text)`, kept: a replayed answer's token counts need litellm's tokenizer (seconds to
        import), so a re-run reads them from here instead."""
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
        with self._lock:
            row = self._db.execute("SELECT n FROM token_counts WHERE model = ? AND digest = ?",
                                   (model, digest)).fetchone()
        if row is not None:
            return row[0]
        n = count(model, text)
        if n is not None:
            with self._lock:
                self._db.execute("INSERT OR REPLACE INTO token_counts VALUES (?, ?, ?)", (model, digest, n))
        return n

    def memo(self, key: str, compute):
        """`compute()` (a JSON value), kept under `key` (its digest): results derived from cached answers alone,
        such as the out-of-fold router scores, are not computed again for the same items."""
        digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=20).hexdigest()
        with self._lock:
            row = self._db.execute("SELECT value FROM memo WHERE digest = ?", (digest,)).fetchone()
        if row is not None:
            return json.loads(row[0])
        value = compute()
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO memo VALUES (?, ?)", (digest, json.dumps(value)))
        return value

    def close(self) -> None:
        with self._lock:
            self._db.close()
