"""The shared Redis clients, against the suite's real Redis: a bounded pool that makes a burst
wait for a connection instead of failing, a bounded wait, and one retry of a connection that
Redis closed."""

import asyncio
import time

import pytest
import redis
from django.core.cache import cache

from core.redis import async_redis, sync_redis


@pytest.fixture
def killer(redis_url: str):
    """Closes a connection from Redis's side by its CLIENT ID, as a restart does."""
    with redis.Redis.from_url(redis_url) as other:
        yield lambda client_id: other.client_kill_filter(_id=client_id)


def test_a_burst_far_larger_than_the_pool_waits_for_connections(settings) -> None:
    settings.REDIS_MAX_CONNECTIONS = 3

    async def burst() -> set[int]:
        client = async_redis()  # a new event loop: a new client, with these settings
        assert client is not None
        seen = set(await asyncio.gather(*(client.client_id() for _ in range(500))))
        await client.connection_pool.disconnect()
        return seen

    connections = asyncio.run(burst())

    assert 1 <= len(connections) <= 3


def test_a_command_waits_for_a_busy_pool_at_most_the_pool_timeout(settings) -> None:
    settings.REDIS_MAX_CONNECTIONS = 1
    settings.REDIS_POOL_TIMEOUT = 0.3

    async def second_while_the_first_blocks() -> float:
        client = async_redis()
        assert client is not None
        blocking = asyncio.ensure_future(client.blpop(["switchyard:test:nothing"], timeout=2))
        await asyncio.sleep(0.1)  # the one connection is now inside BLPOP
        started = time.monotonic()
        try:
            with pytest.raises(redis.ConnectionError):
                await client.ping()
            return time.monotonic() - started
        finally:
            await blocking
            await client.connection_pool.disconnect()

    waited = asyncio.run(second_while_the_first_blocks())

    assert 0.25 < waited < 1.5


def test_the_sync_client_retries_a_connection_redis_closed(killer) -> None:
    client = sync_redis()
    assert client is not None
    before = client.client_id()

    killer(before)

    assert client.ping() is True
    assert client.client_id() != before


def test_the_async_client_retries_a_connection_redis_closed(killer) -> None:
    async def ping_after_kill() -> tuple[int, bool, int]:
        client = async_redis()
        assert client is not None
        before = await client.client_id()
        killer(before)
        answered, after = await client.ping(), await client.client_id()
        await client.connection_pool.disconnect()
        return before, answered, after

    before, answered, after = asyncio.run(ping_after_kill())

    assert answered is True
    assert after != before


def test_the_cache_uses_a_bounded_pool_and_survives_a_closed_connection(killer) -> None:
    cache.set("pool-test", "kept")
    pool = cache._cache._get_connection_pool(write=True)  # type: ignore[attr-defined]
    assert isinstance(pool, redis.BlockingConnectionPool)
    assert pool.max_connections == 50
    killer(redis.Redis(connection_pool=pool).client_id())

    assert cache.get("pool-test") == "kept"
