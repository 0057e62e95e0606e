"""A LiteLLM `CustomLogger` that adds hybrid-ai's figures to LiteLLM's logging of every successful call: the call's
energy (Wh) and CO2 (g), and what it would have cost on the policy's strong (cloud) tier, each with its source.

    import litellm
    from hybrid_ai.integrations.litellm_logger import HybridImpactLogger
    litellm.callbacks = [HybridImpactLogger(policy="default"), *other_loggers]   # first, so the others see it

The figures go into `standard_logging_object["metadata"]["hybrid_ai"]`, which the loggers after this one receive,
and into `logger.events` (the last 1,000). A call answered by hybrid-ai (the `hybrid/...` provider) keeps its own
record's energy; any other model is rated with EcoLogits from its token counts and latency, as the cloud tier's
record is. Checked against litellm 1.110 (`litellm/integrations/custom_logger.py`)."""

from __future__ import annotations

from collections import deque
from typing import Any

from litellm.integrations.custom_logger import CustomLogger


class HybridImpactLogger(CustomLogger):
    def __init__(self, policy: Any = None):
        super().__init__()
        from ..policy import load_policy

        self.policy = load_policy(policy)
        self.events: deque[dict] = deque(maxlen=1000)
        self._seen: deque[str] = deque(maxlen=1000)

    def impacts(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> dict[str, Any]:
        from ..telemetry.cost import request_cost

        usage = getattr(response_obj, "usage", None)
        prompt, completion = getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None)
        latency = max(0.0, (end_time - start_time).total_seconds())
        strong = self.policy.tiers[self.policy.classifier.strong_tier]
        hybrid = (getattr(response_obj, "_hidden_params", None) or {}).get("hybrid")
        if hybrid:
            record = hybrid["record"]
            wh, co2, source = record.get("energy_wh"), record.get("co2_g"), f"hybrid-ai record ({record.get('energy_source')})"
        else:
            model = strong.model_copy(update={"model": kwargs.get("model") or strong.model})
            try:
                wh, co2, source = model.energy(completion, latency, None, "unknown",
                                               self.policy.telemetry.carbon_intensity_g_per_kwh)
            except Exception:  # energy estimation never fails a logging call
                wh, co2, source = None, None, "unknown"
        usd, cost_source = request_cost(strong, prompt, completion, latency, None)
        return {"energy_wh": wh, "co2_g": co2, "energy_source": source, "cloud_tier_model": strong.model,
                "cloud_tier_cost_usd": usd, "cloud_tier_cost_source": cost_source,
                "route": hybrid.get("route") if hybrid else None}

    def _log(self, kwargs, response_obj, start_time, end_time) -> None:
        call = kwargs.get("litellm_call_id") or str(id(response_obj))
        if call in self._seen:  # litellm may call both the sync and the async hook for one call
            return
        self._seen.append(call)
        facts = self.impacts(kwargs, response_obj, start_time, end_time)
        slo = kwargs.get("standard_logging_object")
        if isinstance(slo, dict):
            if not isinstance(slo.get("metadata"), dict):
                slo["metadata"] = {}
            slo["metadata"]["hybrid_ai"] = facts
        self.events.append({"call_id": call, "model": kwargs.get("model"), **facts})

    def log_success_event(self, kwargs, response_obj, start_time, end_time):
        self._log(kwargs, response_obj, start_time, end_time)

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        self._log(kwargs, response_obj, start_time, end_time)
