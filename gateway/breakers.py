"""Every channel's breaker in this process, shared with the other gateway processes through
Redis when REDIS_URL is set (each change is published; the shared table is re-read every
second). Without Redis the breakers are per process."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from typing import Any

import orjson
import redis.asyncio as aioredis
from django.conf import settings

from channels.health import CLOSED, Breaker, BreakerState
from config.redis import async_redis
from gateway.background import spawn

logger = logging.getLogger(__name__)

SHARED_KEY = "switchyard:breakers"
TRIAL_KEY = "switchyard:breaker-trial:{channel_id}"
REFRESH_SECONDS = 1.0

REFRESH_WAIT_SECONDS = 0.05

_breakers: dict[int, Breaker] = {}
_changed_at: dict[int, float] = {}
_trials: set[int] = set()
_refreshing: "asyncio.Future[None] | None" = None
_refreshed_at = 0.0


def _in_background(work: Awaitable[Any]) -> None:
    spawn(work, what="sharing breaker state through Redis")


def _set(channel_id: int, breaker: Breaker) -> None:
    """Keep `breaker` for the channel here and publish it to the other processes."""
    _changed_at[channel_id] = time.monotonic()
    if breaker == CLOSED:
        _breakers.pop(channel_id, None)
    else:
        _breakers[channel_id] = breaker
    client = async_redis()
    if client is None:
        return
    if breaker == CLOSED:
        _in_background(client.hdel(SHARED_KEY, str(channel_id)))
    else:
        value = orjson.dumps([breaker.failures, breaker.open_until])
        _in_background(client.hset(SHARED_KEY, str(channel_id), value))


def state_of(channel_id: int) -> BreakerState:
    """The channel's breaker state as this process knows it."""
    return _breakers.get(channel_id, CLOSED).state(time.time())


async def claim_trial(channel_id: int) -> bool:
    """Whether a request may try the channel now: always, unless its breaker is half-open and
    another request (in any process, through Redis) already holds its one trial."""
    if state_of(channel_id) != "half_open":
        return True
    if channel_id in _trials:
        return False
    client = async_redis()
    if client is not None:
        key = TRIAL_KEY.format(channel_id=channel_id)
        try:
            claimed = await client.set(
                key, b"1", nx=True, ex=max(1, round(settings.BREAKER_COOLDOWN))
            )
        except aioredis.RedisError:
            claimed = True  # without Redis, fall back to this process's own guard
        if not claimed:
            return False
    _trials.add(channel_id)
    return True


def end_trial(channel_id: int) -> None:
    """Release the channel's trial, if this process held it."""
    if channel_id in _trials:
        _trials.discard(channel_id)
        client = async_redis()
        if client is not None:
            _in_background(client.delete(TRIAL_KEY.format(channel_id=channel_id)))


def record_failure(channel_id: int, *, retry_after: float | None = None) -> None:
    """A retryable failure of the channel (a 429's `retry-after` cools it for that long)."""
    breaker = _breakers.get(channel_id, CLOSED).failed(
        now=time.time(),
        threshold=settings.BREAKER_FAILURE_THRESHOLD,
        cooldown=settings.BREAKER_COOLDOWN,
        retry_after=retry_after,
    )
    _set(channel_id, breaker)


def record_success(channel_id: int) -> None:
    """A success of the channel: its breaker closes."""
    if channel_id in _breakers:
        _set(channel_id, CLOSED)


async def _refresh(client: "aioredis.Redis") -> None:
    """Adopt the shared table, except for channels this process changed since it was read."""
    started = time.monotonic()
    shared = {
        int(channel_id): Breaker(*orjson.loads(value))
        for channel_id, value in (await client.hgetall(SHARED_KEY)).items()
    }
    for channel_id in set(_breakers) | set(shared):
        if _changed_at.get(channel_id, 0.0) > started:
            continue
        if channel_id in shared:
            _breakers[channel_id] = shared[channel_id]
        else:
            _breakers.pop(channel_id, None)


async def breaker_states() -> dict[int, BreakerState]:
    """The state of every channel whose breaker is not closed. The shared table is re-read
    when older than a second; a request waits at most REFRESH_WAIT_SECONDS for it."""
    global _refreshed_at, _refreshing
    client = async_redis()
    stale = time.monotonic() - _refreshed_at > REFRESH_SECONDS
    if client is not None and stale and (_refreshing is None or _refreshing.done()):
        _refreshed_at = time.monotonic()
        _refreshing = asyncio.ensure_future(_refresh(client))
        spawn(_refreshing, what="reading the shared breaker state")
        # A Redis outage leaves this process with its own breakers (the failure is logged).
        with contextlib.suppress(TimeoutError, aioredis.RedisError):
            await asyncio.wait_for(asyncio.shield(_refreshing), REFRESH_WAIT_SECONDS)
    now = time.time()
    return {channel_id: breaker.state(now) for channel_id, breaker in _breakers.items()}


def reset_breakers() -> None:
    """Close every breaker in this process (tests)."""
    global _refreshed_at
    _breakers.clear()
    _changed_at.clear()
    _trials.clear()
    _refreshed_at = 0.0
