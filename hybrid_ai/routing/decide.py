"""`decide(policy, request, score) -> RouteDecision`: a pure function. Hard rules first, in order;
otherwise the classifier's score against the threshold. Then the policy's fallback order."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

from ..errors import InvalidRequest
from ..policy import ContextRule, PatternRule, PersonalDataRule, PinnedRule, Policy
from ..privacy import pii
from ..types import ChatRequest, Message, RouteDecision


@lru_cache(maxsize=256)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern, ...]:
    # searched one by one: each keeps re's fast scan for its first literal / class; one alternation loses it
    return tuple(re.compile(p) for p in patterns)


def _rule_route(rule, policy: Policy, request: ChatRequest) -> str | None:
    """The tier a rule sends the request to, or None if it does not fire."""
    if isinstance(rule, PinnedRule):
        if request.route is None:
            return None
        if request.route not in policy.tiers:
            raise InvalidRequest(f"unknown tier {request.route!r} (tiers: {', '.join(policy.tiers)})", field="route")
        return request.route
    if isinstance(rule, PatternRule):
        text = request.text
        return rule.route if any(p.search(text) for p in _compiled(tuple(rule.patterns))) else None
    if isinstance(rule, PersonalDataRule):
        return rule.route if personal_data(policy, rule, request) else None
    if isinstance(rule, ContextRule):
        tier = policy.tiers[rule.tier]
        need = len(request.text) / rule.chars_per_token + (request.max_tokens or tier.generation.max_tokens)
        return rule.route if need > tier.context_window else None
    raise TypeError(f"unhandled rule {rule!r}")  # unreachable: the policy validates rule types


def personal_data(policy: Policy, rule: PersonalDataRule, request: ChatRequest) -> str | None:
    """What the rule finds in every text of the request (a kind, or why the request cannot be scanned), or None."""
    try:
        hits = pii.in_request(request, tuple(rule.kinds), policy.limits.max_scan_chars)
    except pii.Unscannable as e:
        return f"unscanned ({e})"
    return hits[0][0] if hits else None


def _keeps(policy: Policy, rule: PersonalDataRule, request: ChatRequest) -> str | None:
    """Why the rule keeps the request on its tier, or None: personal data found, or for a masking rule a request
    it cannot scan (and so cannot mask)."""
    found = personal_data(policy, rule, request)
    return found if found and (not rule.mask or found.startswith("unscanned")) else None


def _pin_allowed(policy: Policy, request: ChatRequest) -> None:
    """A pin never sends personal data where a personal-data rule forbids it, whatever the rules' order."""
    for rule in policy.rules:
        if isinstance(rule, PersonalDataRule) and rule.route != request.route:
            if found := _keeps(policy, rule, request):
                raise InvalidRequest(f"cannot pin this request to {request.route!r}: it holds personal data "
                                     f"({found}) that rule {rule.name!r} keeps on {rule.route!r}", field="route")


def _fits(policy: Policy, rule, request: ChatRequest, tier: str) -> None:
    """A request that a privacy rule keeps on `tier` must fit that tier's context: else a 400 that says so (it
    could not be answered anywhere it may go)."""
    config = policy.tiers[tier]
    need = len(request.text) / 3.0 + (request.max_tokens or config.generation.max_tokens)
    if need > config.context_window:
        raise InvalidRequest(f"rule {rule.name!r} keeps this request on {tier!r} (personal data), but it needs about "
                             f"{need:,.0f} tokens and {tier!r} has a context window of {config.context_window:,} "
                             f"(tiers.{tier}.context_window): shorten it or remove the personal data",
                             field="messages")


def decide_tiers(policy: Policy, first: str) -> tuple[str, ...]:
    """The tiers a decision that starts at `first` tries, by the policy's fallback order."""
    return _with_fallback(policy, first, True)


def _with_fallback(policy: Policy, first: str, allow: bool) -> tuple[str, ...]:
    tiers = [first]
    if allow:
        tiers += [t for t in policy.fallback.get(first, []) if t not in tiers]
    return tuple(tiers)


def decide(policy: Policy, request: ChatRequest, score: float | None) -> RouteDecision:
    """The rules' or the score's tiers, then only those that support what the request needs (tools, JSON)."""
    decision = _decide(policy, request, score)
    return _capable(policy, request, decision) if request.needs else decision


