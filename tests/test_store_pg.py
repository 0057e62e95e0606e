"""The route log in PostgreSQL (store/): migrations, daily partitions and retention, the spooled batch writer
(a database restart, a killed writer), and the readers (`report`, `usage`, training data) on a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone

import psycopg
import pytest
from conftest import CLI, ROOT

from hybrid_ai.store import schema
from hybrid_ai.store.pg_sink import PostgresSink
from hybrid_ai.telemetry.sinks import SQLiteSink
from hybrid_ai.types import Attempt, RouteRecord


def record(i: int, when: datetime | None = None, **kw) -> dict:
    when = when or datetime.now(timezone.utc)
    fields = dict(request_id=f"req-{i}", timestamp=when.isoformat(timespec="milliseconds"), route="cloud",
                  reason="score>=threshold", score=0.7, threshold=0.5, model="gpt-4o-mini", backend="litellm",
                  prompt_tokens=9, completion_tokens=2, latency_ms=12.5, cost_usd=0.0001, cost_source="policy",
                  energy_wh=0.01, energy_source="ecologits", fallback=False, needs=["tools"], caller="key_abc",
                  attempts=[Attempt(tier="cloud", latency_ms=12.0, cost_usd=0.0001)], policy="p", policy_hash="abc123",
                  prompt="hello there", answer="hi")
    fields.update(kw)
    return RouteRecord(**fields).model_dump()


def rows(url: str, sql: str = "SELECT count(*), count(DISTINCT request_id) FROM route_log") -> tuple:
    with psycopg.connect(url) as c:
        return c.execute(sql).fetchone()


def test_migrations_race_free_and_idempotent(pg_url):
    errors = []

    def go():
        try:
            with psycopg.connect(pg_url, autocommit=True) as c:
                schema.migrate(c)
        except Exception as e:  # pragma: no cover - the failure the test looks for
            errors.append(e)

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert rows(pg_url, "SELECT count(*), max(version) FROM hybrid_ai_migrations") == (1, 1)


def test_same_row_as_sqlite_and_static_data_once(pg_url, tmp_path):
    """The view gives back what the SQLite route log holds for the same records; what repeats is stored once."""
    sink = PostgresSink(pg_url, log_prompts=True, spool_dir=tmp_path / "spool")
    lite = SQLiteSink(tmp_path / "log.db", log_prompts=True)
    events = [record(i) for i in range(50)]
    for e in events:
        sink.write(e)
        lite.write(e)
    assert sink.flush(10)
    sink.close()
    lite.close()
    import sqlite3

    with psycopg.connect(pg_url) as c:
        cols = [d.name for d in c.execute("SELECT * FROM route_log LIMIT 0").description]
        got = c.execute("SELECT * FROM route_log ORDER BY request_id").fetchall()
        assert c.execute("SELECT count(*) FROM route_static").fetchone()[0] == 1
    assert cols == list(RouteRecord.model_fields)
    want = sqlite3.connect(tmp_path / "log.db").execute(
        f"SELECT {', '.join(cols)} FROM route_log ORDER BY request_id").fetchall()
    assert len(got) == len(want) == 50
    for g, w in zip(got, want):
        assert [pytest.approx(x) if isinstance(x, float) else x for x in w] == list(g)
    assert not any((tmp_path / "spool").glob("*.spool"))  # drained and removed on a clean stop


@pytest.mark.slow
def test_report_usage_and_training_data_read_postgres(pg_url, tmp_path):
    sink = PostgresSink(pg_url, log_prompts=True, spool_dir=tmp_path / "spool")
    now = datetime.now(timezone.utc)
    for i in range(30):
        sink.write(record(i, now - timedelta(minutes=i), route="cloud" if i % 3 else "local",
                          prompt=f"question {i}", answer=f"answer {i}", needs=[]))
    sink.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    secret_url = pg_url.replace("hybrid@", "hybrid:not-a-real-password@")
    out = subprocess.run([*CLI, "usage", "--log", pg_url, "--json"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    usage = json.loads(out.stdout)
    assert usage[0]["caller"] == "key_abc" and usage[0]["requests"] == 30
    report = subprocess.run([*CLI, "report", "--log", secret_url, "--out", str(tmp_path / "rep")],
                            capture_output=True, text=True, env=env)
    assert report.returncode == 0, report.stderr
    summary = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert summary["records"] == 30 and {r["route"]: r["requests"] for r in summary["routes"]} == {
        "cloud": 20, "local": 10}
    assert "not-a-real-password" not in report.stdout + report.stderr + json.dumps(summary)
    from hybrid_ai.finetune import data as ft_data
    from hybrid_ai.policy import load_policy

    examples, counts = ft_data.from_route_log(pg_url, load_policy("default"))
    assert counts["kept"] == 20 and examples[-1].messages[1]["content"] == "answer 1"  # oldest first


def test_bad_url_is_a_clear_error_without_the_password(tmp_path):
    url = "postgresql://someone:hunter2-secret@127.0.0.1:1/nothing"
    out = subprocess.run([*CLI, "usage", "--log", url], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode != 0
    assert "cannot connect to the route log's database" in out.stderr and "hunter2" not in out.stderr
    assert "Traceback" not in out.stderr


def test_retention_drops_whole_days(pg_url, tmp_path):
    """40 days of rows: the retention job keeps 30 by dropping partitions, no DELETE."""
    today = datetime.now(timezone.utc).replace(hour=12)
    sink = PostgresSink(pg_url, spool_dir=tmp_path / "spool")
    for d in range(40):
        for i in range(5):
            sink.write(record(d * 10 + i, today - timedelta(days=d)))
    sink.close()
    assert rows(pg_url)[0] == 200
    with psycopg.connect(pg_url, autocommit=True) as c:
        dropped = schema.drop_older(c, 30)
        days = [d for d, _ in schema.partitions(c)]
    assert len(dropped) == 10
    assert min(days) == today.date() - timedelta(days=29)
    assert rows(pg_url)[0] == 150
    sink = PostgresSink(pg_url, spool_dir=tmp_path / "spool", retention_days=7)  # the flusher runs it at start
    deadline = time.monotonic() + 10
    while rows(pg_url)[0] != 35 and time.monotonic() < deadline:
        time.sleep(0.1)
    sink.close()
    assert rows(pg_url)[0] == 35


@pytest.mark.slow
def test_database_restart_under_load_loses_nothing_and_never_blocks(pg_server, pg_url, tmp_path):
    sink = PostgresSink(pg_url, spool_dir=tmp_path / "spool", flush_ms=20)
    slowest, n = 0.0, 0
    stop = threading.Event()

    def load():
        nonlocal slowest, n
        while not stop.is_set():
            t = time.perf_counter()
            sink.write(record(n))
            slowest = max(slowest, time.perf_counter() - t)
            n += 1
            time.sleep(0.001)

    th = threading.Thread(target=load)
    th.start()
    time.sleep(0.5)
    pg_server.restart(down_s=1.5)
    time.sleep(0.5)
    stop.set()
    th.join()
    assert sink.flush(30)
    sink.close()
    assert sink.stats["errors"] >= 1  # it did see the database go away
    assert rows(pg_url) == (n, n)  # every row, once
    assert slowest < 1.0  # a write never waited for the database, which was away for 1.5 s


KILLED_WRITER = """
import sys, time
from datetime import datetime, timezone
sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
from hybrid_ai.store.pg_sink import PostgresSink
from test_store_pg import record
sink = PostgresSink({url!r}, spool_dir={spool!r}, flush_ms=1000000, flush_rows=100000)
time.sleep(2)  # the flusher's first pass (at start) is over: it now waits, and these rows stay in the spool
for i in range(500):
    sink.write(record(i))
