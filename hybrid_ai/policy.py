"""Declarative routing policies: pydantic models (unknown keys rejected) and `load_policy`."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args

import yaml
from pydantic import AfterValidator, Field, ValidationError, field_validator, model_validator

from .backends.litellm_backend import LiteLLMTier  # noqa: F401  (re-exported: the built-in kinds' configs)
from .backends.registry import kind_names, tier_configs
from .backends.transformers_backend import TransformersTier  # noqa: F401
from .config import CloudCost, Generation, LocalCost, Nearness, Strict, TierConfig, package_path  # noqa: F401
from .errors import PolicyError

BUNDLED_DIR = Path(__file__).parent / "policies"
# a file path, where `pkg:<package>/<file>` names a file inside an installed package (config.package_path)
PackageFile = Annotated[str | None, AfterValidator(package_path)]


if TYPE_CHECKING:
    Tier = TierConfig
else:  # every registered kind's config, told apart by `backend:`
    Tier = Annotated[Union[tier_configs()], Field(discriminator="backend")]  # noqa: UP007  (a tuple of types)


class VerifierConfig(Nearness):
    """Cascade mode's check of a local answer (checks/verifier.py): escalate when P(not good enough) >= threshold."""
    model: PackageFile = Field(None, description="a verifier .npz from `hybrid-ai router train-verifier`; "
                                                 "None = shipped")
    threshold: float = Field(0.5, ge=0, le=1)
    references: str | None = Field(None, description=(
        "JSON lines of {prompt, answer}: the teacher's answers the local model was fine-tuned on (`hybrid-ai "
        "improve` writes them); a request whose question is close to a reference's (`similarity`, "
        "`min_similarity`) has its local answer checked against that answer (checks/reference.py); relative to "
        "the policy file"))
    reference_threshold: float | None = Field(None, ge=0, le=1, description=(
        "the reference check's own threshold: a request close to a reference is escalated when 1 - agreement "
        ">= it, every other request by the verifier at `threshold`; None = `threshold` for both"))


class ClassifierConfig(Strict):
    type: Literal["trained", "heuristic"] = "trained"
    model: PackageFile = Field(None, description="a router .npz from `hybrid-ai router train`; None = the shipped one")
    threshold: float = Field(0.5, ge=0, le=1)
    weak_tier: str = "local"
    strong_tier: str = "cloud"
    # route: the score alone decides. cascade: score >= threshold goes to strong_tier; the rest are answered by
    # weak_tier and its answer is checked by the verifier, which escalates doubtful ones to strong_tier.
    mode: Literal["route", "cascade"] = "route"
    verifier: VerifierConfig = VerifierConfig()


class PinnedRule(Strict):
    type: Literal["pinned"]
    name: str = "pinned"
    fallback: bool = True


class PatternRule(Strict):
    type: Literal["pattern"]
    name: str
    patterns: list[str] = Field(min_length=1)
    route: str
    fallback: bool = False  # data that must stay local must not leak to the cloud when local fails

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, v: list[str]) -> list[str]:
        for p in v:
            try:
                re.compile(p)
            except re.error as e:
                raise ValueError(f"invalid regular expression {p!r}: {e}") from None
        return v


PiiKind = Literal["email", "phone", "iban", "card", "national_id", "tax_id", "passport", "date_of_birth", "address"]


class PersonalDataRule(Strict):
    """Requests with personal data (see privacy/pii.py for what is detected and how) go to `route`."""

    type: Literal["personal_data"]
    name: str = "personal-data"
    kinds: list[PiiKind] = Field(default_factory=lambda: list(get_args(PiiKind)), min_length=1)
    route: str = "local"
    fallback: bool = False  # data that must stay local must not leak to the cloud when local fails
    # true: do not route; mask the data (placeholders) for every tier but `route`, and restore it in their answers
    mask: bool = False


class ContextRule(Strict):
    type: Literal["context"]
    name: str = "context"
    tier: str = "local"  # whose context window is checked
    route: str = "cloud"
    chars_per_token: float = Field(3.0, gt=0, description="conservative estimate; no tokenizer on the hot path")
    fallback: bool = True


Rule = Annotated[PinnedRule | PatternRule | PersonalDataRule | ContextRule, Field(discriminator="type")]


class PerKey(Strict):
    """Limits per API key id of the server's callers (store/limits.py); None = no limit."""

    rpm: int | None = Field(None, ge=1, description="requests per minute (a sliding 60 s window)")
    tpm: int | None = Field(None, ge=1, description="tokens per minute: the prompt (estimated) and max_tokens are "
                            "reserved, the actual tokens settled")
    usd_per_day: float | None = Field(None, ge=0, description="USD per UTC day on every tier: the costliest "
                                      "tier's worst case reserved, the actual cost settled")


