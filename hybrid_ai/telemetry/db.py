"""One way to open the SQLite files hybrid-ai writes (the route log, the eval's answer cache): shared by threads
(callers hold their own lock), autocommit, WAL so readers never block the writer, a 30 s busy timeout."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path

from ..errors import HybridAIError


def connect(path: str | Path) -> sqlite3.Connection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    return db


@contextmanager
def read_only(path: str | Path, unreadable: str = "not a hybrid-ai route log", error: type = HybridAIError):
    """A route log opened read-only for a report or for training data: `error` names the file when it is missing
    ("no such route log") or when a query fails (`unreadable`, with SQLite's reason)."""
    p = Path(path)
    if not p.is_file():
        raise error(f"{p}: no such route log")
    db = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
    try:
        yield db
    except sqlite3.Error as e:
        raise error(f"{p}: {unreadable} ({e})") from None
    finally:
        db.close()
