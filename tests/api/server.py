"""The application behind a real uvicorn server on a free loopback port, and raw HTTP clients.

TestClient never blocks on a socket; these do, so a client that stops reading really stalls the
server's sends.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import uvicorn
from fastapi import FastAPI

SERVER_START_S = 15.0


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Server:
    host: str
    port: int

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        body: bytes | None = None,
        timeout_s: float = 30.0,
    ) -> Answer:
        """One request on a fresh connection, read to its end."""
        url = path + ("?" + urlencode(params, doseq=True) if params else "")
        started = time.monotonic()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout_s)
        try:
            conn.request(method, url, body=body, headers=headers or {})
            response = conn.getresponse()
            content = response.read()
        finally:
            conn.close()
        return Answer(
            status=response.status,
            headers={k.lower(): v for k, v in response.getheaders()},
            body=content,
            seconds=time.monotonic() - started,
        )

    def stall(
        self, path: str, *, headers: dict[str, str], params: dict[str, Any]
    ) -> socket.socket:
        """Send a GET, read its first 10 bytes, then read no more (a tiny receive buffer)."""
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(30)
        sock.connect((self.host, self.port))
        lines = [
            f"GET {path}?{urlencode(params, doseq=True)} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            *(f"{name}: {value}" for name, value in headers.items()),
            "",
            "",
        ]
        sock.sendall("\r\n".join(lines).encode())
        first = sock.recv(10)
        assert first.startswith(b"HTTP/1.1"), first
        return sock


@contextmanager
def serve(app: FastAPI) -> Iterator[Server]:
    """Serve `app` with uvicorn in a thread on a free loopback port until the block ends."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws="none",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    try:
        yield Server(host="127.0.0.1", port=port)
    finally:
        server.should_exit = True
        thread.join(timeout=SERVER_START_S)
        assert not thread.is_alive(), "uvicorn did not stop"
