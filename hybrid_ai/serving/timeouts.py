"""Slow connections are closed: a client must send a request's headers within `header_timeout_s` of connecting
(or of its previous response), and its body within `body_timeout_s` of the headers (app.py). Without this, a
client that trickles a byte a second holds a connection (and a file descriptor) as long as it likes.

`header_timeout(protocol_class, seconds)` is uvicorn's HTTP protocol (h11 or httptools) with that timer added; it
relies on what both share: `connection_made`, `on_response_complete` and `cycle` (the request being served)."""

from __future__ import annotations


def header_timeout(base: type, seconds: float) -> type:
    class HeaderTimeout(base):
        def connection_made(self, transport):
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self):
            super().on_response_complete()
            self._arm()

        def _arm(self):
            waiting_for = self.cycle  # the request last started; a new one replaces it
            self.loop.call_later(seconds, self._late, waiting_for)

        def _late(self, waiting_for):
            if self.transport.is_closing() or self.cycle is not waiting_for:
                return  # closed, or the next request's headers arrived in time
            if waiting_for is not None and not waiting_for.response_complete:
                return  # still answering the previous request (a long generation)
            self.transport.close()

    HeaderTimeout.__name__ = f"HeaderTimeout{base.__name__}"
    return HeaderTimeout


def protocol_class(http: str, seconds: float) -> type:
    """uvicorn's protocol class for `http` ("h11" or "httptools"; "auto": httptools where installed)."""
    if http in ("auto", "httptools"):
        try:
            from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

            return header_timeout(HttpToolsProtocol, seconds)
        except ImportError:
            if http == "httptools":
                raise
    from uvicorn.protocols.http.h11_impl import H11Protocol

    return header_timeout(H11Protocol, seconds)
