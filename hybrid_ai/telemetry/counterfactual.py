"""Savings per request: what the policy's most capable tier (`classifier.strong_tier`) would have cost and consumed
for a request another tier answered, next to what it did cost (`RouteRecord.counterfactual`, `savings_usd`,
`savings_wh`). Each figure says where it came from; None where it cannot be known.

- Tokens: the prompt and the answer re-counted with the strong tier's tokenizer (litellm's `token_counter`, which
  ships its tokenizers: no network), `token_source: tokenizer`; for a tier litellm cannot count, the answering
  tier's own counts (`token_source: answering tier`).
- Cost: the strong tier's prices (the policy's, else litellm's bundled table), as its own attempts are costed.
- Energy and CO2: EcoLogits for the strong tier's model, with the latency it would have taken estimated as
  0.6 s + tokens / 50 per s (as the eval estimates replayed answers). Cached per model and token count, so the
  1-2 ms of EcoLogits are paid once per answer length, not per request."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..policy import Policy
    from ..types import ChatRequest, RouteRecord

FIRST_TOKEN_S = 0.6  # typical time to first token of a GPT-4-class API
TOKENS_PER_S = 50.0  # typical decode speed of a GPT-4-class API


_ENERGY: dict[tuple, tuple] = {}


def _energy(tier: Any, completion_tokens: int, carbon: float) -> tuple:
    """EcoLogits for the strong tier, once per (model, its EcoLogits names, tokens, grid intensity)."""
    key = (tier.model, repr(getattr(tier, "cost", None)), completion_tokens, carbon)
    hit = _ENERGY.get(key)
    if hit is None:
        if len(_ENERGY) > 4096:
            _ENERGY.clear()
        hit = _ENERGY[key] = tier.energy(completion_tokens, FIRST_TOKEN_S + completion_tokens / TOKENS_PER_S,
                                         None, "unknown", carbon)
    return hit


def counterfactual(policy: Policy, request: ChatRequest, record: RouteRecord, answer: str | None) -> dict | None:
    """The strong tier's figures for this request, or None when the strong tier answered it (or none did)."""
    name = policy.classifier.strong_tier
    if record.route is None or record.route == name or answer is None:
        return None
    tier = policy.tiers[name]
    pt = ct = None
    if not tier.runs_locally:
        from ..backends.litellm_backend import count_tokens

        pt = count_tokens(tier.model, messages=[{"role": m.role, "content": m.content} for m in request.messages])
        ct = count_tokens(tier.model, text=answer)
    source = "tokenizer"
    if pt is None or ct is None:
        pt, ct, source = record.prompt_tokens, record.completion_tokens, "answering tier"
    latency = FIRST_TOKEN_S + (ct or 0) / TOKENS_PER_S
    try:
        usd, cost_source = tier.price(pt, ct, latency, None)
    except Exception:
        usd, cost_source = None, "unknown"
    try:
        wh, co2, energy_source = _energy(tier, ct, policy.telemetry.carbon_intensity_g_per_kwh) if ct is not None \
            else (None, None, "unknown")
    except Exception:
        wh, co2, energy_source = None, None, "unknown"
    return {"tier": name, "model": tier.model, "prompt_tokens": pt, "completion_tokens": ct, "token_source": source,
            "cost_usd": usd, "cost_source": cost_source, "energy_wh": wh, "co2_g": co2, "energy_source": energy_source}


def warm(policy: Policy) -> None:
    """Load the strong tier's tokenizer now (the first count takes about a second), not on the first request."""
    tier = policy.tiers[policy.classifier.strong_tier]
    if not tier.runs_locally:
        from ..backends.litellm_backend import count_tokens

        count_tokens(tier.model, text="warm")


def savings(cf: dict | None, record: RouteRecord) -> tuple[float | None, float | None]:
    """(USD, Wh) the request saved against the strong tier; None where either side is unknown."""
    if cf is None:
        return None, None

    def diff(a, b):
        return None if a is None or b is None else a - b

    return diff(cf["cost_usd"], record.cost_usd), diff(cf["energy_wh"], record.energy_wh)
