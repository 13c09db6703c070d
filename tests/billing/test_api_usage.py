"""Billing management API: usage records, pagination and filters."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.billing.api_helpers import PAGE_FIELDS, USAGE, as_time
from tests.factories import AccountFactory, ApiKeyFactory, ChannelFactory, UsageRecordFactory

pytestmark = pytest.mark.django_db

# ---------------------------------------------------------------- usage

USAGE_FIELDS = {
    "id",
    "created_at",
    "account",
    "key",
    "endpoint",
    "model",
    "served_model",
    "provider",
    "channel",
    "stream",
    "status",
    "http_status",
    "error_code",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "usage_source",
    "input_price",
    "output_price",
    "cached_input_price",
    "cache_write_price",
    "cache_write_1h_price",
    "cost",
    "cache_savings",
    "latency_ms",
    "ttft_ms",
    "attempts",
    "user",
    "affinity_source",
    "affinity_routed",
}


def test_usage_record_fields(staff_client: APIClient) -> None:
    channel = ChannelFactory.create(provider="openai")
    attempts = [
        {
            "channel": channel.pk,
            "provider": "openai",
            "outcome": "error",
            "http_status": 502,
            "latency_ms": 40,
            "error": "bad gateway",
        },
        {
            "channel": channel.pk,
            "provider": "openai",
            "outcome": "ok",
            "http_status": 200,
            "latency_ms": 800,
            "error": "",
        },
    ]
    record = UsageRecordFactory.create(
        id="req_abc123",
        channel=channel,
        model="openai/gpt-4o-mini",
        served_model="gpt-4o-mini-2024-07-18",
        stream=True,
        prompt_tokens=1200,
        completion_tokens=300,
        cached_tokens=200,
        reasoning_tokens=50,
        cache_write_tokens=100,
        cache_write_1h_tokens=40,
        usage_source="estimated",
        input_price=Decimal("0.15"),
        output_price=Decimal("0.6"),
        cached_input_price=Decimal("0.075"),
        cache_write_price=Decimal("0.1875"),
        cache_write_1h_price=Decimal("0.3"),
        cost=Decimal("0.000345"),
        cache_savings=Decimal("0.000015"),
        affinity_source="session_header",
        affinity_routed=True,
        endpoint="messages",
        latency_ms=850,
        ttft_ms=120,
        attempts=attempts,
        user="end-user-7",
    )

    response = staff_client.get(USAGE)

    assert response.status_code == 200
    [row] = response.json()["results"]
    assert set(row) == USAGE_FIELDS
    assert row == {
        "id": "req_abc123",
        "created_at": row["created_at"],
        "account": record.account_id,
        "key": record.key_id,
        "endpoint": "messages",
        "model": "openai/gpt-4o-mini",
        "served_model": "gpt-4o-mini-2024-07-18",
        "provider": "openai",
        "channel": channel.pk,
        "stream": True,
        "status": "ok",
        "http_status": 200,
        "error_code": "",
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "cached_tokens": 200,
        "reasoning_tokens": 50,
        "cache_write_tokens": 100,
        "cache_write_1h_tokens": 40,
        "usage_source": "estimated",
        "input_price": "0.15",
        "output_price": "0.6",
        "cached_input_price": "0.075",
        "cache_write_price": "0.1875",
        "cache_write_1h_price": "0.3",
        "cost": "0.000345",
        "cache_savings": "0.000015",
        "latency_ms": 850,
        "ttft_ms": 120,
        "attempts": attempts,
        "user": "end-user-7",
        "affinity_source": "session_header",
        "affinity_routed": True,
    }
    assert as_time(row["created_at"]) == record.created_at


def test_usage_error_record_without_prices(staff_client: APIClient) -> None:
    UsageRecordFactory.create(
        status="error",
        http_status=429,
        error_code="rate_limited",
        cost=Decimal(0),
        prompt_tokens=0,
        completion_tokens=0,
        ttft_ms=None,
    )

    [row] = staff_client.get(USAGE).json()["results"]

    assert (row["status"], row["http_status"], row["error_code"]) == ("error", 429, "rate_limited")
    assert row["cost"] == "0"
    assert row["input_price"] is None
    assert row["output_price"] is None
    assert row["cached_input_price"] is None
    assert row["ttft_ms"] is None
    assert row["channel"] is None


def test_usage_is_newest_first_and_paginated(staff_client: APIClient) -> None:
    now = timezone.now()
    key = ApiKeyFactory.create()
    for hours in (3, 0, 4, 1, 2):
        UsageRecordFactory.create(
            id=f"req_h{hours}", key=key, created_at=now - timedelta(hours=hours)
        )

    first = staff_client.get(USAGE, {"limit": 2})

    assert first.status_code == 200
    body = first.json()
    assert set(body) == PAGE_FIELDS
    assert body["count"] == 5
    assert body["previous"] is None
    assert [r["id"] for r in body["results"]] == ["req_h0", "req_h1"]
    second = staff_client.get(body["next"]).json()
    assert [r["id"] for r in second["results"]] == ["req_h2", "req_h3"]
    assert second["previous"] is not None
    third = staff_client.get(second["next"]).json()
    assert [r["id"] for r in third["results"]] == ["req_h4"]
    assert third["next"] is None


@pytest.fixture
def usage_data(db: None) -> dict[str, Any]:
    """Four records across two accounts, three keys, two channels, three statuses, four days."""
    base = timezone.now().replace(microsecond=0) - timedelta(days=10)
    acct_a, acct_b = AccountFactory.create(name="a"), AccountFactory.create(name="b")
    key_a1, key_a2 = ApiKeyFactory.create(account=acct_a), ApiKeyFactory.create(account=acct_a)
    key_b = ApiKeyFactory.create(account=acct_b)
    ch_openai = ChannelFactory.create(provider="openai")
    ch_anthropic = ChannelFactory.create(provider="anthropic")
    rows = [
        ("r1", key_a1, "gpt-4o-mini", "openai", ch_openai, "ok", 200, 1, "chat"),
        ("r2", key_a2, "claude-haiku", "anthropic", ch_anthropic, "error", 502, 2, "messages"),
        ("r3", key_b, "gpt-4o-mini", "openai", ch_openai, "cancelled", 499, 3, "chat"),
        ("r4", key_b, "claude-haiku", "anthropic", None, "ok", 200, 4, "messages"),
    ]
    for rid, key, model, provider, channel, status, http_status, days_ago, endpoint in rows:
        UsageRecordFactory.create(
            id=rid,
            key=key,
            model=model,
            served_model=model,
            provider=provider,
            channel=channel,
            status=status,
            http_status=http_status,
            created_at=base - timedelta(days=days_ago),
            endpoint=endpoint,
        )
    return {
        "base": base,
        "acct_a": acct_a,
        "acct_b": acct_b,
        "key_a1": key_a1,
        "key_b": key_b,
        "ch_openai": ch_openai,
        "ch_anthropic": ch_anthropic,
    }


def _days_before(data: dict[str, Any], days: float) -> str:
    base: datetime = data["base"]
    return (base - timedelta(days=days)).isoformat()


USAGE_FILTERS: list[Any] = [
    pytest.param(lambda d: {"key": d["key_a1"].pk}, ["r1"], id="key"),
    pytest.param(lambda d: {"key": d["key_b"].pk}, ["r3", "r4"], id="key-b"),
    pytest.param(lambda d: {"account": d["acct_a"].pk}, ["r1", "r2"], id="account"),
    pytest.param(lambda d: {"model": "gpt-4o-mini"}, ["r1", "r3"], id="model"),
    pytest.param(lambda d: {"provider": "anthropic"}, ["r2", "r4"], id="provider"),
    pytest.param(lambda d: {"channel": d["ch_openai"].pk}, ["r1", "r3"], id="channel"),
    pytest.param(lambda d: {"channel": d["ch_anthropic"].pk}, ["r2"], id="channel-2"),
    pytest.param(lambda d: {"status": "ok"}, ["r1", "r4"], id="status-ok"),
    pytest.param(lambda d: {"status": "error"}, ["r2"], id="status-error"),
    pytest.param(lambda d: {"status": "cancelled"}, ["r3"], id="status-cancelled"),
    pytest.param(lambda d: {"endpoint": "messages"}, ["r2", "r4"], id="endpoint-messages"),
    pytest.param(lambda d: {"endpoint": "chat"}, ["r1", "r3"], id="endpoint-chat"),
    pytest.param(lambda d: {"endpoint": "embeddings"}, [], id="endpoint-none"),
    pytest.param(lambda d: {"since": _days_before(d, 2.5)}, ["r1", "r2"], id="since"),
    pytest.param(lambda d: {"until": _days_before(d, 2.5)}, ["r3", "r4"], id="until"),
    pytest.param(
        lambda d: {"since": _days_before(d, 3.5), "until": _days_before(d, 1.5)},
        ["r2", "r3"],
        id="since-until",
    ),
    pytest.param(
        lambda d: {"account": d["acct_b"].pk, "model": "claude-haiku"}, ["r4"], id="combined"
    ),
    pytest.param(lambda d: {"model": "no-such-model"}, [], id="no-match"),
    pytest.param(lambda d: {}, ["r1", "r2", "r3", "r4"], id="none"),
]


@pytest.mark.parametrize(("make_params", "expected"), USAGE_FILTERS)
def test_usage_filters_narrow(
    staff_client: APIClient,
    usage_data: dict[str, Any],
    make_params: Callable[[dict[str, Any]], dict[str, Any]],
    expected: list[str],
) -> None:
    response = staff_client.get(USAGE, make_params(usage_data))

    assert response.status_code == 200, response.content
    body = response.json()
    assert [r["id"] for r in body["results"]] == expected
    assert body["count"] == len(expected)


@pytest.mark.parametrize(
    "params",
    [
        {"since": "yesterday"},
        {"until": "2025-13-45"},
        {"status": "bogus"},
        {"endpoint": "completions"},
        {"key": "abc"},
        {"account": "acme"},
        {"channel": "main"},
    ],
    ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()),
)
def test_usage_malformed_filter_is_400(
    staff_client: APIClient, usage_data: dict[str, Any], params: dict[str, str]
) -> None:
    response = staff_client.get(USAGE, params)

    assert response.status_code == 400
    [field] = params
    assert response.json()[field]
    assert "results" not in response.json()


def test_usage_filter_accepts_a_utc_z_time(staff_client: APIClient) -> None:
    UsageRecordFactory.create(id="old", created_at=datetime(2024, 1, 1, 12, tzinfo=UTC))
    UsageRecordFactory.create(id="new", created_at=datetime(2024, 1, 3, 12, tzinfo=UTC))

    response = staff_client.get(USAGE, {"since": "2024-01-02T00:00:00Z"})

    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == ["new"]
