"""Cost of one answer in USD, and how it was obtained. Unknown is None, never 0; never raises.
A tier's kind chooses the rule (its config's `price`); these are the two rules the built-in kinds use:

- per token (`token_cost`): the policy's own prices if set ("policy_price"), else litellm's bundled price table
  ("litellm_price_table", LITELLM_LOCAL_MODEL_COST_MAP=True, no network), else unknown.
- machine time (`local_cost`): hardware $/hour over the answer's wall time plus the energy at the electricity
  price ("local_hardware_rate")."""

from __future__ import annotations


def token_cost(prices, prompt_tokens: int | None, completion_tokens: int | None, table=None):
    """`prices`: a CloudCost (`usd_per_mtok_input` / `_output`, None to use the table); `table()`: the model's
    (USD per input token, per output token) from a price table, or None when the model is not in it."""
    if prompt_tokens is None or completion_tokens is None:
        return None, "unknown"
    if prices.usd_per_mtok_input is not None and prices.usd_per_mtok_output is not None:
        usd = (prompt_tokens * prices.usd_per_mtok_input + completion_tokens * prices.usd_per_mtok_output) / 1e6
        return usd, "policy_price"
    per_token = table() if table is not None else None
    if per_token is None:  # model not in the table (e.g. a self-hosted server): unknown, not free
        return None, "unknown"
    return prompt_tokens * per_token[0] + completion_tokens * per_token[1], "litellm_price_table"


def local_cost(rates, wall_s: float, energy_wh: float | None):
    """`rates`: a LocalCost (`usd_per_hour`, `electricity_usd_per_kwh`)."""
    usd = rates.usd_per_hour * wall_s / 3600
    if energy_wh is not None:
        usd += energy_wh / 1000 * rates.electricity_usd_per_kwh
    return usd, "local_hardware_rate"


def request_cost(tier, prompt_tokens, completion_tokens, wall_s, energy_wh):
    """-> (cost_usd or None, cost_source) by the tier's kind. Never raises."""
    try:
        return tier.price(prompt_tokens, completion_tokens, wall_s, energy_wh)
    except Exception:
        return None, "unknown"
