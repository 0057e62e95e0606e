"""Cloud budgets (`budget:` in the policy): cap what the budgeted tier (the strong one by default) spends in USD per
UTC day and per month. When a request would pass a cap it goes to the weak tier instead (`action: local`) or is
refused with OpenAI's 429 (`action: refuse`); the record's `budget` says which cap decided.

Admission is by reservation, so concurrent requests cannot overspend together: a request may use the tier only if
today's (and this month's) spend, plus what requests in flight have reserved, plus its own worst case (the
tier's price for its prompt, estimated at 3 characters per token, and its `max_tokens`) stays within the cap. When
it ends its actual cost replaces the reservation. A request that costs more than its estimate can pass a cap by at
most that difference (`benchmarks/budget_concurrency.py`).

Spend survives restarts: each request's cost on the tier is a row of `budget_spend` in the route log's SQLite
file (`telemetry.sqlite_path`), summed at start. Several processes sharing the file each see the others' spend at
their own start only; several replicas need a shared database (the scale issue that follows)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ..errors import BudgetExceeded

if TYPE_CHECKING:
    from ..policy import Policy
    from ..types import ChatRequest, RouteDecision, RouteRecord

SCHEMA = "CREATE TABLE IF NOT EXISTS budget_spend (request_id TEXT PRIMARY KEY, day TEXT, month TEXT, usd REAL)"


@dataclass
class Ticket:
    reserved: float
    day: str
    month: str


def _today() -> tuple[str, str]:
    d = datetime.now(timezone.utc).date()
    return d.isoformat(), d.isoformat()[:7]


class Budget:
    def __init__(self, policy: Policy):
        from ..telemetry.db import connect

        self.policy, self.cfg = policy, policy.budget
        self.tier = self.cfg.tier or policy.classifier.strong_tier
        self._lock = threading.Lock()
        self._db = connect(policy.telemetry.sqlite_path or "")
        self._db.execute(SCHEMA)
        self._spent: dict[str, float] = {}  # day or month -> USD recorded
        self._reserved: dict[str, float] = {}  # day or month -> USD held by requests in flight
        day, month = _today()
        for key, col in ((day, "day"), (month, "month")):
            row = self._db.execute(f"SELECT COALESCE(SUM(usd), 0) FROM budget_spend WHERE {col} = ?", (key,)).fetchone()
            self._spent[key] = float(row[0])

    def _worst_case(self, request: ChatRequest) -> float:
        tier = self.policy.tiers[self.tier]
        prompt_tokens = len(request.text) // 3 + 8 * len(request.messages)
        usd, _ = tier.price(prompt_tokens, request.max_tokens or tier.generation.max_tokens, 0.0, None)
        return usd or 0.0

    def _over(self, need: float, day: str, month: str) -> str | None:
        for key, cap, name in ((day, self.cfg.cloud_usd_per_day, "day"), (month, self.cfg.cloud_usd_per_month, "month")):
            if cap is not None and self._spent.get(key, 0.0) + self._reserved.get(key, 0.0) + need > cap + 1e-15:
                return name
        return None

    def admit(self, request: ChatRequest, decision: RouteDecision) -> tuple[RouteDecision, Ticket | None, str | None]:
        """(the decision to run, a reservation to settle, the cap that decided or None)."""
        if self.tier not in decision.tiers:
            return decision, None, None
        need = self._worst_case(request)
        day, month = _today()
        with self._lock:
            over = self._over(need, day, month)
            if over is None:
                for key in (day, month):
                    self._reserved[key] = self._reserved.get(key, 0.0) + need
                return decision, Ticket(need, day, month), None
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
        return replace(decision, tiers=tiers), None, f"budget:{over}"

    def settle(self, ticket: Ticket | None, record: RouteRecord) -> None:
        """Replace the reservation by what the request spent on the tier (every attempt there counts)."""
        if ticket is None:
            return
        spent = sum(a.cost_usd or 0.0 for a in record.attempts if a.tier == self.tier)
        with self._lock:
            for key in (ticket.day, ticket.month):
                self._reserved[key] = self._reserved.get(key, 0.0) - ticket.reserved
                self._spent[key] = self._spent.get(key, 0.0) + spent
            if spent:
                self._db.execute("INSERT OR REPLACE INTO budget_spend VALUES (?,?,?,?)",
                                 (record.request_id, ticket.day, ticket.month, spent))

    def spent(self) -> dict[str, float]:
        day, month = _today()
        with self._lock:
            return {"day": self._spent.get(day, 0.0), "month": self._spent.get(month, 0.0)}

    def close(self) -> None:
        with self._lock:
            self._db.close()
