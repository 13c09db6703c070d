"""Authentication as a limit: rpm charged to every request of a known key, and a flood of
made-up keys costing bounded database work while valid keys stay cached."""

import asyncio
import logging
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from billing.keys import KEY_SCHEME, generate_key
from gateway import auth

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


class _KeyQueries(logging.Handler):
    """Counts the SQL statements, from any thread, that read the API key table."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "billing_apikey" in str(getattr(record, "sql", "")):
            self.count += 1


@pytest.fixture
def key_queries(settings) -> Iterator[_KeyQueries]:
    """Every query Django runs is logged while DEBUG is on (for every thread: the server's
    too); this counts those of the key table."""
    settings.DEBUG = True
    logger = logging.getLogger("django.db.backends")
    handler, level = _KeyQueries(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)
    auth.forget_keys()


def _random_key() -> str:
    return generate_key().secret


# --- rpm at authentication ------------------------------------------------------------------


def test_refused_and_invalid_requests_count_against_the_rpm_limit(gateway, limits_store):
    gateway.channel("main")
    key = gateway.new_key(rpm_limit=10)
    bodies = [
        {"content": b'{"model": "gpt-4o-mini", "messages": [', "expect": 400},
        {"json": {**BODY, "model": "no-such-model"}, "expect": 404},
    ]

    with gateway.http(key) as client:
        responses = [
            client.post("/v1/chat/completions", **{k: v for k, v in body.items() if k != "expect"})
            for _ in range(15)
            for body in bodies
        ]

    statuses = [response.status_code for response in responses]
    assert statuses[:10] == [400, 404] * 5
    assert statuses[10:] == [429] * 20
    refused = responses[10]
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limit_exceeded")
    assert "10 requests per minute" in error["message"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    # Only the ten admitted requests left usage records; the refusals cost none.
    assert [r.http_status for r in gateway.wait_records(10)] == [400, 404] * 5
    assert gateway.received() == []


def test_every_client_endpoint_counts_against_the_rpm_limit(gateway, limits_store):
    gateway.channel("main")
    key = gateway.new_key(rpm_limit=3)

    with gateway.http(key) as client:
        models = client.get("/v1/models")
        summary = client.get("/v1/key")
        generation = client.get("/v1/generation", params={"id": "req_nope"})
        chat = client.post("/v1/chat/completions", json=BODY)
        models_again = client.get("/v1/models")

    assert (models.status_code, summary.status_code, generation.status_code) == (200, 200, 404)
    for refused in (chat, models_again):
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limit_exceeded"
        assert refused.headers["retry-after"]
    assert gateway.received() == []


def test_a_key_with_both_limits_is_charged_one_request_per_request(gateway, limits_store):
    gateway.channel("main")
    key = gateway.new_key(rpm_limit=3, tpm_limit=100_000)

    with gateway.http(key) as client:
        answers = [client.post("/v1/chat/completions", json=BODY) for _ in range(3)]
        fourth = client.post("/v1/chat/completions", json=BODY)

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert [answer.headers["x-ratelimit-remaining-requests"] for answer in answers] == [
        "2",
        "1",
        "0",
    ]
    assert all(answer.headers["x-ratelimit-limit-tokens"] == "100000" for answer in answers)
    assert fourth.status_code == 429
    assert len(gateway.received()) == 3


# --- a flood of made-up keys ----------------------------------------------------------------


async def _flood(url: str, keys: list[str]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        gate = asyncio.Semaphore(64)

        async def one(key: str) -> httpx.Response:
            async with gate:
                return await client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})

        return await asyncio.gather(*(one(key) for key in keys))


def test_a_flood_of_random_keys_costs_bounded_lookups_and_keeps_valid_keys(
    gateway, key_queries, settings
):
    # A budget the flood outruns even on a slow machine (the in-thread server answers a few
    # hundred requests a second); the flood overflows the unknown keys' cache ten times over.
    settings.GATEWAY_AUTH_LOOKUPS_PER_SECOND = 20
    settings.GATEWAY_AUTH_UNKNOWN_KEYS = 100
    settings.GATEWAY_AUTH_CACHE_SECONDS = 60
    gateway.channel("main")
    with gateway.http() as client:
        assert client.get("/v1/models").status_code == 200  # the valid key is cached now
    before = key_queries.count

    started = time.monotonic()
    responses = asyncio.run(_flood(gateway.url, [_random_key() for _ in range(1000)]))
    elapsed = time.monotonic() - started

    looked_up = key_queries.count - before
    assert elapsed < 60
    assert looked_up <= 20 + 20 * elapsed + 5, (looked_up, elapsed)
    codes = {(r.status_code, r.json()["error"]["code"]) for r in responses}
    assert codes <= {(401, "invalid_api_key"), (503, "authentication_busy")}
    busy = [r for r in responses if r.status_code == 503]
    assert busy, "the flood outran the lookup budget"
    assert all(r.headers["retry-after"] == "1" for r in busy)

    during = key_queries.count
    with gateway.http() as client:
        served = [client.get("/v1/models").status_code for _ in range(20)]
    assert served == [200] * 20
    assert key_queries.count == during, "the valid key was evicted and looked up again"


def test_tokens_not_shaped_like_our_keys_are_refused_without_a_lookup(gateway, key_queries):
    gateway.channel("main")
    tokens = [
        "sk-sy-short",
        KEY_SCHEME + "A" * 42,
        KEY_SCHEME + "A" * 44,
        KEY_SCHEME + "!" * 43,
        "sk-other-" + secrets.token_urlsafe(32),
        "x" * 5000,
    ]

    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        statuses = [
            client.get("/v1/models", headers={"Authorization": f"Bearer {token}"}).status_code
            for token in tokens
        ]

    assert statuses == [401] * len(tokens)
    assert key_queries.count == 0


def test_concurrent_requests_with_one_new_key_share_one_lookup(gateway, key_queries):
    gateway.channel("main")
    key = gateway.new_key()
    unknown = _random_key()
    before = key_queries.count

    def get(token: str) -> int:
        with httpx.Client(base_url=gateway.url, timeout=10) as client:
            headers = {"Authorization": f"Bearer {token}"}
            return client.get("/v1/models", headers=headers).status_code

    with ThreadPoolExecutor(max_workers=40) as pool:
        statuses = list(pool.map(get, [key] * 40 + [unknown] * 40))

    assert statuses == [200] * 40 + [401] * 40
    assert key_queries.count - before == 2, "one lookup each"
