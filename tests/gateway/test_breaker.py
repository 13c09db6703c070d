"""The passive breaker end to end: failing channels are skipped, rate limits cool a channel,
and the state is shared through Redis."""

import asyncio
import time

import orjson
import redis
from django.conf import settings
from django.test import override_settings

from gateway import breakers, catalog
from gateway.breakers import SHARED_KEY, TRIAL_KEY

MESSAGES = [{"role": "user", "content": "hi"}]


def called(gateway) -> list[str]:
    return [request["body"]["model"] for request in gateway.received()]


def outcomes(record) -> list[tuple[str, str]]:
    return [(attempt["channel"], attempt["outcome"]) for attempt in record.attempts]


@override_settings(BREAKER_FAILURE_THRESHOLD=2, BREAKER_COOLDOWN=60)
def test_consecutive_failures_open_the_breaker_and_routing_skips_the_channel(gateway):
    gateway.channel("flaky", models={"gpt-4o-mini": "flaky@status=503"}, priority=10)
    gateway.channel("steady", models={"gpt-4o-mini": "steady"})
    client = gateway.client()

    for _ in range(3):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    flaky = "flaky@status=503"
    assert called(gateway) == [flaky, "steady", flaky, "steady", "steady"]
    assert outcomes(gateway.wait_records(3)[-1]) == [("steady", "ok")]


def test_only_channel_cooling_down_means_no_healthy_channel_until_the_cooldown_ends(gateway):
    limited = gateway.channel("limited", models={"gpt-4o-mini": "limited@status=429;retry_after=1"})
    with gateway.http() as http:
        body = {"model": "gpt-4o-mini", "messages": MESSAGES}
        rate_limited = http.post("/v1/chat/completions", json=body)
        cooling = http.post("/v1/chat/completions", json=body)
        limited.models.update(upstream_model="limited")
        catalog.invalidate_catalog()
        time.sleep(1.1)
        recovered = http.post("/v1/chat/completions", json=body)

    assert rate_limited.status_code == 429
    assert cooling.status_code == 503
    assert cooling.json()["error"]["code"] == "no_healthy_channel"
    assert recovered.status_code == 200
    assert called(gateway) == ["limited@status=429;retry_after=1", "limited"]


def test_a_breaker_opened_by_another_process_is_respected(gateway):
    shared = gateway.channel("shared", models={"gpt-4o-mini": "shared"}, priority=10)
    gateway.channel("other", models={"gpt-4o-mini": "other"})
    client = gateway.client()
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert called(gateway) == ["shared"]

    # Another gateway process tripped the breaker and published it.
    with redis.Redis.from_url(settings.REDIS_URL) as connection:
        connection.hset(SHARED_KEY, str(shared.pk), orjson.dumps([5, time.time() + 60]))
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    time.sleep(1.1)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert called(gateway)[-1] == "other"


def test_a_half_open_channel_admits_one_trial_at_a_time_across_processes(settings):
    settings.BREAKER_FAILURE_THRESHOLD = 1
    settings.BREAKER_COOLDOWN = 0.2
    trial_key = TRIAL_KEY.format(channel_id=7)

    async def scenario() -> list[bool]:
        breakers.reset_breakers()
        breakers.record_failure(7)
        await asyncio.sleep(0.25)
        assert breakers.state_of(7) == "half_open"
        with redis.Redis.from_url(settings.REDIS_URL) as other_process:
            other_process.set(trial_key, b"1")
            claims = [await breakers.claim_trial(7)]  # the other process holds the trial
            other_process.delete(trial_key)
        claims.append(await breakers.claim_trial(7))  # ours now
        claims.append(await breakers.claim_trial(7))  # not a second one
        breakers.end_trial(7)
        await asyncio.sleep(0.05)
        claims.append(await breakers.claim_trial(7))
        claims.append(await breakers.claim_trial(8))  # a closed breaker needs no trial
        breakers.reset_breakers()
        return claims

    assert asyncio.run(scenario()) == [False, True, False, True, True]
