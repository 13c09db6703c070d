"""Reservations in Redis: one atomic script admits a request against its account and key.

Redis holds, per account and per key, a mirror of the database budget (balance, or spend in
the current period) stamped with the row's version, and the reservations of requests in flight
(each with an expiry, so a crashed process's holds lapse). The database stays the truth: after
a usage batch commits, one script per budget gives back the batch's reservations and moves the
mirror to the committed version — never to an older one — so a charge is always counted exactly
once, by the mirror or by its reservation. Amounts are integers of 1e-10 USD (the money
columns' precision).
"""

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from decimal import ROUND_CEILING, Decimal

import redis
import redis.asyncio as aioredis

from billing.budgets import AccountBudget, Budget, Hold, KeyBudget, Refusal
from config.redis import async_redis, sync_redis

logger = logging.getLogger(__name__)

UNITS_PER_USD = Decimal(10) ** 10
MIRROR_SECONDS = 600
"""A mirror unused this long is dropped and re-read from the database on next use."""
NO_PERIOD = 0

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

_OBSERVE = """
local period, version = tonumber(ARGV[3]), tonumber(ARGV[2])
local known = redis.call('HGET', KEYS[1], 'period')
local newer = not known
if known then
  local known_version = tonumber(redis.call('HGET', KEYS[1], 'version'))
  newer = period > tonumber(known) or (period == tonumber(known) and version > known_version)
end
if newer then
  redis.call('HSET', KEYS[1], 'value', ARGV[1], 'version', ARGV[2], 'period', ARGV[3])
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
for i = 5, #ARGV do
  local amount = redis.call('HGET', KEYS[3], ARGV[i])
  if amount then
    redis.call('HDEL', KEYS[3], ARGV[i])
    redis.call('ZREM', KEYS[2], ARGV[i])
    redis.call('HINCRBY', KEYS[3], 'total', '-' .. amount)
  end
end
return newer and 1 or 0
"""


def units(amount: Decimal) -> int:
    """An amount in integer units of 1e-10 USD, rounded up (a reservation never falls short)."""
    return int((amount * UNITS_PER_USD).to_integral_value(rounding=ROUND_CEILING))


def _keys(budget: Budget, budget_id: int) -> list[str]:
    base = f"switchyard:budget:{budget}:{budget_id}"
    return [base, f"{base}:holds", f"{base}:amounts"]


def _period(period: datetime | None) -> int:
    return NO_PERIOD if period is None else int(period.timestamp())


def _observe_args(value: Decimal, version: int, period: datetime | None) -> list[int]:
    return [units(value), version, _period(period), MIRROR_SECONDS]


def budget_observed(
    *,
    accounts: Iterable[AccountBudget],
    keys: Iterable[KeyBudget],
    released: Iterable[tuple[str, int, int]] = (),
) -> None:
    """After a commit: move the Redis mirrors to these budgets (unless they know newer ones)
    and give back the reservations of `released` (request id, account id, key id). Does
    nothing without Redis; a Redis failure is logged (the holds then lapse at their expiry)."""
    client = sync_redis()
    if client is None:
        return
    by_account: dict[int, list[str]] = {}
    by_key: dict[int, list[str]] = {}
    for request_id, account_id, key_id in released:
        by_account.setdefault(account_id, []).append(request_id)
        by_key.setdefault(key_id, []).append(request_id)
    try:
        script = client.register_script(_OBSERVE)
        with client.pipeline(transaction=False) as pipe:
            for account in accounts:
                args = _observe_args(account.balance, account.version, None)
                ids = by_account.get(account.account_id, [])
                script(_keys("account", account.account_id), [*args, *ids], client=pipe)
            for key in keys:
                args = _observe_args(key.spend, key.version, key.period)
                ids = by_key.get(key.key_id, [])
                script(_keys("key", key.key_id), [*args, *ids], client=pipe)
            pipe.execute()
    except redis.RedisError:
        logger.exception("updating the budget mirrors in Redis failed")


def _async_client() -> "aioredis.Redis":
    client = async_redis()
    if client is None:
        raise RuntimeError("Redis reservations need REDIS_URL")
    return client


async def _observe_async(budget: AccountBudget | KeyBudget) -> None:
    script = _async_client().register_script(_OBSERVE)
    if isinstance(budget, AccountBudget):
        args = _observe_args(budget.balance, budget.version, None)
        await script(_keys("account", budget.account_id), args)
    else:
        args = _observe_args(budget.spend, budget.version, budget.period)
        await script(_keys("key", budget.key_id), args)


async def reserve_in_redis(
    *,
    hold: Hold,
    now: datetime,
    key_limit: Decimal | None,
    key_period: datetime | None,
    load: Callable[[Budget], Awaitable[AccountBudget | KeyBudget]],
) -> Refusal | None:
    """Reserve `hold.amount` against the account's balance and, when the key has a limit, the
    key's remaining limit, atomically; None on success. A budget Redis does not know (yet, or
    for a new period) is read with `load` and mirrored first."""
    script = _async_client().register_script(_RESERVE)
    account_keys, key_keys = _keys("account", hold.account_id), _keys("key", hold.key_id)
    args: list[int | str] = [
        int(now.timestamp() * 1000),
        int(hold.expires_at.timestamp() * 1000),
        hold.id,
        units(hold.amount),
        -1 if key_limit is None else units(key_limit),
        _period(key_period),
    ]
    for _ in range(3):
        outcome = await script([*account_keys, *key_keys], args)
        if outcome[0] == 0:
            return None
        budget: Budget = "account" if outcome[1] == 1 else "key"
        if outcome[0] == 2:
            available = Decimal(outcome[2].decode()) / UNITS_PER_USD
            return Refusal(budget, available)
        await _observe_async(await load(budget))
    raise RuntimeError("the budget mirror in Redis keeps changing")
