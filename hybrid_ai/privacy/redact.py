"""Secrets never leave: every text that reaches a caller, a record or a log passes through `scrub`.

Two nets:
- the values of the environment variables that policies name as credentials (whatever their shape: a 32-character
  hex key is caught as surely as an `sk-` one). Not only the whole value: any run of `MIN_RUN` (12) or more of its
  characters is redacted, as an upstream's "Incorrect API key provided: 5f0c2a9e8b7d4c3a1e6f****8e1f" shows a
  prefix and a suffix; also when written with spaces or dashes between its characters, base64-encoded (an HTTP
  Basic header; each of the three alignments) or URL-encoded;
- patterns of well-known key formats, and `key=VALUE` pairs.
`public_message` also drops tracebacks and file paths, for error bodies that reach callers; `safe_url` masks a
URL's user info and query string wherever a URL is shown (/healthz, records, logs)."""

from __future__ import annotations

import base64
import os
import re
from functools import lru_cache
from urllib.parse import quote, urlsplit, urlunsplit

REDACTED = "[redacted]"
MIN_SECRET = 6  # shorter values would redact ordinary words
MIN_RUN = 12  # a run this long of a watched secret's characters is redacted wherever it appears
_SEPARATORS = str.maketrans("", "", " \t\r\n-_.:")  # what a "spaced" key may have between its characters

_PATTERNS = re.compile(
    r"(?:sk|pk|rk)-[A-Za-z0-9_-]{8,}"                       # OpenAI, Anthropic (sk-ant-...), Stripe-style
    r"|(?:Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}"     # an Authorization header value
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"                        # AWS access key id
    r"|\bAIza[0-9A-Za-z_-]{30,}"                             # Google API key
    r"|\b(?:ghp|gho|ghu|ghs|ghr|github_pat|glpat|xox[abpr])[-_][A-Za-z0-9_-]{8,}"  # GitHub, GitLab, Slack
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"  # a JWT
    r"|(?<![A-Za-z0-9_-])[0-9a-fA-F]{32,}(?![A-Za-z0-9_-])"       # a bare hex key (not a `chatcmpl-<hex>` id)
    r"|(?i:(?<=api[_-]key[=:])|(?<=api[_-]key\": \")|(?<=token[=:])|(?<=secret[=:])|(?<=password[=:]))"
    r"[^\s\"'&,;]{6,}"                                       # key=VALUE in URLs, headers and messages
)
_TRACEBACK = re.compile(r"Traceback \(most recent call last\):.*", re.S)
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:/[\w.@+-]+){2,}\.py\b|File \"[^\"]+\"(?:, line \d+)?")

_watched: set[str] = set()
_watched_sorted: tuple[str, ...] = ()


def watch_env(*names: str | None) -> None:
    """Treat the values of these environment variables as secrets from now on (read at each scrub, so a key
    rotated in the environment is still caught)."""
    global _watched_sorted
    _watched.update(n for n in names if n)
    _watched_sorted = tuple(sorted(_watched))


