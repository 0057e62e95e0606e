"""Admission before a request runs: the cloud budget (routing/budget.py) and per-key limits (`limits.per_key`:
requests and tokens per minute, USD per day), reserved at once on shared counters (store/counters.py) and settled
to the actual amounts when the request ends, streamed or not.

With a Redis URL in `limits.redis_url_env` (default `HYBRID_AI_REDIS_URL`) the counters are in Redis, exact across
processes and replicas; without one they are per process. When Redis cannot be reached, `limits.on_store_error`
decides: `fail_open` serves the request without the shared limits (each one counted in `stats` and logged),
`fail_closed` answers 503 (`LimitStoreUnavailable`). Per-key limits apply to the server's callers (API key ids);
in-process calls have no key and no per-key limits."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..errors import LimitStoreUnavailable, RateLimited
from .counters import Check, LocalCounters

if TYPE_CHECKING:
    from ..policy import Policy
    from ..types import ChatRequest, RouteDecision, RouteRecord

log = logging.getLogger("hybrid_ai.store")


@dataclass
class Ticket:
    """What one request reserved: its checks (named), the amounts behind them, the second of the tokens."""

    checks: list[tuple[str, Check]] = field(default_factory=list)
    key_usd: float = 0.0
    key_tokens: float = 0.0
    budget_usd: float = 0.0
    sec: int = 0


def _to_midnight_s() -> int:
    now = time.time()
    return max(1, math.ceil((math.floor(now / 86400) + 1) * 86400 - now))


class KeyLimits:
    def __init__(self, policy: Policy):
        self.policy, self.cfg = policy, policy.limits.per_key

    def _worst_usd(self, request: ChatRequest, decision: RouteDecision, prompt_tokens: int) -> float:
        worst = 0.0
        for name in decision.tiers:
            tier = self.policy.tiers[name]
            usd, _ = tier.price(prompt_tokens, request.max_tokens or tier.generation.max_tokens, 0.0, None)
            worst = max(worst, usd or 0.0)
        return worst

    def checks(self, request: ChatRequest, decision: RouteDecision, caller: str
               ) -> tuple[float, float, list[tuple[str, Check]]]:
        """(USD reserved, tokens reserved, the named checks) of one request of `caller`."""
        cfg, base = self.cfg, f"hybrid_ai:key:{caller}"
        prompt_tokens = len(request.text) // 3 + 8 * len(request.messages)
        tokens = prompt_tokens + (request.max_tokens or self.policy.tiers[decision.first].generation.max_tokens)
        usd = self._worst_usd(request, decision, prompt_tokens) if cfg.usd_per_day is not None else 0.0
        named = []
        if cfg.rpm is not None:
            named.append(("rpm", Check("count", f"{base}:rpm", cfg.rpm, 1)))
        if cfg.tpm is not None:
            named.append(("tpm", Check("tokens", f"{base}:tpm", cfg.tpm, tokens)))
        if cfg.usd_per_day is not None:
            day = datetime.now(timezone.utc).date().isoformat()
            named.append(("usd_per_day", Check("sum", f"{base}:usd:{day}", cfg.usd_per_day, usd, 2 * 86400)))
        return usd, tokens, named

    def refuse(self, name: str, retry_ms: int) -> RateLimited:
        wait = _to_midnight_s() if name == "usd_per_day" else max(1, math.ceil(retry_ms / 1000))
        return RateLimited(f"this API key's limit limits.per_key.{name} ({getattr(self.cfg, name)}) is reached; "
                           f"retry in {wait} s", retry_after_s=wait)


class Gate:
    """The budget and per-key limits of one client: one reservation per request on one set of counters (one
    Redis round trip), one settlement when it ends (off the request's path when the counters are in Redis)."""

    def __init__(self, policy: Policy):
        from ..routing.budget import Budget
        from . import redis_url

        url = redis_url(policy.limits)
        self.policy, self.fail_open = policy, policy.limits.on_store_error == "fail_open"
        if url:
            from .counters import RedisCounters

            self.counters: Any = RedisCounters(url)
        else:
            self.counters = LocalCounters()
        self.stats = {"store_errors": 0, "unlimited": 0}
        self.on_count = lambda name, n: None  # the client points it at its Prometheus metrics, when on
        self.keys = KeyLimits(policy) if self.limits_keys(policy) else None
        self.budget = Budget(policy, self.counters) if policy.budget.enabled else None
        if self.budget is not None:
            self._guard(self.budget.seed, None, admission=False)  # a Redis away at start: requests decide
        self._settler: Any = None
        if self.counters.shared:
            from concurrent.futures import ThreadPoolExecutor

            self._settler = ThreadPoolExecutor(1, thread_name_prefix="hybrid-ai-settle")

    @staticmethod
    def limits_keys(policy: Policy) -> bool:
        return any(v is not None for v in policy.limits.per_key.model_dump().values())

    @classmethod
    def wanted(cls, policy: Policy) -> bool:
        return policy.budget.enabled or cls.limits_keys(policy)

    def _guard(self, call, fallback, admission: bool = True):
        """`call()`, or on a store failure: `fallback` (fail_open, counted) or LimitStoreUnavailable. A failed
        settlement (`admission` False) is logged only: the request has run."""
        try:
            return call()
        except self.counters.errors as e:
            self.stats["store_errors"] += 1
            from ..privacy.redact import scrub

            log.warning("hybrid-ai: the limits' store failed (%s: %s)", type(e).__name__, scrub(str(e))[:200])
            if not admission:
                return fallback
            if not self.fail_open:
                self.on_count("refused", 1)
                raise LimitStoreUnavailable("the shared limits' store (Redis) cannot be reached; try again "
                                            "later") from None
            self.stats["unlimited"] += 1
            self.on_count("served", 1)
            return fallback

    def _reserve(self, ticket: Ticket, rid: str):
        return self._guard(lambda: self.counters.reserve([c for _, c in ticket.checks], rid), (None, 0))

    def admit(self, request: ChatRequest, decision: RouteDecision, caller: str | None, rid: str
              ) -> tuple[RouteDecision, Ticket | None]:
        """(the decision to run, with its `budget` set when a cap changed it; what was reserved); raises
        RateLimited, BudgetExceeded (refuse), or LimitStoreUnavailable (fail_closed)."""
        t = Ticket()
        if self.keys is not None and caller is not None:
            t.key_usd, t.key_tokens, named = self.keys.checks(request, decision, caller)
            t.checks += named
        keyed = len(t.checks)
        if self.budget is not None:
            t.budget_usd, named = self.budget.checks(request, decision)
            t.checks += named
        if not t.checks:
            return decision, None
        refused, t.sec = self._reserve(t, rid)
        if refused is None:
            return decision, t
        name = t.checks[refused.index][0]
        if refused.index < keyed:
            assert self.keys is not None
            raise self.keys.refuse(name, refused.retry_ms)
        assert self.budget is not None
        decision = self.budget.instead(name, request, decision)  # or BudgetExceeded
        t.checks, t.budget_usd = t.checks[:keyed], 0.0
        if t.checks:  # the key's checks alone, for the route without the budgeted tier
            refused, t.sec = self._reserve(t, rid)
            if refused is not None:
                raise self.keys.refuse(t.checks[refused.index][0], refused.retry_ms)  # type: ignore[union-attr]
        return decision, t if t.checks else None

    def settle(self, ticket: Ticket | None, record: RouteRecord) -> None:
        if ticket is None:
            return
        if self._settler is not None:
            self._settler.submit(self._settle, ticket, record)
        else:
            self._settle(ticket, record)

    def _settle(self, t: Ticket, record: RouteRecord) -> None:
        tokens = (record.prompt_tokens or 0) + (record.completion_tokens or 0)
        items = []
        for name, c in t.checks:
            if name == "tpm":
                items.append((c, tokens - t.key_tokens, t.sec))
            elif name == "usd_per_day":
                items.append((c, (record.cost_usd or 0.0) - t.key_usd, t.sec))
        budget_checks = [c for name, c in t.checks if name in ("day", "month")]
        if self.budget is not None and budget_checks:
            items += self.budget.settle(t.budget_usd, budget_checks, record)
        self._guard(lambda: self.counters.adjust(items), None, admission=False)

    def close(self) -> None:
        if self._settler is not None:
            self._settler.shutdown(wait=True)
        if self.budget is not None:
            self.budget.close()
        self.counters.close()
