"""Shared Redis clients for REDIS_URL: one synchronous client per process, one asyncio client
per event loop (a connection pool cannot cross loops); a changed REDIS_URL gets new ones.

Every pool is bounded and blocking: at most REDIS_MAX_CONNECTIONS connections, and a command that
finds them all busy waits up to REDIS_POOL_TIMEOUT seconds for one (a burst queues instead of
failing with "Too many connections"). A connection Redis closed (a restart) is retried once on a
new connection; a timeout is not retried, since the command may already have run and the
reservation and rate-limit scripts are not idempotent."""

import asyncio
from typing import Any

import redis
import redis.asyncio as aioredis
import redis.asyncio.retry
import redis.retry
from django.conf import settings
from redis.backoff import NoBackoff

HEALTH_CHECK_SECONDS = 30
"""A pooled connection idle this long is PINGed (and reconnected if dead) before its next use."""

_sync_clients: dict[str, "redis.Redis"] = {}
_async_clients: dict[tuple[asyncio.AbstractEventLoop, str], "aioredis.Redis"] = {}


def pool_options(
    *, max_connections: int, pool_timeout: float, socket_timeout: float, for_asyncio: bool
) -> dict[str, Any]:
    """Keyword arguments for a (sync or asyncio) `BlockingConnectionPool.from_url`."""
    retry_class = redis.asyncio.retry.Retry if for_asyncio else redis.retry.Retry
    return {
        "max_connections": max_connections,
        "timeout": pool_timeout,
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_timeout,
        "health_check_interval": HEALTH_CHECK_SECONDS,
        "retry": retry_class(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
        "retry_on_error": [redis.ConnectionError],
    }


def _settings_options(*, for_asyncio: bool) -> dict[str, Any]:
    return pool_options(
        max_connections=settings.REDIS_MAX_CONNECTIONS,
        pool_timeout=settings.REDIS_POOL_TIMEOUT,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
        for_asyncio=for_asyncio,
    )


def sync_redis() -> "redis.Redis | None":
    """The process's client, or None without REDIS_URL."""
    url = settings.REDIS_URL
    if not url:
        return None
    client = _sync_clients.get(url)
    if client is None:
        pool = redis.BlockingConnectionPool.from_url(url, **_settings_options(for_asyncio=False))
        client = _sync_clients[url] = redis.Redis(connection_pool=pool)
    return client


def async_redis() -> "aioredis.Redis | None":
    """The running loop's client, or None without REDIS_URL."""
    url = settings.REDIS_URL
    if not url:
        return None
    place = (asyncio.get_running_loop(), url)
    client = _async_clients.get(place)
    if client is None:
        pool = aioredis.BlockingConnectionPool.from_url(url, **_settings_options(for_asyncio=True))
        client = _async_clients[place] = aioredis.Redis(connection_pool=pool)
    return client
