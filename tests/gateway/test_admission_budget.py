"""Admission without overspend: worst-case reservations against credit and key limits, end to end,
with reservations in Redis and (without REDIS_URL) in the database."""

import asyncio
from datetime import timedelta
from decimal import Decimal

import httpx
import orjson
from django.core.cache import cache
from django.utils import timezone

from billing.models import Account, ApiKey, LedgerEntry, Reservation, UsageRecord
from billing.pricing import Prices, usage_cost_bound
from billing.services import account_create, account_credit, api_key_create
from core.redis import sync_redis
from core.usage import Usage
from gateway.estimate import prompt_tokens_bound
from tests.gateway.conftest import Gateway

MAX_TOKENS = 100
BODY = {
    "model": "gpt-4o-mini",
    "max_tokens": MAX_TOKENS,
    "messages": [{"role": "user", "content": "hi"}],
}
PRICES = Prices(input=Decimal(1), output=Decimal(2))
SLOW_MODEL = {"gpt-4o-mini": "gpt-4o-mini@latency_ms=1500"}
"""Each answer takes 1.5 s: all 40 requests are in flight before any usage record is written."""


def _worst_case() -> Decimal:
    bound = prompt_tokens_bound(BODY, body_bytes=len(orjson.dumps(BODY)))
    usage = Usage(prompt_tokens=bound, completion_tokens=MAX_TOKENS)
    return usage_cost_bound(usage, PRICES)


async def _post_many(url: str, key: str, count: int) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        return await asyncio.gather(
            *(client.post("/v1/chat/completions", json=BODY) for _ in range(count))
        )


def _nothing_left_reserved(account: Account, reservations: str) -> bool:
    if reservations == "database":
        account.refresh_from_db()
        return account.reserved == 0 and not Reservation.objects.exists()
    client = sync_redis()  # the suite's real Redis
    assert client is not None
    total = client.hget(f"switchyard:budget:account:{account.pk}:amounts", "total")
    return total in {None, b"0"}


def _assert_no_overspend(
    gateway: Gateway, responses: list[httpx.Response], budget: Decimal
) -> list[UsageRecord]:
    ok = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    assert len(ok) == 10
    for response in refused:
        assert response.status_code == 402
        assert response.json()["error"]["code"] == "insufficient_quota"
    records = gateway.wait_records(40)
    charged = sum((record.cost for record in records), Decimal(0))
    assert 0 < charged <= budget
    assert all(record.cost == 0 for record in records if record.http_status == 402)
    assert LedgerEntry.objects.filter(kind="charge").count() == len(ok)
    return records


def test_forty_concurrent_requests_never_spend_more_than_the_credit(gateway, reservations):
    gateway.channel("main", price=("1", "2"), models=SLOW_MODEL)
    credit = 10 * _worst_case()
    account = account_create(name="exactly-ten")
    account_credit(account=account, amount=credit)
    _, key = api_key_create(account=account, name="k")

    responses = asyncio.run(_post_many(gateway.url, key, 40))

    _assert_no_overspend(gateway, responses, credit)
    account.refresh_from_db()
    assert account.balance >= 0
    refused = next(r for r in responses if r.status_code == 402)
    assert refused.json()["error"]["message"].startswith("Insufficient credit")
    assert "retry-after" not in refused.headers
    assert _nothing_left_reserved(account, reservations)


def test_forty_concurrent_requests_never_spend_more_than_the_key_limit(gateway, reservations):
    gateway.channel("main", price=("1", "2"), models=SLOW_MODEL)
    limit = 10 * _worst_case()
    key = gateway.new_key(spend_limit=limit, limit_reset="monthly")

    responses = asyncio.run(_post_many(gateway.url, key, 40))

    records = _assert_no_overspend(gateway, responses, limit)
    refused = next(r for r in responses if r.status_code == 402)
    assert "spend limit" in refused.json()["error"]["message"]
    assert int(refused.headers["retry-after"]) > 0
    stored = ApiKey.objects.get(pk=records[0].key_id)
    assert stored.spend_in_period == sum((r.cost for r in records), Decimal(0))
    assert _nothing_left_reserved(gateway.account, reservations)


def test_the_refusal_names_the_limit_and_when_it_resets(gateway, reservations):
    gateway.channel("main", price=("1", "2"))
    key = gateway.new_key(spend_limit=Decimal("0.0000001"), limit_reset="daily")

    with gateway.http(key) as client:
        response = client.post("/v1/chat/completions", json=BODY)

    assert response.status_code == 402
    error = response.json()["error"]
    assert error["type"] == "insufficient_quota"
    assert "resets at" in error["message"]
    tomorrow = (timezone.now() + timedelta(days=1)).replace(hour=0, minute=0, second=0)
    seconds_to_reset = (tomorrow - timezone.now()).total_seconds()
    assert abs(int(response.headers["retry-after"]) - seconds_to_reset) < 5
    record = gateway.record()
    assert (record.http_status, record.error_code, record.cost) == (402, "insufficient_quota", 0)
    assert not hasattr(record, "charge") or record.charge is None


def test_an_account_without_credit_is_refused_before_any_upstream_call(gateway, reservations):
    gateway.channel("main")
    account = account_create(name="empty")
    _, key = api_key_create(account=account, name="k")

    with gateway.http(key) as client:
        response = client.post("/v1/chat/completions", json=BODY)

    assert response.status_code == 402
    assert "retry-after" not in response.headers
    assert gateway.received() == []


def test_a_key_spent_up_yesterday_is_admitted_again_today(gateway, reservations):
    gateway.channel("main", price=("1", "2"))
    key = gateway.new_key(spend_limit=Decimal("0.01"), limit_reset="daily")
    stored = ApiKey.objects.latest("created_at")
    # Time travel: the whole limit was spent in yesterday's period.
    ApiKey.objects.filter(pk=stored.pk).update(
        spend_in_period=Decimal("0.01"), period_started_at=timezone.now() - timedelta(days=1)
    )
    cache.clear()

    with gateway.http(key) as client:
        response = client.post("/v1/chat/completions", json=BODY)
        summary = client.get("/v1/key").json()["data"]

    assert response.status_code == 200, response.text
    gateway.record()
    stored.refresh_from_db()
    assert stored.spend_in_period == gateway.record().cost
    assert Decimal(summary["limit_remaining"]) <= Decimal("0.01")


def test_credit_added_after_a_refusal_is_usable_at_once(gateway, reservations):
    gateway.channel("main")
    account = account_create(name="topped-up")
    _, key = api_key_create(account=account, name="k")

    with gateway.http(key) as client:
        refused = client.post("/v1/chat/completions", json=BODY)
        account_credit(account=account, amount=Decimal(1))
        served = client.post("/v1/chat/completions", json=BODY)

    assert (refused.status_code, served.status_code) == (402, 200)


def test_an_unreachable_reservation_store_refuses_rather_than_risk_overspending(gateway, settings):
    gateway.channel("main")
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there

    with gateway.http() as client:
        response = client.post("/v1/chat/completions", json=BODY)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "budget_unavailable"
    assert gateway.received() == []
