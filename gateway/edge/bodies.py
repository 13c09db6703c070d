"""Request bodies bounded before they are read: in size and in the time they take to arrive.

Django's ASGI handler reads the whole body (spooling it to a temporary file past
FILE_UPLOAD_MAX_MEMORY_SIZE) before any view runs, so a view's size check comes after the
upload. Here a declared `Content-Length` over the limit is answered at once, and a body that
passes the limit while arriving, or pauses longer than the timeout between two parts, is cut
off: Django is told the client left, and the refusal is answered in its place.
"""

import asyncio
from typing import Any

from gateway.accounting import new_request_id
from gateway.errors import GatewayError, RequestTimeout, RequestTooLarge

TOO_LARGE = "The request body is larger than {limit} bytes."
TOO_SLOW = "The request body stopped arriving: nothing came for {seconds:g} s."
DISCONNECT = {"type": "http.disconnect"}

ASGIApp = Any


class BodyLimits:
    """Serve HTTP requests whose bodies stay within `max_bytes` and never pause for longer
    than `timeout` seconds; answer the others 413 or 408 with the OpenAI error envelope."""

    def __init__(self, *, max_bytes: int, timeout: float) -> None:
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def serve(self, app: ASGIApp, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Run `app` on the request, or refuse its body."""
        declared = _content_length(scope["headers"])
        if declared is not None and declared > self.max_bytes:
            await _refuse(send, RequestTooLarge(TOO_LARGE.format(limit=self.max_bytes)))
            return
        body = _BoundedBody(receive, self)
        await app(scope, body.receive, send)
        if body.refusal is not None:
            await _refuse(send, body.refusal)


class _BoundedBody:
    """A `receive` that counts the body's bytes and times its parts; once the body is
    complete it passes messages through."""

    __slots__ = ("_complete", "_limits", "_receive", "_received", "refusal")

    def __init__(self, receive: Any, limits: BodyLimits) -> None:
        self._receive = receive
        self._limits = limits
        self._received = 0
        self._complete = False
        self.refusal: GatewayError | None = None

    async def receive(self) -> dict[str, Any]:
        """The next ASGI message; a disconnect in place of a body part past the limits."""
        if self._complete:
            passed: dict[str, Any] = await self._receive()
            return passed
        try:
            async with asyncio.timeout(self._limits.timeout):
                message: dict[str, Any] = await self._receive()
        except TimeoutError:
            self.refusal = RequestTimeout(TOO_SLOW.format(seconds=self._limits.timeout))
            return DISCONNECT
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._limits.max_bytes:
                self.refusal = RequestTooLarge(TOO_LARGE.format(limit=self._limits.max_bytes))
                return DISCONNECT
            self._complete = not message.get("more_body", False)
        return message


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The declared body size; None when absent (chunked) or unreadable (the server refuses
    those itself)."""
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Any, error: GatewayError) -> None:
    """Answer `error`, with a request id of its own, and close the connection: the rest of
    the body is never read."""
    body = error.body()
    await send(
        {
            "type": "http.response.start",
            "status": error.http_status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                (b"x-request-id", new_request_id().encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
