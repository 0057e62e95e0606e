"""Hot reload and canary under load: `hybrid-ai serve --bundle B` answers a steady stream of requests while a
candidate is promoted and the server reloaded, twice; every request must be answered (0 errors) and every record
must name its policy and variant.

    .venv/bin/python benchmarks/reload_under_load.py [--requests 1000] [--clients 50]

The bundle: v1 (the current policy, with a 10% canary of v2) and v2 (the candidate). At a third of the requests,
v2 is promoted (its own policy, without a canary: its records have no variant) and `POST /admin/reload` sent; at
two thirds, a rollback to v1 and a reload again. The upstream is the fake of gateway_load.py (every answer at
once), half the requests streamed."""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_load import BODY, KEY, ROOT, Gateway, free_port, policy_file, wait_port  # noqa: E402

from hybrid_ai.bundle import promote, rollback  # noqa: E402

ADMIN = "sk-reload-bench-admin"


async def run(url: str, n: int, clients: int, progress: list[int]) -> dict:
    import aiohttp

    sent, errors, statuses = 0, 0, Counter()
    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}

    async def one(session, i: int):
        nonlocal errors
        body = json.dumps({**BODY, "stream": i % 2 == 0}).encode()
        try:
            async with session.post(url + "/v1/chat/completions", data=body, headers=headers) as r:
                data = await r.read()
                statuses[r.status] += 1
                ok = r.status == 200 and (b"[DONE]" in data if i % 2 == 0 else b'"choices"' in data)
        except aiohttp.ClientError:
            ok = False
        errors += not ok

    async def client(session):
        nonlocal sent
        while sent < n:
            i = sent
            sent += 1
            progress[0] = sent
            await one(session, i)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as session:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(clients)))
        wall = time.perf_counter() - t0
    return {"requests": n, "errors": errors, "statuses": dict(statuses), "wall_s": wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=50)
    args = ap.parse_args()
    import httpx

    folder = Path(tempfile.mkdtemp(prefix="reload-load-"))
    port = free_port()
    fake = subprocess.Popen([sys.executable, str(Path(__file__).parent / "gateway_load.py"), "--fake", str(port)])
    gw = None
    try:
        wait_port(port, fake, "fake upstream")
        base, bundle = f"http://127.0.0.1:{port}", folder / "bundle"
        policy_file(base, bundle, "auto", "v2/policy.yaml")
        policy_file(base, bundle, "auto", "v1/policy.yaml", canary={"bundle": "../v2", "share": 0.1})
        promote(bundle / "v1")
        gw = Gateway("bundle", ROOT, bundle, folder, bundle=True, env={"HYBRID_AI_ADMIN_KEYS": ADMIN})
        reloads: list[dict] = []
        progress = [0]

        def moves():  # at a third of the requests: promote v2 and reload; at two thirds: roll back and reload
            for share, move in ((1 / 3, lambda: promote(bundle / "v2")), (2 / 3, lambda: rollback(bundle))):
                while progress[0] < share * args.requests:
                    time.sleep(0.002)
                move()
                r = httpx.post(f"{gw.url}/admin/reload", headers={"authorization": f"Bearer {ADMIN}"}, timeout=60)
                reloads.append({"at_request": progress[0], "http_status": r.status_code, **r.json()})

        mover = threading.Thread(target=moves)
        mover.start()
        out = asyncio.run(run(gw.url, args.requests, args.clients, progress))
        mover.join(60)
        time.sleep(1.0)
        gw.stop()
        records = [json.loads(line) for line in gw.log.read_text().splitlines() if '"hybrid_ai.request"' in line]
        by = Counter((r.get("policy_hash"), r.get("variant")) for r in records)
        print(json.dumps({**out, "reloads": reloads, "records": len(records),
                          "records_without_variant": sum(r.get("variant") is None for r in records),
                          "records_by_policy_hash_and_variant": {f"{h} {v}": c for (h, v), c in by.items()}}, indent=1))
        assert len(reloads) == 2 and all(r["http_status"] == 200 for r in reloads), reloads
    finally:
        if gw is not None and gw.proc.poll() is None:
            gw.proc.kill()
        fake.kill()


if __name__ == "__main__":
    main()
