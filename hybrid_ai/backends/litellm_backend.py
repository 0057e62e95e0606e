"""The cloud tier: any litellm model string (OpenAI, Anthropic, ..., or an OpenAI-compatible server
through `api_base`). The API key is read from the environment variable the policy names.

Only the validated fields of a ChatRequest reach litellm: where, how and with which key it calls comes from the
policy alone, and every error text is scrubbed of the key before it reaches a record or a caller."""

from __future__ import annotations

import asyncio
import os
import time
from functools import lru_cache
from typing import Any, Literal

from pydantic import Field, model_validator

from ..config import CloudCost, Generation, LocalCost, TierConfig
from ..errors import BackendError
from ..privacy.redact import public_message, watch_env
from ..types import BackendResult, ToolCall, ToolCallDelta, ToolCallParts
from .base import Backend, sampling


class LiteLLMTier(TierConfig):
    """`backend: litellm`: any litellm model string (a cloud provider, or an OpenAI-compatible server through
    `api_base`). Priced per token (the policy's prices or litellm's table); energy from EcoLogits."""

    backend: Literal["litellm"] = "litellm"
    model: str
    api_base: str | None = None
    api_key_env: str | None = "OPENAI_API_KEY"
    timeout_s: float = Field(60.0, gt=0)
    max_retries: int = Field(1, ge=0, le=10)
    context_window: int = Field(128_000, ge=16)
    generation: Generation = Generation(max_tokens=512)
    cost: CloudCost | LocalCost = CloudCost()
    private: bool = Field(False, description=(
        "a server on your own infrastructure (vLLM, llama.cpp server, TGI, SGLang, another hybrid-ai): a "
        "personal_data rule may route there; priced per hour with its device watts (`cost: {usd_per_hour, "
        "device_watts, electricity_usd_per_kwh}`), as an in-process tier is"))
    sdk: Literal["auto", "openai", "litellm"] = Field("auto", description=(
        "how the upstream is called: `openai` (the openai SDK, pooled: the fast path), `litellm`, or `auto`: the "
        "openai SDK for `openai/`, `hosted_vllm/` and `azure/` models and for a bare model name with an api_base"))
    api_version: str | None = Field(None, description="Azure OpenAI's api-version (default: AZURE_API_VERSION)")

    engine = "hybrid_ai.backends.litellm_backend:LiteLLMBackend"

    def engine_name(self) -> str:
        """The openai SDK's engine where `takes_fast_path`, else litellm's."""
        return "hybrid_ai.backends.openai_backend:OpenAIBackend" if takes_fast_path(self) else self.engine
    default_supports = ("tools", "json_object", "json_schema", "logprobs", "top_logprobs")  # OpenAI's chat API

    @model_validator(mode="after")
    def _cost_fits(self):
        if self.private and isinstance(self.cost, CloudCost) and self.cost != CloudCost():
            raise ValueError("cost: a private tier is priced per hour (usd_per_hour, device_watts, "
                             "electricity_usd_per_kwh), not per token")
        if not self.private and isinstance(self.cost, LocalCost):
            raise ValueError("cost: usd_per_hour and device_watts price a private tier: set private: true, or "
                             "give usd_per_mtok_input / usd_per_mtok_output")
        return self

    @property
    def hourly(self) -> LocalCost:
        return self.cost if isinstance(self.cost, LocalCost) else LocalCost()

    @property
    def per_token(self) -> CloudCost:
        return self.cost if isinstance(self.cost, CloudCost) else CloudCost()

    @property
    def is_private(self) -> bool:
        return self.private

    def where(self) -> str:
        from urllib.parse import urlsplit

        host = urlsplit(self.api_base).netloc.rpartition("@")[2] if self.api_base else self.model.partition("/")[0]
        return f"{'private' if self.private else 'cloud'}:{host}"

    def price(self, prompt_tokens, completion_tokens, wall_s, energy_wh):
        from ..telemetry.cost import local_cost, token_cost

        if self.private:  # the machine's time, as an in-process tier; its energy is an estimate from device_watts
            return local_cost(self.hourly, wall_s, energy_wh)
        return token_cost(self.per_token, prompt_tokens, completion_tokens, lambda: table_prices(self.model))

    def energy(self, completion_tokens, wall_s, measured_wh, measured_source, carbon_g_per_kwh):
        from ..telemetry.energy import cloud_energy, estimate_local

        if self.private:
            wh = estimate_local(self.hourly.device_watts, wall_s)
            return wh, wh * carbon_g_per_kwh / 1000, "estimated_device_watts"
        return cloud_energy(self.model, self.per_token, completion_tokens, wall_s)

