"""Cloud budgets (`budget:` in the policy): cap what the budgeted tier (the strong one by default) spends in USD per
UTC day and per month. When a request would pass a cap it goes to the weak tier instead (`action: local`) or is
refused with OpenAI's 429 (`action: refuse`); the record's `budget` says which cap decided.

Admission is by reservation, so concurrent requests cannot overspend together: a request may use the tier only if
today's (and this month's) spend, plus what requests in flight have reserved, plus its own worst case (the
tier's price for its prompt, estimated at 3 characters per token, and its `max_tokens`) stays within the cap. When
it ends its actual cost replaces the reservation. A request that costs more than its estimate can pass a cap by at
most that difference (`benchmarks/budget_concurrency.py`).

Spend survives restarts: each request's cost on the tier is a row of `budget_spend` in the route log (the SQLite
file `telemetry.sqlite_path`, or PostgreSQL when its URL is set), summed at start. Several processes sharing it
each see the others' spend at their own start only: for one budget exact across processes and replicas, set a
Redis URL (store/limits.py), which then admits and settles every request."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..errors import BudgetExceeded

if TYPE_CHECKING:
    from ..policy import Policy
    from ..store.counters import Check
    from ..types import ChatRequest, RouteDecision, RouteRecord

SCHEMA = "CREATE TABLE IF NOT EXISTS budget_spend (request_id TEXT PRIMARY KEY, day TEXT, month TEXT, usd REAL)"
DAY_TTL_S, MONTH_TTL_S = 2 * 86400, 32 * 86400


def _today() -> tuple[str, str]:
    d = datetime.now(timezone.utc).date()
    return d.isoformat(), d.isoformat()[:7]


class Budget:
    def __init__(self, policy: Policy, counters: Any = None):
        """`counters`: where the spend is counted (store/counters.py): Redis to share it, else this process."""
        from ..store.counters import LocalCounters
        from ..telemetry.db import open_store

        self.policy, self.cfg = policy, policy.budget
        self.tier = self.cfg.tier or policy.classifier.strong_tier
        self.counters = counters or LocalCounters()
        self._db = open_store(policy.telemetry.log_target())
        self._db.execute(SCHEMA)

    def seed(self) -> None:
        """Start today's and this month's counters at the spend kept in the route log (unless they run)."""
        day, month = _today()
        for key, col, ttl in ((day, "day", DAY_TTL_S), (month, "month", MONTH_TTL_S)):
            row = self._db.execute(f"SELECT COALESCE(SUM(usd), 0) FROM budget_spend WHERE {col} = ?", (key,)).fetchone()
            self.counters.seed(self._key(key), float(row[0]), ttl)

    def _key(self, period: str) -> str:
        return f"hybrid_ai:budget:{self.policy.name}:{self.tier}:{period}"

    def _worst_case(self, request: ChatRequest) -> float:
        tier = self.policy.tiers[self.tier]
        prompt_tokens = len(request.text) // 3 + 8 * len(request.messages)
        usd, _ = tier.price(prompt_tokens, request.max_tokens or tier.generation.max_tokens, 0.0, None)
        return usd or 0.0

    def _checks(self, need: float) -> list[tuple[str, Check]]:
        from ..store.counters import Check

        day, month = _today()
        out = []
        for period, cap, name, ttl in ((day, self.cfg.cloud_usd_per_day, "day", DAY_TTL_S),
                                       (month, self.cfg.cloud_usd_per_month, "month", MONTH_TTL_S)):
            if cap is not None:
                out.append((name, Check("sum", self._key(period), cap, need, ttl)))
        return out

    def checks(self, request: ChatRequest, decision: RouteDecision) -> tuple[float, list[tuple[str, Check]]]:
        """(the request's worst case on the tier, its named checks); none when the decision does not use the tier."""
        if self.tier not in decision.tiers:
            return 0.0, []
        need = self._worst_case(request)
        return need, self._checks(need)

    def instead(self, over: str, request: ChatRequest, decision: RouteDecision) -> RouteDecision:
        """The decision when the cap `over` (day or month) refused the tier: without it, or BudgetExceeded."""
        if self.cfg.action == "refuse" and decision.first == self.tier:
            raise BudgetExceeded(f"the cloud budget per {over} is spent (budget.cloud_usd_per_{over}: "
                                 f"{getattr(self.cfg, f'cloud_usd_per_{over}')} USD)")
        tiers = tuple(t for t in decision.tiers if t != self.tier)
        if not tiers:
            weak = self.policy.classifier.weak_tier
            from .decide import lacks

            lacking = lacks(self.policy, weak, request.needs)
            if lacking:  # the tier the request would go to instead cannot answer it
                raise BudgetExceeded(f"the cloud budget per {over} is spent, and tier {weak!r} does not support "
                                     f"{', '.join(lacking)}, which this request needs")
            tiers = (weak,)
        return replace(decision, tiers=tiers, budget=f"budget:{over}")

    def settle(self, reserved: float, checks: list[Check], record: RouteRecord) -> list[tuple[Check, float, int]]:
        """The adjustments that replace the reservation by what the request spent on the tier (every attempt
        there counts); the spend's row is kept for the next start."""
        spent = sum(a.cost_usd or 0.0 for a in record.attempts if a.tier == self.tier)
        if spent:
            self._keep(record.request_id, spent)
        return [(c, spent - reserved, 0) for c in checks]

    def _keep(self, request_id: str, spent: float) -> None:
        """The spend's row, for the next start; a database that is away is logged, and the request still ends."""
        from ..telemetry.db import store_errors

        day, month = _today()
        write = getattr(self._db, "later", self._db.execute)  # PostgreSQL: off the request's thread
        try:
            write("INSERT INTO budget_spend VALUES (?,?,?,?) ON CONFLICT (request_id) DO UPDATE SET "
                  "usd = excluded.usd", (request_id, day, month, spent))
        except store_errors() as e:
            import logging

            logging.getLogger("hybrid_ai.store").warning("hybrid-ai: budget spend of %s not kept (%s)", request_id,
                                                         type(e).__name__)

    def close(self) -> None:
        self._db.close()
