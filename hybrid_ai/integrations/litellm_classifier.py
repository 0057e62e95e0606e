"""hybrid-ai's router as the classifier of LiteLLM's complexity router (`classifier_type: custom`), for teams whose
LiteLLM Router or proxy already holds the models: LiteLLM calls the models, hybrid-ai decides which tier.

    model_list:
      - model_name: smart
        litellm_params:
          model: auto_router/complexity_router
          complexity_router_config:
            classifier_type: custom
            classifier_plugin: my_module.hybrid_classifier   # = HybridClassifier(policy="my-policy.yaml")
            tiers: {SIMPLE: local-slm, COMPLEX: gpt-4o-mini}

`classify(context)` scores the request's messages with the policy's classifier and applies its hard rules and
threshold (`routing.decide`, the function the client uses): the policy's weak tier maps to `weak_label` (default
`SIMPLE`), its strong tier to `strong_label` (default `COMPLEX`); `labels` maps any tier of the policy. A request
hybrid-ai cannot read (no user text, an invalid message) is declined (None), so LiteLLM's `classifier_fallback`
decides. Personal data: the policy's `personal_data` rule routes such a request to its tier's label (keep that
label's models local). Checked against litellm 1.110 (`litellm/types/router.py` `ClassifierPlugin`,
`RoutingContext.structured_messages`; `router_strategy/complexity_router/config.py`)."""

from __future__ import annotations

from typing import Any

from ..errors import HybridAIError


class HybridClassifier:
    def __init__(self, policy: Any = None, *, weak_label: str = "SIMPLE", strong_label: str = "COMPLEX",
                 labels: dict[str, str] | None = None):
        from ..policy import load_policy
        from ..routing import load_classifier

        self.policy = load_policy(policy)
        self.classifier = load_classifier(self.policy.classifier)
        c = self.policy.classifier
        self.labels = {c.weak_tier: weak_label, c.strong_tier: strong_label, **(labels or {})}
        self.last: Any = None  # the last RouteDecision, for logs and tests

    def __deepcopy__(self, memo: dict) -> HybridClassifier:
        return self  # LiteLLM's Router deep-copies deployments: one classifier (its loaded router) is shared

    def decide(self, messages: list) -> tuple[str, Any] | None:
        """(LiteLLM tier label, hybrid-ai's RouteDecision) for OpenAI-style messages; None to decline."""
        from ..request import parse_request
        from ..routing import decide

        try:
            request = parse_request({"messages": [_plain(m) for m in messages]})
        except HybridAIError:
            return None
        decision = decide(self.policy, request, float(self.classifier.score(request)))
        label = self.labels.get(decision.first)
        return (label, decision) if label else None

    async def classify(self, context: Any) -> str | None:
        verdict = self.decide(list(context.structured_messages or context.raw_messages or []))
        if verdict is None:
            return None
        self.last = verdict[1]
        return verdict[0]


def _plain(message: Any) -> dict:
    """The role and text of a message (LiteLLM may pass extra keys, such as a name or cache_control)."""
    m = dict(message)
    return {k: m[k] for k in ("role", "content", "name") if k in m and m[k] is not None}
