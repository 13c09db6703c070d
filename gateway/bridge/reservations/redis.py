"""Reservations in Redis: one atomic script admits a request against its account and key.

The mirrors of the database budgets, and the holds, are described in `billing.budget_mirror`.
Holds must survive a Redis that restarts empty (or fails over to a replica without them): Redis
keeps a *generation* id, which vanishes with its data. Every process keeps its own holds in
memory; when it finds a new (or no) generation — at its next reservation, or by the heartbeat
it runs every second — it posts them again before it reserves under the new generation. A new
generation admits nothing for its first GATEWAY_RESERVATION_RESYNC_SECONDS, so that every
process has posted its holds before any credit is admitted against the reloaded budgets.
"""

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import redis
import redis.asyncio as aioredis
from django.conf import settings

from billing.budget_mirror import (
    OBSERVE_SCRIPT,
    UNITS_PER_USD,
    budget_keys,
    budget_observed,
    holds_released,
    observe_args,
    period_stamp,
    units,
)
from billing.budgets import AccountBudget, Budget, Hold, KeyBudget, Refusal
from billing.periods import period_start
from billing.services import UsageWritten
from core.redis import async_redis
from gateway.bridge import store
from gateway.bridge.reservations.base import Reservations, ReservationsUnavailable
from gateway.schemas import KeyContext

logger = logging.getLogger(__name__)

GENERATION_KEY = "switchyard:budget:generation"
HEARTBEAT_SECONDS = 1.0
UNAVAILABLE = "the reservation store is unreachable"
RESYNCING = "the reservation store restarted; holds of requests in flight are being restored"

_RESERVE = """
local function held(holds, amounts, now)
  local expired = redis.call('ZRANGEBYSCORE', holds, '-inf', now)
  for _, id in ipairs(expired) do
    local amount = redis.call('HGET', amounts, id)
    if amount then
      redis.call('HDEL', amounts, id)
      redis.call('HINCRBY', amounts, 'total', '-' .. amount)
    end
  end
  if #expired > 0 then redis.call('ZREMRANGEBYSCORE', holds, '-inf', now) end
  return tonumber(redis.call('HGET', amounts, 'total') or '0')
end
local function hold(holds, amounts, id, amount, expires, ttl)
  if amount == '0' then return end
  redis.call('ZADD', holds, expires, id)
  redis.call('HSET', amounts, id, amount)
  redis.call('HINCRBY', amounts, 'total', amount)
  redis.call('PEXPIRE', holds, ttl)
  redis.call('PEXPIRE', amounts, ttl)
end
local now, expires, id, amount = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local need, limit, period = tonumber(amount), tonumber(ARGV[5]), ARGV[6]
local generation = redis.call('GET', KEYS[7])
if generation ~= ARGV[7] then return {3, generation or ''} end
local clock = redis.call('TIME')
local settles = tonumber(string.match(generation, ':(%d+)$'))
local wait = settles - (clock[1] * 1000 + math.floor(clock[2] / 1000))
if wait > 0 then return {4, wait} end
local ttl = tonumber(expires) - tonumber(now) + 60000
local balance = redis.call('HGET', KEYS[1], 'value')
if not balance then return {1, 1} end
local available = tonumber(balance) - held(KEYS[2], KEYS[3], now)
if available < need then return {2, 1, tostring(available)} end
if limit >= 0 then
  if redis.call('HGET', KEYS[4], 'period') ~= period then return {1, 2} end
  local left = limit - tonumber(redis.call('HGET', KEYS[4], 'value')) - held(KEYS[5], KEYS[6], now)
  if left < need then return {2, 2, tostring(left)} end
  hold(KEYS[5], KEYS[6], id, amount, expires, ttl)
end
hold(KEYS[2], KEYS[3], id, amount, expires, ttl)
return {0}
"""

_START_GENERATION = """
if not redis.call('GET', KEYS[1]) then
  local clock = redis.call('TIME')
  local settles = clock[1] * 1000 + math.floor(clock[2] / 1000) + tonumber(ARGV[2])
  redis.call('SET', KEYS[1], ARGV[1] .. ':' .. settles)
end
return redis.call('GET', KEYS[1])
"""

_REPOST = """
local expires, id, amount = ARGV[1], ARGV[2], ARGV[3]
local ttl = tonumber(expires) - tonumber(ARGV[4]) + 60000
if ttl <= 60000 then return 0 end
for i = 1, #KEYS, 2 do
  if redis.call('HSETNX', KEYS[i + 1], id, amount) == 1 then
    redis.call('HINCRBY', KEYS[i + 1], 'total', amount)
    redis.call('ZADD', KEYS[i], expires, id)
    redis.call('PEXPIRE', KEYS[i], ttl)
    redis.call('PEXPIRE', KEYS[i + 1], ttl)
  end
end
return 1
"""


BudgetLoader = Callable[[Budget, Hold, datetime], Awaitable[AccountBudget | KeyBudget]]
"""Reads a budget from the database for Redis to mirror."""


@dataclass(frozen=True, slots=True)
class _Held:
    """A hold this process made and has not settled: enough to post it again."""

    hold: Hold
    on_key: bool


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else value or ""


def _client() -> "aioredis.Redis":
    client = async_redis()
    if client is None:
        raise ReservationsUnavailable("Redis reservations need REDIS_URL")
    return client


