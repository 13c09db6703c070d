"""The serving loop's follower of configuration notices (core.config_changes): a catalog notice
reloads the catalog now, a key notice makes that key be looked up again, EVERYTHING does both
for every key. Started with the server (the ASGI lifespan), one per loop; polling
(GATEWAY_CATALOG_SECONDS, GATEWAY_AUTH_CACHE_SECONDS) stays the fallback."""

import asyncio

from core.config_changes import Notice, config_changes
from gateway import auth, catalog

_following: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}


def obey(notice: Notice) -> None:
    """Drop what `notice` says changed (on the serving loop)."""
    if notice.kind == "key":
        auth.expire_key(notice.key_hash)
        return
    if notice.kind == "everything":
        auth.expire_keys()
    catalog.reload_now()


def start_following() -> None:
    """Follow notices on the running loop from now on (once per loop)."""
    loop = asyncio.get_running_loop()
    task = _following.get(loop)
    if task is None or task.done():
        _following[loop] = loop.create_task(config_changes().follow(obey), name="config-follow")


async def stop_following() -> None:
    """Stop following on the running loop (at shutdown)."""
    task = _following.pop(asyncio.get_running_loop(), None)
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