class _Secrets:
    """The watched values, prepared once per set of values: whole values (short ones), and the MIN_RUN-character
    windows of each long value and of its encoded forms, as written and with separators removed."""

    def __init__(self, values: tuple[str, ...]):
        self.short = tuple(v for v in values if len(v) < MIN_RUN)
        forms: set[str] = set()
        for v in (v for v in values if len(v) >= MIN_RUN):
            forms.update(_encoded_forms(v))
        self.grams = frozenset(f[i:i + MIN_RUN] for f in forms for i in range(len(f) - MIN_RUN + 1))
        squeezed = {f.translate(_SEPARATORS) for f in forms}
        self.squeezed_grams = frozenset(f[i:i + MIN_RUN] for f in squeezed for i in range(len(f) - MIN_RUN + 1))
        # any run of MIN_RUN characters of a form holds one of its 6-character pieces at a multiple of 6: a cheap
        # first look (a few substring searches) before the windows are searched
        step = MIN_RUN // 2
        self.probes = frozenset(f[i:i + step] for f in forms for i in range(0, len(f) - step + 1, step))
        self.squeezed_probes = frozenset(f[i:i + step] for f in squeezed for i in range(0, len(f) - step + 1, step))
        self.longest = max((len(f) for f in forms), default=0)
        self.forms = tuple(forms | squeezed)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where runs of watched characters are, merged (start, end)."""
        squeezed = text.translate(_SEPARATORS)
        plain = any(p in text for p in self.probes)
        spaced = len(squeezed) != len(text) and any(p in squeezed for p in self.squeezed_probes)
        if not (plain or spaced):
            return []
        found: list[tuple[int, int]] = []
        for g in self.grams if plain else ():
            i = text.find(g)
            while i >= 0:
                found.append((i, i + MIN_RUN))
                i = text.find(g, i + 1)
        if spaced and any(g in squeezed for g in self.squeezed_grams):
            index = [i for i, c in enumerate(text) if c.translate(_SEPARATORS)]
            for g in self.squeezed_grams:
                i = squeezed.find(g)
                while i >= 0:
                    found.append((index[i], index[i + MIN_RUN - 1] + 1))
                    i = squeezed.find(g, i + 1)
        found.sort()
        merged: list[tuple[int, int]] = []
        for a, b in found:
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
            else:
                merged.append((a, b))
        return merged


def _encoded_forms(value: str) -> set[str]:
    """The value, URL-encoded, and base64-encoded (standard and URL-safe alphabets) at each of the three byte
    alignments it can have inside a longer encoded text (only the characters that the value alone decides)."""
    raw = value.encode()
    forms = {value, quote(value, safe="")}
    for pad in range(3):
        for enc in (base64.b64encode, base64.urlsafe_b64encode):
            full = enc(b"\0" * pad + raw).decode()
            start = (pad * 4 + 2) // 3  # characters that also depend on the bytes before
            end = ((pad + len(raw)) // 3) * 4  # the last complete group's end: later ones depend on what follows
            if end - start >= MIN_RUN:
                forms.add(full[start:end])
    return forms


def _values() -> _Secrets:
    return _prepared(tuple(os.environ.get(n) for n in _watched_sorted))


@lru_cache(maxsize=8)
def _prepared(current: tuple[str | None, ...]) -> _Secrets:
    vals = {v for v in current if v}
    parts = {p.strip() for v in vals for p in v.split(",")}  # a variable may hold several comma-separated keys
    return _Secrets(tuple(sorted((s for s in vals | parts if len(s) >= MIN_SECRET), key=len, reverse=True)))


def scrub(text: str) -> str:
    """`text` with every known secret value, any long run of one, and key-like strings replaced by [redacted]."""
    if not text:
        return text
    secrets = _values()
    spans = secrets.spans(text) if secrets.grams else []
    if spans:
        out, last = [], 0
        for a, b in spans:
            out += [text[last:a], REDACTED]
            last = b
        text = "".join(out) + text[last:]
    return _rest_scrubbed(text, secrets)


class StreamScrubber:
    """`scrub` for a text that arrives in pieces (a streamed answer). A run of a secret can cross pieces, so each
    piece is searched together with the last characters already sent (as they were), and a tail that could be the
    start of a run (4 or more characters found in a secret's forms) is held until the next piece shows whether it
    is (or the stream ends). At most the first 3 characters of a run split across pieces can pass."""

    HOLD_FROM = 4

    def __init__(self) -> None:
        self._held, self._sent = "", ""  # _sent: the last characters sent, as they were (not redacted)

    def _tail(self, text: str, secrets: _Secrets) -> int:
        """Length of the longest tail of `text` (HOLD_FROM or more characters) that a secret's form contains."""
        n = 0
        for size in range(self.HOLD_FROM, min(len(text), secrets.longest) + 1):
            tail = text[-size:]
            if not any(tail in f for f in secrets.forms):
                break
            n = size
        return n

    def _out(self, text: str, secrets: _Secrets) -> str:
        """`text` scrubbed, read after what was sent before it."""
        ctx = self._sent
        spans = secrets.spans(ctx + text) if secrets.grams else []
        out, last = [], 0
        for a, b in spans:
            a, b = max(a - len(ctx), 0), b - len(ctx)
            if b <= 0 or a < last:
                continue
            out += [text[last:a], REDACTED]
            last = b
        self._sent = (ctx + text)[-MIN_RUN:]
        return _rest_scrubbed("".join(out) + text[last:], secrets)

    def add(self, piece: str) -> str:
        text = self._held + piece
        secrets = _values()
        if not secrets.grams:
            self._held = ""
            return _rest_scrubbed(text, secrets)
        keep = min(self._tail(self._sent + text, secrets), len(text))
        self._held = text[len(text) - keep:] if keep else ""
        return self._out(text[:len(text) - keep], secrets) if len(text) > keep else ""

    def rest(self) -> str:
        text, self._held = self._held, ""
        return self._out(text, _values()) if text else ""


def _rest_scrubbed(text: str, secrets: _Secrets) -> str:
    """The short watched values and the key patterns (what `scrub` does after the runs)."""
    for value in secrets.short:
        if value in text:
            text = text.replace(value, REDACTED)
    return _PATTERNS.sub(REDACTED, text)


PROMPT_RUN = 24  # an error text's runs of this many characters found in the prompt are withheld


def unquoted(text: str | None, prompt: str) -> str | None:
    """`text` (an upstream's error) without the runs of PROMPT_RUN or more characters it copied from `prompt`, for
    records and logs that do not keep prompts (`telemetry.log_prompts: false`): an upstream that quotes the request
    in its error does not get it logged."""
    step = PROMPT_RUN // 3  # a run of PROMPT_RUN characters covers two whole windows of `step` at multiples of it
    if not text or not prompt or len(text) < PROMPT_RUN:
        return text
    spans: list[list[int]] = []
    for i in range(0, len(text) - step + 1, step):
        if text[i:i + step] in prompt:
            if spans and spans[-1][1] == i:
                spans[-1][1] = i + step
            else:
                spans.append([i, i + step])
    out, last = [], 0
    for a, b in spans:
        if b - a >= 2 * step:
            out += [text[last:a], "[prompt withheld]"]
            last = b
    return "".join(out) + text[last:] if out else text


def safe_url(url: str | None) -> str | None:
    """A URL fit to show: its user info and query string masked (`https://***@host/v1?***`)."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, netloc, parts.path, "***" if parts.query else "", ""))


def public_message(text: str, limit: int = 600) -> str:
    """An error text fit for a caller: scrubbed, without tracebacks or file paths, at most `limit` characters."""
    text = _TRACEBACK.sub(lambda m: m.group(0).strip().splitlines()[-1], scrub(text))  # keep the exception line
    text = _PATH.sub("<path>", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
