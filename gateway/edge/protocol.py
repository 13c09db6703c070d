"""uvicorn's httptools protocol with the bounds it lacks: a deadline and a size cap for each
request's head, a deadline for a client that stops reading, and a cap on open connections.

uvicorn itself bounds only the idle time between requests (`timeout_keep_alive`). A client
that connects and sends nothing, drips its headers, or stops reading a stream would otherwise
hold a connection (and its file descriptor) for as long as it likes. At the connection cap a
new connection takes the place of the one idle longest (no request under way: still sending
its head, or kept alive between requests), so a flood of idle connections cannot lock out
clients that send requests; only when every connection is serving one is the new one refused.
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.edge.drain import drain

logger = logging.getLogger("switchyard.edge")

HEAD_TOO_LARGE = "The request's line and headers are larger than {limit} bytes."
FULL_WARNING_EVERY_SECONDS = 10.0
# After the drain, a stream's last event must still reach its client: this long, at most.
DRAINED_WRITE_TIMEOUT = 1.0


class HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing a head past `max_head_bytes`: uvicorn
    then calls `send_400_response`, which answers 431."""


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """How long and how large a connection may be, in seconds and bytes."""

    head_timeout: float
    """From the connection (or the first byte of a request) to the end of its headers."""
    max_head_bytes: int
    write_timeout: float
    """How long a response may wait on a client that reads nothing."""
    max_connections: int


class BoundedHttpProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that closes connections which overstay the `ConnectionLimits` found
    at `config.connection_limits`."""

    _full_warned_at = 0.0

    def __init__(self, config: Any, server_state: Any, app_state: Any, _loop: Any = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits: ConnectionLimits = config.connection_limits
        self._idle: dict[BoundedHttpProtocol, None] = config.idle_connections
        """The server's connections with no request under way, longest idle first."""
        self._head_timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        """Bytes received while the head is unfinished (a drip of one endless header)."""
        self._parsed_head_bytes = 0
        """The head's URL, header names and values as the parser hands them over."""
        self._head_too_large = False
        self._reading_head = True
        self._stopping = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Accept the connection; past `max_connections`, in place of the longest idle one."""
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._warn_full(len(self.connections) - 1)
            if not self._idle:
                transport.abort()
                return
            longest_idle = next(iter(self._idle))
            longest_idle.transport.abort()
            self._idle.pop(longest_idle, None)
        self._idle[self] = None
        self._head_timer = self.loop.call_later(self.limits.head_timeout, self._head_overdue)

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the timers, then let uvicorn end the request cycle."""
        self._idle.pop(self, None)
        for timer in (self._head_timer, self._write_timer):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Parse `data`; a head past `max_head_bytes`, parsed or still unfinished, is answered
        431."""
        super().data_received(data)
        if self._reading_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_head_bytes:
                self._refuse_head()

    def on_message_begin(self) -> None:
        """A request starts: its head has `head_timeout` to arrive."""
        super().on_message_begin()
        self._reading_head, self._head_bytes, self._parsed_head_bytes = True, 0, 0
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.head_timeout, self._head_overdue)

    def on_url(self, url: bytes) -> None:
        """Count (a piece of) the URL into the head's size."""
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """Count a header into the head's size."""
        self._count_head(len(name) + len(value))
        super().on_header(name, value)

    def _count_head(self, size: int) -> None:
        """Add `size` parsed bytes to the head; past `max_head_bytes` stop the parser (in the
        very read that completes the head, which `data_received` never counts)."""
        self._parsed_head_bytes += size
        if self._parsed_head_bytes > self.limits.max_head_bytes:
            self._head_too_large = True
            raise HeadTooLarge

    def on_headers_complete(self) -> None:
        """The head arrived in time: stop its clock and hand the request to uvicorn."""
        self._reading_head = False
        self._idle.pop(self, None)
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().on_headers_complete()
        if self._stopping and self.cycle is not None:
            self.cycle.keep_alive = False  # the connection's last request

    def shutdown(self) -> None:
        """The server stops: a response under way is its connection's last; an idle connection
        is closed by its keep-alive timeout, not at once, so a request a proxy sent on it as the
        server stopped is answered (as the connection's last) instead of reset — a proxy may
        not send such a POST elsewhere, and closes idle connections first (a shorter timeout)."""
        self._stopping = True
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
        elif self.timeout_keep_alive_task is None:  # connected, no request yet
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

    def on_response_complete(self) -> None:
        """The response is sent: the connection idles until its next request."""
        super().on_response_complete()
        if not self.transport.is_closing() and self.cycle.response_complete:  # none pipelined
            self._idle[self] = None

    def pause_writing(self) -> None:
        """The client stopped reading: it has `write_timeout` to start again (once the drain
        is over, DRAINED_WRITE_TIMEOUT)."""
        super().pause_writing()
        if self._write_timer is None:
            timeout = self.limits.write_timeout
            if drain.over:
                timeout = min(timeout, DRAINED_WRITE_TIMEOUT)
            self._write_timer = self.loop.call_later(timeout, self.transport.abort)

    def drop_if_stalled(self) -> None:
        """Disconnect now if the client is not reading."""
        if self.flow is not None and self.flow.write_paused:
            self.transport.abort()

    def resume_writing(self) -> None:
        """The client reads again."""
        super().resume_writing()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _head_overdue(self) -> None:
        """Close a connection whose request head did not arrive in time (none is being served:
        a response in progress is left to finish)."""
        self._head_timer = None
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        """A request HTTP itself cannot parse: 400 in the OpenAI envelope, not plain text (431
        when `_count_head` stopped the parser)."""
        if self._head_too_large:
            self._refuse_head()
            return
        self._refuse(b"400 Bad Request", "invalid_request", msg)

    def _refuse_head(self) -> None:
        message = HEAD_TOO_LARGE.format(limit=self.limits.max_head_bytes)
        self._refuse(b"431 Request Header Fields Too Large", "request_header_too_large", message)

    def _refuse(self, status: bytes, code: str, message: str) -> None:
        """Answer `status` with the error envelope and close: the connection cannot go on."""
        body = orjson.dumps(
            {
                "error": {
                    "message": message,
                    "type": "invalid_request_error",
                    "param": None,
                    "code": code,
                }
            }
        )
        self.transport.write(
            b"HTTP/1.1 %s\r\ncontent-type: application/json\r\nconnection: close\r\n"
            b"content-length: %d\r\n\r\n%s" % (status, len(body), body)
        )
        self.transport.close()

    @classmethod
    def _warn_full(cls, open_connections: int) -> None:
        """Say so at most once every FULL_WARNING_EVERY_SECONDS: a flood logs no flood."""
        now = time.monotonic()
        if now - cls._full_warned_at >= FULL_WARNING_EVERY_SECONDS:
            cls._full_warned_at = now
            logger.warning(
                "at the connection cap (%d open): new connections replace idle ones",
                open_connections,
            )
