"""What `hybrid-ai serve` costs per request: the same closed-loop load sent to a fast fake OpenAI upstream directly
and through the gateway, in one run, rounds interleaved.

    .venv/bin/python benchmarks/gateway_load.py [--requests 6000] [--rounds 3] [--baseline GIT_REV]
        [--sdk auto|litellm] [--workers 2] [--client lean|aiohttp] [--fast-fake] [--profile FILE]

The fake is a minimal ASGI app under uvicorn (its own process) that answers a fixed completion or a 5-chunk stream
at once. The gateway (its own process) serves a policy whose only tier is `backend: litellm, model: openai/fake,
api_base: <fake>, max_retries: 0`, with bearer authentication and the stderr record (written to a file and counted:
every request must have its record); requests say `route: "cloud"`. The load generator (this process: lean
keep-alive connections, or `--client aiohttp`) runs N clients, each sending its next request when its last one is
answered. Fake, gateway and load generator share the machine's cores; for each load the table gives the CPU each
of them spent per request and how busy the machine was, and a last line what the cores allow several workers
(docs/performance.md). `--baseline REV` also serves the gateway of another commit (a git worktree of it) in the
same rounds. `--profile FILE` runs one 1-client and one 50-client round under cProfile in the gateway and writes
the stats there (read them with `python -m pstats FILE`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-gateway-bench-key"
CORES = len(os.sched_getaffinity(0))
BODY = {"model": "hybrid", "messages": [{"role": "user", "content": "Say hi"}], "route": "cloud"}


# ---------------------------------------------------------------------------------------------- the fake upstream
def fake_app():
    answer = json.dumps({"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": "fake",
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": "hi there"}}],
                         "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}}).encode()

    def chunk(delta: dict, finish=None, usage=None) -> bytes:
        c = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": "fake",
             "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]}
        if usage:
            c["usage"] = usage
        return b"data: " + json.dumps(c).encode() + b"\n\n"

    pieces = [chunk({"role": "assistant", "content": ""})] + [chunk({"content": w}) for w in ("hi", " there", "!")]
    pieces += [chunk({}, "stop"), chunk({}, usage={"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}),
               b"data: [DONE]\n\n"]

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        raw = b""
        while True:
            msg = await receive()
            raw += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        if b'"stream":true' in raw.replace(b" ", b""):
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/event-stream")]})
            for p in pieces:
                await send({"type": "http.response.body", "body": p, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        else:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(answer)).encode())]})
            await send({"type": "http.response.body", "body": answer})

    return app


def run_fake(port: int, fast: bool) -> None:
    """The fake under uvicorn: with its pure-Python defaults (asyncio loop, h11), as the probe that set the targets
    ran it, or with `fast` (uvloop and httptools where installed: about 2.5x the requests per second)."""
    import uvicorn

    uvicorn.run(fake_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False,
                loop="auto" if fast else "asyncio", http="auto" if fast else "h11")


# ------------------------------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 90.0) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on {port} within {timeout:.0f} s")


def policy_file(fake: str, folder: Path, sdk: str, name: str | None = None, **extra) -> Path:
    tier = {"backend": "litellm", "model": "openai/fake", "api_base": f"{fake}/v1", "api_key_env": "BENCH_UPSTREAM_KEY",
            "max_retries": 0, "generation": {"max_tokens": 8}, "cost": {"usd_per_mtok_input": 0.15,
                                                                      "usd_per_mtok_output": 0.6}}
    if sdk != "auto":
        tier["sdk"] = sdk
    p = folder / (name or f"policy-{sdk}.json")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps({"name": "gateway-load", **extra, "tiers": {"cloud": tier},
                             "classifier": {"type": "heuristic", "threshold": 0.0, "weak_tier": "cloud",
                                            "strong_tier": "cloud"},
                             "rules": [{"type": "pinned"}], "fallback": {},
                             "telemetry": {"sinks": ["stderr"], "savings": False}}))
    return p


class Gateway:
    """`hybrid-ai serve` from `src` (this checkout, or a worktree of another commit) in its own process."""

    def __init__(self, name: str, src: Path, policy: Path, folder: Path, workers: int = 1, profile: str | None = None,
                 bundle: bool = False, env: dict | None = None):
        """`bundle`: `policy` is a bundle folder (`serve --bundle`)."""
        self.name, self.port = name, free_port()
        self.log = folder / f"records-{name}.jsonl"
        env = {**os.environ, "PYTHONPATH": str(src), "HYBRID_AI_API_KEYS": KEY, "BENCH_UPSTREAM_KEY": "sk-upstream",
               **(env or {})}
        code = "import sys; from hybrid_ai.cli import main; sys.exit(main())"
        pre = [sys.executable, "-c", code]
        if profile:
            (folder / "serve.py").write_text(code)
            pre = [sys.executable, "-m", "cProfile", "-o", profile, str(folder / "serve.py")]
        args = ["serve", "--bundle" if bundle else "--policy", str(policy), "--port", str(self.port), "--no-warmup"]
        if workers > 1:
            args += ["--workers", str(workers)]
        self.proc = subprocess.Popen(pre + args, env=env, cwd=folder, stdout=subprocess.DEVNULL,
                                     stderr=self.log.open("wb"))
        wait_port(self.port, self.proc, f"gateway {name}")
        self.url = f"http://127.0.0.1:{self.port}"

    def records(self) -> int:
        return len(re.findall(rb'"event": ?"hybrid_ai.request"', self.log.read_bytes()))

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# ------------------------------------------------------------------------------------------------- CPU accounting
class CpuMeter:
    """CPU seconds over one load: the fake's, a gateway's (its workers included), this process's (the load
    generator's), and the machine's busy share. `per_request(n)` gives microseconds per request."""

    def __init__(self, fake_pid: int, gateway_pid: int | None):
        self.pids = {"fake": fake_pid, "gateway": gateway_pid}

    @staticmethod
    def _tree(pid: int | None) -> float:
        import psutil

        if pid is None:
            return 0.0
        total = 0.0
        root = psutil.Process(pid)
        for p in [root, *root.children(recursive=True)]:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    def _snapshot(self) -> dict[str, float]:
        import psutil

        own = resource.getrusage(resource.RUSAGE_SELF)
        m = psutil.cpu_times()
        return {**{k: self._tree(pid) for k, pid in self.pids.items()}, "load": own.ru_utime + own.ru_stime,
                "idle": m.idle + getattr(m, "iowait", 0.0), "all": sum(m)}

    def __enter__(self) -> CpuMeter:
        self.start = self._snapshot()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._snapshot()
        self.used = {k: end[k] - self.start[k] for k in end}

    def per_request(self, n: int) -> dict[str, float]:
        out = {k: self.used[k] / n * 1e6 for k in ("gateway", "fake", "load")}
        out["busy"] = 1 - self.used["idle"] / max(self.used["all"], 1e-9)
        return out


# ---------------------------------------------------------------------------------------------- load generator
class _Connection(asyncio.Protocol):
    """The lean load generator's keep-alive HTTP/1.1 connection: writes a prepared request, and hands back the
    response once it is whole (by its content-length, or the last chunk of a chunked one)."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.waiter: asyncio.Future | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = _whole(self.buf)
        if end and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(bytes(self.buf[:end]))
            del self.buf[:end]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("closed"))

    async def send(self, raw: bytes) -> bytes:
        self.waiter = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(raw)
        return await self.waiter


