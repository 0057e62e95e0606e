"""`hybrid-ai serve --workers N`: N processes sharing one port (uvicorn's process manager; the kernel spreads the
connections). Each worker builds its own client from the same policy source in its factory (`app`), loads its
local model once at start (each worker holds its own copy: N times the model's memory) and closes its sinks when
it shuts down. SIGHUP to the parent restarts the workers one by one (uvicorn), each loading the policy (or the
bundle's current version) again; there is no `/admin/reload` with several workers (it would reach one of them).
Prometheus metrics are summed over the workers through prometheus-client's multiprocess mode (a temporary folder
the parent makes and removes), so any worker's `/metrics` answers for all of them.

The parent passes what the workers need in the environment variable HYBRID_AI_SERVE_SPEC (JSON: policy source or
bundle, key variable, authentication, warmup): never a key itself."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from .timeouts import protocol_class

SPEC_ENV = "HYBRID_AI_SERVE_SPEC"
SWITCH_INTERVAL_S = 0.0005  # see `configure_process`


def served_policy(source: str | None, api_keys_env: str | None, bundle: str | None = None) -> Any:
    """The policy `serve` serves: `source` (a path or bundled name), or the current version of `bundle`, with the
    key variable the command line names."""
    from ..policy import load_policy

    if bundle is not None:
        from ..bundle import served_policy_file

        source = str(served_policy_file(bundle))
    policy = load_policy(source)
    if api_keys_env:
        policy = policy.model_copy(update={"server": policy.server.model_copy(update={"api_keys_env": api_keys_env})})
    return policy


def configure_process() -> None:
    """Large requests are prepared in a worker thread (offload.py: the personal-data scan grows with the text); a
    short GIL switch interval lets the event loop in between its steps, so /healthz and small requests are not
    held up by it (CPython's default is 5 ms; benchmarks/loop_stall.py compares the two)."""
    sys.setswitchinterval(float(os.environ.get("HYBRID_AI_SWITCH_INTERVAL", SWITCH_INTERVAL_S)))


def spec(source: str | None, api_keys_env: str | None, auth: bool | None, warmup: bool,
         bundle: str | None = None) -> str:
    return json.dumps({"policy": source, "api_keys_env": api_keys_env, "auth": auth, "warmup": warmup,
                       "bundle": bundle})


def app() -> Any:
    """The uvicorn factory each worker calls."""
    from ..client import AsyncHybridClient
    from .app import create_app

    s = json.loads(os.environ[SPEC_ENV])
    configure_process()
    client = AsyncHybridClient(policy=served_policy(s["policy"], s["api_keys_env"], s.get("bundle")))
    return create_app(client, auth=s["auth"], warmup=s["warmup"], close_client=True)


def _header_timeout() -> float:
    try:
        return float(json.loads(os.environ.get(SPEC_ENV, "{}")).get("header_timeout_s") or 10.0)
    except ValueError:
        return 10.0


# uvicorn imports the protocol class by name in each worker (`http="hybrid_ai.serving.workers:HTTP"`)
HTTP = protocol_class("auto", _header_timeout()) if SPEC_ENV in os.environ else None
