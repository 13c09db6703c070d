"""Management API for billing (design §7): accounts and credits, API keys, usage records."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db.models import Sum
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from billing.keys import hash_key
from billing.models import Account, ApiKey, LedgerEntry, UsageRecord
from tests.factories import AccountFactory, ApiKeyFactory, ChannelFactory, UsageRecordFactory

pytestmark = pytest.mark.django_db

ACCOUNTS = "/api/admin/accounts/"
KEYS = "/api/admin/keys/"
USAGE = "/api/admin/usage/"
PAGE_FIELDS = {"count", "next", "previous", "results"}


def account_url(account_id: int) -> str:
    return f"{ACCOUNTS}{account_id}/"


def credits_url(account_id: int) -> str:
    return f"{ACCOUNTS}{account_id}/credits/"


def key_url(key_id: int) -> str:
    return f"{KEYS}{key_id}/"


def secret_of(key: ApiKey) -> str:
    """The plaintext secret ApiKeyFactory leaves on the key."""
    return str(key.secret)  # type: ignore[attr-defined]


def as_time(value: str | None) -> datetime | None:
    return None if value is None else parse_datetime(value)


# ---------------------------------------------------------------- accounts


def test_account_list_is_paginated(staff_client: APIClient) -> None:
    for name in ("carol", "alice", "bob"):
        AccountFactory.create(name=name)

    response = staff_client.get(ACCOUNTS, {"limit": 2})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == PAGE_FIELDS
    assert body["count"] == 3
    assert body["previous"] is None
    assert "offset=2" in body["next"]
    assert len(body["results"]) == 2
    rest = staff_client.get(body["next"]).json()["results"]
    names = [a["name"] for a in body["results"] + rest]
    assert sorted(names) == ["alice", "bob", "carol"]
    assert all(a["balance"] == "0" for a in body["results"] + rest)


def test_account_create(staff_client: APIClient) -> None:
    response = staff_client.post(ACCOUNTS, {"name": "acme"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "acme"
    assert body["balance"] == "0"
    account = Account.objects.get(pk=body["id"])
    assert account.name == "acme"
    fetched = staff_client.get(account_url(account.pk))
    assert fetched.status_code == 200
    assert fetched.json() == body


def test_account_create_ignores_balance(staff_client: APIClient) -> None:
    response = staff_client.post(ACCOUNTS, {"name": "rich", "balance": "1000"}, format="json")

    assert response.status_code == 201
    assert response.json()["balance"] == "0"
    assert Account.objects.get(name="rich").balance == 0


@pytest.mark.parametrize(
    "body", [pytest.param({}, id="missing"), pytest.param({"name": ""}, id="blank")]
)
def test_account_create_requires_name(staff_client: APIClient, body: dict[str, Any]) -> None:
    response = staff_client.post(ACCOUNTS, body, format="json")

    assert response.status_code == 400
    assert response.json()["name"]
    assert not Account.objects.exists()


def test_account_create_rejects_duplicate_name(staff_client: APIClient) -> None:
    AccountFactory.create(name="acme")

    response = staff_client.post(ACCOUNTS, {"name": "acme"}, format="json")

    assert response.status_code == 400
    assert response.json()["name"]
    assert Account.objects.filter(name="acme").count() == 1


@pytest.mark.parametrize("method", ["patch", "put"])
def test_account_balance_cannot_be_written(staff_client: APIClient, method: str) -> None:
    account = AccountFactory.create(name="acme")
    staff_client.post(credits_url(account.pk), {"amount": "5"}, format="json")

    response = getattr(staff_client, method)(
        account_url(account.pk), {"name": "acme", "balance": "1000000"}, format="json"
    )

    assert response.status_code == 405
    assert staff_client.get(account_url(account.pk)).json()["balance"] == "5"
    account.refresh_from_db()
    assert account.balance == Decimal(5)


def test_account_unknown_is_404(staff_client: APIClient) -> None:
    response = staff_client.get(account_url(999_999))
    assert response.status_code == 404
    assert "detail" in response.json()


# ---------------------------------------------------------------- credits


def test_credit_returns_ledger_entry_with_new_balance(staff_client: APIClient) -> None:
    account = AccountFactory.create(name="acme")

    response = staff_client.post(
        credits_url(account.pk), {"amount": "25.50", "description": "invoice 42"}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert isinstance(body["id"], int)
    assert body["account"] == account.pk
    assert body["kind"] == "credit"
    assert body["amount"] == "25.5"
    assert body["description"] == "invoice 42"
    assert body["balance"] == "25.5"
    assert staff_client.get(account_url(account.pk)).json()["balance"] == "25.5"
    entry = LedgerEntry.objects.get(pk=body["id"])
    assert (entry.account_id, entry.amount) == (account.pk, Decimal("25.5"))


def test_balance_is_the_sum_of_credits(staff_client: APIClient) -> None:
    account = AccountFactory.create(name="acme")
    other = AccountFactory.create(name="other")
    amounts = ["10", "0.25", "100.005", "0.0000000001"]

    balances = []
    for amount in amounts:
        response = staff_client.post(credits_url(account.pk), {"amount": amount}, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["description"] == ""
        balances.append(response.json()["balance"])
    staff_client.post(credits_url(other.pk), {"amount": "7"}, format="json")

    assert balances == ["10", "10.25", "110.255", "110.2550000001"]
    assert staff_client.get(account_url(account.pk)).json()["balance"] == "110.2550000001"
    assert staff_client.get(account_url(other.pk)).json()["balance"] == "7"
    total = LedgerEntry.objects.filter(account=account).aggregate(total=Sum("amount"))["total"]
    assert total == sum(Decimal(a) for a in amounts)
    listed = {a["name"]: a["balance"] for a in staff_client.get(ACCOUNTS).json()["results"]}
    assert listed == {"acme": "110.2550000001", "other": "7"}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"amount": "0"}, id="zero"),
        pytest.param({"amount": 0}, id="zero-number"),
        pytest.param({"amount": "-5"}, id="negative"),
        pytest.param({"amount": "ten"}, id="non-numeric"),
        pytest.param({"amount": ""}, id="blank"),
        pytest.param({"amount": None}, id="null"),
        pytest.param({"description": "no amount"}, id="missing"),
        pytest.param({"amount": "0.00000000001"}, id="below-precision"),
    ],
)
def test_credit_rejects_bad_amount(staff_client: APIClient, body: dict[str, Any]) -> None:
    account = AccountFactory.create(name="acme")

    response = staff_client.post(credits_url(account.pk), body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["amount"]
    assert staff_client.get(account_url(account.pk)).json()["balance"] == "0"
    assert not LedgerEntry.objects.exists()


def test_credit_unknown_account_is_404(staff_client: APIClient) -> None:
    response = staff_client.post(credits_url(999_999), {"amount": "5"}, format="json")

    assert response.status_code == 404
    assert "detail" in response.json()
    assert not LedgerEntry.objects.exists()


# ---------------------------------------------------------------- keys


def test_key_create_returns_the_secret_once(staff_client: APIClient) -> None:
    account = AccountFactory.create(name="acme")
    expires = "2030-01-02T03:04:05Z"
    request = {
        "name": "ci",
        "account": account.pk,
        "spend_limit": "12.50",
        "limit_reset": "monthly",
        "rpm_limit": 60,
        "tpm_limit": 100000,
        "allowed_models": ["openai/gpt-4o-mini", "anthropic/claude-3-5-haiku"],
        "expires_at": expires,
    }

    response = staff_client.post(KEYS, request, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    secret = body["key"]
    assert isinstance(secret, str)
    assert secret.startswith("sk-")
    assert len(secret) >= 40
    assert body["name"] == "ci"
    assert body["account"] == account.pk
    assert body["spend_limit"] == "12.5"
    assert body["limit_reset"] == "monthly"
    assert (body["rpm_limit"], body["tpm_limit"]) == (60, 100000)
    assert body["allowed_models"] == ["openai/gpt-4o-mini", "anthropic/claude-3-5-haiku"]
    assert as_time(body["expires_at"]) == as_time(expires)
    assert body["revoked"] is False
    assert body["revoked_at"] is None
    assert secret.startswith(body["prefix"])
    assert len(body["prefix"]) < len(secret) - 20

    key = ApiKey.objects.get(pk=body["id"])
    assert key.key_hash == hash_key(secret)
    assert secret not in str(vars(key))

    later = [staff_client.get(key_url(key.pk)), staff_client.get(KEYS)]
    for reply in later:
        assert reply.status_code == 200
        text = reply.content.decode()
        assert secret not in text
        assert secret[len(body["prefix"]) :] not in text
        assert key.key_hash not in text
        assert "key_hash" not in text
    assert "key" not in later[0].json()
    detail = later[0].json()
    expected = {**request, "spend_limit": "12.5"}
    del expected["expires_at"]
    assert {f: detail[f] for f in expected} == expected
    assert as_time(detail["expires_at"]) == as_time(expires)


def test_every_key_gets_a_fresh_secret(staff_client: APIClient) -> None:
    first = staff_client.post(KEYS, {"name": "one"}, format="json").json()
    second = staff_client.post(KEYS, {"name": "two"}, format="json").json()

    assert first["key"] != second["key"]
    assert first["prefix"] != second["prefix"]


def test_key_create_defaults(staff_client: APIClient) -> None:
    response = staff_client.post(KEYS, {"name": "plain"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["account"] == Account.objects.get(name="default").pk
    assert body["spend_limit"] is None
    assert body["limit_reset"] is None
    assert body["rpm_limit"] is None
    assert body["tpm_limit"] is None
    assert body["allowed_models"] == []
    assert body["expires_at"] is None
    assert body["revoked"] is False


def test_keys_without_account_share_the_default_account(staff_client: APIClient) -> None:
    AccountFactory.create(name="acme")
    first = staff_client.post(KEYS, {"name": "one"}, format="json")
    second = staff_client.post(KEYS, {"name": "two", "account": None}, format="json")

    assert (first.status_code, second.status_code) == (201, 201)
    default = Account.objects.get(name="default")
    assert first.json()["account"] == second.json()["account"] == default.pk
    assert Account.objects.count() == 2


def test_key_create_with_null_limits(staff_client: APIClient) -> None:
    body = {"name": "k", "spend_limit": None, "limit_reset": None, "rpm_limit": None}

    response = staff_client.post(KEYS, body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["spend_limit"] is None
    assert response.json()["limit_reset"] is None
    assert response.json()["rpm_limit"] is None


@pytest.mark.parametrize("period", ["daily", "weekly", "monthly"])
def test_key_limit_reset_periods(staff_client: APIClient, period: str) -> None:
    response = staff_client.post(
        KEYS, {"name": "k", "spend_limit": "1", "limit_reset": period}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["limit_reset"] == period
    assert staff_client.get(key_url(response.json()["id"])).json()["limit_reset"] == period


KEY_ERRORS = [
    pytest.param({"limit_reset": "yearly"}, "limit_reset", id="bad-limit-reset"),
    pytest.param({"rpm_limit": 0}, "rpm_limit", id="rpm-zero"),
    pytest.param({"tpm_limit": 0}, "tpm_limit", id="tpm-zero"),
    pytest.param({"rpm_limit": -5}, "rpm_limit", id="rpm-negative"),
    pytest.param({"tpm_limit": "many"}, "tpm_limit", id="tpm-non-numeric"),
    pytest.param({"spend_limit": "-1"}, "spend_limit", id="negative-spend-limit"),
    pytest.param({"spend_limit": "lots"}, "spend_limit", id="non-numeric-spend-limit"),
    pytest.param({"expires_at": "tomorrow"}, "expires_at", id="bad-expires-at"),
    pytest.param({"allowed_models": "gpt-4o"}, "allowed_models", id="models-not-a-list"),
    pytest.param({"account": 999_999}, "account", id="unknown-account"),
    pytest.param({"name": ""}, "name", id="blank-name"),
]


@pytest.mark.parametrize(("overrides", "field"), KEY_ERRORS)
def test_key_create_rejects_invalid_input(
    staff_client: APIClient, overrides: dict[str, Any], field: str
) -> None:
    response = staff_client.post(KEYS, {"name": "k", **overrides}, format="json")

    assert response.status_code == 400, response.content
    assert response.json()[field]
    assert "key" not in response.json()
    assert not ApiKey.objects.exists()


def test_key_create_requires_name(staff_client: APIClient) -> None:
    response = staff_client.post(KEYS, {"rpm_limit": 10}, format="json")

    assert response.status_code == 400
    assert response.json()["name"]
    assert not ApiKey.objects.exists()


def test_key_patch_changes_limits(staff_client: APIClient) -> None:
    key = ApiKeyFactory.create(name="before")
    changes = {
        "name": "after",
        "spend_limit": "3.75",
        "limit_reset": "daily",
        "rpm_limit": 10,
        "tpm_limit": 5000,
        "allowed_models": ["a", "b"],
    }

    response = staff_client.patch(
        key_url(key.pk), {**changes, "expires_at": "2031-06-01T00:00:00Z"}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert {f: body[f] for f in changes} == changes
    assert as_time(body["expires_at"]) == as_time("2031-06-01T00:00:00Z")
    assert body["account"] == key.account_id
    assert secret_of(key) not in response.content.decode()
    assert "key" not in body
    assert staff_client.get(key_url(key.pk)).json() == body

    cleared = staff_client.patch(
        key_url(key.pk),
        {"spend_limit": None, "limit_reset": None, "rpm_limit": None, "expires_at": None},
        format="json",
    )
    assert cleared.status_code == 200
    assert cleared.json()["spend_limit"] is None
    assert cleared.json()["limit_reset"] is None
    assert cleared.json()["rpm_limit"] is None
    assert cleared.json()["expires_at"] is None
    assert cleared.json()["tpm_limit"] == 5000
    assert cleared.json()["name"] == "after"


def test_key_patch_keeps_the_secret_working(staff_client: APIClient) -> None:
    key = ApiKeyFactory.create()

    staff_client.patch(key_url(key.pk), {"rpm_limit": 5}, format="json")

    key.refresh_from_db()
    assert key.key_hash == hash_key(secret_of(key))


def test_key_patch_account_is_rejected(staff_client: APIClient) -> None:
    key = ApiKeyFactory.create()
    other = AccountFactory.create()

    response = staff_client.patch(key_url(key.pk), {"account": other.pk}, format="json")

    assert response.status_code == 400
    assert response.json()["account"]
    assert staff_client.get(key_url(key.pk)).json()["account"] == key.account_id


@pytest.mark.parametrize(("overrides", "field"), KEY_ERRORS[:8])
def test_key_patch_rejects_invalid_input(
    staff_client: APIClient, overrides: dict[str, Any], field: str
) -> None:
    key = ApiKeyFactory.create(rpm_limit=7)
    before = staff_client.get(key_url(key.pk)).json()

    response = staff_client.patch(key_url(key.pk), overrides, format="json")

    assert response.status_code == 400, response.content
    assert response.json()[field]
    assert staff_client.get(key_url(key.pk)).json() == before


def test_key_delete_revokes(staff_client: APIClient) -> None:
    key = ApiKeyFactory.create(name="leaked")
    ApiKeyFactory.create(name="fine")

    response = staff_client.delete(key_url(key.pk))

    assert response.status_code == 204
    assert response.content == b""
    listed = {k["name"]: k for k in staff_client.get(KEYS).json()["results"]}
    assert set(listed) == {"leaked", "fine"}
    assert listed["leaked"]["revoked"] is True
    revoked_at = as_time(listed["leaked"]["revoked_at"])
    assert revoked_at is not None
    assert abs(timezone.now() - revoked_at) < timedelta(minutes=1)
    assert listed["fine"]["revoked"] is False
    assert listed["fine"]["revoked_at"] is None
    detail = staff_client.get(key_url(key.pk))
    assert detail.status_code == 200
    assert detail.json()["revoked"] is True
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None


@pytest.mark.parametrize(
    ("method", "body"),
    [("get", None), ("patch", {"name": "x"}), ("delete", None)],
)
def test_key_unknown_is_404(
    staff_client: APIClient, method: str, body: dict[str, Any] | None
) -> None:
    response = getattr(staff_client, method)(key_url(999_999), body, format="json")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_key_list_is_paginated(staff_client: APIClient) -> None:
    keys = [ApiKeyFactory.create() for _ in range(3)]

    response = staff_client.get(KEYS, {"limit": 2})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == PAGE_FIELDS
    assert body["count"] == 3
    assert body["next"] is not None
    rest = staff_client.get(body["next"]).json()["results"]
    assert {k["id"] for k in body["results"] + rest} == {k.pk for k in keys}
    text = response.content.decode()
    assert all(secret_of(k) not in text and k.key_hash not in text for k in keys)


# ---------------------------------------------------------------- usage

USAGE_FIELDS = {
    "id",
    "created_at",
    "account",
    "key",
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
    "usage_source",
    "input_price",
    "output_price",
    "cached_input_price",
    "cost",
    "latency_ms",
    "ttft_ms",
    "attempts",
    "user",
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
        usage_source="estimated",
        input_price=Decimal("0.15"),
        output_price=Decimal("0.6"),
        cached_input_price=Decimal("0.075"),
        cost=Decimal("0.000345"),
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
        "usage_source": "estimated",
        "input_price": "0.15",
        "output_price": "0.6",
        "cached_input_price": "0.075",
        "cost": "0.000345",
        "latency_ms": 850,
        "ttft_ms": 120,
        "attempts": attempts,
        "user": "end-user-7",
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
        ("r1", key_a1, "gpt-4o-mini", "openai", ch_openai, "ok", 200, 1),
        ("r2", key_a2, "claude-haiku", "anthropic", ch_anthropic, "error", 502, 2),
        ("r3", key_b, "gpt-4o-mini", "openai", ch_openai, "cancelled", 499, 3),
        ("r4", key_b, "claude-haiku", "anthropic", None, "ok", 200, 4),
    ]
    for rid, key, model, provider, channel, status, http_status, days_ago in rows:
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


# ---------------------------------------------------------------- authentication


@pytest.fixture
def objects(db: None) -> dict[str, Any]:
    """One account with a key and a usage record, for the auth table."""
    account = AccountFactory.create(name="auth-acct")
    key = ApiKeyFactory.create(account=account, name="auth-key")
    UsageRecordFactory.create(id="req_auth", key=key)
    return {"account": account.pk, "key": key.pk}


ENDPOINTS = [
    pytest.param("get", ACCOUNTS, None, 200, id="accounts-list"),
    pytest.param("post", ACCOUNTS, {"name": "new-acct"}, 201, id="accounts-create"),
    pytest.param("get", ACCOUNTS + "{account}/", None, 200, id="account-get"),
    pytest.param(
        "post", ACCOUNTS + "{account}/credits/", {"amount": "9"}, 201, id="account-credit"
    ),
    pytest.param("get", KEYS, None, 200, id="keys-list"),
    pytest.param("post", KEYS, {"name": "new-key"}, 201, id="keys-create"),
    pytest.param("get", KEYS + "{key}/", None, 200, id="key-get"),
    pytest.param("patch", KEYS + "{key}/", {"rpm_limit": 3}, 200, id="key-patch"),
    pytest.param("delete", KEYS + "{key}/", None, 204, id="key-revoke"),
    pytest.param("get", USAGE, None, 200, id="usage-list"),
]


def call(client: Client, method: str, path: str, body: Any, ids: dict[str, Any]) -> Any:
    request: Callable[..., Any] = getattr(client, method)
    url = path.format(**ids)
    if body is None:
        return request(url)
    return request(url, body, content_type="application/json")


def snapshot() -> dict[str, Any]:
    """Everything a refused request must leave untouched."""
    return {
        "accounts": list(Account.objects.order_by("pk").values_list("pk", "name", "balance")),
        "keys": list(
            ApiKey.objects.order_by("pk").values_list("pk", "name", "rpm_limit", "revoked_at")
        ),
        "ledger": LedgerEntry.objects.count(),
        "usage": UsageRecord.objects.count(),
    }


def token_client(user: User, keyword: str = "Token") -> APIClient:
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{keyword} {token.key}")
    return client


AUTH_ARGS = ("method", "path", "body", "ok_status")


@pytest.mark.parametrize(AUTH_ARGS, ENDPOINTS)
def test_no_credentials_is_401(
    method: str, path: str, body: Any, ok_status: int, objects: dict[str, Any]
) -> None:
    before = snapshot()

    response = call(APIClient(), method, path, body, objects)

    assert response.status_code == 401
    assert "detail" in response.json()
    assert response.headers.get("WWW-Authenticate")
    assert snapshot() == before


@pytest.mark.parametrize(AUTH_ARGS, ENDPOINTS)
def test_non_staff_token_is_403(
    method: str, path: str, body: Any, ok_status: int, objects: dict[str, Any]
) -> None:
    user = User.objects.create_user("customer", password="customer-pass", is_staff=False)
    before = snapshot()

    response = call(token_client(user), method, path, body, objects)

    assert response.status_code == 403
    assert "detail" in response.json()
    assert snapshot() == before


@pytest.mark.parametrize(AUTH_ARGS, ENDPOINTS)
def test_client_api_key_is_401(
    method: str, path: str, body: Any, ok_status: int, objects: dict[str, Any]
) -> None:
    secret = secret_of(ApiKeyFactory.create(name="client"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    before = snapshot()

    response = call(client, method, path, body, objects)

    assert response.status_code == 401
    assert "detail" in response.json()
    assert snapshot() == before


@pytest.mark.parametrize(AUTH_ARGS, ENDPOINTS)
def test_staff_token_as_bearer_works(
    method: str,
    path: str,
    body: Any,
    ok_status: int,
    objects: dict[str, Any],
    staff_user: User,
) -> None:
    before = snapshot()

    response = call(token_client(staff_user, "Bearer"), method, path, body, objects)

    assert response.status_code == ok_status, response.content
    if method == "get":
        text = response.content.decode()
        assert any(marker in text for marker in ("auth-acct", "auth-key", "req_auth"))
    else:
        assert snapshot() != before


@pytest.mark.parametrize("path", [ACCOUNTS, ACCOUNTS + "{account}/", KEYS, KEYS + "{key}/", USAGE])
def test_staff_session_can_read(path: str, objects: dict[str, Any], staff_user: User) -> None:
    client = Client()
    client.force_login(staff_user)

    response = client.get(path.format(**objects), HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    text = response.content.decode()
    assert any(marker in text for marker in ("auth-acct", "auth-key", "req_auth"))


def test_non_staff_session_is_403(objects: dict[str, Any]) -> None:
    client = Client()
    client.force_login(User.objects.create_user("customer", is_staff=False))

    response = client.get(USAGE, HTTP_ACCEPT="application/json")

    assert response.status_code == 403
    assert "req_auth" not in response.content.decode()
