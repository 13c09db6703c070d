"""Per-key rate limits, requests and tokens per minute, by GCRA (the generic cell rate algorithm).

Each limit keeps one number, its theoretical arrival time (TAT): the moment the key would be
back at full allowance. A request costing `c` units moves it `c * 60 s / limit` later and is
allowed while it stays within 60 s of now — so a key may spend a whole minute's allowance in a
burst, then at the steady rate. With Redis one script checks and charges both limits at once
for every gateway process; without Redis the limits hold per process.

Token limits are charged the request's estimate (prompt estimate plus `max_tokens`) on
admission and corrected to the tokens actually used when the request ends.
"""

import math
import threading
import time
from dataclasses import dataclass

from core.redis import async_redis

WINDOW_SECONDS = 60.0
SLACK_MS = 0.01
"""Rounding room: times travel through Redis as text with three decimals of a millisecond."""

_CHECK = """
local SLACK = 0.01
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local results = {}
local allowed = 1
local new_tats = {}
for i = 1, #KEYS do
  local limit = tonumber(ARGV[2 + 2 * i - 1])
  local cost = tonumber(ARGV[2 + 2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local new_tat = tat + cost * window / limit
  new_tats[i] = new_tat
  if new_tat - now > window + SLACK then allowed = 0 end
  results[i] = {string.format('%.3f', tat), string.format('%.3f', new_tat)}
end
if allowed == 1 then
  for i = 1, #KEYS do
    local ttl = math.ceil(new_tats[i] - now) + 1000
    redis.call('SET', KEYS[i], string.format('%.3f', new_tats[i]), 'PX', ttl)
  end
end
local flat = {allowed}
for i = 1, #KEYS do
  table.insert(flat, results[i][1])
  table.insert(flat, results[i][2])
end
return flat
"""

_ADJUST = """
local now = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
tat = tat + tonumber(ARGV[2])
if tat <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1000)
end
return 1
"""


@dataclass(frozen=True, slots=True)
class LimitState:
    """One limit after a check: its size, what is left of it, and when it is full again."""

    kind: str  # "requests" or "tokens"
    limit: int
    remaining: int
    reset_seconds: float
    retry_after: float | None
    """Seconds until this request would fit (None when it did); can exceed a minute only
    when the request alone is larger than the limit."""


@dataclass(frozen=True, slots=True)
class Charge:
    """One limit a request is charged against."""

    kind: str
    key_id: int
    limit: int
    cost: int

    def storage_key(self) -> str:
        return f"switchyard:rate:{self.kind}:{self.key_id}"

    def state(self, tat: float, new_tat: float, now: float, allowed: bool) -> LimitState:
        """What the limit looks like after the check (all times in milliseconds)."""
        window_ms = WINDOW_SECONDS * 1000
        per_unit = window_ms / self.limit
        after = new_tat if allowed else tat
        remaining = max(0, math.floor((window_ms + SLACK_MS - (after - now)) / per_unit))
        over = new_tat - now - window_ms
        retry = None if over <= SLACK_MS else over / 1000
        return LimitState(self.kind, self.limit, remaining, max(after - now, 0) / 1000, retry)


_local_tats: dict[str, float] = {}
_local_lock = threading.Lock()


def _now_ms() -> float:
    return time.time() * 1000


async def check(charges: list[Charge]) -> tuple[bool, list[LimitState]]:
    """Charge every limit if all of them allow it; return whether they did and their states."""
    if not charges:
        return True, []
    now = _now_ms()
    window_ms = WINDOW_SECONDS * 1000
    client = async_redis()
    if client is None:
        allowed, pairs = _check_locally(charges, now, window_ms)
    else:
        args: list[float | int] = [now, window_ms]
        for charge in charges:
            args += [charge.limit, charge.cost]
        script = client.register_script(_CHECK)
        flat = await script([charge.storage_key() for charge in charges], args)
        allowed = flat[0] == 1
        pairs = [(float(flat[1 + 2 * i]), float(flat[2 + 2 * i])) for i in range(len(charges))]
    states = [
        charge.state(tat, new_tat, now, allowed)
        for charge, (tat, new_tat) in zip(charges, pairs, strict=True)
    ]
    return allowed, states


def _check_locally(
    charges: list[Charge], now: float, window_ms: float
) -> tuple[bool, list[tuple[float, float]]]:
    with _local_lock:
        pairs = []
        for charge in charges:
            tat = max(_local_tats.get(charge.storage_key(), 0.0), now)
            pairs.append((tat, tat + charge.cost * window_ms / charge.limit))
        allowed = all(new_tat - now <= window_ms + SLACK_MS for _, new_tat in pairs)
        if allowed:
            for charge, (_, new_tat) in zip(charges, pairs, strict=True):
                _local_tats[charge.storage_key()] = new_tat
        return allowed, pairs


async def adjust(charge: Charge, actual: int) -> None:
    """Correct a charged limit from the estimated cost to the `actual` one."""
    delta = actual - charge.cost
    if delta == 0:
        return
    shift_ms = delta * WINDOW_SECONDS * 1000 / charge.limit
    now = _now_ms()
    client = async_redis()
    if client is None:
        with _local_lock:
            key = charge.storage_key()
            _local_tats[key] = max(_local_tats.get(key, 0.0), now) + shift_ms
        return
    await client.register_script(_ADJUST)([charge.storage_key()], [now, shift_ms])


def forget_local_limits() -> None:
    """Drop this process's in-memory limits (tests)."""
    with _local_lock:
        _local_tats.clear()