OPENAI_PROVIDERS = ("openai", "hosted_vllm", "azure")


def takes_fast_path(tier: Any) -> bool:
    """Whether a litellm tier is called through the openai SDK (see the module's docstring)."""
    sdk = tier.sdk if tier.sdk != "auto" else os.environ.get("HYBRID_AI_CLOUD_SDK", "auto")
    if sdk in ("openai", "litellm"):
        return bool(sdk == "openai")
    provider, slash, _ = tier.model.partition("/")
    return provider in OPENAI_PROVIDERS if slash else tier.api_base is not None


_NO_KEY = "sk-no-key-required"
RETRY_PAUSE_S = 0.2  # before retry n: n times this  # for servers without auth (vLLM, llama.cpp, hybrid-ai serve)


def import_litellm():
    """litellm, imported once and lazily, with its bundled price table (no network) and quiet logging."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # bundled price table, no network
    import litellm

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    return litellm


@lru_cache(maxsize=128)
def table_prices(model: str) -> tuple[float, float] | None:
    """USD per input and per output token from litellm's bundled table, looked up once per model, or None.
    Prices are taken as linear (the first tier of tiered long-context pricing). Kept on disk per litellm version
    (`HYBRID_AI_CACHE/prices.json`), so a process that only needs prices does not import litellm (seconds)."""
    import json
    from importlib.metadata import PackageNotFoundError, version

    from .local_model import cache_dir

    try:
        key = f"litellm {version('litellm')}"
    except PackageNotFoundError:
        return None
    path = cache_dir().parent / "prices.json"
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    table = known.get(key) if isinstance(known.get(key), dict) else {}
    if model in table:
        return tuple(table[model]) if table[model] else None
    prices = _lookup_prices(model)
    table[model] = list(prices) if prices else None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({key: table}))
        os.replace(tmp, path)  # atomic: a reader sees the old file or the new one
    except OSError:
        pass  # a read-only cache only costs the import next time
    return prices


def _lookup_prices(model: str) -> tuple[float, float] | None:
    try:
        litellm = import_litellm()
        usd_in, _ = litellm.cost_per_token(model=model, prompt_tokens=1_000_000, completion_tokens=0)
        _, usd_out = litellm.cost_per_token(model=model, prompt_tokens=0, completion_tokens=1_000_000)
        return float(usd_in) / 1e6, float(usd_out) / 1e6
    except Exception:
        return None


def count_tokens(model: str, messages: list[dict] | None = None, text: str | None = None) -> int | None:
    """Tokens of a conversation (`messages`) or a text, by litellm's counter for `model` (its bundled tokenizer
    where it has one, else cl100k_base); None when it cannot say (unknown is never 0)."""
    try:
        litellm = import_litellm()
        return int(litellm.token_counter(model=model, messages=messages) if messages is not None
                   else litellm.token_counter(model=model, text=text or ""))
    except Exception:
        return None


def _kind(exc: Exception) -> str:
    if kind := getattr(exc, "upstream_kind", None):  # openai_http.UpstreamError
        return str(kind)
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection"
    if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
        return "auth"
    if isinstance(exc, openai.APIStatusError):
        return "http_status"
    return "generation"


def _logprob_content(choice) -> list[dict] | None:
    """OpenAI's `logprobs.content` of a choice (or a streamed chunk's choice) as plain dicts, or None."""
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if content is None and isinstance(getattr(choice, "logprobs", None), dict):
        content = choice.logprobs.get("content")
    if content is None:
        return None
    return [t.model_dump() if hasattr(t, "model_dump") else dict(t) for t in content]


class LiteLLMBackend(Backend):
    name = "litellm"
    runs_locally = False

    def __init__(self, tier_name: str, tier):
        self.tier_name, self.tier = tier_name, tier
        watch_env(tier.api_key_env)

    def warmup(self) -> None:
        import_litellm()

    def ready(self) -> tuple[bool, str | None]:
        if self.tier.api_key_env and not os.environ.get(self.tier.api_key_env):
            return False, f"environment variable {self.tier.api_key_env} is not set (the tier's api_key_env)"
        return True, None

    def describe(self):
        return {"backend": self.name, "model": self.tier.model, "api_base": self.tier.api_base}

    def _key(self) -> str:
        """The tier's key, read from its environment variable at each call (a rotated key applies at once)."""
        t = self.tier
        if not t.api_key_env:
            return _NO_KEY
        key = os.environ.get(t.api_key_env)
        if not key:
            raise BackendError(f"environment variable {t.api_key_env} is not set (the tier's api_key_env)",
                               tier=self.tier_name, kind="auth")
        return key

    def _params(self, request, generation, model: str) -> dict[str, Any]:
        """The OpenAI chat parameters of a request: only its validated fields, the tier's defaults under them."""
        s = sampling(request, generation)
        kw: dict[str, Any] = {"model": model, "messages": request.as_openai_messages(),
                              "max_tokens": s["max_tokens"], "temperature": s["temperature"]}
        for name, value in (("top_p", s["top_p"]), ("seed", request.seed), ("stop", list(request.stop) or None),
                            ("user", request.user), ("presence_penalty", request.presence_penalty),
                            ("frequency_penalty", request.frequency_penalty)):
            if value is not None:
                kw[name] = value
        kw.update(request.tool_params())  # tools, tool_choice, parallel_tool_calls, response_format
        return kw

    def _kwargs(self, request, generation) -> dict[str, Any]:
        t = self.tier
        kw = self._params(request, generation, t.model)
        kw.update(api_key=self._key(), timeout=t.timeout_s, num_retries=0, max_retries=0,  # retries: _again
                  drop_params=True)
        if t.api_base:
            kw["api_base"] = t.api_base
        return kw

    def _result(self, resp) -> BackendResult:
        choice = resp.choices[0]
        usage = getattr(resp, "usage", None)
        calls = [ToolCall(c.id, c.function.name, c.function.arguments or "")
                 for c in getattr(choice.message, "tool_calls", None) or []]
        content = _logprob_content(choice)
        return BackendResult(
            text=choice.message.content or "", model=self.tier.model,
            prompt_tokens=getattr(usage, "prompt_tokens", None), completion_tokens=getattr(usage, "completion_tokens", None),
            finish_reason=choice.finish_reason or "stop", info={"upstream_model": getattr(resp, "model", None)},
            tool_calls=calls or None, token_logprobs=content,
            logprobs=[t["logprob"] for t in content] if content else None,
        )

    def _error(self, exc: Exception) -> BackendError:
        if isinstance(exc, BackendError):
            return exc
        text = str(exc) if hasattr(exc, "upstream_kind") else f"{type(exc).__name__}: {exc}"
        return BackendError(public_message(text, 300), tier=self.tier_name, kind=_kind(exc))

    def _again(self, exc: Exception, tries: int) -> bool:
        """Whether a failed call is tried once more: exactly `max_retries` more times, and only for what a retry
        can mend (a timeout, a lost connection, 429, 5xx), never a refused key or a bad request."""
        if tries > self.tier.max_retries or isinstance(exc, BackendError):
            return False
        status = getattr(exc, "status_code", None)
        return _kind(exc) in ("timeout", "connection") or (isinstance(status, int) and (status == 429 or status >= 500))

    def _call(self, call, kw):
        """`call(**kw)`, retried as `_again` says; a final failure as a BackendError."""
        tries = 0
        while True:
            tries += 1
            try:
                return call(**kw)
            except Exception as e:
                if not self._again(e, tries):
                    raise self._error(e) from e
                time.sleep(RETRY_PAUSE_S * tries)

    async def _acall(self, call, kw):
        tries = 0
        while True:
            tries += 1
            try:
                return await call(**kw)
            except Exception as e:
                if not self._again(e, tries):
                    raise self._error(e) from e
                await asyncio.sleep(RETRY_PAUSE_S * tries)

    def complete(self, request, generation) -> BackendResult:
        resp = self._call(import_litellm().completion, self._kwargs(request, generation))
        try:
            return self._result(resp)
        except Exception as e:
            raise self._error(e) from e

    async def acomplete(self, request, generation) -> BackendResult:
        resp = await self._acall(import_litellm().acompletion, self._kwargs(request, generation))
        try:
            return self._result(resp)
        except Exception as e:
            raise self._error(e) from e

    def _stream_kwargs(self, request, generation) -> dict[str, Any]:
        return {**self._kwargs(request, generation), "stream": True, "stream_options": {"include_usage": True}}

    def _consume(self, chunk, acc: dict) -> list:
        """Fold one streamed chunk into `acc`; return its deltas: text, and tool-call pieces as OpenAI streams them
        (the first piece of each call has its id and name, the next ones more of its arguments)."""
        if getattr(chunk, "usage", None):
            acc["usage"] = chunk.usage
        if not chunk.choices:
            return []
        choice = chunk.choices[0]
        if choice.finish_reason:
            acc["finish"] = choice.finish_reason
        if (content := _logprob_content(choice)) is not None:
            acc.setdefault("logprobs", []).extend(content)
        delta = choice.delta
        out: list = []
        if delta and delta.content:
            acc["text"].append(delta.content)
            out.append(delta.content)
        for c in (getattr(delta, "tool_calls", None) or []) if delta else []:
            fn = getattr(c, "function", None)
            acc["calls"].add(c)
            out.append(ToolCallDelta(c.index or 0, c.id, getattr(fn, "name", None),
                                     getattr(fn, "arguments", None) or ""))
        if out and acc.get("ttft") is None:
            acc["ttft"] = (time.perf_counter() - acc["t0"]) * 1000
        return out

    def _calls(self, acc) -> list[ToolCall] | None:
        calls = []
        for index, cid, name, args in acc["calls"].calls():
            if not cid or not name:
                raise BackendError(f"the upstream streamed tool call {index} without an id or name",
                                   tier=self.tier_name, kind="stream")
            calls.append(ToolCall(cid, name, args))
        return calls or None

    def _stream_result(self, acc) -> BackendResult:
        usage = acc.get("usage")
        # A stream cut short or garbled by the upstream is a failure, not an empty answer. litellm closes a stream
        # with a finish_reason of its own even when the upstream sent none, so a stream with neither text nor
        # usage (which is always asked for) is taken as broken too.
        if "finish" not in acc or (not acc["text"] and not acc["calls"] and usage is None):
            raise BackendError("the upstream stream ended without an answer (cut short or malformed)",
                               tier=self.tier_name, kind="stream")
        return BackendResult(text="".join(acc["text"]), model=self.tier.model,
                             prompt_tokens=getattr(usage, "prompt_tokens", None),
                             completion_tokens=getattr(usage, "completion_tokens", None),
                             finish_reason=acc.get("finish", "stop"), ttft_ms=acc.get("ttft"),
                             tool_calls=self._calls(acc), token_logprobs=acc.get("logprobs"))

    @staticmethod
    def _acc() -> dict:
        return {"text": [], "calls": ToolCallParts(), "t0": time.perf_counter()}

    def stream(self, request, generation, state):
        kw = self._stream_kwargs(request, generation)
        acc = self._acc()
        chunks = self._call(import_litellm().completion, kw)  # the opening call is retried; a broken stream not
        try:
            for chunk in chunks:
                yield from self._consume(chunk, acc)
            state.result = self._stream_result(acc)
        except Exception as e:
            raise self._error(e) from e

    async def astream(self, request, generation, state):
        kw = self._stream_kwargs(request, generation)
        acc = self._acc()
        chunks = await self._acall(import_litellm().acompletion, kw)
        try:
            async for chunk in chunks:
                for piece in self._consume(chunk, acc):
                    yield piece
            state.result = self._stream_result(acc)
        except Exception as e:
            raise self._error(e) from e
