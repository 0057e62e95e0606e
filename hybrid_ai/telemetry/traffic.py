"""`hybrid-ai report --log DB [--since DATE] --out DIR`: the production counterpart of the eval report, from the
route log alone (SQL aggregates, so 100,000 records take seconds): requests and share per route over time, cost
and energy spent against the all-cloud counterfactual (what the strongest tier would have cost, from each record's
savings), latency per route (p50 / p95), fallbacks and escalations, the top route reasons, budget decisions, and
usage per API key. Writes report.json and a self-contained report.html with its plots (traffic_html.py)."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import HybridAIError
from ..store import is_postgres
from ..store import where as log_name
from .db import columns, read_only


def _percentile(sorted_vals: list[float], q: float) -> float | None:
    if not sorted_vals:
        return None
    return sorted_vals[min(len(sorted_vals) - 1, int(q * len(sorted_vals)))]


def summarize(log: str | Path, since: str = "") -> dict:
    p = log if is_postgres(log) else Path(log)
    name = log_name(log) if is_postgres(log) else str(p)
    with read_only(p, "cannot read the route log") as db:
        cols = columns(db, "route_log")
        if not cols:
            raise HybridAIError(f"{name}: not a hybrid-ai route log (no route_log table)")

        def col(name: str, default: str = "NULL") -> str:  # older logs lack newer columns: they read as NULL
            return name if name in cols else default

        def q(sql: str, *args):
            return db.execute(sql, (since, *args)).fetchall()

        where = "WHERE timestamp >= ?"
        total = q(f"SELECT COUNT(*), MIN(timestamp), MAX(timestamp), COALESCE(SUM(cost_usd), 0), "
                  f"COALESCE(SUM(energy_wh), 0), COALESCE(SUM({col('savings_usd')}), 0), "
                  f"COALESCE(SUM({col('savings_wh')}), 0), SUM(CASE WHEN error IS NOT NULL AND route IS NULL THEN 1 ELSE 0 END) "
                  f"FROM route_log {where}")[0]
        n = total[0]
        if not n:
            raise HybridAIError(f"{name}: no records{' since ' + since if since else ''}")
        routes = q(f"SELECT COALESCE(route, '(failed)'), COUNT(*), COALESCE(SUM(cost_usd), 0), "
                   f"COALESCE(SUM(energy_wh), 0) FROM route_log {where} GROUP BY 1 ORDER BY 2 DESC")
        span = (total[1] or "")[:10] != (total[2] or "")[:10]
        bucket = "substr(timestamp, 1, 10)" if span else "substr(timestamp, 1, 13)"
        over_time = q(f"SELECT {bucket}, COALESCE(route, '(failed)'), COUNT(*) FROM route_log {where} "
                      f"GROUP BY 1, 2 ORDER BY 1")
        latency = {}
        for route, in q(f"SELECT DISTINCT COALESCE(route, '(failed)') FROM route_log {where}"):
            vals = [v for v, in db.execute("SELECT latency_ms FROM route_log WHERE timestamp >= ? AND "
                                           "COALESCE(route, '(failed)') = ? ORDER BY latency_ms", (since, route))]
            latency[route] = {"p50_ms": _percentile(vals, 0.5), "p95_ms": _percentile(vals, 0.95), "n": len(vals)}
        reasons = q(f"SELECT reason, COUNT(*) FROM route_log {where} GROUP BY 1 ORDER BY 2 DESC LIMIT 10")
        fallbacks = q(f"SELECT COUNT(*) FROM route_log {where} AND fallback = 1")[0][0]
        escalated = q(f"SELECT COUNT(*) FROM route_log {where} AND {col('escalated', '0')} = 1")[0][0]
        budget = q(f"SELECT {col('budget')}, COUNT(*) FROM route_log {where} AND {col('budget')} IS NOT NULL GROUP BY 1")
        callers = q(f"SELECT COALESCE({col('caller')}, '(in-process)'), COUNT(*), COALESCE(SUM(cost_usd), 0) "
                    f"FROM route_log {where} GROUP BY 1 ORDER BY 2 DESC LIMIT 20")
        variants = q(f"SELECT {col('variant')}, COUNT(*), COALESCE(SUM(cost_usd), 0), COALESCE(SUM({col('savings_usd')}), 0), "
                     f"AVG(latency_ms), SUM(CASE WHEN route IS NULL THEN 1 ELSE 0 END) FROM route_log {where} "
                     f"AND {col('variant')} IS NOT NULL "
                     f"GROUP BY 1 ORDER BY 1 DESC")
        variant_routes = q(f"SELECT {col('variant')}, COALESCE(route, '(failed)'), COUNT(*) FROM route_log {where} "
                           f"AND {col('variant')} IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 3 DESC")
    spent_usd, spent_wh, saved_usd, saved_wh = total[3], total[4], total[5], total[6]
    return {
        "log": name, "since": since or None, "records": n, "first": total[1], "last": total[2], "failed": total[7],
        "bucket": "day" if span else "hour",
        "routes": [{"route": r, "requests": c, "share": c / n, "cost_usd": usd, "energy_wh": wh}
                   for r, c, usd, wh in routes],
        "over_time": [{"bucket": b, "route": r, "requests": c} for b, r, c in over_time],
        "cost": {"spent_usd": spent_usd, "all_cloud_usd": spent_usd + saved_usd, "saved_usd": saved_usd,
                 "saving": saved_usd / (spent_usd + saved_usd) if spent_usd + saved_usd else None},
        "energy": {"spent_wh": spent_wh, "all_cloud_wh": spent_wh + saved_wh, "saved_wh": saved_wh,
                   "saving": saved_wh / (spent_wh + saved_wh) if spent_wh + saved_wh else None},
        "latency": latency,
        "reasons": [{"reason": r, "requests": c} for r, c in reasons],
        "fallbacks": fallbacks, "escalations": escalated,
        "budget": [{"cap": b, "requests": c} for b, c in budget],
        "callers": [{"caller": k, "requests": c, "cost_usd": usd} for k, c, usd in callers],
        # with a canary (canary.py): the current policy against the candidate on the same live traffic
        "variants": [{"variant": v, "requests": c, "cost_usd": usd, "cost_per_request": usd / c,
                      "saving": saved / (usd + saved) if usd + saved else None, "mean_latency_ms": lat,
                      "failed": failed, "routes": {r: k for vv, r, k in variant_routes if vv == v}}
                     for v, c, usd, saved, lat, failed in variants],
    }


def main(log: str, since: str, out: str) -> int:
    from rich.console import Console

    from .traffic_html import render

    con = Console(stderr=True)
    with con.status(f"reading {log}"):
        result = summarize(log, since)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    (folder / "report.html").write_text(render(result, folder), encoding="utf-8")
    c, e = result["cost"], result["energy"]
    con.print(f"{result['records']:,} requests ({result['first']} .. {result['last']}); spent ${c['spent_usd']:.4f} "
              f"against ${c['all_cloud_usd']:.4f} all-cloud, {e['spent_wh']:.2f} Wh against {e['all_cloud_wh']:.2f} Wh")
    for v in result["variants"]:
        con.print(f"variant {v['variant']}: {v['requests']:,} requests, ${v['cost_per_request']:.6f} per request, "
                  f"routes {v['routes']}, {v['failed']} failed")
    con.print(f"report: {folder / 'report.html'} (also report.json)")
    return 0
