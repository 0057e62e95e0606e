"""An OpenAI-compatible app over an AsyncHybridClient: POST /v1/chat/completions, GET /v1/models,
GET /healthz. A thin adapter over `serving.protocol`: errors are OpenAI-style JSON with a 4xx status for bad
input and 502 when every tier failed; no input makes it answer 5xx otherwise or drop a connection, and it keeps
serving either way. Every route but /healthz needs a bearer key unless authentication is turned off."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException

from .. import offload
from ..errors import HybridAIError
from ..privacy.redact import safe_url, scrub
from . import protocol
from .auth import OPEN_PATHS, BearerAuth, keys_from_env, keys_in_env, presented
from .body import BodyTooLarge, read_capped
from .rejections import Rejections
from .reload import Served
from .schema import chat_openapi

if TYPE_CHECKING:
    from ..client import AsyncHybridClient


def _reply(reply: protocol.ErrorReply, close: bool = False) -> JSONResponse:
    headers = {"connection": "close"} if close else {}
    if reply.retry_after_s is not None:
        headers["retry-after"] = str(reply.retry_after_s)
    return JSONResponse(reply.body(), status_code=reply.status, headers=headers or None)


class SlowBody(Exception):
    """The body did not arrive within server.body_timeout_s."""


def _log_unexpected(exc: BaseException) -> None:
    import traceback

    print(json.dumps({"event": "hybrid_ai.server_error", "error": scrub("".join(
        traceback.format_exception(type(exc), exc, exc.__traceback__)))}), file=sys.stderr, flush=True)


def _log_if_unexpected(exc: BaseException) -> None:
    if not isinstance(exc, HybridAIError):
        _log_unexpected(exc)


def _health(client: AsyncHybridClient, details: bool) -> tuple[int, dict]:
    """The status, and with `details` (an authenticated caller, or a server without authentication) the policy,
    each tier (URLs with their user info and query string masked) and the sink failures."""
    policy, tiers = client.policy, {}
    for name, backend in client.backends.items():
        ok, problem = backend.ready()
        about = backend.describe()
        if about.get("api_base"):
            about["api_base"] = safe_url(about["api_base"])
        tiers[name] = {**about, "ready": ok, **({"problem": scrub(problem)} if problem else {})}
    ready = sum(t["ready"] for t in tiers.values())
    status = "ok" if ready == len(tiers) else ("degraded" if ready else "down")
    body: dict[str, Any] = {"status": status}
    if details:
        body.update(policy=policy.name, policy_hash=policy.hash, tiers=tiers, sink_failures=client.sink_failures)
    return (503 if status == "down" else 200), body


async def _until_disconnected(receive) -> None:
    """Returns when the client has gone away (its body already read, the next message is the disconnect)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _answer_unless_gone(create, receive):
    """`create()` awaited, cancelled as soon as the client disconnects (a local generation then stops within a
    token; the record says the client went away). Returns None when the client left."""
    task = asyncio.ensure_future(create())
    gone = asyncio.ensure_future(_until_disconnected(receive))
    try:
        await asyncio.wait((task, gone), return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if task.done():
        return task.result()
    task.cancel()
    try:
        await task
    except BaseException:  # noqa: BLE001 - cancelled, or failed while being cancelled: the record has it
        pass
    return None


def _client(policy_or_client) -> AsyncHybridClient:
    from ..client import AsyncHybridClient

    if isinstance(policy_or_client, AsyncHybridClient):
        return policy_or_client
    return AsyncHybridClient(policy_or_client)


def router(policy_or_client=None, *, served: Served | None = None) -> APIRouter:
    """The OpenAI routes (`/v1/chat/completions`, `/v1/models`, `/healthz`) and `/metrics` as an APIRouter, to
    `include_router` into an existing FastAPI app (with a `prefix=` of your choice). Authentication is then the
    host app's: its own dependencies or middleware. `policy_or_client`: a policy (path, name, dict) or an
    AsyncHybridClient. `served`: where the client being served is kept (serving/reload.py), when it can change."""
    client = _client(policy_or_client)
    served = served or Served(client)
    policy = client.policy
    r = APIRouter()

    @r.get("/healthz")
    async def healthz(request: Request):
        status, body = _health(served.client, request.scope.get("state", {}).get("authenticated", True))
        return JSONResponse(body, status_code=status)

    @r.get("/metrics")
    async def metrics():
        m = served.client.metrics
        if m is None:
            return _reply(protocol.ErrorReply(404, "metrics are off: add `prometheus` to the policy's telemetry.sinks"))
        return Response(m.exposition(), media_type=m.content_type)

    @r.get("/v1/models")
    async def models():
        ids = ["hybrid", *served.client.policy.tiers]
        return {"object": "list", "data": [{"id": i, "object": "model", "created": 0, "owned_by": "hybrid-ai"}
                                           for i in ids]}

    @r.post("/v1/chat/completions", openapi_extra=chat_openapi(policy.limits.max_tokens, list(policy.tiers)))
    async def chat_completions(request: Request):
        try:
            return await _chat(request)
        except BodyTooLarge as e:
            reject(413, "body_too_large", request)
            return _reply(protocol.too_large(served.client.policy.server.max_body_bytes), close=not e.drained)
        except SlowBody:
            reject(408, "body_timeout", request)
            return _reply(protocol.ErrorReply(408, f"the request body did not arrive within "
                                                   f"{served.client.policy.server.body_timeout_s:g} s "
                                                   f"(server.body_timeout_s)",
                                              code="body_timeout"), close=True)
        except ConnectionError:
            reject(400, "client_went_away", request)
            return _reply(protocol.ErrorReply(400, "the client went away while sending the body"), close=True)
        except Exception as e:
            reply = protocol.error_reply(e)
            if reply.status < 500 or reply.code in ("local_queue_full", "limit_store_unavailable"):
                reject(reply.status, reply.code, request, reply.param)
            elif reply.type == "server_error":
                _log_unexpected(e)
            return _reply(reply)

    def reject(status, code, request: Request, param=None):
        rejections(status, code, request.url.path, request.scope.get("headers", ()), param)

    async def _chat(request: Request):
        c = served.hold()  # this request's client to its end, whatever a reload does meanwhile
        streaming = False
        try:
            server = c.policy.server
            try:
                raw = await asyncio.wait_for(read_capped(request.receive, server.max_body_bytes),
                                             server.body_timeout_s)
            except asyncio.TimeoutError:
                raise SlowBody from None
            # a large body is parsed off the event loop (json.loads of megabytes takes tens of milliseconds)
            params = protocol.parse_body(raw) if len(raw) <= offload.THRESHOLD_CHARS else await offload.run(
                protocol.parse_body, raw)
            result = await _answer_unless_gone(lambda: c.chat.completions.create(**params), request.receive)
            if result is None:  # the client left: nobody to answer (the record says so)
                return Response(status_code=499)
            if not hasattr(result, "__anext__"):
                return Response(result.model_dump_json(), media_type="application/json")
            result.as_frames()  # text deltas come ready to write
            try:  # fail over before the response starts, while a status can still say so
                first = await result.__anext__()
            except BaseException:
                await result.aclose()
                raise
            streaming = True
            return StreamingResponse(protocol.aevents(first, served.held_stream(c, result), _log_if_unexpected),
                                     media_type="text/event-stream")
        finally:
            if not streaming:
                served.let_go(c)

    rejections = Rejections(client.metrics)
    r.hybrid_client, r.rejections, r.chat_handler, r.served = client, rejections, chat_completions, served
    return r


def _admin_routes(app: FastAPI, served: Served, keys: list[bytes], rejections: Rejections) -> None:
    @app.post("/admin/reload", include_in_schema=False)
    async def admin_reload(request: Request):
        if presented(request.scope.get("headers", []), keys) is None:
            rejections(401, "invalid_admin_key", request.url.path, request.scope.get("headers", ()))
            return _reply(protocol.ErrorReply(401, "this route needs an admin key (server.admin_keys_env)",
                                              code="invalid_admin_key"))
        try:
            return JSONResponse(await served.reload())
        except Exception as e:  # the policy does not load, a model does not: the current client keeps serving
            return _reply(protocol.ErrorReply(400 if isinstance(e, HybridAIError) else 500,
                                              f"reload failed, still serving the previous policy: "
                                              f"{type(e).__name__}: {e}", code="reload_failed"))


def _on_sighup(served: Served) -> None:
    """SIGHUP reloads (logged as one `hybrid_ai.reload` line). Only where signals can be set: the main thread."""
    import signal

    async def hup() -> None:
        try:
            line: dict[str, Any] = await served.reload()
        except Exception as e:
            line = {"status": "failed", "error": scrub(f"{type(e).__name__}: {e}")}
        print(json.dumps({"event": "hybrid_ai.reload", **line}), file=sys.stderr, flush=True)

    loop = asyncio.get_running_loop()
    try:  # a Python-level handler: the loop's own add_signal_handler (uvloop's) would take over uvicorn's SIGTERM
        signal.signal(signal.SIGHUP, lambda *_: loop.call_soon_threadsafe(lambda: asyncio.ensure_future(hup())))
    except (ValueError, AttributeError):  # not the main thread, or no SIGHUP on this system
        pass


class ChatFastPath:
    """`POST /v1/chat/completions` handed straight to the route's own handler, past FastAPI's routing, dependency
    and exception machinery and its own middleware (about a fifth of the gateway's CPU per request;
    docs/performance.md). Every other request, and that path with a trailing slash, goes through the app as
    usual. Sits inside authentication, both outside FastAPI's stack (`_App`)."""

    def __init__(self, app, handler, path: str = "/v1/chat/completions"):
        self.app, self.handler, self.path = app, handler, path

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] == self.path and scope["method"] == "POST":
            response = await self.handler(Request(scope, receive))
            return await response(scope, receive, send)
        return await self.app(scope, receive, send)


