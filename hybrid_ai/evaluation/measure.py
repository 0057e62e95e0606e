"""Cost, energy and latency of one eval answer, computed by the function that costs a live request's attempt
(`telemetry.record.measure_attempt`), from the facts the answer kept, so the report and the route log agree:

- A live local answer: its wall time; an answer generated in a batch of N is charged 1/N of the batch's time
  (its latency is the batch's wall time). Energy: what the machine's counter measured (RAPL / NVML, kept in the
  answer cache) or the tier's `device_watts` over that time; cost from the hardware rate plus that energy.
- A live cloud answer: its token counts at the price table (or policy prices), energy from EcoLogits.
- A replayed cloud answer: costed as if the recorded model had produced it (its token counts at that model's
  prices, EcoLogits for that model); its latency is not recorded, so it is estimated as
  `CLOUD_FIRST_TOKEN_S + completion_tokens / CLOUD_TOKENS_PER_S` and marked `latency_source: estimated`.
- A failed answer: quality 0 (counted in the report as failed), no cost or energy (nothing was produced or billed;
  a failed local attempt's wall time still counts as latency)."""

from __future__ import annotations

from dataclasses import dataclass

from ..telemetry.energy import Reading
from ..telemetry.record import measure_attempt
from ..types import BackendResult

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


def measure(policy, tier_name: str, costed, answer) -> Measured:
    """`costed` is the tier config the answer is costed as: the policy's tier, or for a replayed answer
    `replay_tier(...)`."""
    if answer.error is not None or answer.text is None:
        return Measured(0.0, "failed", 0.0, "failed", answer.latency_s, "measured")
    if answer.backend == "replay":
        latency, latency_source = CLOUD_FIRST_TOKEN_S + (answer.completion_tokens or 0) / CLOUD_TOKENS_PER_S, "estimated"
    else:
        latency, latency_source = answer.latency_s or 0.0, "measured"
    share = max(1, answer.batch_size or 1)
    counter = None  # the whole batch's measured energy, as the meter read it (measure_attempt takes the share)
    if answer.energy_wh is not None:
        counter = Reading(answer.energy_wh * share, answer.energy_source)
    result = BackendResult(text=answer.text, model=costed.model, prompt_tokens=answer.prompt_tokens,
                           completion_tokens=answer.completion_tokens, ttft_ms=answer.ttft_ms)
    a = measure_attempt(policy, tier_name, result, latency, counter, share=share, tier=costed)
    return Measured(a.cost_usd, a.cost_source, a.energy_wh, a.energy_source, latency, latency_source)