_FIELD = {"json_object": "response_format", "json_schema": "response_format", "logprobs": "logprobs",
          "top_logprobs": "top_logprobs"}  # the request field behind each need (tools: `tools` or `messages`)


def lacks(policy: Policy, tier: str, needs: tuple[str, ...]) -> list[str]:
    """What of `needs` the policy's `tier` does not support (its `supports`)."""
    return [n for n in needs if n not in policy.tiers[tier].capabilities]


def _capable(policy: Policy, request: ChatRequest, decision: RouteDecision) -> RouteDecision:
    """The decision's tiers that support what the request needs. When none does, a decision by the score goes to
    the strong tier's chain; a rule's (personal data kept local, a pinned tier) is refused: a rule is never
    bypassed to reach a capable tier."""
    needs = request.needs
    pinned = any(isinstance(r, PinnedRule) and r.name == decision.rule for r in policy.rules)
    if pinned and (cannot := lacks(policy, decision.tiers[0], needs)):
        tier = decision.tiers[0]
        raise InvalidRequest(f"the request is pinned to {tier!r}, but {tier!r} does not support {', '.join(cannot)} "
                             f"(its `supports` in the policy): pin another tier or drop {', '.join(cannot)}",
                             field="route")
    keep = tuple(t for t in decision.tiers if not lacks(policy, t, needs))
    if not keep and decision.rule is None:
        keep = tuple(t for t in _with_fallback(policy, policy.classifier.strong_tier, True)
                     if not lacks(policy, t, needs))
    if not keep:
        tiers = decision.tiers if decision.rule else tuple(policy.tiers)
        missing = "; ".join(f"{t!r} does not support {', '.join(lacks(policy, t, needs))}" for t in tiers)
        why = f"rule {decision.rule!r} sends it to {', '.join(map(repr, tiers))}" if decision.rule else \
            f"policy {policy.name!r} has no tier that does"
        lacking = next(n for t in tiers for n in lacks(policy, t, needs))
        field = "route" if pinned else _FIELD.get(lacking) or ("tools" if request.tools else "messages")
        raise InvalidRequest(f"the request needs {', '.join(needs)}; {why}: {missing} (a tier's `supports` in "
                             f"the policy)", field=field)
    skipped = tuple(t for t in decision.tiers if t not in keep)
    return replace(decision, tiers=keep, needs=needs, skipped=skipped)


def _decide(policy: Policy, request: ChatRequest, score: float | None) -> RouteDecision:
    threshold = policy.classifier.threshold
    if request.route is not None and not any(isinstance(r, PinnedRule) for r in policy.rules):
        raise InvalidRequest(f"policy {policy.name!r} has no 'pinned' rule, so a request cannot choose its tier",
                             field="route")
    if request.route is not None:
        _pin_allowed(policy, request)
    for rule in policy.rules:
        if isinstance(rule, PersonalDataRule) and rule.mask:  # masks on the way to other tiers (masking.py);
            if not _keeps(policy, rule, request):  # routes only a request it cannot scan: that stays on its tier
                continue
            _fits(policy, rule, request, rule.route)
            return RouteDecision((rule.route,), f"rule:{rule.name}", score, threshold, rule=rule.name)
        route = _rule_route(rule, policy, request)
        if route is not None:
            if isinstance(rule, PersonalDataRule) and not rule.fallback:
                _fits(policy, rule, request, route)
            return RouteDecision(_with_fallback(policy, route, rule.fallback), f"rule:{rule.name}", score,
                                 threshold, rule=rule.name)
    strong = score is not None and score >= threshold
    first = policy.classifier.strong_tier if strong else policy.classifier.weak_tier
    reason = "score>=threshold" if strong else "score<threshold"
    return RouteDecision(_with_fallback(policy, first, True), reason, score, threshold)


def keeps_from(policy: Policy, text: str, tier: str) -> bool:
    """Whether a content rule of the policy (pattern, personal data) would send `text` somewhere other than `tier`:
    such text must not reach `tier`, nor become training data taken from it."""
    request = ChatRequest(messages=(Message("user", text),))
    for rule in policy.rules:
        if isinstance(rule, (PatternRule, PersonalDataRule)) and rule.route != tier:
            if _rule_route(rule, policy, request) is not None:
                return True
    return False
