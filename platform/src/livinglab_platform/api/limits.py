"""What every HTTP exchange is held to, whatever route answers it: written down once, here.

- A request body is at most `max_body_bytes`: a larger declared Content-Length is answered 413
  before the application runs, and a chunked body is cut with 413 as soon as it grows past it,
  so nothing larger is ever parsed (a 13 MB JSON body once took the event loop for 3.5 s).
  `larger_bodies` names the few routes that take more, each by method and path pattern with its
  own limit (the evidence file upload); every other route keeps `max_body_bytes`.
- A response message that cannot be handed to the client within `send_timeout_s` (the client
  stopped reading and the socket's buffers are full) ends the response: the route's resources
  (a download's connection and slot) are released, and the server closes the connection once
  what it already buffered is out. The response is left incomplete on purpose (no last chunk),
  so the client cannot take a cut export for a whole one.
- Every response says `X-Content-Type-Options: nosniff`: a browser never runs a download or an
  error body as script or style.

`Limits` wraps the whole application, outside even Starlette's error middleware, so its 500s
carry the header too.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence

import anyio
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit", "Limits"]

# A route that takes a larger body: its method, a pattern its whole path matches, its limit.
BodyLimit = tuple[str, re.Pattern[str], int]

logger = logging.getLogger(__name__)


class _SendTimeout(Exception):
    """The client took no data for the whole send timeout. Not an OSError: Starlette would turn
    that into a quiet ClientDisconnect."""


def _too_large(max_body_bytes: int) -> str:
    return f"the request's body is larger than the {max_body_bytes} bytes the API takes"


class Limits:
    """ASGI middleware: the body size limit, the send timeout and the headers of every response."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        send_timeout_s: float,
        larger_bodies: Sequence[BodyLimit] = (),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.send_timeout_s = send_timeout_s
        self.larger_bodies = tuple(larger_bodies)

    def _body_limit(self, scope: Scope) -> int:
        for method, path, limit in self.larger_bodies:
            if scope.get("method") == method and path.fullmatch(scope.get("path", "")):
                return limit
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        timed = self._timed(send)
        limit = self._body_limit(scope)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(timed, _too_large(limit))
            return
        try:
            await self.app(scope, self._counted(receive, limit), timed)
        except _SendTimeout:
            logger.warning(
                "cut %s %s: the client read nothing for %.0f s",
                scope.get("method"),
                scope.get("path"),
                self.send_timeout_s,
            )

    def _counted(self, receive: Receive, limit: int) -> Receive:
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException: FastAPI passes it on from reading a body, as it is.
                    raise HTTPException(413, _too_large(limit))
            return message

        return counted

    def _timed(self, send: Send) -> Send:
        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                MutableHeaders(scope=message)["X-Content-Type-Options"] = "nosniff"
            try:
                with anyio.fail_after(self.send_timeout_s):
                    await send(message)
            except TimeoutError:
                raise _SendTimeout from None

        return timed


async def _refuse(send: Send, detail: str) -> None:
    body = json.dumps({"detail": detail, "errors": []}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
