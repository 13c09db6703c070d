"""A change of channel (also by a probe), price or key is obeyed by every gateway process within
a second (#16.2): a broadcast over Redis, not polling — the gateways here poll only every 60 s.
It survives a Redis restart, and in the embedded mode (no Redis) a change made through the
process's own management API is obeyed at once."""

import time
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
import redis
from rest_framework.authtoken.models import Token

from billing.services import api_key_revoke
from channels.models import Channel
from channels.probes import ProbeResult
from channels.services import (
    ModelOffer,
    channel_record_probe,
    channel_update,
    channels_set_enabled,
)
from core.config_changes.redis import CHANNEL
from tests.gateway.process_helpers import gateway_process
from tests.redis_server import redis_server

OBEYED_WITHIN = 1.0
POLLING_ONLY_EVERY = {"GATEWAY_CATALOG_SECONDS": "60", "GATEWAY_AUTH_CACHE_SECONDS": "60"}
MODEL = "broadcast-model"

pytestmark = pytest.mark.usefixtures("redis_url")


def _models(url: str, key: str) -> httpx.Response:
    return httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=5)


def _input_price(url: str, key: str) -> Decimal | None:
    """The price per 1M input tokens that `url` lists for MODEL, None when it does not list it."""
    entries = {entry["id"]: entry for entry in _models(url, key).json()["data"]}
    entry = entries.get(MODEL)
    return None if entry is None else Decimal(entry["pricing"]["input"])


def _obeyed(urls: list[str], check: Callable[[str], bool]) -> list[float]:
    """Seconds until `check` held on each of `urls` (asking each in turn every 20 ms), asserting
    every one within OBEYED_WITHIN of the change."""
    changed = time.monotonic()
    seconds: dict[str, float] = {}
    while len(seconds) < len(urls) and time.monotonic() - changed < OBEYED_WITHIN + 0.5:
        for url in urls:
            if url not in seconds and check(url):
                seconds[url] = time.monotonic() - changed
        time.sleep(0.02)
    assert len(seconds) == len(urls), f"only {len(seconds)} of {len(urls)} processes obeyed"
    assert max(seconds.values()) <= OBEYED_WITHIN, seconds
    return list(seconds.values())


def _served_by(url: str, key: str) -> str:
    """The channel that served one chat completion through `url`."""
    response = httpx.post(
        f"{url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.headers["x-switchyard-channel"]


def _subscribers(client: redis.Redis) -> int:
    return int(dict(client.pubsub_numsub(CHANNEL)).get(CHANNEL.encode(), 0))


def _wait_subscribed(client: redis.Redis, count: int) -> None:
    """Until `count` processes are subscribed to the notices (at most 10 s)."""
    deadline = time.monotonic() + 10
    while _subscribers(client) < count:
        assert time.monotonic() < deadline, "the gateways did not subscribe to the notices"
        time.sleep(0.05)


def _reprice(channel: Channel, input_price: int) -> None:
    offer = ModelOffer(MODEL, "gpt-4o-mini", Decimal(input_price), Decimal(2))
    channel_update(channel=channel, fields={}, models=[offer])


def test_a_price_a_disabled_channel_and_a_revoked_key_are_obeyed_by_every_process_at_once(
    gateway, settings
):
    channel = gateway.channel("broadcast", models={MODEL: "gpt-4o-mini"}, price=("1", "2"))
    client = redis.Redis.from_url(settings.REDIS_URL)
    already = _subscribers(client)
    with (
        gateway_process(**POLLING_ONLY_EVERY) as (_, first),
        gateway_process(**POLLING_ONLY_EVERY) as (_, second),
    ):
        _wait_subscribed(client, already + 2)
        urls = [first, second]
        assert [_input_price(url, gateway.key) for url in urls] == [1, 1]

        _reprice(channel, 3)
        _obeyed(urls, lambda url: _input_price(url, gateway.key) == 3)

        for price in range(10, 30):  # a burst: the last change is the one listed
            _reprice(channel, price)
        _obeyed(urls, lambda url: _input_price(url, gateway.key) == 29)

        channels_set_enabled(channels=Channel.objects.filter(pk=channel.pk), enabled=False)
        _obeyed(urls, lambda url: _input_price(url, gateway.key) is None)

        api_key_revoke(key=gateway.account.api_keys.get())
        _obeyed(urls, lambda url: _models(url, gateway.key).status_code == 401)
    client.close()


def test_a_channel_a_probe_takes_down_is_avoided_by_every_process_at_once(gateway, settings):
    primary = gateway.channel("primary", models={MODEL: "gpt-4o-mini"}, priority=10)
    gateway.channel("backup", models={MODEL: "gpt-4o-mini"})
    client = redis.Redis.from_url(settings.REDIS_URL)
    already = _subscribers(client)
    with (
        gateway_process(**POLLING_ONLY_EVERY) as (_, first),
        gateway_process(**POLLING_ONLY_EVERY) as (_, second),
    ):
        _wait_subscribed(client, already + 2)
        urls = [first, second]
        assert [_served_by(url, gateway.key) for url in urls] == ["primary", "primary"]

        # What the Celery worker's probe does when the upstream refuses the channel's secret.
        refused = ProbeResult(ok=False, status_code=401, latency_ms=3, error="unauthorized")
        channel_record_probe(channel=primary, result=refused)
        _obeyed(urls, lambda url: _served_by(url, gateway.key) == "backup")
    client.close()


def test_after_a_redis_restart_the_processes_subscribe_again_and_obey_at_once(gateway, settings):
    channel = gateway.channel("restarts", models={MODEL: "gpt-4o-mini"}, price=("1", "2"))
    with redis_server() as server:
        settings.REDIS_URL = server.url  # this process publishes there too
        env = {**POLLING_ONLY_EVERY, "REDIS_URL": server.url}
        with gateway_process(**env) as (_, first), gateway_process(**env) as (_, second):
            urls = [first, second]
            client = redis.Redis.from_url(server.url)
            _wait_subscribed(client, 2)
            assert [_input_price(url, gateway.key) for url in urls] == [1, 1]

            server.restart()  # SIGKILL, then an empty Redis on the same port
            _wait_subscribed(client, 2)
            _reprice(channel, 5)
            _obeyed(urls, lambda url: _input_price(url, gateway.key) == 5)
            client.close()


def test_without_redis_a_change_through_the_process_own_api_is_obeyed_at_once(gateway, staff_user):
    channel = gateway.channel("embedded", models={MODEL: "gpt-4o-mini"}, price=("1", "2"))
    token = Token.objects.create(user=staff_user).key
    env = {**POLLING_ONLY_EVERY, "REDIS_URL": ""}
    with gateway_process(**env) as (_, url):
        assert _input_price(url, gateway.key) == 1

        changed = httpx.patch(
            f"{url}/api/admin/channels/{channel.pk}/",
            headers={"Authorization": f"Token {token}"},
            json={"models": [{"model": MODEL, "input_price": "7", "output_price": "2"}]},
            timeout=10,
        )
        assert changed.status_code == 200, changed.text
        _obeyed([url], lambda url: _input_price(url, gateway.key) == 7)
