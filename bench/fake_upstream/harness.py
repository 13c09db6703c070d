"""Running the fake upstream: an async context manager, a background-thread helper, the CLI loop."""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from aiohttp import web

from bench.fake_upstream.recording import MAX_RECORDED_REQUESTS, RequestLog
from bench.fake_upstream.server import create_app

LISTEN_BACKLOG = 4096
_START_TIMEOUT_S = 10.0


class FakeUpstream:
    """A running fake upstream: where it listens and what it has received."""

    def __init__(self, host: str, port: int, api_key: str | None, log: RequestLog) -> None:
        self.host = host
        self.port = port
        self.api_key = api_key
        self._log = log

    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:9100`` (``/_fake/...`` lives here)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """OpenAI API root for a channel or SDK, e.g. ``http://127.0.0.1:9100/v1``."""
        return f"{self.url}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Snapshot of the recorded requests, oldest first (same records as GET /_fake/requests)."""
        return self._log.snapshot()

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        self._log.clear()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


@asynccontextmanager
async def serve_fake_upstream(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str | None = None,
    max_requests: int = MAX_RECORDED_REQUESTS,
    shutdown_timeout: float = 0.5,
) -> AsyncIterator[FakeUpstream]:
    """Serve on the running loop until the block exits (``port=0`` picks a free port)."""
    log = RequestLog(max_requests)
    runner = web.AppRunner(
        create_app(api_key=api_key, log=log),
        access_log=None,
        handle_signals=False,
        handler_cancellation=True,
        shutdown_timeout=shutdown_timeout,
    )
    await runner.setup()
    try:
        sock = _bind(host, port)
        await web.SockSite(runner, sock, backlog=LISTEN_BACKLOG).start()
        yield FakeUpstream(host, sock.getsockname()[1], api_key, log)
    finally:
        await runner.cleanup()


async def _cancel_leftovers() -> None:
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@contextmanager
def running_fake_upstream(
    *,
    api_key: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    max_requests: int = MAX_RECORDED_REQUESTS,
) -> Iterator[FakeUpstream]:
    """Run the fake upstream on its own event loop in a daemon thread for the block's duration."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-upstream", daemon=True)
    thread.start()
    server = serve_fake_upstream(host=host, port=port, api_key=api_key, max_requests=max_requests)
    try:
        entered = asyncio.run_coroutine_threadsafe(server.__aenter__(), loop)
        upstream = entered.result(timeout=_START_TIMEOUT_S)
        try:
            yield upstream
        finally:
            exited = asyncio.run_coroutine_threadsafe(server.__aexit__(None, None, None), loop)
            exited.result(timeout=_START_TIMEOUT_S)
    finally:
        asyncio.run_coroutine_threadsafe(_cancel_leftovers(), loop).result(_START_TIMEOUT_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=_START_TIMEOUT_S)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def serve_forever(host: str, port: int, api_key: str | None) -> None:
    """Serve until SIGINT or SIGTERM, printing the listening line once bound."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with serve_fake_upstream(
        host=host, port=port, api_key=api_key, shutdown_timeout=0.5
    ) as upstream:
        print(f"fake upstream listening on {upstream.url}", flush=True)
        await stop.wait()
