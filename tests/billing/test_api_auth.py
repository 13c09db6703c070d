"""Billing management API: authentication and staff-only access."""

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from billing.models import Account, ApiKey, LedgerEntry, UsageRecord
from tests.billing.api_helpers import ACCOUNTS, KEYS, USAGE, secret_of
from tests.factories import AccountFactory, ApiKeyFactory, UsageRecordFactory

pytestmark = pytest.mark.django_db

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
    pytest.param("post", KEYS, {"name": "new-key", "account": "{account}"}, 201, id="keys-create"),
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
    body = {
        name: value.format(**ids) if isinstance(value, str) else value
        for name, value in body.items()
    }
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
