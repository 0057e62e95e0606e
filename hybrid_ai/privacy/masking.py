"""Personal data masked on its way to a tier, and put back in the answer: a `personal_data` rule with `mask: true`
no longer routes the request to its `route` tier; it routes by the score like any other request, and every other
tier (the cloud) gets the request with each detected value replaced by a placeholder such as `[EMAIL_1]`. The
placeholders in that tier's answer (its text, streamed or not, and its tool calls' arguments) are replaced by the
values again before the caller sees it. So the cloud can still rewrite, format or answer around an e-mail address,
a phone number or an IBAN that it never sees; what it cannot do is answer from the value itself ("whose address is
this?"), and the eval counts such answers as wrong (evaluation/replay.py).

Detection is the rule's (privacy/pii.py): what it misses is not masked, exactly as a `route: local` rule would send
it to the cloud. The same value gets the same placeholder everywhere in the conversation. A request that cannot be
masked is not sent: that tier fails with `error_kind: masking` and the chain goes on. The cloud's per-token
log-probabilities (when asked) keep the placeholders' tokens."""

from __future__ import annotations

import json
import re
from contextlib import aclosing, closing
from dataclasses import replace

from .. import offload
from ..backends.base import Backend, WrapperBackend
from ..errors import BackendError
from ..policy import PersonalDataRule, Policy
from ..types import BackendResult, ChatRequest, ToolCall, ToolCallDelta
from . import pii

_PLACEHOLDER = re.compile(r"\[[A-Z_]+_\d+\]")
_LONGEST = 32  # no placeholder is longer: a streamed tail this long without "]" is plain text
MAX_VALUES = 64  # a request with more personal data values than this is refused (the tier is not called)


class Mask:
    """One request's values and their placeholders."""

    def __init__(self, kinds: tuple[str, ...], taken: str = "", max_chars: int | None = None):
        self.kinds, self.max_chars = kinds, max_chars
        self.taken = taken  # text whose placeholder-shaped strings are not ours to restore
        self.values: dict[str, str] = {}  # value -> placeholder
        self._per_kind: dict[str, int] = {}
        self._placed: set[str] = set()

    def text(self, text: str) -> str:
        """`text` with every detected value replaced by its placeholder (ValueError when there are too many)."""
        self._assign(pii.find_all(text, self.kinds))
        return self._put(text)

    def _assign(self, hits: list[tuple[str, str]]) -> None:
        if len(self.values) + len(hits) > MAX_VALUES:
            raise ValueError(f"more than {MAX_VALUES} personal data values in one request")
        for kind, value in hits:
            if value not in self.values:
                self.values[value] = self._placeholder(kind)
        self.values = dict(sorted(self.values.items(), key=lambda kv: -len(kv[0])))  # longest first

    def _put(self, text: str) -> str:
        """`text` with the values known so far replaced by their placeholders (in its normalised form, which is
        where the value was found; a text without values is returned as written)."""
        if not text or not self.values:
            return text
        norm = pii.normalize(text)
        found = [v for v in self.values if v in norm]
        if not found:
            return text
        for v in found:  # longest first (the order of self.values)
            norm = norm.replace(v, self.values[v])
        self._placed.update(found)
        return norm

    def _placeholder(self, kind: str) -> str:
        """The next placeholder of `kind` that the request does not already contain (a user who writes
        "[EMAIL_1]" keeps it as written)."""
        while True:
            n = self._per_kind[kind] = self._per_kind.get(kind, 0) + 1
            if (placeholder := f"[{kind.upper()}_{n}]") not in self.taken:
                return placeholder

    def _json(self, value):
        """A JSON value (tools, a response format) with its strings masked."""
        if isinstance(value, str):
            return self._put(value)
        if isinstance(value, list):
            return [self._json(v) for v in value]
        if isinstance(value, dict):
            return {k: self._json(v) for k, v in value.items()}
        return value

    def request(self, request: ChatRequest) -> ChatRequest:
        """The request with every value masked in every field that reaches the tier; ValueError when that cannot
        be done (the text cannot be scanned, too many values, or a value that spans two fields)."""
        hits = pii.in_request(request, self.kinds, self.max_chars)
        if not hits:
            return request
        self.taken = request.scan_text
        self._assign(hits)
        t = self._put
        messages = tuple(replace(
            m, content=t(m.content), name=t(m.name) if m.name else m.name,
            tool_call_id=t(m.tool_call_id) if m.tool_call_id else m.tool_call_id,
            tool_calls=tuple(ToolCall(t(c.id), t(c.name), t(c.arguments)) for c in m.tool_calls))
            for m in request.messages)
        masked = replace(request, messages=messages, user=t(request.user) if request.user else request.user,
                         stop=tuple(t(x) for x in request.stop), tools=tuple(self._json(list(request.tools))),
                         response_format=self._json(request.response_format))
        if missed := [v for v in self.values if v not in self._placed]:
            kind = next(k for k, v in hits if v == missed[0])
            raise ValueError(f"a detected {kind} spans several fields of the request and cannot be masked")
        return masked

    def restore(self, text: str, escape: bool = False) -> str:
        """The answer with the placeholders replaced by their values (JSON-escaped with `escape`, for JSON text
        such as tool-call arguments, so a value can never close a string and add keys)."""
        if not self.values or "[" not in text:
            return text
        back = {p: (json.dumps(v)[1:-1] if escape else v) for v, p in self.values.items()}
        return _PLACEHOLDER.sub(lambda m: back.get(m.group(0), m.group(0)), text)

    def result(self, result: BackendResult) -> BackendResult:
        result.text = self.restore(result.text)
        if result.tool_calls:
            result.tool_calls = [ToolCall(c.id, c.name, self.restore(c.arguments, escape=True))
                                 for c in result.tool_calls]
        result.info = {**result.info, "masked_values": len(self.values)}
        return result


