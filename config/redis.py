"""Shared Redis clients for REDIS_URL: one synchronous client per process, one asyncio client
per event loop (a connection pool cannot cross loops); a changed REDIS_URL gets new ones."""

import asyncio

import redis
import redis.asyncio as aioredis
from django.conf import settings

_sync_clients: dict[str, "redis.Redis"] = {}
_async_clients: dict[tuple[asyncio.AbstractEventLoop, str], "aioredis.Redis"] = {}


def sync_redis() -> "redis.Redis | None":
    """The process's client, or None without REDIS_URL."""
    url = settings.REDIS_URL
    if not url:
        return None
    client = _sync_clients.get(url)
    if client is None:
        client = _sync_clients[url] = redis.Redis.from_url(url)
    return client


def async_redis() -> "aioredis.Redis | None":
    """The running loop's client, or None without REDIS_URL."""
    url = settings.REDIS_URL
    if not url:
        return None
    place = (asyncio.get_running_loop(), url)
    client = _async_clients.get(place)
    if client is None:
        client = _async_clients[place] = aioredis.Redis.from_url(url)
    return client
