"""Billing management API: API keys (create, patch, revoke, list)."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from billing.keys import hash_key
from billing.models import Account, ApiKey
from tests.billing.api_helpers import KEYS, PAGE_FIELDS, as_time, key_url, secret_of
from tests.factories import AccountFactory, ApiKeyFactory

pytestmark = pytest.mark.django_db


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


@pytest.fixture
def account() -> Account:
    return AccountFactory.create(name="acme")


def test_every_key_gets_a_fresh_secret(staff_client: APIClient, account: Account) -> None:
    first = staff_client.post(KEYS, {"name": "one", "account": account.pk}, format="json").json()
    second = staff_client.post(KEYS, {"name": "two", "account": account.pk}, format="json").json()

    assert first["key"] != second["key"]
    assert first["prefix"] != second["prefix"]


def test_key_create_defaults(staff_client: APIClient, account: Account) -> None:
    response = staff_client.post(KEYS, {"name": "plain", "account": account.pk}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["account"] == account.pk
    assert body["spend_limit"] is None
    assert body["limit_reset"] is None
    assert body["rpm_limit"] is None
    assert body["tpm_limit"] is None
    assert body["allowed_models"] == []
    assert body["expires_at"] is None
    assert body["revoked"] is False


@pytest.mark.parametrize("body", [{"name": "one"}, {"name": "two", "account": None}])
def test_a_key_needs_an_account(staff_client: APIClient, body: dict[str, Any]) -> None:
    response = staff_client.post(KEYS, body, format="json")

    assert response.status_code == 400
    assert response.json()["account"]  # DRF's field error names it
    assert not ApiKey.objects.exists()
    assert not Account.objects.exists()  # no silent "default" account


def test_key_create_with_null_limits(staff_client: APIClient, account: Account) -> None:
    body = {"name": "k", "account": account.pk, "spend_limit": None, "limit_reset": None}
    body["rpm_limit"] = None

    response = staff_client.post(KEYS, body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["spend_limit"] is None
    assert response.json()["limit_reset"] is None
    assert response.json()["rpm_limit"] is None


@pytest.mark.parametrize("period", ["daily", "weekly", "monthly"])
def test_key_limit_reset_periods(staff_client: APIClient, account: Account, period: str) -> None:
    body = {"name": "k", "account": account.pk, "spend_limit": "1", "limit_reset": period}
    response = staff_client.post(KEYS, body, format="json")
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
