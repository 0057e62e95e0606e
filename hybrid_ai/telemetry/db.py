"""The route log's database, SQLite file or PostgreSQL URL, behind one small interface, so that every writer and
reader runs the same SQL on both (`?` placeholders; sums of conditions written as CASE):

- `connect(path)`: a SQLite file hybrid-ai writes (the route log, the eval's answer cache): shared by threads
  (callers hold their own lock), autocommit, WAL so readers never block the writer, a 30 s busy timeout.
- `open_store(target)`: the same for a writer that may be either (budget spend, shadow outcomes): a SQLite path
  or a `postgresql://` URL (store/schema.py migrates it).
- `read_only(target)`: a route log opened for a report or for training data; `columns(db, table)`."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..errors import HybridAIError
from ..store import is_postgres, need, where


def connect(path: str | Path) -> sqlite3.Connection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    return db


def _plain(row: tuple) -> tuple:
    return tuple(float(v) if isinstance(v, Decimal) else v for v in row)


class _Rows:
    def __init__(self, rows: list[tuple]):
        self.rows = rows

    def fetchall(self) -> list[tuple]:
        return self.rows

    def fetchone(self) -> tuple | None:
        return self.rows[0] if self.rows else None

    def __iter__(self):
        return iter(self.rows)


class PostgresLog:
    """A PostgreSQL route log with sqlite3's `execute(sql, params).fetchall()`: `?` placeholders, numbers as
    Python floats and ints. Reconnects once when the server went away in between (a restart)."""

    dialect = "postgres"

    def __init__(self, url: str, migrate: bool = True):
        self.url = url
        self._conn: Any = None
        self._pool: Any = None
        self._lock = threading.Lock()
        if migrate:
            from ..store.schema import migrate as apply

            apply(self._connect())

    def _connect(self) -> Any:
        if self._conn is None or self._conn.closed:
            self._conn = need("psycopg").connect(self.url, autocommit=True, connect_timeout=5)
        return self._conn

    def execute(self, sql: str, params: tuple | list = ()) -> _Rows:
        psycopg = need("psycopg")
        sql = sql.replace("%", "%%").replace("?", "%s")
        with self._lock:
            for attempt in (0, 1):
                try:
                    cur = self._connect().execute(sql, tuple(params))
                    return _Rows([_plain(r) for r in cur.fetchall()] if cur.description else [])
                except psycopg.OperationalError:
                    if attempt or self._conn is None or not self._conn.closed:
                        raise
                    self._conn = None
        raise AssertionError("unreachable")

    def later(self, sql: str, params: tuple | list = ()) -> None:
        """`execute` on this log's own thread, off the caller's (a failure is logged, never raised)."""
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(1, thread_name_prefix="hybrid-ai-pg")
        self._pool.submit(self._quietly, sql, params)

    def _quietly(self, sql: str, params: tuple | list) -> None:
        try:
            self.execute(sql, params)
        except Exception as e:
            import logging

            logging.getLogger("hybrid_ai.store").warning("hybrid-ai: a route log write failed (%s)", type(e).__name__)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        with self._lock:
            if self._conn is not None:
                self._conn.close()


def open_store(target: str | Path) -> Any:
    """A writable route log: `PostgresLog` for a URL, else a SQLite connection (`connect`)."""
    return PostgresLog(str(target)) if is_postgres(target) else connect(target)


def store_errors() -> tuple[type[BaseException], ...]:
    """What a route log's database raises when it fails (SQLite's, and psycopg's when it is installed)."""
    try:
        import psycopg

        return (sqlite3.Error, psycopg.Error)
    except ImportError:
        return (sqlite3.Error,)


def columns(db: Any, table: str) -> set[str]:
    if isinstance(db, PostgresLog):
        return {r[0] for r in db.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ?",
                                         (table,))}
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


@contextmanager
def read_only(target: str | Path, unreadable: str = "not a hybrid-ai route log", error: type = HybridAIError):
    """A route log opened read-only for a report or for training data (a SQLite path or a PostgreSQL URL): `error`
    names the file when it is missing ("no such route log") or when a query fails (`unreadable`, with the
    database's reason)."""
    if is_postgres(target):
        from ..privacy.redact import scrub

        name = where(target)
        try:
            db = PostgresLog(str(target), migrate=False)
            db._connect()
        except store_errors() as e:
            raise error(f"{name}: cannot connect to the route log's database ({type(e).__name__}: "
                        f"{scrub(str(e))[:200]})") from None
        try:
            yield db
        except store_errors() as e:
            raise error(f"{name}: {unreadable} ({scrub(str(e)).strip()[:200]})") from None
        finally:
            db.close()
        return
    p = Path(target)
    if not p.is_file():
        raise error(f"{p}: no such route log")
    sdb = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
    try:
        yield sdb
    except sqlite3.Error as e:
        raise error(f"{p}: {unreadable} ({e})") from None
    finally:
        sdb.close()