class Restorer:
    """Restores a stream's pieces: text, and each tool call's arguments apart. A piece that ends inside a possible
    placeholder is held until it closes (or the stream ends)."""

    def __init__(self, mask: Mask, escape: bool = False):
        self.mask, self._held, self.escape = mask, "", escape  # escape: JSON text (a tool call's arguments)
        self._calls: dict[int, Restorer] = {}  # tool call index -> its arguments' restorer

    def piece(self, piece):
        """A stream piece restored: text (perhaps shorter, or empty while held), or a tool-call piece."""
        if isinstance(piece, str):
            return self.add(piece)
        args = self._calls.setdefault(piece.index, Restorer(self.mask, escape=True)).add(piece.arguments)
        return replace(piece, arguments=args)

    def add(self, piece: str) -> str:
        text = self._held + piece
        cut = text.rfind("[")
        if cut >= 0 and "]" not in text[cut:] and len(text) - cut < _LONGEST:
            text, self._held = text[:cut], text[cut:]
        else:
            self._held = ""
        return self.mask.restore(text, self.escape)

    def rest(self) -> list:
        """What is still held at the end of the stream: a text piece, then a piece per tool call."""
        text, self._held = self._held, ""
        out: list = [self.mask.restore(text, self.escape)] if text else []
        return out + [ToolCallDelta(i, arguments=r.rest()[0]) for i, r in self._calls.items() if r._held]


class MaskingBackend(WrapperBackend):
    """A tier's backend that gets requests with personal data masked (see the module docstring). A backend that
    answers from recordings (the eval's replay) may define `complete_masked(masked, original, mask, generation)`
    to decide whether its recorded answer could have come from the masked request."""

    def __init__(self, inner: Backend, kinds: tuple[str, ...], max_chars: int | None = None):
        super().__init__(inner)
        self.kinds, self.max_chars = kinds, max_chars
        self.batches = False  # complete_batch: Backend's, one masked request after another

    def describe(self):
        return {**self.inner.describe(), "masks": list(self.kinds)}

    def _masked(self, request: ChatRequest) -> tuple[ChatRequest, Mask]:
        mask = Mask(self.kinds, max_chars=self.max_chars)
        try:
            return mask.request(request), mask
        except ValueError as e:  # pii.Unscannable too: the tier is not called, the chain goes on
            raise BackendError(f"personal data not masked: {e}", kind="masking") from None

    async def _amasked(self, request: ChatRequest) -> tuple[ChatRequest, Mask]:
        """_masked, in a worker thread for a long request (the scan grows with the text; the event loop must not)."""
        if len(request.scan_text) <= offload.THRESHOLD_CHARS:
            return self._masked(request)
        return await offload.run(self._masked, request)

    def complete(self, request, generation):
        masked, mask = self._masked(request)
        if not mask.values:
            return self.inner.complete(request, generation)
        answer = getattr(self.inner, "complete_masked", None)
        got = answer(masked, request, mask, generation) if answer else self.inner.complete(masked, generation)
        return mask.result(got)

    async def acomplete(self, request, generation):
        masked, mask = await self._amasked(request)
        if not mask.values:
            return await self.inner.acomplete(request, generation)
        if hasattr(self.inner, "complete_masked"):  # recorded answers: complete() decides, in a worker thread
            return await offload.run(self.complete, request, generation)
        return mask.result(await self.inner.acomplete(masked, generation))

    def stream(self, request, generation, state):
        masked, mask = self._masked(request)
        if not mask.values:
            yield from self.inner.stream(request, generation, state)
            return
        yield from _restored(self.inner.stream(masked, generation, state), mask, state)

    async def astream(self, request, generation, state):
        masked, mask = await self._amasked(request)
        restorer = Restorer(mask)
        async with aclosing(self.inner.astream(masked, generation, state)) as pieces:
            async for piece in pieces:
                if out := restorer.piece(piece):
                    yield out
        for tail in restorer.rest():
            yield tail
        if state.result is not None and mask.values:
            mask.result(state.result)


def _restored(pieces, mask: Mask, state):
    restorer = Restorer(mask)
    with closing(pieces):
        for piece in pieces:
            if out := restorer.piece(piece):
                yield out
    yield from restorer.rest()
    if state.result is not None:
        mask.result(state.result)


def masked_tiers(policy: Policy) -> dict[str, tuple[str, ...]]:
    """Tier -> the kinds of personal data masked on its way there (from the policy's `mask: true` rules)."""
    out: dict[str, set[str]] = {}
    for rule in policy.rules:
        if isinstance(rule, PersonalDataRule) and rule.mask:
            for tier in policy.tiers:
                if tier != rule.route:
                    out.setdefault(tier, set()).update(rule.kinds)
    return {t: tuple(k for k in pii.KINDS if k in kinds) for t, kinds in out.items()}


def wrap(policy: Policy, name: str, backend: Backend) -> Backend:
    """`backend` as tier `name` of `policy` gets it: masked where a rule says so."""
    kinds = masked_tiers(policy).get(name)
    if not kinds or isinstance(backend, MaskingBackend):
        return backend
    return MaskingBackend(backend, kinds, policy.limits.max_scan_chars)
