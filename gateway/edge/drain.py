"""Shutdown with a bound: once the grace period is over, every wait on an upstream that is
still open ends, so streams finish in-band, billed and recorded, and the process can exit."""

import asyncio
import logging
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

logger = logging.getLogger("switchyard.edge")


class Drain:
    """The process's drain: begun by the server when it stops accepting connections."""

    def __init__(self) -> None:
        self.over = False
        self._waits: set[asyncio.Timeout] = set()

    def begin(self, grace: float) -> None:
        """End every interruptible wait `grace` seconds from now (call on the serving loop)."""
        asyncio.get_running_loop().call_later(grace, self._end)

    def _end(self) -> None:
        """End every wait now, but those already expiring (they cannot be rescheduled)."""
        self.over = True
        now = asyncio.get_running_loop().time()
        for wait in tuple(self._waits):
            if wait.expired():
                continue
            try:
                wait.reschedule(now)
            except RuntimeError:  # one wait that cannot be ended must not keep the rest open
                logger.exception("could not end a wait at the drain: %r", wait)

    async def within(self, seconds: float, awaitable: Awaitable[T]) -> T:
        """`awaitable` within `seconds`; TimeoutError then, or as soon as the drain is over."""
        async with asyncio.timeout(max(seconds, 0.001)) as wait:
            if self.over:
                wait.reschedule(asyncio.get_running_loop().time())
            self._waits.add(wait)
            try:
                return await awaitable
            finally:
                self._waits.discard(wait)


drain = Drain()
