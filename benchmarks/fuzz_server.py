"""Fuzz `hybrid-ai serve`: malformed requests of every kind (tests/fuzzcases.py: bad JSON, wrong types, huge numbers,
deep nesting, unicode edge cases, 1 MB and 10 MB bodies plain and chunked, every field that would steer a tier,
missing keys, random mutations) on keep-alive connections, then schemathesis against the published OpenAPI schema,
then a 200 MiB chunked upload, then the attacker's probe (benchmarks/attack_probe.py). Counts responses >= 500 and dropped connections, checks the server is still healthy,
that the upstream only ever received fields of the contract, and that the cloud key appears nowhere.

    .venv/bin/python benchmarks/fuzz_server.py [--cases 10000] [--schemathesis-examples 300]

schemathesis is an optional extra: `.venv/bin/pip install -e '.[fuzz]'` first (the run says so if it is absent).
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402
import psutil  # noqa: E402
from rich.progress import Progress  # noqa: E402

from doubles import FakeUpstream  # noqa: E402
from fuzzcases import cases, send_all  # noqa: E402
from gateway import AUTH, SECRET, SERVER_KEYS, Gateway  # noqa: E402
from rawhttp import RawClient  # noqa: E402

CONTRACT = {"model", "messages", "max_tokens", "temperature", "top_p", "seed", "stop", "user", "presence_penalty",
            "frequency_penalty", "stream", "stream_options", "tools", "tool_choice", "parallel_tool_calls",
            "response_format", "logprobs", "top_logprobs"}  # what litellm sends on from the contract


def own_fuzzer(gw: Gateway, n: int) -> tuple[int, int, int]:
    with Progress() as progress:
        task = progress.add_task(f"fuzzing with {n:,} requests", total=n)
        client = RawClient("127.0.0.1", gw.port)
        try:
            out = send_all(client, cases(n, seed=7), AUTH, progress=lambda: progress.advance(task))
        finally:
            client.close()
    print(f"own fuzzer: {n:,} requests on {out.connections:,} connection(s); statuses "
          + ", ".join(f"{k}: {v:,}" for k, v in sorted(out.statuses.items(), key=lambda kv: str(kv[0]))))
    print(f"  responses >= 500: {len(out.server_errors)}   dropped connections: {len(out.dropped)}")
    for kind, status, head in out.server_errors[:5]:
        print(f"    {kind}: {status} {head!r}")
    return n, len(out.server_errors), len(out.dropped)


def schemathesis(gw: Gateway, examples: int) -> tuple[int, int, int]:
    exe = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")
    if not Path(exe).exists():
        print("schemathesis: not installed (pip install schemathesis); skipped")
        return 0, 0, 0
    log = Path(tempfile.mkdtemp()) / "schemathesis.log"
    before = sum(1 for _ in sqlite3.connect(gw.db).execute("SELECT 1 FROM route_log"))
    cmd = [exe, "run", f"{gw.base}/openapi.json", "--header", f"Authorization: {AUTH['authorization']}",
           "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
           "response_schema_conformance", "--max-examples", str(examples), "--phases", "examples,coverage,fuzzing",
           "--seed", "1", "--request-timeout", "60", "--report", "har", "--report-dir", str(log.parent)]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    log.write_text(r.stdout + r.stderr)
    har = next(log.parent.glob("har*"), None)
    statuses: Counter = Counter()
    if har is not None:
        import json

        for entry in json.loads(har.read_text())["log"]["entries"]:
            statuses[entry["response"]["status"]] += 1
    n = sum(statuses.values())
    fivexx = sum(v for k, v in statuses.items() if k >= 500)
    rows = sum(1 for _ in sqlite3.connect(gw.db).execute("SELECT 1 FROM route_log")) - before
    print(f"schemathesis {r.returncode and 'reported problems' or 'passed'} in {time.perf_counter() - t0:.0f} s: "
          f"{n:,} requests; statuses " + ", ".join(f"{k}: {v:,}" for k, v in sorted(statuses.items()))
          + f"; {rows} of them answered by a tier; log {log}")
    if r.returncode:
        print("\n".join(line for line in r.stdout.splitlines()[-40:]))
    return n, fivexx, 0


def huge_chunked_upload(gw: Gateway, mib: int = 200) -> None:
    proc = psutil.Process(gw.proc.pid)
    rss0 = proc.memory_info().rss
    client = RawClient("127.0.0.1", gw.port)
    chunk = b"x" * (1024 * 1024)
    t0 = time.perf_counter()
    r = client.request("POST", "/v1/chat/completions", {**AUTH, "content-type": "application/json"},
                       chunks=(chunk for _ in range(mib)))
    client.close()
    grew = (proc.memory_info().rss - rss0) / 2**20
    print(f"{mib} MiB chunked upload: {r.status} in {time.perf_counter() - t0:.1f} s, server RSS "
          f"{rss0 / 2**20:.0f} -> {proc.memory_info().rss / 2**20:.0f} MiB ({grew:+.0f} MiB), dropped: {r.dropped}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--schemathesis-examples", type=int, default=300)
    args = ap.parse_args()
    with FakeUpstream("ok") as upstream:
        # a low max_tokens limit keeps local answers (pinned by schemathesis' `route: local`) short
        gw = Gateway(Path(tempfile.mkdtemp()), upstream, limits={"max_tokens": 16})
        try:
            own = own_fuzzer(gw, args.cases)
            st = schemathesis(gw, args.schemathesis_examples)
            huge_chunked_upload(gw)
            health = httpx.get(f"{gw.base}/healthz").status_code
        finally:
            gw.close()
        leaked = [k for k, sent in enumerate(upstream.requests) if not set(sent["body"]) <= CONTRACT]
    logs = gw.stderr_path.read_bytes()
    dump = "\n".join(str(row) for row in sqlite3.connect(gw.db).execute("SELECT * FROM route_log"))
    secrets = sum(logs.count(s.encode()) + dump.count(s) for s in (SECRET, *SERVER_KEYS))
    total = own[0] + st[0]
    print(f"\nIn all: {total:,} requests, {own[1] + st[1]} responses >= 500, {own[2]} dropped connections; "
          f"healthz after: {health}; upstream got {len(upstream.requests):,} requests, {len(leaked)} with a field "
          f"outside the contract; the keys appear {secrets} time(s) in stderr and the route log.")
    print("\nThe attacker's probe (benchmarks/attack_probe.py):")
    import attack_probe

    attack_probe.main()


if __name__ == "__main__":
    main()
