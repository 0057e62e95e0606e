"""Reading a request body over ASGI with a running size cap, chunked or not.

A body over the cap is read on and thrown away (up to DRAIN_LIMIT) so that the 413 reaches the client and its
keep-alive connection stays usable; past that the connection is closed, saying so (`Connection: close`)."""

from __future__ import annotations

DRAIN_LIMIT = 256 * 1024 * 1024  # bytes read and discarded after an over-size body before closing instead


class BodyTooLarge(Exception):
    def __init__(self, drained: bool):
        self.drained = drained  # the whole body was read: the connection can be reused


async def drain(receive, limit: int = DRAIN_LIMIT) -> bool:
    """Read and discard the rest of a body; True when it ended within `limit` bytes."""
    seen = 0
    while seen <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return False
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return True
    return False


async def read_capped(receive, limit: int) -> bytes:
    """The whole body, or BodyTooLarge as soon as more than `limit` bytes have arrived (memory stays bounded)."""
    parts, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            raise ConnectionError("client disconnected while sending the body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(drained=not message.get("more_body", False) or await drain(receive))
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)
