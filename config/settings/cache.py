"""Redis (REDIS_URL and the bounds of its connection pools) and the cache: Redis when REDIS_URL
is set, else an in-process cache."""

from config.env import env
from core.redis import pool_options

REDIS_URL = env.str("REDIS_URL", default="")
# Every Redis pool of a process (the shared clients of `core.redis`, one per event loop, and
# the cache's) holds at most this many connections; a command that finds them all busy waits
# up to REDIS_POOL_TIMEOUT seconds for one before it fails. In a burst that wait is the
# process's own backlog (up to 3 s for 600 requests at once on a busy 2-core machine), so it is
# generous; a Redis that stops answering is bounded by REDIS_SOCKET_TIMEOUT instead.
REDIS_MAX_CONNECTIONS = env.int("REDIS_MAX_CONNECTIONS", default=50)
REDIS_POOL_TIMEOUT = env.float("REDIS_POOL_TIMEOUT", default=10.0)
# Seconds to connect to Redis, and for a command's reply.
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=5.0)

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "switchyard",
            "OPTIONS": {
                "pool_class": "redis.BlockingConnectionPool",
                **pool_options(
                    max_connections=REDIS_MAX_CONNECTIONS,
                    pool_timeout=REDIS_POOL_TIMEOUT,
                    socket_timeout=REDIS_SOCKET_TIMEOUT,
                    for_asyncio=False,
                ),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
