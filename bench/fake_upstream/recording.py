"""Request recording for the fake upstream: the ring buffer and the ``/_fake/*`` endpoints."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bench.fake_upstream.openai_dialect import dumps

MAX_RECORDED_REQUESTS = 1000
_OK_BODY = b'{"ok":true}'


def _json(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/json")


class RequestLog:
    """Thread-safe ring buffer of received requests (most recent ``maxlen`` kept)."""

    def __init__(self, maxlen: int = MAX_RECORDED_REQUESTS) -> None:
        self._items: deque[dict[str, Any]] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def add(self, record: dict[str, Any]) -> None:
        """Append one request record."""
        with self._lock:
            self._items.append(record)

    def snapshot(self) -> list[dict[str, Any]]:
        """Return the records received so far, oldest first."""
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._items.clear()


@dataclass(frozen=True, slots=True)
class UpstreamState:
    """Per-application configuration and the request log."""

    api_key: str | None = None
    log: RequestLog = field(default_factory=RequestLog)


STATE_KEY = web.AppKey("fake_upstream_state", UpstreamState)


async def read_and_record(request: web.Request) -> tuple[dict[str, Any], object]:
    """Read the body (parsed JSON, else text), log the request, return (record, body)."""
    raw = await request.read()
    body: object = None
    if raw:
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
    record: dict[str, Any] = {
        "method": request.method,
        "path": request.path,
        "query": request.query_string,
        "headers": {key.lower(): value for key, value in request.headers.items()},
        "body": body,
        "received_at": time.time(),
        "outcome": None,
    }
    request.app[STATE_KEY].log.add(record)
    return record, body


async def recorded_requests(request: web.Request) -> web.Response:
    """Serve ``GET /_fake/requests``: the recorded requests, oldest first."""
    return _json(dumps(request.app[STATE_KEY].log.snapshot()).encode())


async def clear_requests(request: web.Request) -> web.Response:
    """Serve ``DELETE /_fake/requests``: forget the recorded requests."""
    request.app[STATE_KEY].log.clear()
    return _json(_OK_BODY)


async def health(request: web.Request) -> web.Response:
    """Serve ``GET /_fake/health``."""
    return _json(_OK_BODY)