def _whole(buf: bytearray) -> int:
    """The length of the first whole response in `buf`, or 0 while it is still arriving."""
    head = buf.find(b"\r\n\r\n")
    if head < 0:
        return 0
    headers = bytes(buf[:head]).lower()
    i = headers.find(b"\r\ncontent-length:")
    if i >= 0:
        j = headers.find(b"\r\n", i + 2)
        end = head + 4 + int(headers[i + 17:j if j > 0 else len(headers)])
        return end if len(buf) >= end else 0
    last = buf.find(b"\r\n0\r\n\r\n", head + 2)  # chunked: the last chunk
    return last + 7 if last >= 0 else 0


@contextlib.asynccontextmanager
async def _lean_senders(url: str, clients: int, raw_head: bytes, body: bytes, ok):
    """One `send() -> ok` per client, each over its own lean connection."""
    host, port = url.removeprefix("http://").split(":")
    raw = f"POST /v1/chat/completions HTTP/1.1\r\nhost: {host}:{port}\r\n".encode() + raw_head + body
    loop = asyncio.get_running_loop()
    conns = [(await loop.create_connection(_Connection, host, int(port)))[1] for _ in range(clients)]

    async def send(conn: _Connection) -> bool:
        try:
            data = await conn.send(raw)
        except ConnectionError:
            return False
        return ok(int(data[9:12]), data)

    try:
        yield [functools.partial(send, c) for c in conns]
    finally:
        for c in conns:
            if c.transport is not None:
                c.transport.close()


