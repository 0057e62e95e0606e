"""What one request cost: an `Attempt` per tier tried (`measure_attempt`), and the `RouteRecord` over them
(`build_record`): the answering attempt's facts, and cost, energy and CO2 totalled over every attempt."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ..privacy.redact import unquoted
from ..types import Attempt, BackendResult, ChatRequest, RouteDecision, RouteRecord
from .caller import current as current_caller
from .cost import request_cost
from .energy import EnergyMeter, Reading

if TYPE_CHECKING:
    from ..config import TierConfig
    from ..policy import Policy


def new_request_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def _energy(policy: Policy, tier, completion_tokens: int | None, meter: EnergyMeter | Reading | None, wall_s: float,
            share: int = 1):
    """By the tier's kind: a measured counter or an estimate (in-process), a model of the provider (remote)."""
    measured = meter.wh / share if meter is not None and meter.wh is not None else None
    try:
        return tier.energy(completion_tokens, wall_s, measured,
                           meter.source if meter else "unknown", policy.telemetry.carbon_intensity_g_per_kwh)
    except Exception:  # energy estimation never fails a request
        return None, None, "unknown"


def measure_attempt(policy: Policy, tier_name: str, result: BackendResult | None, wall_s: float,
                    meter: EnergyMeter | Reading | None = None, error: str | None = None,
                    error_kind: str | None = None, *, share: int = 1, tier: TierConfig | None = None) -> Attempt:
    """One tier's try: its tokens, latency, cost and energy (a failed cloud try: unknown; a failed or cut local
    try: the machine time it held). `share` > 1: the call answered that many requests together (a batch), so
    this one is charged 1/share of the time and measured energy, and waited all of `wall_s`. `tier` overrides
    the policy's config of `tier_name` (the eval costs a replayed answer as the recorded model)."""
    tier = tier or policy.tiers[tier_name]
    tokens = (result.prompt_tokens, result.completion_tokens) if result is not None else (None, None)
    busy_s = wall_s / max(1, share)
    energy_wh, co2_g, energy_source = _energy(policy, tier, tokens[1], meter, busy_s, share)
    cost_usd, cost_source = request_cost(tier, *tokens, busy_s, energy_wh)
    info = result.info if result is not None else {}
    return Attempt(tier=tier_name, model=result.model if result is not None else tier.model,
                   backend=info.get("backend", tier.backend), latency_ms=wall_s * 1000,
                   ttft_ms=result.ttft_ms if result is not None else None, prompt_tokens=tokens[0],
                   completion_tokens=tokens[1], cost_usd=cost_usd, cost_source=cost_source, energy_wh=energy_wh,
                   energy_source=energy_source, co2_g=co2_g, error=error, error_kind=error_kind)


def _total(attempts: list[Attempt], field: str, answered: Attempt | None) -> float | None:
    """The sum over attempts; None when the answering attempt's own figure is unknown (or none is known)."""
    if answered is not None and getattr(answered, field) is None:
        return None
    known = [getattr(a, field) for a in attempts if getattr(a, field) is not None]
    return sum(known) if known else None


def build_record(
    *, policy: Policy, request: ChatRequest, decision: RouteDecision, request_id: str, t_start: float,
    attempts: list[Attempt], result: BackendResult | None = None, error: str | None = None,
    verifier_score: float | None = None, answered_tier: str | None = None,
) -> RouteRecord:
    """`result` is the answer of `answered_tier` (its last attempt; by default the last attempt: a doubted answer
    given after every later tier failed is an earlier one); `error` ends a request that a tier was answering (an
    abandoned stream); a request without a result carries its attempts' errors."""
    answered = None
    if attempts and (result is not None or error):
        answered = next((a for a in reversed(attempts) if a.tier == answered_tier), attempts[-1])
    failed = [a for a in attempts if a.error and a is not answered]
    fields = {}
    if answered is not None:
        fields = dict(model=answered.model, backend=answered.backend, prompt_tokens=answered.prompt_tokens,
                      completion_tokens=answered.completion_tokens, ttft_ms=answered.ttft_ms,
                      cost_source=answered.cost_source, energy_source=answered.energy_source,
                      ran_on=policy.tiers[answered.tier].where() if answered.tier in policy.tiers else None)
        if result is not None:
            fields.update(quantization=result.info.get("quantization"), adapter=result.info.get("adapter"))
    log = policy.telemetry.log_prompts
    if not log:  # an upstream error that quotes the prompt must not log it
        for a in attempts:
            a.error = unquoted(a.error, request.text)
        error = unquoted(error, request.text)
    errors = "; ".join(f"[{a.tier}] {a.error}" for a in failed)
    record = RouteRecord(
        request_id=request_id,
        timestamp=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        route=answered.tier if answered is not None else None,
        reason=decision.reason,
        score=decision.score,
        threshold=decision.threshold,
        latency_ms=(time.perf_counter() - t_start) * 1000,
        cost_usd=_total(attempts, "cost_usd", answered),
        energy_wh=_total(attempts, "energy_wh", answered),
        co2_g=_total(attempts, "co2_g", answered),
        fallback=bool(failed) and answered is not None,
        fallback_reason=errors if failed and answered is not None else None,
        error=error or (None if answered is not None else errors or "no tier was tried"),
        stream=request.stream,
        budget=decision.budget,
        caller=current_caller(),
        escalated=any(a.error_kind == "escalated" for a in attempts),
        verifier_score=verifier_score,
        needs=list(decision.needs),
        skipped_tiers=list(decision.skipped),
        tool_calls=len(result.tool_calls or []) if result is not None else 0,
        attempts=attempts,
        policy=policy.name,
        policy_hash=policy.hash,
        prompt=request.text if log else None,
        answer=result.text if (log and result is not None) else None,
        **fields,
    )
    if policy.telemetry.savings and result is not None:
        from .counterfactual import counterfactual, savings

        try:  # savings are telemetry: they never fail a request
            record.counterfactual = counterfactual(policy, request, record, result.text)
            record.savings_usd, record.savings_wh = savings(record.counterfactual, record)
        except Exception:
            record.counterfactual = None
    return record