print("written", flush=True)
time.sleep(60)
"""


@pytest.mark.slow
def test_a_killed_writers_rows_are_adopted_exactly_once(pg_url, tmp_path):
    """`kill -9` after 500 answered requests whose rows were never flushed: the next writer on the spool folder
    copies them, each once."""
    spool = tmp_path / "spool"
    code = KILLED_WRITER.format(root=str(ROOT), tests=str(ROOT / "tests"), url=pg_url, spool=str(spool))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "written"
    proc.kill()
    proc.wait()
    assert rows(pg_url)[0] < 500  # (0 unless the machine took over 2 s to start the flusher)
    heir = PostgresSink(pg_url, spool_dir=spool)
    deadline = time.monotonic() + 20
    while rows(pg_url)[0] < 500 and time.monotonic() < deadline:
        time.sleep(0.1)
    heir.close()
    assert rows(pg_url) == (500, 500)
    assert heir.stats["adopted"] == 1 and not list(spool.glob("*.spool"))


def test_partitions_for_each_day_and_the_next(pg_url, tmp_path):
    sink = PostgresSink(pg_url, spool_dir=tmp_path / "spool")
    when = datetime(2026, 3, 1, 23, 59, tzinfo=timezone.utc)
    sink.write(record(1, when))
    sink.write(record(2, when + timedelta(minutes=2)))
    sink.close()
    with psycopg.connect(pg_url) as c:
        days = [d for d, _ in schema.partitions(c)]
        assert days == [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]
        assert c.execute("SELECT count(*) FROM route_log_rows_p20260302").fetchone()[0] == 1


def test_shadow_outcomes_in_postgres_are_router_training_data(pg_url):
    """Shadow mode's outcomes written to PostgreSQL and read back by `router train --from-log URL`'s loader."""
    from hybrid_ai.learning.shadow_log import ShadowLog, load_many

    log = ShadowLog(pg_url)
    for i, ok in enumerate((1.0, 0.0, None)):
        log.add(request_id=f"s{i}", prompt=f"question {i}", n_messages=1, local_answer=f"local {i}",
                strong_answer=f"strong {i}", strong_model="gpt-4o-mini", local_correct=ok, judge="agreement",
                cost_usd=0.001)
    assert log.spent_today() == pytest.approx(0.003)
    log.close()
    rows = load_many([], logs=[pg_url])
    assert [(r.prompt, r.weak, r.weak_answer) for r in rows] == [("question 0", 1.0, "local 0"),
                                                                  ("question 1", 0.0, "local 1")]
