"""Shared Redis clients for REDIS_URL: one synchronous client per process, one asyncio client
per event loop (a connection pool cannot cross loops)."""

import asyncio

import redis
import redis.asyncio as aioredis
from django.conf import settings

_sync_client: "redis.Redis | None" = None
_async_clients: dict[asyncio.AbstractEventLoop, "aioredis.Redis"] = {}


def sync_redis() -> "redis.Redis | None":
    """The process's client, or None without REDIS_URL."""
    global _sync_client
    if not settings.REDIS_URL:
        return None
    if _sync_client is None:
        _sync_client = redis.Redis.from_url(settings.REDIS_URL)
    return _sync_client


def async_redis() -> "aioredis.Redis | None":
    """The running loop's client, or None without REDIS_URL."""
    if not settings.REDIS_URL:
        return None
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = _async_clients[loop] = aioredis.Redis.from_url(settings.REDIS_URL)
    return client
