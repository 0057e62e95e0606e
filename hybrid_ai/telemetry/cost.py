"""Cost of one request in USD, and how it was obtained. Unknown is None, never 0; never raises.

- cloud: the policy's own prices if set ("policy_price"), else litellm's bundled price table
  ("litellm_price_table", LITELLM_LOCAL_MODEL_COST_MAP=True, no network), else unknown.
- local: hardware $/hour over the request's wall time plus the energy at the electricity price
  ("local_hardware_rate")."""

from __future__ import annotations

from functools import lru_cache

from ..policy import LiteLLMTier, TransformersTier


def cloud_cost(tier: LiteLLMTier, prompt_tokens: int | None, completion_tokens: int | None):
    if prompt_tokens is None or completion_tokens is None:
        return None, "unknown"
    c = tier.cost
    if c.usd_per_mtok_input is not None and c.usd_per_mtok_output is not None:
        return (prompt_tokens * c.usd_per_mtok_input + completion_tokens * c.usd_per_mtok_output) / 1e6, "policy_price"
    prices = _table_prices(tier.model)
    if prices is None:  # model not in the table (e.g. a self-hosted server): unknown, not free
        return None, "unknown"
    return prompt_tokens * prices[0] + completion_tokens * prices[1], "litellm_price_table"


@lru_cache(maxsize=128)
def _table_prices(model: str) -> tuple[float, float] | None:
    """USD per input and per output token from litellm's bundled table, looked up once per model.
    Prices are taken as linear (the first tier of tiered long-context pricing)."""
    try:
        from ..backends.litellm_backend import import_litellm

        litellm = import_litellm()
        usd_in, _ = litellm.cost_per_token(model=model, prompt_tokens=1_000_000, completion_tokens=0)
        _, usd_out = litellm.cost_per_token(model=model, prompt_tokens=0, completion_tokens=1_000_000)
        return float(usd_in) / 1e6, float(usd_out) / 1e6
    except Exception:
        return None


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
