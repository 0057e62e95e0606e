"""`hybrid-ai usage --log DB [--since DATE] [--json]`: requests, tokens, cost and savings per caller (the server's
API key ids, telemetry/caller.py) from a route log, one SQL query; `(in-process)` for requests without a key."""

from __future__ import annotations

import json
from pathlib import Path

from .db import read_only

QUERY = """SELECT COALESCE(caller, '(in-process)'), COUNT(*), SUM(CASE WHEN route IS NOT NULL AND route != ? THEN 1 ELSE 0 END),
    COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost_usd), 0),
    COALESCE(SUM(savings_usd), 0), COALESCE(SUM(energy_wh), 0), COALESCE(SUM(savings_wh), 0)
    FROM route_log WHERE timestamp >= ? GROUP BY 1 ORDER BY 6 DESC"""
FIELDS = ("caller", "requests", "answered_below_strongest", "prompt_tokens", "completion_tokens", "cost_usd",
          "savings_usd", "energy_wh", "savings_wh")


def usage(log: str | Path, since: str = "", strong_tier: str = "cloud") -> list[dict]:
    with read_only(log, "not a hybrid-ai route log with per-key usage; it is migrated the next time hybrid-ai "
                        "writes to it") as db:
        rows = db.execute(QUERY, (strong_tier, since)).fetchall()
    return [dict(zip(FIELDS, r)) for r in rows]


def main(log: str, since: str, strong_tier: str, as_json: bool) -> int:
    rows = usage(log, since, strong_tier)
    if as_json:
        print(json.dumps(rows))
        return 0
    from rich.console import Console
    from rich.table import Table

    from ..store import where

    t = Table(title=f"usage per caller ({where(log)}{', since ' + since if since else ''})")
    for col in ("caller", "requests", f"not on {strong_tier}", "tokens in / out", "cost", "saved", "energy", "saved"):
        t.add_column(col, justify="left" if col == "caller" else "right")
    for r in rows:
        t.add_row(r["caller"], str(r["requests"]), str(r["answered_below_strongest"]),
                  f"{r['prompt_tokens']:,} / {r['completion_tokens']:,}", f"${r['cost_usd']:.4f}",
                  f"${r['savings_usd']:.4f}", f"{r['energy_wh']:.3f} Wh", f"{r['savings_wh']:.3f} Wh")
    Console().print(t)
    return 0
