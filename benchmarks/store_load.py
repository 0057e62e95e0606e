"""What the shared store costs (store/): the PostgreSQL route log's writer, a report on a million rows, Redis
limits per request, and two gateway replicas on PostgreSQL + Redis against the same two on SQLite, in one run.

    .venv/bin/python benchmarks/store_load.py [--rows 1000000] [--requests 2000] [--rounds 2] [--parts 1,2,3,4,5]

Throwaway PostgreSQL 15 and Redis 7 servers on 127.0.0.1 (store/throwaway.py: fsync off, as a test server; a
production server with fsync on writes slower), in temporary folders, stopped at the end.

1. The request's thread: microseconds per `write` of a full record (with attempts, counterfactual, caller),
   PostgresSink (spool append) against SQLiteSink (an INSERT in WAL mode), with each one's flusher running.
2. The flusher: 100,000 spooled records copied to PostgreSQL, rows per second; bytes per row on disk.
3. `hybrid-ai report` (telemetry/traffic.summarize) on `--rows` rows in PostgreSQL over 30 days.
4. Limits: `AsyncHybridClient.create` on an instant tier (EchoBackend), median ms, with per-key limits and a
   budget on Redis, on this process's counters, and none.
5. Two `hybrid-ai serve` replicas, 50 clients spread over both, the fake upstream of gateway_load.py: route log +
   budget + per-key limits on SQLite and per-process counters, against PostgreSQL + Redis."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gateway_load as gl  # noqa: E402

from hybrid_ai.store import throwaway  # noqa: E402


def record(i: int, when: datetime | None = None) -> dict:
    from hybrid_ai.types import Attempt, RouteRecord

    when = when or datetime.now(timezone.utc)
    att = Attempt(tier="cloud", model="gpt-4o-mini", backend="litellm", latency_ms=812.5, ttft_ms=201.0,
                  prompt_tokens=412, completion_tokens=96, cost_usd=0.00012, cost_source="litellm", energy_wh=0.21,
                  energy_source="ecologits", co2_g=0.08)
    return RouteRecord(request_id=f"chatcmpl-{i:012d}", timestamp=when.isoformat(timespec="milliseconds"),
                       route="cloud", reason="score>=threshold", score=0.734, threshold=0.5, model="gpt-4o-mini",
                       backend="litellm", prompt_tokens=412, completion_tokens=96, latency_ms=815.2, ttft_ms=203.0,
                       cost_usd=0.00012, cost_source="litellm", energy_wh=0.21, energy_source="ecologits", co2_g=0.08,
                       caller="key_3f9a1c2b7d4e", counterfactual={"tier": "cloud", "cost_usd": 0.00012},
                       savings_usd=0.0, savings_wh=0.0, attempts=[att], policy="default",
                       policy_hash="9f2c4e1a7b3d").model_dump()


def sink_writes(pg_url: str, folder: Path, n: int = 20000) -> dict[str, tuple[float, float]]:
    from hybrid_ai.store.pg_sink import PostgresSink
    from hybrid_ai.telemetry.sinks import SQLiteSink

    out = {}
    for name, sink in (("PostgresSink", PostgresSink(pg_url, spool_dir=folder / "spool-a")),
                       ("SQLiteSink", SQLiteSink(folder / "bench.db"))):
        times = []
        for i in range(n):
            e = record(i)
            t = time.perf_counter()
            sink.write(e)
            times.append((time.perf_counter() - t) * 1e6)
            if i % 20 == 0:
                time.sleep(0.001)  # a paced load, so the flusher runs beside the writes
        sink.close()
        times.sort()
        out[name] = (statistics.median(times), times[int(0.99 * len(times))])
    return out


def flusher(pg_url: str, folder: Path, n: int = 100_000) -> tuple[float, float]:
    import psycopg

    from hybrid_ai.store.pg_sink import PostgresSink

    sink = PostgresSink(pg_url, spool_dir=folder / "spool-b", flush_ms=10**9, flush_rows=5000)
    time.sleep(1)  # its first pass is over: it waits on its event, which the writes below may not set
    wake, sink._wake = sink._wake, threading.Event()  # so that all is spooled first
    base = datetime.now(timezone.utc) - timedelta(hours=1)
    for i in range(n):
        sink.write(record(10**6 + i, base))
    sink._wake = wake
    t = time.perf_counter()
    sink.flush(600)
    rate = n / (time.perf_counter() - t)
    sink.close()
    with psycopg.connect(pg_url) as c:
        size = c.execute("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_inherits i JOIN pg_class c ON "
                         "c.oid = i.inhrelid WHERE i.inhparent = 'route_log_rows'::regclass").fetchone()[0]
        rows = c.execute("SELECT count(*) FROM route_log_rows").fetchone()[0]
    return rate, size / rows


def report_on(pg_url: str, total: int) -> float:
    """Fill the log to `total` rows over 30 days (copies of what is there, inside PostgreSQL), time the report."""
    import psycopg

    from hybrid_ai.store import schema
    from hybrid_ai.telemetry.traffic import summarize

    today = datetime.now(timezone.utc).date()
    with psycopg.connect(pg_url, autocommit=True) as c:
        for d in range(31):
            schema.ensure_partition(c, today - timedelta(days=d))
        have = c.execute("SELECT count(*) FROM route_log_rows").fetchone()[0]
        cols = ", ".join(schema.ROW_COLUMNS[1:])
        while have < total:
            take = min(have, total - have)
            c.execute(f"INSERT INTO route_log_rows (ts, static_id, request_id, {cols}) SELECT "
                      f"now() - ((random() * 29)::int * interval '1 day'), static_id, request_id || '-' || {have}, {cols} "
                      f"FROM route_log_rows LIMIT {take}")
            have += take
        c.execute("ANALYZE route_log_rows")
    t = time.perf_counter()
    result = summarize(pg_url)
    took = time.perf_counter() - t
    assert result["records"] == total, result["records"]
    return took


async def limits_cost(redis_url: str, n: int = 2000) -> dict[str, float]:
    from hybrid_ai import AsyncHybridClient
    from hybrid_ai.telemetry import caller
    from hybrid_ai.testing import EchoBackend

    base = {"name": "bench-limits", "tiers": {"cloud": {"backend": "litellm", "model": "openai/x",
                                                        "api_base": "http://127.0.0.1:9/v1",
                                                        "cost": {"usd_per_mtok_input": 1, "usd_per_mtok_output": 1}}},
            "classifier": {"type": "heuristic", "threshold": 0.0, "weak_tier": "cloud", "strong_tier": "cloud"},
            "rules": [], "fallback": {}, "telemetry": {"sinks": [], "savings": False}}
    limited = {**base, "limits": {"per_key": {"rpm": 10**9, "tpm": 10**12, "usd_per_day": 10**9}},
               "telemetry": {"sinks": [], "savings": False, "sqlite_path": str(Path(tempfile.mkdtemp()) / "b.db")},
               "budget": {"cloud_usd_per_day": 10**9}}
    caller.CALLER.set("key_bench")
    out = {}
    for name, spec, url in (("no limits", base, ""), ("per-process counters", limited, ""),
                            ("Redis", limited, redis_url)):
        os.environ["HYBRID_AI_REDIS_URL"] = url
        c = AsyncHybridClient(spec, backends={"cloud": EchoBackend("cloud")})
        times = []
        for i in range(n + 100):
            t = time.perf_counter()
            await c.chat.completions.create(messages=[{"role": "user", "content": "hello there"}], max_tokens=4)
            if i >= 100:
                times.append((time.perf_counter() - t) * 1000)
        await c.aclose()
        out[name] = statistics.median(times)
    os.environ.pop("HYBRID_AI_REDIS_URL", None)
    return out


def replicas(pg_url: str, redis_url: str, requests: int, rounds: int, folder: Path) -> dict[str, list[dict]]:
    port = gl.free_port()
    fake = subprocess.Popen([sys.executable, gl.__file__, "--fake", str(port)])
    gl.wait_port(port, fake, "fake upstream")
    url = f"http://127.0.0.1:{port}"
    results: dict[str, list[dict]] = {}
    groups = {}
    try:
        for name, env in (("SQLite", {}), ("PostgreSQL + Redis", {"HYBRID_AI_DATABASE_URL": pg_url,
                                                                   "HYBRID_AI_REDIS_URL": redis_url})):
            p = gl.policy_file(url, folder, "auto", name=f"policy-{len(groups)}.json")
            spec = json.loads(p.read_text())
            spec["telemetry"] = {"sinks": ["stderr", "sqlite"], "sqlite_path": str(folder / "replicas.db"),
                                 "savings": False, "spool_dir": str(folder / "spool-r")}
            spec["budget"] = {"cloud_usd_per_day": 10**6}
            spec["limits"] = {"per_key": {"rpm": 10**9, "tpm": 10**12}}
            p.write_text(json.dumps(spec))
            groups[name] = [gl.Gateway(f"{name} {i}", gl.ROOT, p, folder, env=env) for i in range(2)]
        for _ in range(rounds):
            for name, gws in groups.items():
                out = asyncio.run(spread([g.url for g in gws], 50, requests))
                results.setdefault(name, []).append(out)
                print(f"{name:<20} {out['rps']:8.0f} req/s  p50 {out['p50']:7.2f} ms  errors {out['errors']}")
    finally:
        for gws in groups.values():
            for g in gws:
                g.stop()
        fake.terminate()
    return results


async def spread(urls: list[str], clients: int, n: int) -> dict:
    """gateway_load.load over several replicas: client i sends to replica i mod len(urls)."""
    parts = await asyncio.gather(*(gl.load(u, clients // len(urls), n // len(urls), False, True) for u in urls))
    return {"rps": sum(p["rps"] for p in parts), "p50": statistics.median(p["p50"] for p in parts),
            "errors": sum(p["errors"] for p in parts)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows in PostgreSQL for the report")
    ap.add_argument("--requests", type=int, default=2000, help="per replica group and round")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--parts", default="1,2,3,4,5", help="which of the measurements above to run")
    args = ap.parse_args()
    parts = {int(x) for x in args.parts.split(",")}
    from rich.console import Console

    console = Console(width=130)
    folder = Path(tempfile.mkdtemp(prefix="store-load-"))
    with throwaway.postgres() as pg, throwaway.redis() as rd:
        if 1 in parts:
            for name, (p50, p99) in sink_writes(pg.url, folder).items():
                console.print(f"1. {name}.write on the request's thread: median {p50:.1f} µs, p99 {p99:.1f} µs")
        if 2 in parts:
            rate, per_row = flusher(pg.url, folder)
            console.print(f"2. flusher: {rate:,.0f} rows/s; {per_row:,.0f} bytes per row on disk (table and indexes)")
        if 3 in parts:
            took = report_on(pg.url, args.rows)
            console.print(f"3. report on {args.rows:,} rows in PostgreSQL: {took:.2f} s")
        if 4 in parts:
            lim = asyncio.run(limits_cost(rd.url))
            none = lim["no limits"]
            console.print("4. limits, median create(): " + ", ".join(
                f"{k} {v:.3f} ms ({v - none:+.3f})" for k, v in lim.items()))
        if 5 in parts:
            rep = replicas(pg.url, rd.url, args.requests, args.rounds, folder)
            med = {k: statistics.median(x["rps"] for x in v) for k, v in rep.items()}
            console.print(f"5. two replicas, 50 clients: SQLite {med['SQLite']:,.0f} req/s, PostgreSQL + Redis "
                          f"{med['PostgreSQL + Redis']:,.0f} req/s ({med['PostgreSQL + Redis'] / med['SQLite']:.0%}); "
                          f"errors {sum(x['errors'] for v in rep.values() for x in v)}")

if __name__ == "__main__":
    main()