@contextlib.asynccontextmanager
async def _aiohttp_senders(url: str, clients: int, body: bytes, headers: dict[str, str], ok):
    """One `send() -> ok` per client, all through one aiohttp session."""
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients, force_close=False)) as session:
        async def send() -> bool:
            try:
                async with session.post(url + "/v1/chat/completions", data=body, headers=headers) as r:
                    return ok(r.status, await r.read())
            except aiohttp.ClientError:
                return False
        yield [send] * clients


async def load(url: str, clients: int, n: int, stream: bool, auth: bool, meter: CpuMeter | None = None,
               lean: bool = False) -> dict:
    """`n` requests from `clients` closed-loop clients after 200 to warm up (`lean`: the lean load generator's
    connections, else aiohttp's); with `meter`, the CPU of the measured part per request (`cpu`)."""
    body = json.dumps({**BODY, "stream": stream}).encode()
    headers = {"content-type": "application/json", **({"authorization": f"Bearer {KEY}"} if auth else {})}
    lat: list[float] = []
    state = {"left": 0, "errors": 0}

    async def client(send) -> None:
        while state["left"] > 0:
            state["left"] -= 1
            t = time.perf_counter()
            ok = await send()
            lat.append((time.perf_counter() - t) * 1000)
            state["errors"] += not ok

    def ok(status: int, data: bytes) -> bool:
        return status == 200 and (b"[DONE]" in data if stream else b'"choices"' in data)

    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + f"content-length: {len(body)}\r\n\r\n"
    senders_of = _lean_senders(url, clients, head.encode(), body, ok) if lean else \
        _aiohttp_senders(url, clients, body, headers, ok)
    async with senders_of as senders:
        state["left"] = min(200, n)  # warm: connections, imports, lazy loads
        await asyncio.gather(*(client(s) for s in senders))
        lat.clear()
        state.update(left=n, errors=0)
        with meter or contextlib.nullcontext():
            t0 = time.perf_counter()
            await asyncio.gather(*(client(s) for s in senders))
            wall = time.perf_counter() - t0
    return {"rps": n / wall, "p50": statistics.median(lat), "errors": state["errors"],
            **({"cpu": meter.per_request(n)} if meter else {})}


async def in_process(fake: str, n: int, folder: Path) -> dict[str, float]:
    """Median ms per request, 1 caller in this process: the bare openai SDK (AsyncOpenAI) and AsyncHybridClient
    (the same policy as the gateway, its stderr record written to a file), against the same fake, alternating."""
    import openai

    from hybrid_ai import AsyncHybridClient

    os.environ["BENCH_UPSTREAM_KEY"] = "sk-upstream"
    sdk = openai.AsyncOpenAI(api_key="sk-upstream", base_url=f"{fake}/v1", max_retries=0)
    sink = (folder / "records-in-process.jsonl").open("w")
    with contextlib.redirect_stderr(sink):  # the stderr sink binds the stream it is made with
        hybrid = AsyncHybridClient(json.loads(policy_file(fake, folder, "auto").read_text()))
    calls = {"bare AsyncOpenAI": lambda: sdk.chat.completions.create(model="fake", messages=BODY["messages"],
                                                                      max_tokens=8),
             "AsyncHybridClient": lambda: hybrid.chat.completions.create(messages=BODY["messages"], max_tokens=8,
                                                                         route="cloud")}
    times: dict[str, list[float]] = {k: [] for k in calls}
    for i in range(n + 50):
        for name, call in calls.items():
            t = time.perf_counter()
            await call()
            if i >= 50:  # the first 50: connections, lazy imports
                times[name].append((time.perf_counter() - t) * 1000)
    await hybrid.aclose()
    await sdk.close()
    sink.close()
    return {k: statistics.median(v) for k, v in times.items()}