class _App(FastAPI):
    """The FastAPI app with authentication and the chat fast path wrapped around its middleware stack rather than
    inside it: a chat request then meets no FastAPI layer at all. `outer(stack)` builds the wrapping."""

    outer: Callable[[Any], Any] | None = None

    def build_middleware_stack(self):
        stack = super().build_middleware_stack()
        return stack if self.outer is None else self.outer(stack)


def create_app(policy_or_client=None, *, auth: bool | None = None, api_keys: list[str] | None = None,
               warmup: bool = False, close_client: bool = False,
               reload: Callable[[], AsyncHybridClient] | None = None) -> FastAPI:
    """The app, to serve or to `mount` in an existing one. `policy_or_client`: a policy (path, name, dict) or an
    AsyncHybridClient. `auth` defaults to the policy's `server.auth`; keys come from `api_keys` or else from the
    environment variable `server.api_keys_env` names (PolicyError when authentication is on and there are none).
    `warmup`: load the models when the app starts (its lifespan; a mounted app gets no lifespan events unless
    the parent passes them on, see docs/embedding.md); models load on first use either way. `close_client`: close
    the client when the app shuts down (its sinks flushed; `hybrid-ai serve`). `reload`: builds the client anew
    from its source; with it, SIGHUP and `POST /admin/reload` (an admin key) swap the served client without
    dropping a request (serving/reload.py)."""
    client = _client(policy_or_client)
    served = Served(client, reload)
    routes = router(client, served=served)

    @asynccontextmanager
    async def lifespan(_app):
        if warmup:
            await asyncio.to_thread(client.warmup)
        if reload is not None:
            _on_sighup(served)
        yield
        if close_client:
            await served.client.aclose()

    app = _App(title="hybrid-ai", version=__import__("hybrid_ai").__version__, lifespan=lifespan)
    admin = [k.encode() for k in keys_in_env(client.policy.server.admin_keys_env)] if reload is not None else []
    if admin:
        _admin_routes(app, served, admin, routes.rejections)
    app.state.auth = client.policy.server.auth if auth is None else auth
    keys = (api_keys or keys_from_env(client.policy.server.api_keys_env)) if app.state.auth else []

    def outer(stack):
        fast = ChatFastPath(stack, handler=routes.chat_handler)
        if not app.state.auth:
            return fast
        return BearerAuth(fast, keys=keys, on_reject=routes.rejections,
                          open_paths=OPEN_PATHS | ({"/admin/reload"} if admin else set()))

    app.outer = outer
    app.state.client = client

    @app.exception_handler(HTTPException)
    async def _http(req, exc: HTTPException):
        routes.rejections(exc.status_code, None, req.url.path, req.scope.get("headers", ()))
        return _reply(protocol.ErrorReply(exc.status_code, str(exc.detail)))

    @app.exception_handler(RequestValidationError)
    async def _validation(req, exc: RequestValidationError):
        routes.rejections(400, None, req.url.path, req.scope.get("headers", ()))
        return _reply(protocol.ErrorReply(400, str(exc.errors()[:1])))

    app.include_router(routes)
    return app
