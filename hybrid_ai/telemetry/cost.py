"""Cost of one request in USD, and how it was obtained. Unknown is None, never 0; never raises.

- cloud: the policy's own prices if set ("policy_price"), else litellm's bundled price table
  ("litellm_price_table", LITELLM_LOCAL_MODEL_COST_MAP=True, no network), else unknown.
- local: hardware $/hour over the request's wall time plus the energy at the electricity price
  ("local_hardware_rate")."""

from __future__ import annotations

import os

from ..policy import LiteLLMTier, TransformersTier


def cloud_cost(tier: LiteLLMTier, prompt_tokens: int | None, completion_tokens: int | None):
    if prompt_tokens is None or completion_tokens is None:
        return None, "unknown"
    c = tier.cost
    if c.usd_per_mtok_input is not None and c.usd_per_mtok_output is not None:
        return (prompt_tokens * c.usd_per_mtok_input + completion_tokens * c.usd_per_mtok_output) / 1e6, "policy_price"
    try:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        usd_in, usd_out = litellm.cost_per_token(model=tier.model, prompt_tokens=prompt_tokens,
                                                 completion_tokens=completion_tokens)
        return float(usd_in + usd_out), "litellm_price_table"
    except Exception:  # model not in the table (e.g. a self-hosted server): unknown, not free
        return None, "unknown"


def local_cost(tier: TransformersTier, wall_s: float, energy_wh: float | None):
    c = tier.cost
    usd = c.usd_per_hour * wall_s / 3600
    if energy_wh is not None:
        usd += energy_wh / 1000 * c.electricity_usd_per_kwh
    return usd, "local_hardware_rate"


def request_cost(tier, prompt_tokens, completion_tokens, wall_s, energy_wh):
    """-> (cost_usd or None, cost_source). Never raises."""
    try:
        if isinstance(tier, TransformersTier):
            return local_cost(tier, wall_s, energy_wh)
        return cloud_cost(tier, prompt_tokens, completion_tokens)
    except Exception:
        return None, "unknown"
