"""Holds survive Redis: a Redis that restarts empty while requests hold the credit admits no
second wave against the same credit, across gateway processes."""

import threading
import time
from decimal import Decimal

import httpx

from billing.models import Account, UsageRecord
from billing.services import account_create, account_credit, api_key_create
from tests.gateway.process_helpers import gateway_process
from tests.redis_server import redis_server

WAVE = 20
MAX_TOKENS = 1000
WORST_CASE = Decimal(MAX_TOKENS) / 1_000_000  # output 1 USD per 1M tokens, input free
BODY = {
    "model": "slow",
    "max_tokens": MAX_TOKENS,
    "messages": [{"role": "user", "content": "hold on"}],
}


def _post(url: str, key: str, statuses: list[int]) -> None:
    try:
        response = httpx.post(
            f"{url}/v1/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json=BODY,
            timeout=30,
        )
        statuses.append(response.status_code)
    except httpx.HTTPError:
        statuses.append(0)


def _wave(url: str, key: str) -> tuple[list[threading.Thread], list[int]]:
    statuses: list[int] = []
    threads = [threading.Thread(target=_post, args=(url, key, statuses)) for _ in range(WAVE)]
    for thread in threads:
        thread.start()
    return threads, statuses


def test_a_redis_restart_with_requests_in_flight_admits_no_credit_twice(gateway):
    gateway.channel("slow", models={"slow": "gpt-4o-mini@latency_ms=5000"}, price=("0", "1"))
    account = account_create(name="tight")
    account_credit(account=account, amount=WAVE * WORST_CASE)
    _, key = api_key_create(account=account, name="tight")

    with (
        redis_server() as redis,
        gateway_process(REDIS_URL=redis.url, GATEWAY_RESERVATION_RESYNC_SECONDS="2") as (_, first),
        gateway_process(REDIS_URL=redis.url, GATEWAY_RESERVATION_RESYNC_SECONDS="2") as (_, second),
    ):
        first_wave, first_statuses = _wave(first, key)
        deadline = time.monotonic() + 10
        while len(gateway.received()) < WAVE and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(gateway.received()) == WAVE, "the first wave holds the whole credit"

        redis.restart()  # empty: no persistence
        second_wave, second_statuses = _wave(second, key)
        for thread in [*first_wave, *second_wave]:
            thread.join(timeout=30)
        deadline = time.monotonic() + 10
        while UsageRecord.objects.filter(account=account).count() < 2 * WAVE:
            assert time.monotonic() < deadline, "every request is recorded"
            time.sleep(0.05)

    assert first_statuses == [200] * WAVE
    assert second_statuses == [402] * WAVE, "the restarted Redis got the first wave's holds back"
    spent = sum((r.cost for r in UsageRecord.objects.filter(account=account)), start=Decimal(0))
    assert 0 < spent <= WAVE * WORST_CASE
    assert Account.objects.get(pk=account.pk).balance >= 0
