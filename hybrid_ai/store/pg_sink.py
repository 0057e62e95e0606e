"""The route log in PostgreSQL: records spooled on the request's thread, copied to the database in batches.

`write` (the request's thread) redacts the record, renders it as one JSON line and appends it to this process's
spool (spool.py): about 20 µs, no network. A flusher thread copies the spool to `route_log_rows` with COPY, every
`telemetry.flush_rows` rows or `telemetry.flush_ms` milliseconds, and commits how far it got with the rows. While
the database is down the spool grows on disk (up to `telemetry.spool_max_mb`; past it records are dropped and
counted, never waited for) and is copied when the database is back. On a clean stop the flusher drains the spool
(up to `drain_s` seconds); a process killed outright leaves its spool, which the next writer on the same spool
folder copies. Counts: `stats` (written, dropped, errors), also as Prometheus metrics when that sink is on."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..telemetry.processors import chain
from . import need, schema, where
from .spool import Segment, Spool

log = logging.getLogger("hybrid_ai.store")
ORPHAN_EVERY_S = 5.0
RETENTION_EVERY_S = 3600.0
COPY_COLUMNS = ", ".join(["ts", "static_id", *schema.ROW_COLUMNS])


def default_spool_dir(url: str) -> Path:
    base = Path(os.environ.get("HYBRID_AI_CACHE", Path.home() / ".cache" / "hybrid-ai"))
    return base / "spool" / hashlib.sha256(url.encode()).hexdigest()[:16]


def _dumps(event: dict) -> bytes:
    try:
        import orjson

        return orjson.dumps(event, default=str, option=orjson.OPT_APPEND_NEWLINE)
    except ImportError:
        return (json.dumps(event, default=str) + "\n").encode()


class PostgresSink:
    def __init__(self, url: str, *, log_prompts: bool = False, spool_dir: str | Path | None = None,
                 flush_rows: int = 1000, flush_ms: int = 100, spool_max_mb: int = 1024,
                 retention_days: int | None = None, drain_s: float = 10.0, on_count=None):
        self.url, self.flush_rows, self.flush_s = url, flush_rows, flush_ms / 1000
        self.retention_days, self.drain_s = retention_days, drain_s
        self.on_count = on_count or (lambda name, n: None)
        self._chain = chain(log_prompts)
        self.stats = {"written": 0, "dropped": 0, "errors": 0, "adopted": 0}
        psycopg = need("psycopg")
        try:  # a bad URL or an unreachable database fails the start, with a clear error, not a request
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
                schema.migrate(conn)
        except psycopg.Error as e:
            from ..errors import HybridAIError
            from ..privacy.redact import scrub

            raise HybridAIError(f"the route log's database {where(url)} cannot be used: {type(e).__name__}: "
                                f"{scrub(str(e)).strip()[:300]}") from None
        self.spool = Spool(spool_dir or default_spool_dir(url), spool_max_mb * 1024 * 1024)
        self._acked: dict[str, int] = {}
        self._static: dict[tuple, int] = {}
        self._days: set = set()
        self._wake, self._stop = threading.Event(), threading.Event()
        self._conn: Any = None
        self._thread = threading.Thread(target=self._run, name="hybrid-ai-pg-flusher", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ the request's thread
    def write(self, event: dict) -> None:
        for p in self._chain:
            event = p(None, "info", dict(event))
        if not self.spool.append(_dumps(event)):
            self.stats["dropped"] += 1
            self.on_count("dropped", 1)
        elif self.spool.segments and self.spool.segments[-1].size() - self._acked.get(
                self.spool.segments[-1].name, 0) > self.flush_rows * 512:
            self._wake.set()

    # ------------------------------------------------------------------ the flusher
    def _connect(self) -> Any:
        if self._conn is None or self._conn.closed:
            psycopg = need("psycopg")
            self._conn = psycopg.connect(self.url, connect_timeout=5, autocommit=True)
        return self._conn

    def _static_id(self, conn, event: dict) -> int:
        key = tuple(event.get(c) for c in schema.STATIC)
        if key not in self._static:
            cols, marks = ", ".join(schema.STATIC), ", ".join(["%s"] * len(key))
            match = " AND ".join(f"{c} IS NOT DISTINCT FROM %s" for c in schema.STATIC)
            with conn.transaction():
                conn.execute(f"INSERT INTO route_static ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING", key)
                self._static[key] = conn.execute(f"SELECT id FROM route_static WHERE {match}", key).fetchone()[0]
        return self._static[key]

    def _row(self, conn, event: dict) -> tuple:
        ts = datetime.fromisoformat(event["timestamp"])
        for day in (ts.date(), ts.date() + timedelta(days=1)):  # its day's partition and the next, before the copy
            if day not in self._days:
                schema.ensure_partition(conn, day)
                self._days.add(day)
        vals = [json.dumps(v) if isinstance(v := event.get(c), (list, dict)) else int(v) if isinstance(v, bool)
                else v for c in schema.ROW_COLUMNS]
        return (ts, self._static_id(conn, event), *vals)

    def _copy(self, seg: Segment, start: int) -> int:
        """Copy up to `flush_rows` whole lines of a segment from `start`; returns the new offset."""
        data = seg.read(start, self.flush_rows * 8192)
        end = data.rfind(b"\n") + 1
        if end == 0:
            return start
        lines = data[:end].splitlines()[: self.flush_rows]
        used = sum(len(line) + 1 for line in lines)
        conn = self._connect()
        rows = []
        for line in lines:
            try:
                rows.append(self._row(conn, json.loads(line)))
            except (ValueError, KeyError):  # a line that is not a record (cannot happen short of disk damage)
                self.stats["dropped"] += 1
        with conn.transaction():
            with conn.cursor() as cur, cur.copy(f"COPY route_log_rows ({COPY_COLUMNS}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)
            conn.execute("INSERT INTO spool_acks (spool, offset_bytes) VALUES (%s, %s) ON CONFLICT (spool) DO "
                         "UPDATE SET offset_bytes = EXCLUDED.offset_bytes, updated = now()", (seg.name, start + used))
        self.stats["written"] += len(rows)
        self.on_count("written", len(rows))
        return start + used

    def _drain(self, seg: Segment, own: bool) -> bool:
        """Copy what the database lacks of one segment; True when it has it whole."""
        if seg.name not in self._acked:
            row = self._connect().execute("SELECT offset_bytes FROM spool_acks WHERE spool = %s",
                                          (seg.name,)).fetchone()
            self._acked[seg.name] = row[0] if row else 0
        while True:
            offset = self._acked[seg.name]
            new = self._copy(seg, offset)
            self._acked[seg.name] = new
            if new == offset:
                return new >= seg.size()

    def _forget(self, seg: Segment) -> None:
        self._connect().execute("DELETE FROM spool_acks WHERE spool = %s", (seg.name,))
        self._acked.pop(seg.name, None)

    def _pass(self, orphans: bool, retention: bool) -> None:
        for seg in list(self.spool.segments):
            whole = self._drain(seg, own=True)
            if whole and seg is not self.spool.segments[-1]:
                self.spool.retire(seg)
                self._forget(seg)
        if orphans:
            for seg in self.spool.orphans():
                if not self._drain(seg, own=False):  # a record torn by the kill: never whole, not kept
                    self.stats["dropped"] += 1
                self.stats["adopted"] += 1
                seg.remove()
                self._forget(seg)
        if retention and self.retention_days:
            schema.drop_older(self._connect(), self.retention_days)
            self._days.clear()

    def _run(self) -> None:
        backoff, last_orphans, last_retention = 0.1, float("-inf"), float("-inf")  # both at the first pass
        while True:
            stopping = self._stop.is_set()
            now = time.monotonic()
            try:
                self._pass(orphans=now - last_orphans > ORPHAN_EVERY_S or stopping,
                           retention=now - last_retention > RETENTION_EVERY_S)
                last_orphans = now if now - last_orphans > ORPHAN_EVERY_S else last_orphans
                last_retention = now if now - last_retention > RETENTION_EVERY_S else last_retention
                backoff = 0.1
            except Exception as e:  # the database is away: the spool keeps the rows; retry with a backoff
                self.stats["errors"] += 1
                self.on_count("errors", 1)
                from ..privacy.redact import scrub

                log.warning("hybrid-ai: the route log's database failed (%s: %s); rows stay spooled",
                            type(e).__name__, scrub(str(e))[:200])
                if self._conn is not None:
                    try:
                        self._conn.close()
                    except Exception:
                        pass
                    self._conn = None
                if stopping:
                    return
                self._wake.wait(backoff)
                self._wake.clear()
                backoff = min(backoff * 2, 5.0)
                continue
            if stopping:
                return
            self._wake.wait(self.flush_s)
            self._wake.clear()

    def pending_bytes(self) -> int:
        return self.spool.pending_bytes(self._acked)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the spool is in the database (True) or `timeout` passes (False)."""
        end = time.monotonic() + timeout
        while self.pending_bytes() > 0 and time.monotonic() < end:
            self._wake.set()
            time.sleep(0.02)
        return self.pending_bytes() == 0

    def close(self) -> None:
        self.flush(self.drain_s)
        self._stop.set()
        self._wake.set()
        self._thread.join(self.drain_s)
        drained = self.pending_bytes() == 0
        if drained:
            for seg in list(self.spool.segments):
                try:
                    self._forget(seg)
                except Exception:
                    pass
        self.spool.close(keep=not drained)
        if self._conn is not None:
            self._conn.close()