def summary(results: dict[tuple[str, str], list[dict]], args: argparse.Namespace):
    """The table: per load and target, ranges over the rounds; share and added p50 from the medians; CPU per
    request (microseconds, medians) of the gateway, the fake and the load generator, and how busy the machine was."""
    from rich.table import Table

    table = Table(title=f"gateway_load: {args.requests} requests per load and round, {args.rounds} rounds, "
                        f"sdk {args.sdk}, {'fast' if args.fast_fake else 'pure-Python'} fake, {args.client} load generator, "
                        f"{CORES} cores")
    for col in ("load", "target", "req/s", "p50 ms", "share of direct", "added p50 ms", "errors",
                "CPU us/req: gateway, fake, load gen", "machine busy"):
        table.add_column(col)
    for label, _, _ in LOADS:
        d_rps = statistics.median(x["rps"] for x in results[(label, "direct")])
        d_p50 = statistics.median(x["p50"] for x in results[(label, "direct")])
        for (lab, name), outs in results.items():
            if lab != label:
                continue
            rps, p50 = [x["rps"] for x in outs], [x["p50"] for x in outs]
            cpu = {k: statistics.median(x["cpu"][k] for x in outs) for k in outs[0]["cpu"]}
            table.add_row(label, name, f"{min(rps):,.0f}-{max(rps):,.0f}", f"{min(p50):.2f}-{max(p50):.2f}",
                          "" if name == "direct" else f"{statistics.median(rps) / d_rps:.1%}",
                          "" if name == "direct" else f"{statistics.median(p50) - d_p50:+.2f}",
                          str(sum(x["errors"] for x in outs)),
                          f"{cpu['gateway']:,.0f}, {cpu['fake']:,.0f}, {cpu['load']:,.0f}", f"{cpu['busy']:.0%}")
    return table


def workers_bound(results: dict[tuple[str, str], list[dict]], multi: str) -> str:
    """What the machine lets several workers reach: all its cores spent at one worker's CPU per request (gateway,
    fake and load generator together), against what they reached, and one worker's throughput."""
    label = LOADS[1][0]
    one, many = results[(label, "current")], results[(label, multi)]
    cpu = sum(statistics.median(x["cpu"][k] for x in one) for k in ("gateway", "fake", "load"))
    bound = CORES * 1e6 / cpu
    t1, tn = statistics.median(x["rps"] for x in one), statistics.median(x["rps"] for x in many)
    return (f"{multi}, {label}: {tn:,.0f} req/s, {tn / t1:.2f}x one worker. With one worker's CPU per request "
            f"(gateway, fake and load generator: {cpu:,.0f} us), {CORES} cores allow at most "
            f"{bound:,.0f} req/s, {bound / t1:.2f}x one worker: the workers reached {tn / bound:.0%} of that.")


