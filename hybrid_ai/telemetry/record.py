"""Build the RouteRecord of one request from the decision, the backend result and the timings."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone

from ..policy import Policy, TransformersTier
from ..types import BackendResult, ChatRequest, RouteDecision, RouteRecord
from .cost import request_cost
from .energy import EnergyMeter, cloud_energy, estimate_local


def new_request_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def _energy(policy: Policy, tier, result: BackendResult, meter: EnergyMeter | None, wall_s: float):
    if isinstance(tier, TransformersTier):
        if meter is not None and meter.wh is not None:
            wh, source = meter.wh, meter.source
        else:
            wh, source = estimate_local(tier.cost.device_watts, wall_s), "estimated_device_watts"
        return wh, wh * policy.telemetry.carbon_intensity_g_per_kwh / 1000, source
    return cloud_energy(tier, result.completion_tokens, wall_s)


def build_record(
    *, policy: Policy, request: ChatRequest, decision: RouteDecision, request_id: str, t_start: float,
    tier_name: str | None = None, result: BackendResult | None = None, tier_wall_s: float = 0.0,
    meter: EnergyMeter | None = None, errors: list | None = None, error: str | None = None,
) -> RouteRecord:
    """`error` ends a request that a tier was answering (an abandoned stream); otherwise a request without a
    result carries its tiers' errors."""
    errors = errors or []
    fields = {}
    if result is not None and tier_name is not None:
        tier = policy.tiers[tier_name]
        energy_wh, co2_g, energy_source = _energy(policy, tier, result, meter, tier_wall_s)
        cost_usd, cost_source = request_cost(tier, result.prompt_tokens, result.completion_tokens,
                                             tier_wall_s, energy_wh)
        fields = dict(
            model=result.model, backend=result.info.get("backend", tier.backend),
            quantization=result.info.get("quantization"),
            adapter=result.info.get("adapter"), prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens, ttft_ms=result.ttft_ms, cost_usd=cost_usd,
            cost_source=cost_source, energy_wh=energy_wh, energy_source=energy_source, co2_g=co2_g,
        )
    log = policy.telemetry.log_prompts
    return RouteRecord(
        request_id=request_id,
        timestamp=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        route=tier_name if result is not None else None,
        reason=decision.reason,
        score=decision.score,
        threshold=decision.threshold,
        latency_ms=(time.perf_counter() - t_start) * 1000,
        fallback=bool(errors) and result is not None,
        fallback_reason="; ".join(str(e) for e in errors) if errors and result is not None else None,
        error=error or (None if result is not None else "; ".join(str(e) for e in errors) or "no tier was tried"),
        stream=request.stream,
        policy=policy.name,
        policy_hash=policy.hash,
        prompt=request.text if log else None,
        answer=result.text if (log and result is not None) else None,
        **fields,
    )