class Limits(Strict):
    redis_url_env: str = Field("HYBRID_AI_REDIS_URL", description=(
        "variable holding a redis:// URL; when set, the cloud budget and per-key limits are shared by every "
        "process and replica using it; without it they are per process"))
    per_key: PerKey = PerKey()
    on_store_error: Literal["fail_open", "fail_closed"] = Field("fail_open", description=(
        "when Redis cannot be reached: serve without the shared limits (counted) or answer 503"))
    max_prompt_chars: int = Field(200_000, ge=1)
    max_tokens: int = Field(4096, ge=1)
    max_scan_chars: int = Field(262_144, ge=1, description=(
        "characters of a request's texts that the personal-data scan reads; a longer request (or one with more "
        "number-shaped candidates than the scan checks) counts as holding personal data: a personal_data rule "
        "keeps it on its tier, masking refuses to send it"))


class Telemetry(Strict):
    sinks: list[Literal["stderr", "structlog", "sqlite", "postgres", "prometheus", "opentelemetry"]] = ["stderr"]
    sqlite_path: str | None = None
    database_url_env: str = Field("HYBRID_AI_DATABASE_URL", description=(
        "variable holding a postgresql:// URL; when set, the route log (the sqlite or postgres sink), shadow "
        "outcomes and budget spend live in that database (docs/scale.md)"))
    retention_days: int | None = Field(None, ge=1, description="PostgreSQL: keep this many UTC days of the route "
                                       "log; older days are dropped whole (partitions), never deleted row by row")
    flush_rows: int = Field(1000, ge=1, description="PostgreSQL: rows per batch written by the flusher")
    flush_ms: int = Field(100, ge=1, description="PostgreSQL: the flusher writes at least this often")
    spool_dir: str | None = Field(None, description="PostgreSQL: the folder of the records not yet in the database "
                                  "(default HYBRID_AI_CACHE/spool/<hash of the URL>)")
    spool_max_mb: int = Field(1024, ge=1, description="PostgreSQL: spool size past which records are dropped (and "
                              "counted) while the database is away")
    log_prompts: bool = False
    savings: bool = Field(True, description="add the strong tier's counterfactual and the savings to each record")
    carbon_intensity_g_per_kwh: float = Field(400.0, ge=0, description="grid CO2 intensity for local energy")

    @property
    def database_url(self) -> str | None:
        """The PostgreSQL URL of the route log (from `database_url_env`), or None."""
        from .store import database_url

        return database_url(self)

    @property
    def has_log(self) -> bool:
        """Whether there is a route log to keep budget spend and shadow outcomes in (a `postgres` sink declares
        one whose URL is checked when the client starts: the file can be checked, and an image built, without it)."""
        return bool(self.sqlite_path or self.database_url or "postgres" in self.sinks)

    def log_target(self) -> str:
        """Where the route log is: the PostgreSQL URL, else `sqlite_path`; a clear error when neither is set."""
        from .errors import PolicyError

        target = self.database_url or ("" if "postgres" in self.sinks else self.sqlite_path)
        if not target:
            raise PolicyError(f"a postgresql:// URL is needed in ${self.database_url_env}",
                              key="telemetry.sinks" if "postgres" in self.sinks else "telemetry.sqlite_path")
        return target

    @model_validator(mode="after")
    def _sqlite_needs_path(self):
        if "sqlite" in self.sinks and not self.has_log:
            raise ValueError(f"the sqlite sink needs telemetry.sqlite_path (or a postgresql:// URL in "
                             f"${self.database_url_env})")
        return self


class ShadowConfig(Strict):
    """Shadow mode (learning/shadow.py): also send a sample of locally answered requests to the strong tier, off the
    request's path, judge the pair and keep the outcome in the route log for `router train --from-log`."""

    rate: float = Field(0.0, ge=0, le=1, description="share of eligible locally answered requests shadowed; 0 = off")
    max_usd_per_day: float = Field(1.0, ge=0, description="shadow spend cap per UTC day (strong tier and judge)")
    judge: Literal["agreement", "llm"] = "agreement"
    queue: int = Field(64, ge=1, description="samples waiting at most; more are dropped, never waited for")


