"""Where records go. A sink has one method, `write(event: dict)`, and never fails a request.

- `stderr`: one JSON line per request on stderr, through the redaction processors of processors.py (the library
  never configures global logging).
- `structlog`: the application's own structlog configuration (`structlog.get_logger("hybrid_ai")`).
- `sqlite`: a table `route_log` in a SQLite file in WAL mode, safe for several processes.
- `prometheus`: counters and histograms (telemetry/metrics.py), served at `GET /metrics` by `hybrid-ai serve`.
- `opentelemetry`: a span per request and per attempt, GenAI semantic conventions (telemetry/tracing.py)."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any, Protocol, cast

import structlog

from ..fastjson import line
from ..privacy.redact import scrub
from ..types import RouteRecord
from .processors import chain

EVENT = "hybrid_ai.request"


class Sink(Protocol):
    def write(self, event: dict) -> None: ...


class StderrSink:
    """One JSON line per record on `stream` (default: stderr as it is when the sink is made): the redaction chain
    (the structlog processors in processors.py), then the record's fields with `event` last, as structlog's
    JSONRenderer would write them; rendered by orjson where installed (compact), else by the json module."""

    def __init__(self, log_prompts: bool = False, stream=None):
        self._chain = chain(log_prompts)
        self._stream = stream or sys.stderr

    def write(self, event: dict) -> None:
        event = dict(event)
        for process in self._chain:
            event = process(None, "info", event)
        event["event"] = EVENT
        self._stream.write(line(event))
        self._stream.flush()




class StructlogSink:
    def __init__(self, log_prompts: bool = False):
        self._log = structlog.get_logger("hybrid_ai").bind()
        self._chain = chain(log_prompts)

    def write(self, event: dict) -> None:
        for p in self._chain:  # redaction runs before the application's own processors
            event = p(None, "info", dict(event))
        self._log.info(EVENT, **event)


_COLUMNS = list(RouteRecord.model_fields)
_TYPES = {"score": "REAL", "threshold": "REAL", "prompt_tokens": "INTEGER", "completion_tokens": "INTEGER",
          "latency_ms": "REAL", "ttft_ms": "REAL", "cost_usd": "REAL", "energy_wh": "REAL", "co2_g": "REAL",
          "fallback": "INTEGER", "stream": "INTEGER", "escalated": "INTEGER", "verifier_score": "REAL",
          "savings_usd": "REAL", "savings_wh": "REAL", "tool_calls": "INTEGER"}


class SQLiteSink:
    def __init__(self, path: str | Path, log_prompts: bool = False):
        from .db import connect

        self.path = Path(path)
        self._chain = chain(log_prompts)
        self._lock = threading.Lock()
        self._db = connect(self.path)
        self._db.execute("PRAGMA synchronous=NORMAL")
        cols = ", ".join(f"{c} {_TYPES.get(c, 'TEXT')}" + (" PRIMARY KEY" if c == "request_id" else "")
                         for c in _COLUMNS)
        self._db.execute(f"CREATE TABLE IF NOT EXISTS route_log ({cols})")
        self._migrate()
        self._db.execute("CREATE INDEX IF NOT EXISTS route_log_ts ON route_log(timestamp)")
        self._sql = f"INSERT OR REPLACE INTO route_log ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"

    def _migrate(self) -> None:
        """A route log written by an older version gains the columns it lacks (they read NULL in its rows)."""
        have = {row[1] for row in self._db.execute("PRAGMA table_info(route_log)")}
        for c in _COLUMNS:
            if c not in have:
                self._db.execute(f"ALTER TABLE route_log ADD COLUMN {c} {_TYPES.get(c, 'TEXT')}")

    def write(self, event: dict) -> None:
        for p in self._chain:
            event = p(None, "info", dict(event))
        row = [json.dumps(v) if isinstance(v := event.get(c), (list, dict)) else v for c in _COLUMNS]
        with self._lock:
            self._db.execute(self._sql, row)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def read_answers(path: str | Path, route: str) -> list[tuple]:
    """(request_id, timestamp, prompt, answer) of the requests `route` answered without error, oldest first (not
    those with tools: their flattened prompt and answer are no plain chat to replay or to train on),
    from a route log written by SQLiteSink (prompt and answer are None unless it was written with log_prompts).
    Raises HybridAIError naming the file when it is missing or not a route log."""
    from .db import columns, read_only

    with read_only(path) as db:
        cols = columns(db, "route_log")
        plain = " AND (needs IS NULL OR needs NOT LIKE '%tools%')" if "needs" in cols else ""  # not tool turns
        return db.execute("SELECT request_id, timestamp, prompt, answer FROM route_log WHERE route = ? AND "
                          f"error IS NULL{plain} ORDER BY timestamp", (route,)).fetchall()


def build_sinks(telemetry) -> list[Sink]:
    """The policy's sinks. The route log (`sqlite` or `postgres`) is written to PostgreSQL when the policy's
    `database_url_env` holds a postgresql:// URL, else to `sqlite_path`."""
    sinks: list[Sink] = []
    url = telemetry.log_target() if {"sqlite", "postgres"} & set(telemetry.sinks) else None
    url = url if url and "://" in url else None
    for name in dict.fromkeys("log" if n in ("sqlite", "postgres") else n for n in telemetry.sinks):
        if name == "stderr":
            sinks.append(StderrSink(telemetry.log_prompts))
        elif name == "structlog":
            sinks.append(StructlogSink(telemetry.log_prompts))
        elif name == "log" and url:
            from ..store.pg_sink import PostgresSink

            sinks.append(PostgresSink(url, log_prompts=telemetry.log_prompts, spool_dir=telemetry.spool_dir,
                                      flush_rows=telemetry.flush_rows, flush_ms=telemetry.flush_ms,
                                      spool_max_mb=telemetry.spool_max_mb, retention_days=telemetry.retention_days))
        elif name == "log":
            sinks.append(SQLiteSink(telemetry.sqlite_path, telemetry.log_prompts))
        elif name == "prometheus":
            from .metrics import Metrics

            sinks.append(Metrics())
        elif name == "opentelemetry":
            from .tracing import Tracing

            sinks.append(Tracing(telemetry.log_prompts))
    metrics = next((s for s in sinks if hasattr(s, "store_count")), None)
    for s in sinks:
        if metrics is not None and hasattr(s, "on_count"):
            cast(Any, s).on_count = metrics.store_count  # the route log's writer counts into the metrics
    return sinks


def emit(sinks: list[Sink], record: RouteRecord) -> int:
    """Write the record to every sink; returns how many failed. Telemetry never fails a request, but a sink that
    fails is never silent: each failure is one `hybrid_ai.sink_error` line on stderr, naming the record."""
    if not sinks:
        return 0
    event, failed = record.model_dump(), 0
    for sink in sinks:
        try:
            sink.write(event)
        except Exception as e:
            failed += 1
            print(json.dumps({"event": "hybrid_ai.sink_error", "sink": type(sink).__name__,
                              "request_id": record.request_id, "error": scrub(f"{type(e).__name__}: {e}")}),
                  file=sys.stderr, flush=True)
    return failed
