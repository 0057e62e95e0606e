"""Cost, energy and latency of one eval answer, computed by the same functions as a live request's record
(telemetry/cost.py, telemetry/energy.py), so the report and the route log agree.

- A live local answer: its wall time, energy from the tier's `device_watts` over that time (what the client
  records where no RAPL / NVML counter exists), cost from the hardware rate plus that energy. An answer
  generated in a batch of N is charged 1/N of the batch's time; its latency is the batch's wall time.
- A live cloud answer: its token counts at the price table (or policy prices), energy from EcoLogits.
- A replayed cloud answer: costed as if the recorded model had produced it (its token counts at that model's
  prices, EcoLogits for that model); its latency is not recorded, so it is estimated as
  `CLOUD_FIRST_TOKEN_S + completion_tokens / CLOUD_TOKENS_PER_S` and marked `latency_source: estimated`.
- A failed answer: quality 0 (counted in the report as failed), no cost or energy (nothing was produced or billed;
  a failed local attempt's wall time still counts as latency)."""

from __future__ import annotations

from dataclasses import dataclass

from ..telemetry.cost import request_cost

CLOUD_FIRST_TOKEN_S = 0.6   # typical time to first token of a GPT-4-class API (estimate for replayed answers)
CLOUD_TOKENS_PER_S = 50.0   # typical decode speed of a GPT-4-class API (estimate for replayed answers)
# EcoLogits names some models differently from the recorded ones: gpt-4-1106-preview is the GPT-4 Turbo preview
ECOLOGITS_ALIASES = {"gpt-4-1106-preview": "gpt-4-turbo", "gpt-4-0125-preview": "gpt-4-turbo"}


@dataclass(frozen=True)
class Measured:
    cost_usd: float | None
    cost_source: str
    energy_wh: float | None
    energy_source: str
    latency_s: float | None
    latency_source: str


def replay_tier(tier, model: str):
    """The policy's cloud tier as if `model` answered: that model's price-table prices and EcoLogits entry."""
    cost = tier.cost.model_copy(update={"usd_per_mtok_input": None, "usd_per_mtok_output": None,
                                        "ecologits_model": ECOLOGITS_ALIASES.get(model.split("/")[-1])})
    return tier.model_copy(update={"model": model, "cost": cost})


def measure(tier, answer) -> Measured:
    """`tier` is the policy tier that answered (for a replayed answer: `replay_tier(...)`)."""
    if answer.error is not None or answer.text is None:
        return Measured(0.0, "failed", 0.0, "failed", answer.latency_s, "measured")
    if tier.runs_locally:
        wall = answer.latency_s or 0.0
        busy = wall / max(1, answer.batch_size or 1)
        wh, _, energy_source = tier.energy(answer.completion_tokens, busy, None, "unknown", 0.0)
        usd, source = request_cost(tier, answer.prompt_tokens, answer.completion_tokens, busy, wh)
        return Measured(usd, source, wh, energy_source, wall, "measured")
    if answer.backend == "replay":
        latency = CLOUD_FIRST_TOKEN_S + (answer.completion_tokens or 0) / CLOUD_TOKENS_PER_S
        latency_source = "estimated"
    else:
        latency, latency_source = answer.latency_s, "measured"
    usd, source = request_cost(tier, answer.prompt_tokens, answer.completion_tokens, latency or 0.0, None)
    wh, _, energy_source = tier.energy(answer.completion_tokens, latency or 0.0, None, "unknown", 0.0)
    return Measured(usd, source, wh, energy_source, latency, latency_source)
