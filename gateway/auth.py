"""Client authentication by API key, through a short-lived in-process cache.

A key is looked up in the database at most once per GATEWAY_AUTH_CACHE_SECONDS per process, so
a revocation takes effect everywhere within that time, and no request pays a database round
trip for a key seen recently.
"""

import time

from django.conf import settings

from billing.keys import KEY_SCHEME, hash_key
from gateway.bridge import store
from gateway.errors import InvalidApiKey
from gateway.schemas import KeyContext

MISSING_KEY = "Missing API key: send 'Authorization: Bearer <key>'."
INVALID_KEY = "Invalid API key."
REVOKED_KEY = "This API key was revoked."
EXPIRED_KEY = "This API key has expired."
MAX_CACHED_KEYS = 100_000

_cache: dict[str, tuple[KeyContext | None, float]] = {}


def bearer_token(header: str) -> str:
    """The token of an `Authorization: Bearer …` header; raise InvalidApiKey if absent."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise InvalidApiKey(MISSING_KEY)
    return token


async def _lookup(key_hash: str) -> KeyContext | None:
    now = time.monotonic()
    cached = _cache.get(key_hash)
    if cached is not None and cached[1] > now:
        return cached[0]
    context = await store.load_key(key_hash)
    if len(_cache) >= MAX_CACHED_KEYS:
        _cache.clear()
    _cache[key_hash] = (context, now + settings.GATEWAY_AUTH_CACHE_SECONDS)
    return context


async def authenticate(header: str) -> KeyContext:
    """The key of a request's Authorization header; InvalidApiKey if unknown, revoked or expired."""
    token = bearer_token(header)
    if not token.startswith(KEY_SCHEME):
        raise InvalidApiKey(INVALID_KEY)
    context = await _lookup(hash_key(token))
    if context is None:
        raise InvalidApiKey(INVALID_KEY)
    if context.revoked:
        raise InvalidApiKey(REVOKED_KEY)
    if context.expires_at_epoch is not None and context.expires_at_epoch <= time.time():
        raise InvalidApiKey(EXPIRED_KEY)
    return context


def forget_keys() -> None:
    """Drop every cached key (tests, and after bulk changes in this process)."""
    _cache.clear()
