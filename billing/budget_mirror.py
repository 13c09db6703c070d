"""Budget mirrors in Redis: what the database says an account and a key have spent.

Redis holds, per account and per key, a mirror of the database budget (balance, or spend in
the current period) stamped with the row's version, and the reservations of requests in flight
(each with an expiry, so a crashed process's holds lapse). The database stays the truth: after
a usage batch commits, one script per budget gives back the batch's reservations and moves the
mirror to the committed version — never to an older one — so a charge is always counted exactly
once, by the mirror or by its reservation. Amounts are integers of 1e-10 USD (the money
columns' precision). The request path's half (admitting holds) is
`gateway.bridge.reservations.redis`; this half runs after commits, in sync code.
"""

import logging
from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_CEILING, Decimal

import redis

from billing.budgets import AccountBudget, Budget, KeyBudget
from core.redis import sync_redis

logger = logging.getLogger(__name__)

UNITS_PER_USD = Decimal(10) ** 10
MIRROR_SECONDS = 600
"""A mirror unused this long is dropped and re-read from the database on next use."""
NO_PERIOD = 0


OBSERVE_SCRIPT = """
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


RELEASE_SCRIPT = """
for i = 1, #ARGV do
  local amount = redis.call('HGET', KEYS[2], ARGV[i])
  if amount then
    redis.call('HDEL', KEYS[2], ARGV[i])
    redis.call('ZREM', KEYS[1], ARGV[i])
    redis.call('HINCRBY', KEYS[2], 'total', '-' .. amount)
  end
end
return 0
"""


def budget_keys(budget: Budget, budget_id: int) -> list[str]:
    """The mirror's, its holds' and their amounts' Redis keys."""
    base = f"switchyard:budget:{budget}:{budget_id}"
    return [base, f"{base}:holds", f"{base}:amounts"]


def period_stamp(period: datetime | None) -> int:
    """A period's start as the mirror stores it (seconds; 0 for a key that never resets)."""
    return NO_PERIOD if period is None else int(period.timestamp())


def observe_args(value: Decimal, version: int, period: datetime | None) -> list[int]:
    """OBSERVE_SCRIPT's arguments before the released request ids."""
    return [units(value), version, period_stamp(period), MIRROR_SECONDS]


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
        script = client.register_script(OBSERVE_SCRIPT)
        with client.pipeline(transaction=False) as pipe:
            for account in accounts:
                args = observe_args(account.balance, account.version, None)
                ids = by_account.get(account.account_id, [])
                script(budget_keys("account", account.account_id), [*args, *ids], client=pipe)
            for key in keys:
                args = observe_args(key.spend, key.version, key.period)
                ids = by_key.get(key.key_id, [])
                script(budget_keys("key", key.key_id), [*args, *ids], client=pipe)
            pipe.execute()
    except redis.RedisError:
        logger.exception("updating the budget mirrors in Redis failed")


def holds_released(released: Iterable[tuple[str, int, int]]) -> None:
    """Give back the Redis holds of these requests (request id, account id, key id), whatever
    their budgets' mirrors say; holds already gone are skipped. Does nothing without Redis; a
    Redis failure is logged (the holds then lapse at their expiry)."""
    client = sync_redis()
    if client is None:
        return
    by_budget: dict[tuple[Budget, int], list[str]] = {}
    for request_id, account_id, key_id in released:
        by_budget.setdefault(("account", account_id), []).append(request_id)
        by_budget.setdefault(("key", key_id), []).append(request_id)
    try:
        script = client.register_script(RELEASE_SCRIPT)
        with client.pipeline(transaction=False) as pipe:
            for (budget, budget_id), ids in by_budget.items():
                script(budget_keys(budget, budget_id)[1:], ids, client=pipe)
            pipe.execute()
    except redis.RedisError:
        logger.exception("giving back holds in Redis failed")
