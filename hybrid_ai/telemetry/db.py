"""One way to open the SQLite files hybrid-ai writes (the route log, the eval's answer cache): shared by threads
(callers hold their own lock), autocommit, WAL so readers never block the writer, a 30 s busy timeout."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def connect(path: str | Path) -> sqlite3.Connection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    return db
