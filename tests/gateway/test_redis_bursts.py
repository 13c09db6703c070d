"""Redis under bursts and restarts: a burst far larger than the Redis pool waits for a free
connection instead of failing, and a Redis that restarted does not fail the next requests."""

import asyncio
import time

import httpx

from tests.gateway.conftest import Gateway
from tests.gateway.process_helpers import gateway_process
from tests.redis_server import redis_server

BURST = 150
"""Requests of each kind (stream, non-stream) at once: together six times the default pool of
50 (more would measure how fast the in-thread fake upstream accepts connections on a busy
machine, not the pool)."""
BODY = {"model": "gpt-4o-mini", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
SLOW_MODEL = {"gpt-4o-mini": "gpt-4o-mini@latency_ms=300"}
"""Each answer takes 0.3 s, so the whole burst is in flight at once."""


def _failure(response: httpx.Response) -> str | None:
    """Why a response is not a complete answer (JSON with choices, or a stream that ends with
    [DONE] and has no error event), or None when it is one."""
    if response.status_code != 200:
        return f"{response.status_code} {response.text[:200]}"
    if not response.headers["content-type"].startswith("text/event-stream"):
        return None if "choices" in response.json() else response.text[:200]
    text = response.text
    if '"error"' in text or not text.rstrip().endswith("data: [DONE]"):
        return text[-200:]
    return None


async def _burst(url: str, key: str, count: int) -> list[httpx.Response]:
    """`count` non-stream and `count` stream requests, all at once."""
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=2 * count + 10, max_keepalive_connections=2 * count)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=60, limits=limits
    ) as client:
        plain = [client.post("/v1/chat/completions", json=BODY) for _ in range(count)]
        streams = [
            client.post("/v1/chat/completions", json={**BODY, "stream": True}) for _ in range(count)
        ]
        return await asyncio.gather(*plain, *streams)


def test_a_burst_six_times_the_redis_pool_is_served_without_a_503(gateway: Gateway) -> None:
    gateway.channel("main", models=SLOW_MODEL)
    # Each test starts with an emptied Redis: one request first, so that the burst measures the
    # pool and not this process posting its holds again to Redis's new generation.
    with gateway.http() as client:
        assert client.post("/v1/chat/completions", json=BODY).status_code == 200

    responses = asyncio.run(_burst(gateway.url, gateway.key, BURST))

    failures = [failure for response in responses if (failure := _failure(response))]
    assert failures == [], f"{len(failures)} of {len(responses)} failed, e.g. {failures[:3]}"
    assert len(gateway.wait_records(2 * BURST + 1)) == 2 * BURST + 1


def _answers(url: str, key: str, count: int) -> list[str | None]:
    """Why each of a burst's answers failed (None for each one that did not)."""
    return [_failure(response) for response in asyncio.run(_burst(url, key, count))]


def test_requests_after_a_redis_restart_are_served(gateway: Gateway) -> None:
    gateway.channel("main")

    with redis_server() as redis, gateway_process(REDIS_URL=redis.url) as (_, url):
        assert _answers(url, gateway.key, 20) == [None] * 40  # the pool now holds connections
        redis.restart()  # SIGKILL: every pooled connection is now stale
        assert _answers(url, gateway.key, 20) == [None] * 40
        redis.restart(kill=False)  # SIGTERM: Redis closes them itself
        started = time.monotonic()
        assert _answers(url, gateway.key, 20) == [None] * 40
        assert time.monotonic() - started < 10  # retried at once, not after a backoff