class BudgetConfig(Strict):
    """Caps on what the budgeted tier spends (routing/budget.py); None = no cap."""

    cloud_usd_per_day: float | None = Field(None, ge=0, description="USD per UTC day on the budgeted tier")
    cloud_usd_per_month: float | None = Field(None, ge=0, description="USD per UTC month on the budgeted tier")
    tier: str | None = Field(None, description="the tier whose spend is capped; default classifier.strong_tier")
    action: Literal["local", "refuse"] = "local"

    @property
    def enabled(self) -> bool:
        return self.cloud_usd_per_day is not None or self.cloud_usd_per_month is not None


class Server(Strict):
    """`hybrid-ai serve`: who may call it and how much it reads."""

    auth: bool = Field(True, description="require a bearer key on every route but /healthz; off only when false")
    api_keys_env: str = Field("HYBRID_AI_API_KEYS", description="variable holding the accepted keys, comma-separated")
    admin_keys_env: str = Field("HYBRID_AI_ADMIN_KEYS", description="variable holding the keys of admin routes "
                                "(`POST /admin/reload`), comma-separated; without any, those routes do not exist")
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    header_timeout_s: float = Field(10.0, gt=0, description="a connection that has not sent a request's headers "
                                    "this long after connecting (or after its last response) is closed")
    body_timeout_s: float = Field(30.0, gt=0, description="a request whose body has not arrived whole this long "
                                  "after its headers gets 408 and its connection is closed")


class Canary(Strict):
    """A candidate policy served to a share of requests beside this one (canary.py, docs/bundles.md)."""

    bundle: str = Field(description="the candidate: a bundle version folder (with its policy.yaml) or a policy "
                        "file, relative to this policy's file")
    share: float = Field(gt=0, lt=1, description="the share of requests it answers, chosen by request id")


class Policy(Strict):
    name: str
    description: str = ""
    tiers: dict[str, Tier] = Field(min_length=1)
    classifier: ClassifierConfig = ClassifierConfig()
    rules: list[Rule] = []
    fallback: dict[str, list[str]] = {"local": ["cloud"], "cloud": ["local"]}
    limits: Limits = Limits()
    telemetry: Telemetry = Telemetry()
    server: Server = Server()
    shadow: ShadowConfig = ShadowConfig()
    budget: BudgetConfig = BudgetConfig()
    canary: Canary | None = None

    @model_validator(mode="after")
    def _tiers_exist(self):
        names = set(self.tiers)
        refs: list[tuple[str, str]] = [("classifier.weak_tier", self.classifier.weak_tier),
                                       ("classifier.strong_tier", self.classifier.strong_tier)]
        for i, r in enumerate(self.rules):
            for attr in ("route", "tier"):
                if hasattr(r, attr):
                    refs.append((f"rules[{i}].{attr}", getattr(r, attr)))
        if self.budget.tier is not None:
            refs.append(("budget.tier", self.budget.tier))
        for src, dsts in self.fallback.items():
            refs.append(("fallback", src))
            refs += [(f"fallback.{src}", d) for d in dsts]
        for key, name in refs:
            if name not in names:
                raise ValueError(f"{key}: unknown tier {name!r} (tiers are: {', '.join(sorted(names))})")
        for i, r in enumerate(self.rules):
            if isinstance(r, PersonalDataRule) and not self.tiers[r.route].is_private:
                raise ValueError(f"rules[{i}].route: personal data would reach tier {r.route!r}, which is not "
                                 f"private (an in-process tier, or a litellm tier on your own servers with "
                                 f"private: true)")
        if self.budget.enabled and not self.telemetry.has_log:
            raise ValueError("budget: the spend is kept in the route log so that it survives restarts; set "
                             "telemetry.sqlite_path (or a postgresql:// URL in "
                             f"${self.telemetry.database_url_env})")
        if self.shadow.rate > 0 and not self.telemetry.has_log:
            raise ValueError("shadow.rate: shadow outcomes are kept in the route log; set telemetry.sqlite_path "
                             f"(or a postgresql:// URL in ${self.telemetry.database_url_env})")
        return self

    @cached_property
    def hash(self) -> str:
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Policy:
        """A copy, with its hash computed afresh (a cached one would describe the original)."""
        copy = super().model_copy(update=update, deep=deep)
        copy.__dict__.pop("hash", None)
        return copy


