"""Backend kinds, registered by name: the policy's `backend:` value -> its tier config model (which names the
engine class, where it runs and how it is priced). The built-in kinds are `transformers`, `ctranslate2`, `onnxruntime`,
`llama_cpp` and `litellm`; a third
party adds one with an entry point in the group `hybrid_ai.backends` whose value is its config class:

    [project.entry-points."hybrid_ai.backends"]
    mykind = "my_package.hybrid:MyTier"   # a hybrid_ai.config.TierConfig with backend: Literal["mykind"]

Entry points are read once, when the policy module is first imported (the policy's tier union is built then)."""

from __future__ import annotations

from functools import lru_cache

from ..config import TierConfig
from ..errors import PolicyError
from .ct2_backend import CTranslate2Tier
from .litellm_backend import LiteLLMTier
from .llama_cpp_backend import LlamaCppTier
from .onnx_backend import OnnxTier
from .transformers_backend import TransformersTier

GROUP = "hybrid_ai.backends"
BUILTIN: tuple[type[TierConfig], ...] = (TransformersTier, CTranslate2Tier, OnnxTier, LlamaCppTier,
                                            LiteLLMTier)


def _kind(config: type[TierConfig]) -> str:
    return config.model_fields["backend"].default


@lru_cache(maxsize=1)
def tier_configs() -> tuple[type[TierConfig], ...]:
    """Every registered kind's config model: the built-ins, then those of installed entry points."""
    from importlib.metadata import entry_points

    found = list(BUILTIN)
    for ep in entry_points(group=GROUP):
        try:
            config = ep.load()
        except Exception as e:
            raise PolicyError(f"backend kind {ep.name!r} ({ep.value}, entry point group {GROUP}) cannot be "
                              f"loaded: {type(e).__name__}: {e}") from None
        if not (isinstance(config, type) and issubclass(config, TierConfig) and _kind(config) == ep.name):
            raise PolicyError(f"entry point {ep.name!r} in {GROUP} must name a TierConfig subclass whose "
                              f"`backend` is {ep.name!r}, got {ep.value}")
        if ep.name not in {_kind(c) for c in found}:
            found.append(config)
    return tuple(found)


def kind_names() -> frozenset[str]:
    return frozenset(_kind(c) for c in tier_configs())


def build_backend(tier_name: str, tier: TierConfig):
    """The Backend serving one tier (the kind's `build`: its engine, or what the kind picks for this machine); a
    local tier with a `domain` gets two, split by request (backends/domain.py)."""
    if getattr(tier, "domain", None) is not None:
        from .domain import split

        return split(tier_name, tier)
    return tier.build(tier_name)
