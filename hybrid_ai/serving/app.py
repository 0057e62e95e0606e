"""An OpenAI-compatible app over an AsyncHybridClient: POST /v1/chat/completions, GET /v1/models,
GET /healthz. Errors come back as OpenAI-style JSON (`{"error": {"message", "type", "param"}}`) with a
4xx status for bad input and 502 when every tier failed; the server keeps serving either way."""

import json
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException

from ..errors import AllTiersFailed, HybridAIError, InvalidRequest

if TYPE_CHECKING:
    from ..client import AsyncHybridClient

MAX_BODY_BYTES = 8 * 1024 * 1024


def _error(status: int, message: str, type_: str, param: str | None = None):
    return JSONResponse({"error": {"message": message, "type": type_, "param": param, "code": None}},
                        status_code=status)


async def _sse(first, rest):
    """Server-sent events as the OpenAI API sends them; an error after the first chunk ends the stream with
    an `error` event (the status line is already sent)."""
    yield f"data: {first.model_dump_json(exclude_none=True)}\n\n"
    try:
        async for chunk in rest:
            yield f"data: {chunk.model_dump_json(exclude_none=True)}\n\n"
    except HybridAIError as e:
        yield f"data: {json.dumps({'error': {'message': str(e), 'type': 'backend_error'}})}\n\n"
    yield "data: [DONE]\n\n"


def create_app(client: "AsyncHybridClient") -> FastAPI:
    app = FastAPI(title="hybrid-ai", version=__import__("hybrid_ai").__version__)
    policy = client.policy

    @app.exception_handler(HTTPException)
    async def _http(_req, exc: HTTPException):
        return _error(exc.status_code, str(exc.detail), "invalid_request_error")

    @app.exception_handler(RequestValidationError)
    async def _validation(_req, exc: RequestValidationError):
        return _error(400, str(exc.errors()[:1]), "invalid_request_error")

    @app.exception_handler(Exception)
    async def _unexpected(_req, exc: Exception):
        return _error(500, f"internal error: {type(exc).__name__}: {exc}", "server_error")

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok", "policy": policy.name, "policy_hash": policy.hash,
                "tiers": {n: b.describe() for n, b in client.backends.items()}}

    @app.get("/v1/models")
    async def models():
        ids = ["hybrid", *policy.tiers]
        return {"object": "list", "data": [{"id": i, "object": "model", "created": 0, "owned_by": "hybrid-ai"}
                                           for i in ids]}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        if int(request.headers.get("content-length") or 0) > MAX_BODY_BYTES:
            return _error(413, f"request body is over {MAX_BODY_BYTES} bytes", "invalid_request_error")
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return _error(413, f"request body is over {MAX_BODY_BYTES} bytes", "invalid_request_error")
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            return _error(400, f"request body is not valid JSON: {e}", "invalid_request_error")
        if not isinstance(body, dict):
            return _error(400, "request body must be a JSON object", "invalid_request_error")
        try:
            completion = await client.chat.completions.create(**body)
            if body.get("stream") is True:  # fail over before the response starts, while a status can still say so
                first = await completion.__anext__()
        except InvalidRequest as e:
            return _error(400, str(e), "invalid_request_error", e.field)
        except AllTiersFailed as e:
            return _error(502, str(e), "backend_error")
        except HybridAIError as e:
            return _error(500, str(e), "server_error")
        if body.get("stream") is True:
            return StreamingResponse(_sse(first, completion), media_type="text/event-stream")
        return completion.model_dump(mode="json")

    return app
