"""Client authentication by API key, through short-lived in-process caches; charges the rpm limit.

A key is looked up in the database at most once per GATEWAY_AUTH_CACHE_SECONDS per process, so
a revocation takes effect everywhere within that time, and no request pays a database round
trip for a key seen recently. Keys found and keys not found are cached apart, each bounded
(oldest out first): made-up keys only ever push out other made-up keys. A token that cannot be
one of our keys (billing.keys.generate_key's shape) is refused without a lookup; concurrent
requests with the same uncached key share one lookup; and lookups of keys in neither cache are
held to GATEWAY_AUTH_LOOKUPS_PER_SECOND per process, the rest answered AuthenticationBusy (503,
retry-after) — a new valid key is put off during a flood, never refused. Keys already cached
(even expired, being looked up again) never wait for that budget. A configuration notice
(gateway.config_follow) makes a changed key be looked up again at its next request.
"""

import asyncio
import math
import re
import time
from collections import OrderedDict

from django.conf import settings

from billing.keys import KEY_SCHEME, RANDOM_BYTES, hash_key
from gateway import admission
from gateway.bridge import store
from gateway.errors import AuthenticationBusy, InvalidApiKey
from gateway.schemas import KeyContext

MISSING_KEY = "Missing API key: send 'Authorization: Bearer <key>'."
INVALID_KEY = "Invalid API key."
REVOKED_KEY = "This API key was revoked."
EXPIRED_KEY = "This API key has expired."
LOOKUPS_BUSY = "The gateway is checking too many unknown API keys at once; try again in a second."

_KEY_SHAPE = re.compile(
    re.escape(KEY_SCHEME) + "[A-Za-z0-9_-]{" + str(math.ceil(RANDOM_BYTES * 4 / 3)) + "}"
)
"""What billing.keys.generate_key makes: the scheme, then 32 bytes in unpadded URL-safe base64."""

_known: OrderedDict[str, tuple[KeyContext, float]] = OrderedDict()
_unknown: OrderedDict[str, float] = OrderedDict()
_lookups: dict[str, asyncio.Task[KeyContext | None]] = {}
_dropped = 0
"""How many times cached keys were dropped: a lookup that began before a drop does not cache
what it read (the change may have committed after its read)."""


class _LookupBudget:
    """A token bucket of lookups of keys in neither cache: GATEWAY_AUTH_LOOKUPS_PER_SECOND, up to
    a second's worth at once."""

    def __init__(self) -> None:
        self.tokens = -1.0
        self.updated = 0.0

    def take(self) -> bool:
        rate = settings.GATEWAY_AUTH_LOOKUPS_PER_SECOND
        if rate <= 0:
            return True
        now = time.monotonic()
        burst = max(rate, 1.0)
        if self.tokens < 0:
            self.tokens = burst
        self.tokens = min(burst, self.tokens + (now - self.updated) * rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


_budget = _LookupBudget()


def bearer_token(header: str) -> str:
    """The token of an `Authorization: Bearer …` header; raise InvalidApiKey if absent."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise InvalidApiKey(MISSING_KEY)
    return token


def _remember(key_hash: str, context: KeyContext | None) -> None:
    expires = time.monotonic() + settings.GATEWAY_AUTH_CACHE_SECONDS
    if context is None:
        _known.pop(key_hash, None)
        _unknown[key_hash] = expires
        _unknown.move_to_end(key_hash)
        while len(_unknown) > max(settings.GATEWAY_AUTH_UNKNOWN_KEYS, 1):
            _unknown.popitem(last=False)
    else:
        _unknown.pop(key_hash, None)
        _known[key_hash] = (context, expires)
        _known.move_to_end(key_hash)
        while len(_known) > max(settings.GATEWAY_AUTH_CACHE_KEYS, 1):
            _known.popitem(last=False)


async def _load(key_hash: str) -> KeyContext | None:
    dropped = _dropped
    context = await store.load_key(key_hash)
    if dropped == _dropped:
        _remember(key_hash, context)
    return context


def _lookup_done(task: asyncio.Task[KeyContext | None], key_hash: str) -> None:
    if _lookups.get(key_hash) is task:
        del _lookups[key_hash]
    if not task.cancelled():
        task.exception()  # retrieved: its waiters may all have gone


async def _lookup(token: str) -> KeyContext | None:
    key_hash = hash_key(token)
    now = time.monotonic()
    known = _known.get(key_hash)
    if known is not None and known[1] > now:
        return known[0]
    if known is None:
        if not _KEY_SHAPE.fullmatch(token):
            return None
        expires = _unknown.get(key_hash)
        if expires is not None and expires > now:
            return None
    task = _lookups.get(key_hash)
    if task is None or task.get_loop() is not asyncio.get_running_loop():
        if known is None and not _budget.take():
            raise AuthenticationBusy(LOOKUPS_BUSY, retry_after=1)
        task = asyncio.ensure_future(_load(key_hash))
        _lookups[key_hash] = task
        task.add_done_callback(lambda done: _lookup_done(done, key_hash))
    return await asyncio.shield(task)


async def authenticate(header: str) -> KeyContext:
    """The key of a request's Authorization header, its request charged to the key's rpm limit;
    InvalidApiKey if unknown, revoked or expired, RateLimited over the rpm limit,
    AuthenticationBusy or DatabaseUnavailable (503) when the key cannot be looked up now."""
    context = await _lookup(bearer_token(header))
    if context is None:
        raise InvalidApiKey(INVALID_KEY)
    if context.revoked:
        raise InvalidApiKey(REVOKED_KEY)
    if context.expires_at_epoch is not None and context.expires_at_epoch <= time.time():
        raise InvalidApiKey(EXPIRED_KEY)
    if context.rpm_limit:
        await admission.admit_request(context)
    return context


def expire_key(key_hash: str) -> None:
    """Make one key (by its hash) be looked up again at its next request, as a known key (no
    lookup budget) if it was one."""
    global _dropped
    _dropped += 1
    known = _known.get(key_hash)
    if known is not None:
        _known[key_hash] = (known[0], 0.0)
    _unknown.pop(key_hash, None)
    _lookups.pop(key_hash, None)


def expire_keys() -> None:
    """`expire_key` for every cached key (after notices may have been missed)."""
    global _dropped
    _dropped += 1
    for key_hash, (context, _) in _known.items():
        _known[key_hash] = (context, 0.0)
    _unknown.clear()
    _lookups.clear()


def forget_keys() -> None:
    """Drop every cached key and refill the lookup budget (tests)."""
    global _dropped
    _dropped += 1
    _known.clear()
    _unknown.clear()
    _lookups.clear()
    _budget.tokens = -1.0
