"""`hybrid-ai report` on a large route log: generates N records (default 100,000) spread over 30 days into a
SQLite route log with the sink's own schema, then times the report (target: under 10 s).

    .venv/bin/python benchmarks/traffic_report.py [--n 100000]"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hybrid_ai.telemetry.sinks import _COLUMNS, SQLiteSink
from hybrid_ai.telemetry.traffic import main as report


def records(n: int, seed: int = 0):
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    for i in range(n):
        local = rng.random() < 0.4
        route = "local" if local else ("cloud" if rng.random() > 0.01 else None)
        cost = 1e-5 if local else 3e-4
        yield {"request_id": f"r{i}", "timestamp": (start + timedelta(seconds=30 * 86400 * i / n)).isoformat(),
               "route": route, "reason": rng.choice(["score<threshold", "score>=threshold", "rule:personal-data"]),
               "score": rng.random(), "threshold": 0.5, "latency_ms": rng.lognormvariate(6 if local else 7, 0.5),
               "cost_usd": cost, "energy_wh": 0.003 if local else 0.05, "fallback": rng.random() < 0.02,
               "escalated": rng.random() < 0.01, "error": None if route else "all tiers failed",
               "savings_usd": 3e-4 - cost if local else None, "savings_wh": 0.047 if local else None,
               "caller": f"key_{rng.randrange(5):012x}", "budget": "budget:day" if rng.random() < 0.005 else None,
               "attempts": [], "policy": "default", "policy_hash": "x", "stream": False}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    n = ap.parse_args().n
    tmp = Path(tempfile.mkdtemp())
    sink = SQLiteSink(tmp / "routes.db")  # the schema the route log really has
    t0 = time.perf_counter()
    rows = [[json.dumps(v) if isinstance(v := r.get(c), (list, dict)) else v for c in _COLUMNS] for r in records(n)]
    sink._db.execute("BEGIN")
    sink._db.executemany(f"INSERT INTO route_log VALUES ({','.join('?' * len(_COLUMNS))})", rows)
    sink._db.execute("COMMIT")
    sink.close()
    print(f"generated {n:,} records in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    report(str(tmp / "routes.db"), "", str(tmp / "report"))
    print(f"hybrid-ai report on {n:,} records: {time.perf_counter() - t0:.2f} s (target: under 10 s)")


if __name__ == "__main__":
    main()
