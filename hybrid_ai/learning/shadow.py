"""Shadow mode: learn from production traffic. A sample of the requests the local tier answered is also sent to
the strong tier, off the request's path (one background thread, a bounded queue: a full queue drops the sample,
never slows a request); the pair is judged and the outcome goes into the route log's `shadow_outcomes` table,
which `hybrid-ai router train|train-verifier|calibrate --from-log DB` read.

Which requests: answered by the weak tier, decided by the score (a rule's route, such as personal data kept
local or a pinned tier, is never shadowed), not escalated, sampled at `shadow.rate`, while today's (UTC) shadow
spend is under `shadow.max_usd_per_day` (the spend is read back from the table, so it survives restarts).

Judges (`shadow.judge`, named in each outcome):
- `agreement`: no extra call. If the strong answer ends with a number, the local answer is right when its final
  number is the same (`agreement:number`); otherwise when the token F1 of the two answers is >= 0.5
  (`agreement:f1`). A proxy: it counts a differently worded right answer as wrong.
- `llm`: the strong tier grades the local answer with the strong answer as the reference (the prompt of
  grading/judge.py, `llm:<model>`); its cost counts in the shadow spend."""

from __future__ import annotations

import queue
import random
import threading
from typing import TYPE_CHECKING

from ..errors import BackendError
from .shadow_log import ShadowLog

if TYPE_CHECKING:
    from ..backends.base import Backend
    from ..policy import Policy
    from ..types import ChatRequest, RouteDecision, RouteRecord



def agreement(local: str, strong: str) -> tuple[float, str]:
    """(1.0 if the local answer agrees with the strong one else 0.0, the measure used): grading/graders.py."""
    from ..grading.graders import agreement_measure

    return agreement_measure(local, strong)


class Shadow:
    def __init__(self, policy: Policy, backend: Backend, seed: int | None = None):
        cfg = policy.shadow
        self.policy, self.cfg, self.backend = policy, cfg, backend
        self.tier = policy.classifier.strong_tier
        self.log = ShadowLog(policy.telemetry.log_target())
        self.dropped = self.failed = 0
        self._rng = random.Random(seed)
        self._queue: queue.Queue = queue.Queue(maxsize=cfg.queue)
        self._thread = threading.Thread(target=self._run, name="hybrid-ai-shadow", daemon=True)
        self._thread.start()

    def offer(self, request: ChatRequest, decision: RouteDecision, record: RouteRecord, answer: str | None) -> bool:
        """Queue this request for shadowing if it qualifies; never blocks. True when queued."""
        c = self.policy.classifier
        if (answer is None or record.route != c.weak_tier or decision.rule is not None or record.escalated
                or self._rng.random() >= self.cfg.rate):
            return False
        try:
            self._queue.put_nowait((request, record.request_id, answer))
            return True
        except queue.Full:
            self.dropped += 1
            return False

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                self._shadow(*job)
            except Exception:  # noqa: BLE001  a shadow failure never reaches a request; counted
                self.failed += 1
            finally:
                self._queue.task_done()

    def _shadow(self, request: ChatRequest, request_id: str, local_answer: str) -> None:
        from ..backends.metered import Metered

        if self.log.spent_today() >= self.cfg.max_usd_per_day:
            self.dropped += 1
            return
        attempts: list = []
        tier = Metered(self.tier, self.backend, self.policy, attempts)
        try:
            strong = tier.complete(request)
        except BackendError:
            self.failed += 1
            return
        cost = attempts[-1].cost_usd or 0.0
        if self.cfg.judge == "llm":
            verdict, how, judge_cost = self._llm_judge(request, local_answer, strong.text)
            cost += judge_cost
        else:
            verdict, how = agreement(local_answer, strong.text)
        self.log.add(request_id=request_id, prompt=request.text, n_messages=len(request.messages),
                     local_answer=local_answer, strong_answer=strong.text, strong_model=strong.model,
                     local_correct=verdict, judge=how, cost_usd=cost)

    def _llm_judge(self, request: ChatRequest, local: str, strong: str) -> tuple[float | None, str, float]:
        from ..backends.metered import Metered
        from ..grading.judge import PROMPT, parse_verdict
        from ..request import parse_request

        attempts: list = []
        prompt = PROMPT.format(question=request.text, reference=strong, answer=local)
        judged = parse_request({"messages": [{"role": "user", "content": prompt}], "max_tokens": 16,
                                "temperature": 0.0})
        try:
            r = Metered(self.tier, self.backend, self.policy, attempts).complete(judged)
        except BackendError:
            return None, f"llm:{self.policy.tiers[self.tier].model}", 0.0
        verdict = parse_verdict(r.text)
        return (None if verdict is None else float(verdict >= 0.5), f"llm:{r.model}",
                attempts[-1].cost_usd or 0.0)

    def drain(self) -> None:
        """Wait until every queued sample is judged and logged (tests, shutdown)."""
        self._queue.join()

    def close(self) -> None:
        self.drain()
        self._queue.put(None)
        self._thread.join(timeout=10)
        self.log.close()
