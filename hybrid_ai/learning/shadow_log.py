"""The `shadow_outcomes` table of the route log (SQLite): one row per shadowed request, written by shadow.py and
read as router training data by `hybrid-ai router train|train-verifier|calibrate --from-log DB`.

It holds the request text and both answers, which the route log's own rows do not (unless `log_prompts`): only
requests no rule kept local are shadowed, and they went to the strong tier's provider anyway. Secrets are scrubbed
from the texts (redact.py) before they are written, as from every record."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path

from .data import STRONG, WEAK, DataError, Outcome, load_outcomes

SCHEMA = """CREATE TABLE IF NOT EXISTS shadow_outcomes (
    request_id TEXT PRIMARY KEY, timestamp TEXT, day TEXT, prompt TEXT, n_messages INTEGER, local_answer TEXT,
    strong_answer TEXT, strong_model TEXT, local_correct REAL, judge TEXT, cost_usd REAL)"""


def _now() -> datetime:
    return datetime.now(timezone.utc)


class ShadowLog:
    def __init__(self, path: str | Path):
        """`path`: the route log's SQLite file, or its PostgreSQL URL."""
        from ..telemetry.db import open_store

        self.path = path
        self._lock = threading.Lock()
        self._db = open_store(path)
        self._db.execute(SCHEMA)

    def add(self, *, request_id: str, prompt: str, n_messages: int, local_answer: str, strong_answer: str,
            strong_model: str | None, local_correct: float | None, judge: str, cost_usd: float) -> None:
        from ..privacy.redact import scrub

        now = _now()
        with self._lock:  # texts scrubbed of secrets (the policy's keys, key shapes), as every record is
            self._db.execute("INSERT INTO shadow_outcomes VALUES (?,?,?,?,?,?,?,?,?,?,?) "
                             "ON CONFLICT (request_id) DO NOTHING",
                             (request_id, now.isoformat(timespec="milliseconds"), now.date().isoformat(),
                              scrub(prompt), n_messages, scrub(local_answer), scrub(strong_answer), strong_model,
                              local_correct, judge, cost_usd))

    def spent_today(self) -> float:
        with self._lock:
            row = self._db.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM shadow_outcomes WHERE day = ?",
                                   (_now().date().isoformat(),)).fetchone()
        return float(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def load_shadow_outcomes(path: str | Path) -> list[Outcome]:
    """The judged shadow outcomes of a route log as router training rows: the strong answer is the reference
    (strong = 1), the local answer is the weak one; rows the judge gave no verdict are left out."""
    from ..telemetry.db import read_only

    with read_only(path, "no shadow outcomes in this route log; enable `shadow` in the policy", DataError) as db:
        rows = db.execute("SELECT prompt, n_messages, local_answer, local_correct, judge FROM shadow_outcomes "
                          "WHERE local_correct IS NOT NULL ORDER BY timestamp").fetchall()
    return [Outcome(prompt, float(ok), 1.0, "shadow", n or 1, "", answer) for prompt, n, answer, ok, _ in rows]


def load_many(paths: list[str], strong: str | None = None, weak: str | None = None,
              logs: list[str] | tuple = ()) -> list[Outcome]:
    """Outcome files, plus the judged shadow outcomes of route logs (`logs`)."""
    out = [o for p in paths for o in load_outcomes(p, strong or STRONG, weak or WEAK)]
    if logs:
        out += [o for p in logs for o in load_shadow_outcomes(p)]
    if not paths and not logs:
        raise DataError("give outcome data (--data) or a route log with shadow outcomes (--from-log)")
    return out