LOADS = [("1 client, non-streamed", 1, False), ("50 clients, non-streamed", 50, False),
         ("50 clients, streamed", 50, True)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=6000, help="per load, per round (long enough to ride out a noisy machine)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved; medians over them (3: a true middle one)")
    ap.add_argument("--baseline", help="a git revision whose gateway is measured in the same rounds")
    ap.add_argument("--sdk", default="auto", choices=["auto", "openai", "litellm"], help="the cloud tier's `sdk`")
    ap.add_argument("--workers", type=int, default=2, help="also measure `serve --workers N` at 50 clients (0: no)")
    ap.add_argument("--profile", help="profile the gateway (cProfile) instead of measuring; stats to this file")
    ap.add_argument("--fast-fake", action="store_true", help="serve the fake with uvloop and httptools")
    ap.add_argument("--client", default="lean", choices=["lean", "aiohttp"],
                    help="the load generator: aiohttp's client, or lean keep-alive connections (less CPU)")
    ap.add_argument("--fake", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.fake:
        return run_fake(args.fake, args.fast_fake)
    from rich.console import Console

    console = Console(width=150)
    folder = Path(tempfile.mkdtemp(prefix="gateway-load-"))
    port = free_port()
    fake_proc = subprocess.Popen([sys.executable, __file__, "--fake", str(port), *(["--fast-fake"] if args.fast_fake else [])])
    gateways: list[Gateway] = []
    worktree = None
    try:
        wait_port(port, fake_proc, "fake upstream")
        fake = f"http://127.0.0.1:{port}"
        if args.profile:
            g = Gateway("profiled", ROOT, policy_file(fake, folder, args.sdk), folder, profile=args.profile)
            for clients, stream in ((1, False), (50, False), (50, True)):
                asyncio.run(load(g.url, clients, args.requests, stream, True, lean=args.client == "lean"))
            g.stop()
            console.print(f"profile written to {args.profile}; records: {g.records()}")
            return
        gateways.append(Gateway("current", ROOT, policy_file(fake, folder, args.sdk), folder))
        if args.baseline:
            worktree = folder / "baseline"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(worktree), args.baseline],
                           check=True)
            gateways.append(Gateway(f"baseline {args.baseline}", worktree, policy_file(fake, folder, "auto"), folder))
        multi = Gateway(f"current --workers {args.workers}", ROOT, policy_file(fake, folder, args.sdk), folder,
                        workers=args.workers) if args.workers > 1 else None
        results: dict[tuple[str, str], list[dict]] = {}
        sent: dict[str, int] = {}
        for r in range(args.rounds):
            for label, clients, stream in LOADS:
                targets = [("direct", None)] + [(g.name, g) for g in gateways]
                if multi and clients > 1 and not stream:
                    targets.append((multi.name, multi))
                for name, g in targets:
                    meter = CpuMeter(fake_proc.pid, g.proc.pid if g else None)
                    out = asyncio.run(load(g.url if g else fake, clients, args.requests, stream, g is not None, meter,
                                           lean=args.client == "lean"))
                    results.setdefault((label, name), []).append(out)
                    sent[name] = sent.get(name, 0) + args.requests + min(200, args.requests)
                    cpu = out["cpu"]
                    console.print(f"round {r + 1} {label:<26} {name:<28} {out['rps']:8.0f} req/s  "
                                  f"p50 {out['p50']:7.2f} ms  errors {out['errors']}  CPU us/request: gateway "
                                  f"{cpu['gateway']:5.0f} fake {cpu['fake']:4.0f} load {cpu['load']:4.0f}  "
                                  f"busy {cpu['busy']:.0%}")
        console.print(summary(results, args))
        if multi:
            console.print(workers_bound(results, multi.name))
        inproc = [asyncio.run(in_process(fake, min(args.requests, 1000), folder)) for _ in range(args.rounds)]
        sdk_ms = statistics.median(r["bare AsyncOpenAI"] for r in inproc)
        hyb_ms = statistics.median(r["AsyncHybridClient"] for r in inproc)
        console.print(f"in-process, 1 caller, median of {args.rounds} rounds: bare AsyncOpenAI {sdk_ms:.2f} ms, "
                      f"AsyncHybridClient {hyb_ms:.2f} ms: added {hyb_ms - sdk_ms:+.2f} ms")
        for g in [*gateways, *([multi] if multi else [])]:
            g.stop()
            console.print(f"{g.name}: {g.records()} records for {sent.get(g.name, 0)} requests")
    finally:
        for g in gateways:
            if g.proc.poll() is None:
                g.proc.kill()
        fake_proc.send_signal(signal.SIGINT)
        fake_proc.wait(10)
        if worktree:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)], check=False)


if __name__ == "__main__":
    main()
