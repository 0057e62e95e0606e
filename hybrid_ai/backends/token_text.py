"""Generated token ids -> answer text, released as it becomes final (shared by the token-level engines)."""

from __future__ import annotations

from .base import cut_at_stop


class TokenText:
    """Token ids -> text as they come: only text that can no longer change is released (an incomplete UTF-8
    sequence decodes to U+FFFD until its last byte arrives; a stop string may still be forming)."""

    def __init__(self, tokenizer, stops):
        self.tok, self.stops, self.ids, self.sent = tokenizer, list(stops), [], 0
        self.hold = max((len(s) for s in self.stops), default=0)

    def text(self) -> str:
        return cut_at_stop(self.tok.decode(self.ids, skip_special_tokens=True).lstrip(), self.stops)

    def add(self, token_id: int) -> tuple[str, bool]:
        """(newly safe text, whether a stop string ended the answer)."""
        self.ids.append(token_id)
        full = self.tok.decode(self.ids, skip_special_tokens=True).lstrip()
        cut = cut_at_stop(full, self.stops)
        if len(cut) < len(full):  # a stop string: release up to it, and stop
            return self._release(cut, len(cut)), True
        safe = len(full) - self.hold
        while safe > self.sent and full[safe - 1] == "\ufffd":
            safe -= 1
        return self._release(full, safe), False

    def _release(self, text: str, upto: int) -> str:
        if upto <= self.sent:
            return ""
        out, self.sent = text[self.sent:upto], upto
        return out

    def rest(self) -> str:
        return self._release(self.text(), len(self.text()))
