"""Channel management API: authentication and staff-only access."""

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from channels.models import Channel
from tests.channels.api_helpers import LIST, payload
from tests.factories import ApiKeyFactory, ChannelFactory

pytestmark = pytest.mark.django_db

# ---------------------------------------------------------------- authentication


ENDPOINTS = [
    pytest.param("get", LIST, 200, id="list"),
    pytest.param("post", LIST, 201, id="create"),
    pytest.param("get", LIST + "{id}/", 200, id="get"),
    pytest.param("patch", LIST + "{id}/", 200, id="patch"),
    # Archived (200), not deleted: a channel changed this recently may have requests in flight.
    pytest.param("delete", LIST + "{id}/", 200, id="delete"),
]
BODIES = {"post": payload(name="via-auth"), "patch": {"priority": 42}}


@pytest.fixture
def target(db: None) -> Channel:
    return ChannelFactory.create(name="auth-target", priority=7)


def call(client: Client, method: str, path: str, target: Channel) -> Any:
    request: Callable[..., Any] = getattr(client, method)
    body = BODIES.get(method)
    url = path.format(id=target.pk)
    if body is None:
        return request(url)
    return request(url, body, content_type="application/json")


def snapshot() -> list[tuple[Any, ...]]:
    return list(Channel.objects.order_by("pk").values_list("pk", "name", "priority"))


def token_client(user: User, keyword: str = "Token") -> APIClient:
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{keyword} {token.key}")
    return client


@pytest.mark.parametrize(("method", "path", "ok_status"), ENDPOINTS)
def test_no_credentials_is_401(method: str, path: str, ok_status: int, target: Channel) -> None:
    before = snapshot()

    response = call(APIClient(), method, path, target)

    assert response.status_code == 401
    assert "detail" in response.json()
    assert response.headers.get("WWW-Authenticate")
    assert snapshot() == before


@pytest.mark.parametrize(("method", "path", "ok_status"), ENDPOINTS)
def test_non_staff_token_is_403(method: str, path: str, ok_status: int, target: Channel) -> None:
    user = User.objects.create_user("customer", password="customer-pass", is_staff=False)
    before = snapshot()

    response = call(token_client(user), method, path, target)

    assert response.status_code == 403
    assert "detail" in response.json()
    assert snapshot() == before


@pytest.mark.parametrize(("method", "path", "ok_status"), ENDPOINTS)
def test_client_api_key_is_401(method: str, path: str, ok_status: int, target: Channel) -> None:
    client = APIClient()
    secret = ApiKeyFactory.create().secret  # type: ignore[attr-defined]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    before = snapshot()

    response = call(client, method, path, target)

    assert response.status_code == 401
    assert "detail" in response.json()
    assert snapshot() == before


@pytest.mark.parametrize(("method", "path", "ok_status"), ENDPOINTS)
def test_staff_token_as_bearer_works(
    method: str, path: str, ok_status: int, target: Channel, staff_user: User
) -> None:
    response = call(token_client(staff_user, "Bearer"), method, path, target)

    assert response.status_code == ok_status, response.content
    if method == "get":
        assert "auth-target" in response.content.decode()
    elif method == "post":
        assert Channel.objects.filter(name="via-auth").exists()
    elif method == "patch":
        assert response.json()["priority"] == 42
    else:
        assert Channel.objects.get(pk=target.pk).archived_at is not None


def test_invalid_token_is_401(target: Channel) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get(LIST)
    assert response.status_code == 401
    assert "detail" in response.json()


@pytest.mark.parametrize("path", [LIST, LIST + "{id}/"])
def test_staff_session_can_read(path: str, target: Channel, staff_user: User) -> None:
    client = Client()
    client.force_login(staff_user)

    response = client.get(path.format(id=target.pk), HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert "auth-target" in response.content.decode()


def test_non_staff_session_is_403(target: Channel) -> None:
    client = Client()
    client.force_login(User.objects.create_user("customer", is_staff=False))

    response = client.get(LIST, HTTP_ACCEPT="application/json")

    assert response.status_code == 403
    assert "auth-target" not in response.content.decode()
