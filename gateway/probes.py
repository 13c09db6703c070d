"""Service probes for load balancers and orchestrators: `/healthz` and `/readyz`."""

import logging

import redis
from django.db import connection
from django.http import HttpRequest, JsonResponse

from config.redis import sync_redis

logger = logging.getLogger(__name__)


async def healthz(request: HttpRequest) -> JsonResponse:
    """200 while the process serves requests; touches nothing else."""
    return JsonResponse({"status": "ok"})


def _database_ready() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        logger.exception("readiness: the database is unreachable")
        return False
    return True


def _redis_ready() -> bool | None:
    client = sync_redis()  # the shared bounded pool: no new connection per probe
    if client is None:
        return None
    try:
        client.ping()
    except redis.RedisError:
        logger.exception("readiness: Redis is unreachable")
        return False
    return True


def readyz(request: HttpRequest) -> JsonResponse:
    """200 when the database (and Redis, when configured) answer; 503 naming what does not."""
    checks = {"database": _database_ready(), "redis": _redis_ready()}
    ready = all(value is not False for value in checks.values())
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    return JsonResponse(body, status=200 if ready else 503)
