"""Service probes for load balancers and orchestrators: `/healthz` and `/readyz`.

Both stay open to anyone: an orchestrator's probe sends no credentials. With
GATEWAY_METRICS_TOKEN set, `/readyz` tells others only whether the process is ready; which
dependency fails is for the token's bearer (and the log).
"""

import logging

import redis
from django.db import connection
from django.http import HttpRequest, JsonResponse

from core.redis import sync_redis
from gateway.metrics import operator_token_given

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
    """200 when the database (and Redis, when configured) answer, else 503; the checks are
    named unless a metrics token is set and the request does not bear it."""
    checks = {"database": _database_ready(), "redis": _redis_ready()}
    ready = all(value is not False for value in checks.values())
    body: dict[str, object] = {"status": "ok" if ready else "unavailable"}
    if operator_token_given(request):
        body["checks"] = checks
    return JsonResponse(body, status=200 if ready else 503)