def _key(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in kind_names() or part in ("pinned", "pattern", "personal_data", "context"):
            continue  # discriminator tags pydantic adds to the location
        else:
            out += f".{part}" if out else str(part)
    return out


def _explain(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key"
    if err["type"] == "missing":
        return "required key is missing"
    return err["msg"].removeprefix("Value error, ")


def policy_from_dict(data: Any, path: str | None = None) -> Policy:
    if not isinstance(data, dict):
        raise PolicyError(f"a policy must be a mapping, got {type(data).__name__}", path=path)
    try:
        return Policy.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        more = f" (and {e.error_count() - 1} more problem(s))" if e.error_count() > 1 else ""
        raise PolicyError(_explain(err) + more, path=path, key=_key(err["loc"]) or None) from None


def bundled_policies() -> list[str]:
    return sorted(p.stem for p in BUNDLED_DIR.glob("*.yaml"))


def resolve_policy_path(source: str | Path) -> Path:
    p = Path(source)
    if not p.exists() and p.suffix == "" and len(p.parts) == 1 and (BUNDLED_DIR / f"{p}.yaml").exists():
        return BUNDLED_DIR / f"{p}.yaml"  # a bundled policy by name, e.g. "local-only"
    return p


def _canary_file(named: str, policy_path: Path) -> str:
    """The canary's policy file: `named` relative to the policy that names it; a version folder's policy.yaml."""
    found = Path(named) if Path(named).is_absolute() else policy_path.parent / named
    if found.is_dir():
        found = found / "policy.yaml"
    if not found.is_file():
        raise PolicyError(f"canary policy not found: {found}", path=str(policy_path), key="canary.bundle")
    return str(found)


def load_policy(source: str | Path | dict | Policy | None = None) -> Policy:
    """Load a policy: None (the bundled default), a bundled name, a YAML path, a dict or a Policy."""
    if isinstance(source, Policy):
        return source
    if isinstance(source, dict):
        return policy_from_dict(source)
    path = resolve_policy_path(source if source is not None else "default")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"policy file not found (bundled policies: {', '.join(bundled_policies())})",
                          path=str(path)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise PolicyError(f"cannot read policy file: {e}", path=str(path)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PolicyError(f"invalid YAML{where}: {getattr(e, 'problem', e)}", path=str(path)) from None
    policy = policy_from_dict(data, str(path))
    model = policy.classifier.model
    if model and not Path(model).is_absolute() and (path.parent / model).exists():
        # a router model named relative to the policy file travels with it
        policy = policy.model_copy(update={"classifier": policy.classifier.model_copy(
            update={"model": str(path.parent / model)})})
    tiers = {}
    for name, tier in policy.tiers.items():  # so does an adapter named relative to it
        adapter = getattr(tier, "adapter", None)
        if adapter and not Path(adapter).is_absolute() and (path.parent / adapter).exists():
            tier = tiers[name] = tier.model_copy(update={"adapter": str(path.parent / adapter)})
        domain = getattr(tier, "domain", None)
        if domain is not None:  # and a domain's adapter and references
            moved = {k: str(path.parent / v) for k in ("adapter", "references")
                     if not Path(v := getattr(domain, k)).is_absolute()}
            domain = domain.model_copy(update=moved)
            tiers[name] = tier.model_copy(update={"domain": domain})
            for key, must in (("adapter", "adapter_config.json"), ("references", None)):
                if not (Path(getattr(domain, key)) / must if must else Path(getattr(domain, key))).exists():
                    raise PolicyError(f"not found: {getattr(domain, key)}", path=str(path),
                                      key=f"tiers.{name}.domain.{key}")
    if tiers:
        policy = policy.model_copy(update={"tiers": {**policy.tiers, **tiers}})
    for key in ("model", "references"):  # so do the verifier's files
        value = getattr(policy.classifier.verifier, key)
        if value and not Path(value).is_absolute() and (path.parent / value).exists():
            policy = policy.model_copy(update={"classifier": policy.classifier.model_copy(update={
                "verifier": policy.classifier.verifier.model_copy(update={key: str(path.parent / value)})})})
    if policy.canary is not None:
        policy = policy.model_copy(update={"canary": policy.canary.model_copy(update={
            "bundle": _canary_file(policy.canary.bundle, path)})})
    if policy.classifier.model and not Path(policy.classifier.model).exists():
        raise PolicyError(f"router model not found: {policy.classifier.model}", path=str(path), key="classifier.model")
    vmodel = policy.classifier.verifier.model
    if vmodel and not Path(vmodel).exists():
        raise PolicyError(f"verifier model not found: {vmodel}", path=str(path), key="classifier.verifier.model")
    refs = policy.classifier.verifier.references
    if refs and not Path(refs).exists():
        raise PolicyError(f"references not found: {refs}", path=str(path), key="classifier.verifier.references")
    return policy
