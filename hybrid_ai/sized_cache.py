"""An LRU cache bounded by bytes, not entries: request-supplied texts (tool schemas, response formats) can be
megabytes each, so neither the texts nor what is built from them may pile up. Keys are 16-byte digests of the
text; each entry is charged the size its caller gives (about what it keeps alive)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any


class SizedCache:
    def __init__(self, max_bytes: int):
        self.max_bytes, self.bytes = max_bytes, 0
        self._items: OrderedDict[bytes, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str, make: Callable[[str], Any], size: Callable[[str, Any], int]) -> Any:
        """`make(text)`, computed once while it stays cached; `size(text, value)`: the bytes it is charged."""
        key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit[0]
        value = make(text)
        cost = 64 + size(text, value)
        if cost > self.max_bytes:
            return value  # too large to keep at all
        with self._lock:
            if key not in self._items:
                self._items[key] = (value, cost)
                self.bytes += cost
            while self.bytes > self.max_bytes:
                _, (_, freed) = self._items.popitem(last=False)
                self.bytes -= freed
        return value

    def __len__(self) -> int:
        return len(self._items)
