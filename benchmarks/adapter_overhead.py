"""What each embedding adapter adds per request, against calling the same fake upstream directly with the same
client, in one run: the OpenAI SDK transport (`hybrid_ai.http_client`), a FastAPI app with the hybrid mounted, the
pure ASGI middleware (both under uvicorn on 127.0.0.1), and the LiteLLM provider (`HybridLLM`).

    .venv/bin/python benchmarks/adapter_overhead.py [--n 200]

The hybrid's one tier is the cloud tier (litellm) pointed at an OpenAI-compatible fake on 127.0.0.1 that answers
at once (tests/doubles.py `FakeUpstream`), so what is measured is the path, not a model: the SDK rows compare with
the SDK calling the fake directly, the provider row with `litellm.completion` calling it directly. The hybrid row
(`HybridClient.create` in-process) is the part every adapter shares: validation, routing, litellm, the record; the
last column is what each adapter adds on top of it."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from doubles import FakeUpstream  # noqa: E402

KEY_ENV = "HYBRID_AI_BENCH_KEY"


def policy(base: str) -> dict:
    return {"name": "adapters", "tiers": {"cloud": {
        "backend": "litellm", "model": "openai/gpt-4o-mini", "api_base": f"{base}/v1", "api_key_env": KEY_ENV,
        "max_retries": 0, "generation": {"max_tokens": 8}}},
        "classifier": {"type": "heuristic", "threshold": 0.0, "weak_tier": "cloud", "strong_tier": "cloud"},
        "rules": [], "fallback": {}, "telemetry": {"sinks": [], "savings": False}}


def timed(fn, n: int) -> list[float]:
    for _ in range(10):  # warm: connections, imports, the first request's lazy loads
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return sorted(out)


def serve(app) -> tuple[str, object]:
    import socket

    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    n = ap.parse_args().n
    os.environ[KEY_ENV] = "sk-bench"
    import litellm
    import openai
    from fastapi import FastAPI

    import hybrid_ai
    from hybrid_ai.integrations.litellm_provider import HybridLLM
    from hybrid_ai.serving.app import create_app
    from hybrid_ai.serving.middleware import HybridMiddleware

    msgs = [{"role": "user", "content": "Say hi"}]
    with FakeUpstream("ok") as fake:
        pol = policy(fake.base)
        hybrid = hybrid_ai.HybridClient(pol)
        host = FastAPI()
        host.mount("/mounted", create_app(pol, auth=False))
        host.add_middleware(HybridMiddleware, policy=pol, prefix="/llm")
        base, server = serve(host)
        litellm.custom_provider_map = [{"provider": "hybrid", "custom_handler": HybridLLM(client=hybrid)}]
        litellm.utils.custom_llm_setup()

        def sdk(url, **kw):
            c = openai.OpenAI(api_key="sk-bench", base_url=url, max_retries=0, **kw)
            return lambda: c.chat.completions.create(model="gpt-4o-mini", messages=msgs, max_tokens=8)

        rows = [
            ("OpenAI SDK -> fake (direct)", None, sdk(f"{fake.base}/v1")),
            ("HybridClient.create (in-process)", "direct",
             lambda: hybrid.chat.completions.create(messages=msgs, max_tokens=8)),
            ("SDK + hybrid_ai.http_client", "direct", sdk(f"{fake.base}/v1", http_client=hybrid_ai.http_client(client=hybrid))),
            ("SDK -> FastAPI, hybrid mounted", "direct", sdk(f"{base}/mounted/v1")),
            ("SDK -> FastAPI, HybridMiddleware", "direct", sdk(f"{base}/llm/v1")),
            ("litellm.completion -> fake (direct)", None,
             lambda: litellm.completion(model="openai/gpt-4o-mini", api_base=f"{fake.base}/v1", api_key="sk-bench",
                                        messages=msgs, max_tokens=8)),
            ("litellm -> HybridLLM provider", "litellm",
             lambda: litellm.completion(model="hybrid/auto", messages=msgs, max_tokens=8)),
        ]
        print(f"{n} non-streamed requests each; the upstream is a fake on 127.0.0.1 (no model time)")
        base_ms: dict[str, float] = {}
        print(f"{'path':<38}{'median ms':>11}{'p99 ms':>9}{'vs direct':>11}{'vs in-process':>15}")
        seen: dict[str, float] = {}
        for label, against, fn in rows:
            ms = timed(fn, n)
            med, p99 = statistics.median(ms), ms[int(len(ms) * 0.99) - 1]
            seen[label] = med
            if against is None:
                base_ms["direct" if label.startswith("OpenAI") else "litellm"] = med
                added, extra = "baseline", ""
            else:
                added = f"+{med - base_ms[against]:.2f}"
                inproc = seen.get("HybridClient.create (in-process)")
                extra = f"+{med - inproc:.2f}" if inproc is not None and label.startswith(("SDK", "litellm ->")) else ""
            print(f"{label:<38}{med:>11.2f}{p99:>9.2f}{added:>11}{extra:>15}")
        server.should_exit = True  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
