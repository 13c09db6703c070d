"""Responses of the client API: JSON, the OpenAI error envelope, and the relayed SSE stream."""

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse

from gateway.background import spawn
from gateway.errors import GatewayError


def json_response(body: bytes, status: int = 200, **headers: str) -> HttpResponse:
    """A JSON response with the given extra headers."""
    response = HttpResponse(body, status=status, content_type="application/json")
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def error_response(
    error: GatewayError,
    request_id: str | None = None,
    *,
    body: bytes | None = None,
    status: int | None = None,
) -> HttpResponse:
    """The error's envelope (OpenAI's unless a door gives its own `body` and `status`) with the
    error's headers and the request id."""
    response = json_response(
        error.body() if body is None else body, status=status or error.http_status
    )
    for name, value in error.headers().items():
        response[name] = value
    if request_id:
        response["x-request-id"] = request_id
    return response


class RelayStreamResponse(StreamingHttpResponse):
    """An SSE response that, when closed, also settles a stream the server never finished
    sending (a client gone before the body started): `on_close` returns the coroutine that
    closes and bills it, or None when the stream was settled already."""

    def __init__(
        self, events: Any, on_close: Callable[[], Coroutine[Any, Any, None] | None]
    ) -> None:
        super().__init__(events, content_type="text/event-stream")
        self._on_close = on_close
        self._loop = asyncio.get_running_loop()

    def close(self) -> None:
        """Django calls this (from a worker thread) once the response is done with."""
        super().close()
        settle = self._on_close()
        if settle is not None:
            self._loop.call_soon_threadsafe(
                functools.partial(spawn, settle, what="settling an abandoned stream")
            )
