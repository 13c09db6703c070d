"""Every breaker in this process — one per channel, and one per channel-model for failures that
concern one model only — shared with the other gateway processes through Redis when REDIS_URL is
set (each change is published; the shared table is re-read every second). Without Redis the
breakers are per process."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from typing import Any, NamedTuple

import orjson
import redis
import redis.asyncio as aioredis
from django.conf import settings

from channels.health import CLOSED, Breaker, BreakerState
from core.redis import async_redis, sync_redis
from gateway.background import spawn

logger = logging.getLogger(__name__)

SHARED_KEY = "switchyard:breakers"
TRIAL_KEY = "switchyard:breaker-trial:{channel_id}"
REFRESH_SECONDS = 1.0

REFRESH_WAIT_SECONDS = 0.05


class Scope(NamedTuple):
    """What a breaker guards: a whole channel (`model` empty), or one public model on it."""

    channel_id: int
    model: str = ""

    def field(self) -> str:
        """Its field in the shared Redis hash: `<channel id>` or `<channel id>:<model>`."""
        return f"{self.channel_id}:{self.model}" if self.model else str(self.channel_id)

    @classmethod
    def parse(cls, field: str | bytes) -> "Scope":
        """The scope of a shared hash field."""
        text = field.decode() if isinstance(field, bytes) else field
        channel_id, _, model = text.partition(":")
        return cls(int(channel_id), model)


class BreakerView(NamedTuple):
    """A breaker that is not closed, as an operator sees it."""

    scope: Scope
    state: BreakerState
    since: float
    """Epoch seconds: when it opened, or (half-open) when its cooldown ended."""
    reason: str


_breakers: dict[Scope, Breaker] = {}
_changed_at: dict[Scope, float] = {}
_trials: set[Scope] = set()
_refreshing: "asyncio.Future[None] | None" = None
_refreshed_at = 0.0


def _in_background(work: Awaitable[Any]) -> None:
    spawn(work, what="sharing breaker state through Redis")


def _encode(breaker: Breaker) -> bytes:
    return orjson.dumps([breaker.failures, breaker.open_until, breaker.opened_at, breaker.reason])


def _decode(value: bytes | str) -> Breaker:
    return Breaker(*orjson.loads(value))  # older processes publish [failures, open_until]


def _set(scope: Scope, breaker: Breaker) -> None:
    """Keep `breaker` for the scope here and publish it to the other processes."""
    _changed_at[scope] = time.monotonic()
    if breaker == CLOSED:
        _breakers.pop(scope, None)
    else:
        _breakers[scope] = breaker
    client = async_redis()
    if client is None:
        return
    if breaker == CLOSED:
        _in_background(client.hdel(SHARED_KEY, scope.field()))
    else:
        _in_background(client.hset(SHARED_KEY, scope.field(), _encode(breaker)))


def state_of(channel_id: int, model: str = "") -> BreakerState:
    """The state of the channel's breaker (or of the channel-model's) as this process knows it."""
    return _breakers.get(Scope(channel_id, model), CLOSED).state(time.time())


async def _claim(scope: Scope) -> bool:
    """Take the scope's one trial, in any process (through Redis); False if it is taken."""
    if scope in _trials:
        return False
    client = async_redis()
    if client is not None:
        key = TRIAL_KEY.format(channel_id=scope.field())
        try:
            claimed = await client.set(
                key, b"1", nx=True, ex=max(1, round(settings.BREAKER_COOLDOWN))
            )
        except aioredis.RedisError:
            claimed = True  # without Redis, fall back to this process's own guard
        if not claimed:
            return False
    _trials.add(scope)
    return True


async def claim_trial(channel_id: int, model: str = "") -> bool:
    """Whether a request may try the channel for `model` now: always, unless the channel's or
    the channel-model's breaker is half-open and another request (in any process) already holds
    its one trial."""
    scopes = [Scope(channel_id), *([Scope(channel_id, model)] if model else [])]
    claimed: list[Scope] = []
    for scope in scopes:
        if state_of(*scope) != "half_open":
            continue
        if not await _claim(scope):
            for held in claimed:
                _release(held)
            return False
        claimed.append(scope)
    return True


def _release(scope: Scope) -> None:
    if scope in _trials:
        _trials.discard(scope)
        client = async_redis()
        if client is not None:
            _in_background(client.delete(TRIAL_KEY.format(channel_id=scope.field())))


def end_trial(channel_id: int, model: str = "") -> None:
    """Release the trials of the channel and of the channel-model this process held."""
    _release(Scope(channel_id))
    if model:
        _release(Scope(channel_id, model))


def record_failure(
    channel_id: int, *, model: str = "", retry_after: float | None = None, reason: str = ""
) -> None:
    """A retryable failure of the channel, or with `model` of that model on the channel only
    (a 429's `retry-after` cools it for that long)."""
    scope = Scope(channel_id, model)
    breaker = _breakers.get(scope, CLOSED).failed(
        now=time.time(),
        threshold=settings.BREAKER_FAILURE_THRESHOLD,
        cooldown=settings.BREAKER_COOLDOWN,
        retry_after=retry_after,
        reason=reason,
    )
    _set(scope, breaker)


def record_success(channel_id: int, model: str = "") -> None:
    """A success of the channel for `model`: its channel and channel-model breakers close."""
    for scope in (Scope(channel_id), Scope(channel_id, model)):
        if scope in _breakers:
            _set(scope, CLOSED)


async def _refresh(client: "aioredis.Redis") -> None:
    """Adopt the shared table, except for scopes this process changed since it was read."""
    started = time.monotonic()
    shared = {
        Scope.parse(field): _decode(value)
        for field, value in (await client.hgetall(SHARED_KEY)).items()
    }
    for scope in set(_breakers) | set(shared):
        if _changed_at.get(scope, 0.0) > started:
            continue
        if scope in shared:
            _breakers[scope] = shared[scope]
        else:
            _breakers.pop(scope, None)


async def breaker_states() -> dict[Scope, BreakerState]:
    """The state of every breaker that is not closed. The shared table is re-read when older
    than a second; a request waits at most REFRESH_WAIT_SECONDS for it."""
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
    return {scope: breaker.state(now) for scope, breaker in _breakers.items()}


def _view(scope: Scope, breaker: Breaker, now: float) -> BreakerView:
    state = breaker.state(now)
    since = breaker.open_until if state == "half_open" else breaker.opened_at
    return BreakerView(scope, state, since or now, breaker.reason)


def breaker_views() -> list[BreakerView]:
    """Every breaker that is not closed, for pages and gauges (synchronous): the shared table
    when Redis is configured and answers, this process's own breakers otherwise."""
    now = time.time()
    table: dict[Scope, Breaker] = dict(_breakers)
    client = sync_redis()
    if client is not None:
        try:
            shared = client.hgetall(SHARED_KEY)
        except redis.RedisError:
            logger.warning("breakers: Redis unreachable, showing this process's own")
        else:
            table = {Scope.parse(field): _decode(value) for field, value in shared.items()}
    views = [_view(scope, breaker, now) for scope, breaker in table.items()]
    return [view for view in views if view.state != "closed"]


def reset_breakers() -> None:
    """Close every breaker in this process (tests)."""
    global _refreshed_at
    _breakers.clear()
    _changed_at.clear()
    _trials.clear()
    _refreshed_at = 0.0
