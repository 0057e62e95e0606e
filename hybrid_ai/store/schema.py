"""The PostgreSQL schema: versioned migrations applied at start under an advisory lock (replicas starting together
do not race), the route log partitioned by UTC day, and retention by dropping whole days.

- `route_log_rows`: one row per request, partitioned by `ts` (one partition per UTC day, made when its first row
  is written); indexes on (ts) and (caller, ts). What repeats from request to request (policy and its hash, model,
  backend, quantization, adapter, cost and energy sources, where it ran) is a row of `route_static`, referenced by id.
- `route_log`: a view with the columns and text timestamps of the SQLite route log, so that every reader runs the
  same SQL on both.
- `shadow_outcomes`, `budget_spend`: as in SQLite. `spool_acks`: how far each writer's spool file is in the
  database (pg_sink.py), committed with the rows."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from ..types import RouteRecord

LOCK_ID = 0x687962726964  # pg_advisory_lock key of schema changes ("hybrid")
STATIC = ("policy", "policy_hash", "model", "backend", "quantization", "adapter", "cost_source", "energy_source",
          "ran_on")
_TYPES = {"score": "real", "threshold": "real", "prompt_tokens": "integer", "completion_tokens": "integer",
          "latency_ms": "real", "ttft_ms": "real", "cost_usd": "double precision", "energy_wh": "double precision",
          "co2_g": "double precision", "fallback": "smallint", "stream": "smallint", "escalated": "smallint",
          "verifier_score": "real", "savings_usd": "double precision", "savings_wh": "double precision",
          "tool_calls": "integer"}
ROW_COLUMNS = [c for c in RouteRecord.model_fields if c not in STATIC and c != "timestamp"]
TS_TEXT = "to_char(r.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS') || '+00:00'"
PARTITION = re.compile(r"^route_log_rows_p(\d{8})$")


def _v1() -> list[str]:
    cols = ", ".join(f"{c} {_TYPES.get(c, 'text')}" + (" NOT NULL" if c == "request_id" else "") for c in ROW_COLUMNS)
    static_cols = ", ".join(f"{c} text" for c in STATIC)
    view_cols = ", ".join(f"s.{c}" if c in STATIC else (f"{TS_TEXT} AS timestamp" if c == "timestamp" else f"r.{c}")
                          for c in RouteRecord.model_fields)
    return [
        f"CREATE TABLE route_static (id serial PRIMARY KEY, {static_cols}, "
        f"UNIQUE NULLS NOT DISTINCT ({', '.join(STATIC)}))",
        f"CREATE TABLE route_log_rows (ts timestamptz NOT NULL, static_id integer NOT NULL, {cols}) "
        "PARTITION BY RANGE (ts)",
        "CREATE INDEX route_log_rows_ts ON route_log_rows (ts)",
        "CREATE INDEX route_log_rows_caller_ts ON route_log_rows (caller, ts)",
        f"CREATE VIEW route_log AS SELECT {view_cols} FROM route_log_rows r JOIN route_static s ON s.id = r.static_id",
        "CREATE TABLE shadow_outcomes (request_id text PRIMARY KEY, timestamp text, day text, prompt text, "
        "n_messages integer, local_answer text, strong_answer text, strong_model text, local_correct real, "
        "judge text, cost_usd double precision)",
        "CREATE TABLE budget_spend (request_id text PRIMARY KEY, day text, month text, usd double precision)",
        "CREATE INDEX budget_spend_day ON budget_spend (day)",
        "CREATE INDEX budget_spend_month ON budget_spend (month)",
        "CREATE TABLE spool_acks (spool text PRIMARY KEY, offset_bytes bigint NOT NULL, "
        "updated timestamptz NOT NULL DEFAULT now())",
    ]


MIGRATIONS: list[tuple[int, str, list[str]]] = [(1, "route log by day, shadow outcomes, budget spend, spool acks",
                                                 _v1())]


def migrate(conn) -> int:
    """Apply the migrations this database lacks, under an advisory lock; returns the schema version."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_ID,))
        conn.execute("CREATE TABLE IF NOT EXISTS hybrid_ai_migrations (version integer PRIMARY KEY, "
                     "description text, applied timestamptz NOT NULL DEFAULT now())")
        have = {v for v, in conn.execute("SELECT version FROM hybrid_ai_migrations")}
        for version, description, statements in MIGRATIONS:
            if version in have:
                continue
            for sql in statements:
                conn.execute(sql)
            conn.execute("INSERT INTO hybrid_ai_migrations (version, description) VALUES (%s, %s)",
                         (version, description))
    return max(v for v, _, _ in MIGRATIONS)


def partition_name(day: date) -> str:
    return f"route_log_rows_p{day:%Y%m%d}"


def ensure_partition(conn, day: date) -> None:
    """The partition of one UTC day (made once; several writers may ask at once)."""
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_ID + 1,))
        conn.execute(f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF route_log_rows FOR VALUES "
                     f"FROM ('{start.isoformat()}') TO ('{(start + timedelta(days=1)).isoformat()}')")


def partitions(conn) -> list[tuple[date, str]]:
    rows = conn.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                        "WHERE i.inhparent = 'route_log_rows'::regclass").fetchall()
    out = [(datetime.strptime(m.group(1), "%Y%m%d").date(), name) for name, in rows if (m := PARTITION.match(name))]
    return sorted(out)


def drop_older(conn, keep_days: int, today: date | None = None) -> list[str]:
    """Retention: drop the route log's partitions of days more than `keep_days` before today (UTC), whole: no
    DELETE, no bloat, no vacuum. Returns the dropped partitions' names."""
    today = today or datetime.now(timezone.utc).date()
    cutoff = today - timedelta(days=keep_days - 1)
    dropped = []
    for day, name in partitions(conn):
        if day < cutoff:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_ID + 1,))
                conn.execute(f"DROP TABLE IF EXISTS {name}")
            dropped.append(name)
    return dropped