class RedisReservations(Reservations):
    """Holds in Redis, checked and made by one script; this process's own kept to post again."""

    name = "redis"

    def __init__(self, load: BudgetLoader = store.load_budget) -> None:
        self._load = load
        self._held: dict[str, _Held] = {}
        self._lock = threading.Lock()  # settled() runs in the recorder's thread
        self._generation = ""
        self._adopting: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._heartbeat: asyncio.Task[None] | None = None

    async def reserve(self, hold: Hold, key: KeyContext, now: datetime) -> Refusal | None:
        """Reserve against the account and, when the key has a limit, the key, atomically;
        a budget Redis does not know (yet, or for a new period) is read and mirrored first."""
        self._ensure_heartbeat()
        try:
            return await self._reserve(hold, key, now)
        except redis.RedisError as error:
            raise ReservationsUnavailable(UNAVAILABLE) from error

    async def _reserve(self, hold: Hold, key: KeyContext, now: datetime) -> Refusal | None:
        client = _client()
        script = client.register_script(_RESERVE)
        keys = [*budget_keys("account", hold.account_id), *budget_keys("key", hold.key_id)]
        keys.append(GENERATION_KEY)
        limit = key.spend_limit
        args: list[int | str] = [
            _ms(now),
            _ms(hold.expires_at),
            hold.id,
            units(hold.amount),
            -1 if limit is None else units(limit),
            period_stamp(period_start(key.limit_reset, now)),
        ]
        for _ in range(6):
            outcome = await script(keys, [*args, self._generation])
            if outcome[0] == 0:
                with self._lock:
                    self._held[hold.id] = _Held(hold, on_key=limit is not None)
                return None
            if outcome[0] == 3:
                await self._adopt(client, _text(outcome[1]))
                continue
            if outcome[0] == 4:  # wait out the settling of a new generation (a few seconds)
                wait = outcome[1] / 1000
                if wait > settings.GATEWAY_RESERVATION_RESYNC_SECONDS + 1:
                    raise ReservationsUnavailable(RESYNCING, retry_after=wait)
                await asyncio.sleep(wait)
                continue
            budget: Budget = "account" if outcome[1] == 1 else "key"
            if outcome[0] == 2:
                return Refusal(budget, Decimal(outcome[2].decode()) / UNITS_PER_USD)
            await _mirror(client, await self._load(budget, hold, now))
        raise ReservationsUnavailable("the budget mirror in Redis keeps changing")

    def settled(self, written: UsageWritten) -> None:
        """Forget the batch's holds (first, so no heartbeat posts them again), then give them
        back and move the mirrors to the committed budgets."""
        with self._lock:
            for request_id, _, _ in written.requests:
                self._held.pop(request_id, None)
        budget_observed(accounts=written.accounts, keys=written.keys, released=written.requests)

    async def _adopt(self, client: "aioredis.Redis", seen: str) -> None:
        """Join Redis's generation (starting one if it has none), posting this process's
        holds first: until they are posted, nothing may be admitted against the budgets.
        One request of the loop does it; the others of a burst wait for it."""
        async with self._adoption():
            if seen and seen == self._generation:
                return  # adopted while this request waited
            current = _text(await client.get(GENERATION_KEY))
            if current and current == self._generation:
                return
            if not current:
                start = client.register_script(_START_GENERATION)
                settling_ms = round(settings.GATEWAY_RESERVATION_RESYNC_SECONDS * 1000)
                current = _text(await start([GENERATION_KEY], [secrets.token_hex(8), settling_ms]))
            with self._lock:
                held = list(self._held.values())
            if held:
                await self._post_again(client, held)
                logger.warning(
                    "Redis lost its reservations: posted this process's %d again", len(held)
                )
            self._generation = current

    def _adoption(self) -> asyncio.Lock:
        """The running loop's lock around adopting a generation."""
        loop = asyncio.get_running_loop()
        if self._adopting is None or self._adopting[0] is not loop:
            self._adopting = (loop, asyncio.Lock())
        return self._adopting[1]

    async def _post_again(self, client: "aioredis.Redis", held: list[_Held]) -> None:
        script = client.register_script(_REPOST)
        now = int(time.time() * 1000)
        async with client.pipeline(transaction=False) as pipe:
            for entry in held:
                hold = entry.hold
                keys = budget_keys("account", hold.account_id)[1:]
                if entry.on_key:
                    keys += budget_keys("key", hold.key_id)[1:]
                args: list[int | str] = [_ms(hold.expires_at), hold.id, units(hold.amount), now]
                await script(keys, args, client=pipe)
            await pipe.execute()
        with self._lock:
            gone = [entry.hold for entry in held if entry.hold.id not in self._held]
        if gone:  # settled while being posted: give them back again
            released = [(hold.id, hold.account_id, hold.key_id) for hold in gone]
            await asyncio.to_thread(holds_released, released)

    def _ensure_heartbeat(self) -> None:
        task = self._heartbeat
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            self._heartbeat = asyncio.get_running_loop().create_task(self._beat())

    async def _beat(self) -> None:
        """Every second: notice a Redis that lost its generation, and post the holds again."""
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                client = _client()
                seen = _text(await client.get(GENERATION_KEY))
                if seen != self._generation:
                    await self._adopt(client, seen)
            except (redis.RedisError, ReservationsUnavailable):
                logger.debug("reservation heartbeat: Redis unreachable")


async def _mirror(client: "aioredis.Redis", budget: AccountBudget | KeyBudget) -> None:
    """Mirror a budget read from the database (unless Redis knows a newer one)."""
    script = client.register_script(OBSERVE_SCRIPT)
    if isinstance(budget, AccountBudget):
        args = observe_args(budget.balance, budget.version, None)
        await script(budget_keys("account", budget.account_id), args)
    else:
        args = observe_args(budget.spend, budget.version, budget.period)
        await script(budget_keys("key", budget.key_id), args)
