"""Notices within one process: the embedded mode (no REDIS_URL), one serving process.

A change made by another process (the Celery worker's probes, a management command) reaches
the gateway only by polling.
"""

import asyncio
import itertools
from typing import ClassVar, Literal

from core.config_changes.base import ConfigChanges, Deliver, Notice

_followers: dict[int, tuple[asyncio.AbstractEventLoop, Deliver]] = {}
"""Every follower of this process, by id; module-wide so that a backend chosen again (a test
changing REDIS_URL) still reaches the followers of the first one."""
_ids = itertools.count()


class LocalConfigChanges(ConfigChanges):
    """Delivers each notice to this process's followers, on their own loops."""

    name: ClassVar[Literal["local", "redis"]] = "local"

    def publish(self, notice: Notice) -> None:
        """Hand `notice` to every follower's loop (thread-safe)."""
        for follower_id, (loop, deliver) in list(_followers.items()):
            try:
                loop.call_soon_threadsafe(deliver, notice)
            except RuntimeError:  # its loop has closed
                _followers.pop(follower_id, None)

    async def follow(self, deliver: Deliver) -> None:
        """Receive notices until cancelled."""
        follower_id = next(_ids)
        _followers[follower_id] = (asyncio.get_running_loop(), deliver)
        try:
            await asyncio.Event().wait()
        finally:
            _followers.pop(follower_id, None)
