"""A keep-alive HTTP/1.1 client on a raw socket (h11 keeps the protocol honest) that notices what httpx hides:
a server that closes a connection without having said `Connection: close` ("dropped"). Used by the robustness
tests and by benchmarks/fuzz_server.py."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass

import h11


@dataclass
class Reply:
    status: int | None  # None: no response at all
    body: bytes
    headers: dict[str, str]
    dropped: bool  # the server closed the connection without announcing it


class RawClient:
    def __init__(self, host: str, port: int, timeout: float = 60.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.sock: socket.socket | None = None
        self.conn: h11.Connection | None = None
        self.connections = 0

    def _open(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = h11.Connection(h11.CLIENT)
        self.connections += 1

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = self.conn = None

    def _send(self, event) -> None:
        self.sock.sendall(self.conn.send(event))

    def request(self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None,
                chunks: Iterable[bytes] | None = None) -> Reply:
        """One request on the kept-alive connection (opened when needed); `chunks` sends a chunked body."""
        if self.conn is None or self.conn.our_state is not h11.IDLE:
            self.close()
            self._open()
        hdrs = [("host", f"{self.host}:{self.port}"), *((headers or {}).items())]
        if chunks is not None:
            hdrs.append(("transfer-encoding", "chunked"))
        elif body is not None:
            hdrs.append(("content-length", str(len(body))))
        send_failed = False
        try:
            if chunks is None:  # one write: small requests in several segments meet delayed ACKs (40 ms each)
                out = self.conn.send(h11.Request(method=method, target=path, headers=hdrs))
                out += self.conn.send(h11.Data(data=body)) if body else b""
                self.sock.sendall(out + self.conn.send(h11.EndOfMessage()))
            else:
                self._send(h11.Request(method=method, target=path, headers=hdrs))
                for part in chunks:
                    self._send(h11.Data(data=part))
                self._send(h11.EndOfMessage())
        except OSError:
            send_failed = True  # the server may have answered early (413) and closed: read what it said
        return self._read(send_failed)

    def _read(self, send_failed: bool) -> Reply:
        status, headers, body = None, {}, bytearray()
        while True:
            try:
                event = self.conn.next_event()
            except h11.RemoteProtocolError:
                self.close()
                return Reply(status, bytes(body), headers, dropped=True)
            if event is h11.NEED_DATA:
                try:
                    data = self.sock.recv(65536)
                except OSError:
                    data = b""
                self.conn.receive_data(data)
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
                headers = {k.decode(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                announced = headers.get("connection", "").lower() == "close"
                if announced or send_failed or self.conn.our_state is not h11.DONE:
                    self.close()
                else:
                    self.conn.start_next_cycle()
                return Reply(status, bytes(body), headers, dropped=False)
            elif isinstance(event, h11.ConnectionClosed):
                self.close()
                return Reply(status, bytes(body), headers, dropped=True)
