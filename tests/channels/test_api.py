"""Management API for channels (design §7): `/api/admin/channels/` and `…/channels/<id>/`."""

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.response import Response
from rest_framework.test import APIClient

from billing.models import UsageRecord
from channels.models import Channel, ChannelModel
from channels.selectors import channel_api_key
from tests.factories import ApiKeyFactory, ChannelFactory, ChannelModelFactory, UsageRecordFactory

pytestmark = pytest.mark.django_db

LIST = "/api/admin/channels/"
SECRET = "sk-upstream-0123456789-SECRETabcd"
OTHER_SECRET = "sk-upstream-9876543210-ROTATEDwxyz"


def detail(channel_id: int) -> str:
    return f"{LIST}{channel_id}/"


def payload(**overrides: Any) -> dict[str, Any]:
    """A complete, valid channel as an operator would create it."""
    body: dict[str, Any] = {
        "name": "openai-main",
        "provider": "openai",
        "api_type": "openai",
        "base_url": "https://api.openai.com/v1",
        "api_key": SECRET,
        "priority": 10,
        "weight": 3,
        "enabled": True,
        "first_token_timeout": 5.5,
        "timeout": 60.0,
        "models": [
            {
                "model": "openai/gpt-4o-mini",
                "upstream_model": "gpt-4o-mini",
                "input_price": "0.15",
                "output_price": "0.6",
                "cached_input_price": "0.075",
            },
            {"model": "openai/gpt-4o", "input_price": "2.5", "output_price": "10"},
        ],
    }
    body.update(overrides)
    return body


def dig(body: Any, path: tuple[str | int, ...]) -> Any:
    """The error(s) at `path` in a DRF error body; fails the test when the path is absent."""
    node = body
    for step in path:
        assert isinstance(node, dict | list), f"no {path!r} in {body!r}"
        if isinstance(node, dict):
            # DRF reports errors of list items either as a list or keyed by the item's index.
            key = str(step) if isinstance(step, int) and step not in node else step
            assert key in node, f"no {path!r} in {body!r}"
            node = node[key]
        else:
            assert isinstance(step, int), f"no {path!r} in {body!r}"
            assert step < len(node), f"no {path!r} in {body!r}"
            node = node[step]
    return node


def assert_secret_hidden(response: Response, *secrets: str) -> None:
    """Neither a secret nor anything but its last four characters appears in the body."""
    text = response.content.decode()
    for secret in secrets:
        assert secret not in text
        assert secret[:-4] not in text
    assert "api_key_encrypted" not in text


# ---------------------------------------------------------------- list


def test_list_is_paginated_highest_priority_first(staff_client: APIClient) -> None:
    ChannelFactory.create(name="low", priority=0)
    ChannelFactory.create(name="high", priority=10)
    ChannelFactory.create(name="mid", priority=5)

    first = staff_client.get(LIST, {"limit": 2})

    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3
    assert body["previous"] is None
    assert "offset=2" in body["next"]
    assert [c["name"] for c in body["results"]] == ["high", "mid"]

    second = staff_client.get(body["next"])
    assert second.status_code == 200
    assert [c["name"] for c in second.json()["results"]] == ["low"]
    assert second.json()["next"] is None
    assert second.json()["previous"] is not None


def test_list_shows_models_and_masked_key(staff_client: APIClient) -> None:
    channel = ChannelFactory.create(name="with-key", api_key=SECRET)
    ChannelModelFactory.create(channel=channel, model="m-1", input_price="0.15", output_price="0.6")

    response = staff_client.get(LIST)

    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["id"] == channel.pk
    assert row["api_key"] == "••••abcd"
    assert row["models"] == [
        {
            "model": "m-1",
            "upstream_model": "m-1",
            "input_price": "0.15",
            "output_price": "0.6",
            "cached_input_price": None,
        }
    ]
    assert_secret_hidden(response, SECRET)


def test_list_empty(staff_client: APIClient) -> None:
    response = staff_client.get(LIST)
    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


# ---------------------------------------------------------------- create and get


def test_create_returns_the_channel_with_models(staff_client: APIClient) -> None:
    response = staff_client.post(LIST, payload(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert isinstance(body["id"], int)
    expected = {
        "name": "openai-main",
        "provider": "openai",
        "api_type": "openai",
        "base_url": "https://api.openai.com/v1",
        "api_key": "••••abcd",
        "priority": 10,
        "weight": 3,
        "enabled": True,
        "first_token_timeout": 5.5,
        "timeout": 60.0,
        "status": "unknown",
    }
    assert {field: body[field] for field in expected} == expected
    assert sorted(body["models"], key=lambda m: m["model"]) == [
        {
            "model": "openai/gpt-4o",
            "upstream_model": "openai/gpt-4o",
            "input_price": "2.5",
            "output_price": "10",
            "cached_input_price": None,
        },
        {
            "model": "openai/gpt-4o-mini",
            "upstream_model": "gpt-4o-mini",
            "input_price": "0.15",
            "output_price": "0.6",
            "cached_input_price": "0.075",
        },
    ]
    assert_secret_hidden(response, SECRET)

    channel = Channel.objects.get(pk=body["id"])
    assert channel_api_key(channel=channel) == SECRET
    assert SECRET not in channel.api_key_encrypted

    fetched = staff_client.get(detail(body["id"]))
    assert fetched.status_code == 200
    assert fetched.json() == body
    assert_secret_hidden(fetched, SECRET)


def test_create_minimal_channel(staff_client: APIClient) -> None:
    response = staff_client.post(
        LIST,
        {"name": "bare", "provider": "anthropic", "base_url": "https://api.anthropic.com"},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "bare"
    assert body["base_url"] == "https://api.anthropic.com"
    assert body["models"] == []
    assert body["status"] == "unknown"
    assert body["first_token_timeout"] is None
    assert body["timeout"] is None
    assert body["enabled"] is True
    assert Channel.objects.filter(name="bare").exists()


@pytest.mark.parametrize("price", ["0.15", "0.0000001", "1000000", "12.3456789", "0"])
def test_prices_round_trip_as_decimal_strings(staff_client: APIClient, price: str) -> None:
    models = [
        {"model": "m", "input_price": price, "output_price": price, "cached_input_price": price}
    ]
    response = staff_client.post(LIST, payload(models=models), format="json")

    assert response.status_code == 201, response.content
    [model] = response.json()["models"]
    assert model["input_price"] == price
    assert model["output_price"] == price
    assert model["cached_input_price"] == price


def test_status_is_read_only(staff_client: APIClient) -> None:
    created = staff_client.post(LIST, payload(status="down"), format="json")
    assert created.status_code == 201
    assert created.json()["status"] == "unknown"

    patched = staff_client.patch(detail(created.json()["id"]), {"status": "down"}, format="json")
    assert patched.status_code == 200
    assert patched.json()["status"] == "unknown"
    assert Channel.objects.get().status == "unknown"


def test_api_types(staff_client: APIClient) -> None:
    for api_type in ("openai", "anthropic", "gemini"):
        response = staff_client.post(
            LIST, payload(name=f"ch-{api_type}", api_type=api_type), format="json"
        )
        assert response.status_code == 201, response.content
        assert response.json()["api_type"] == api_type


def _models(*items: dict[str, Any]) -> list[dict[str, Any]]:
    return list(items)


CREATE_ERRORS = [
    pytest.param(
        {"models": _models({"model": "m", "input_price": "-0.01", "output_price": "1"})},
        ("models", 0, "input_price"),
        id="negative-input-price",
    ),
    pytest.param(
        {"models": _models({"model": "m", "input_price": "1", "output_price": "-1"})},
        ("models", 0, "output_price"),
        id="negative-output-price",
    ),
    pytest.param(
        {"models": _models({"model": "m", "cached_input_price": "-0.5"})},
        ("models", 0, "cached_input_price"),
        id="negative-cached-price",
    ),
    pytest.param(
        {"models": _models({"model": "m", "input_price": "cheap"})},
        ("models", 0, "input_price"),
        id="non-numeric-price",
    ),
    pytest.param(
        {"models": _models({"input_price": "1"})},
        ("models", 0, "model"),
        id="model-without-id",
    ),
    pytest.param(
        {"models": _models({"model": "a"}, {"model": "b"}, {"model": "a"})},
        ("models",),
        id="repeated-model",
    ),
    pytest.param({"models": "openai/gpt-4o"}, ("models",), id="models-not-a-list"),
    pytest.param({"weight": -1}, ("weight",), id="negative-weight"),
    pytest.param({"priority": "high"}, ("priority",), id="non-integer-priority"),
    pytest.param({"base_url": "not a url"}, ("base_url",), id="bad-url"),
    pytest.param({"base_url": ""}, ("base_url",), id="empty-url"),
    pytest.param({"api_type": "cohere"}, ("api_type",), id="unknown-api-type"),
    pytest.param({"provider": "Open AI!"}, ("provider",), id="bad-provider-slug"),
    pytest.param({"timeout": -1}, ("timeout",), id="negative-timeout"),
    pytest.param({"first_token_timeout": "soon"}, ("first_token_timeout",), id="bad-ttft"),
    pytest.param({"name": ""}, ("name",), id="blank-name"),
]


@pytest.mark.parametrize(("overrides", "error_path"), CREATE_ERRORS)
def test_create_rejects_invalid_input(
    staff_client: APIClient, overrides: dict[str, Any], error_path: tuple[str | int, ...]
) -> None:
    response = staff_client.post(LIST, payload(**overrides), format="json")

    assert response.status_code == 400, response.content
    assert dig(response.json(), error_path)
    assert Channel.objects.count() == 0
    assert ChannelModel.objects.count() == 0


@pytest.mark.parametrize("field", ["name", "provider", "base_url"])
def test_create_requires_field(staff_client: APIClient, field: str) -> None:
    body = payload()
    del body[field]

    response = staff_client.post(LIST, body, format="json")

    assert response.status_code == 400
    assert dig(response.json(), (field,))
    assert Channel.objects.count() == 0


def test_create_rejects_duplicate_name(staff_client: APIClient) -> None:
    ChannelFactory.create(name="openai-main")

    response = staff_client.post(LIST, payload(), format="json")

    assert response.status_code == 400
    assert dig(response.json(), ("name",))
    assert Channel.objects.count() == 1


def test_repeated_model_error_names_the_model(staff_client: APIClient) -> None:
    models = [{"model": "dup/model"}, {"model": "dup/model"}]
    response = staff_client.post(LIST, payload(models=models), format="json")

    assert response.status_code == 400
    assert "dup/model" in str(response.json()["models"])


def test_get_unknown_channel_is_404(staff_client: APIClient) -> None:
    response = staff_client.get(detail(999_999))
    assert response.status_code == 404
    assert "detail" in response.json()


# ---------------------------------------------------------------- patch


@pytest.fixture
def channel() -> Channel:
    """A channel with a secret and two models."""
    channel = ChannelFactory.create(name="primary", api_key=SECRET, priority=1, weight=2)
    ChannelModelFactory.create(channel=channel, model="a", input_price="1", output_price="2")
    ChannelModelFactory.create(channel=channel, model="b", input_price="3", output_price="4")
    return channel


def test_patch_changes_only_the_given_fields(staff_client: APIClient, channel: Channel) -> None:
    changes = {
        "priority": 99,
        "weight": 0,
        "enabled": False,
        "timeout": 12.5,
        "first_token_timeout": None,
        "base_url": "https://proxy.example.org/openai/v1",
    }

    response = staff_client.patch(detail(channel.pk), changes, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert {field: body[field] for field in changes} == changes
    assert body["name"] == "primary"
    assert body["api_key"] == "••••abcd"
    assert [m["model"] for m in body["models"]] == ["a", "b"]
    assert staff_client.get(detail(channel.pk)).json() == body
    assert channel_api_key(channel=Channel.objects.get(pk=channel.pk)) == SECRET
    assert_secret_hidden(response, SECRET)


def test_patch_api_key_replaces_the_secret(staff_client: APIClient, channel: Channel) -> None:
    before = staff_client.get(detail(channel.pk)).json()["api_key"]

    response = staff_client.patch(detail(channel.pk), {"api_key": OTHER_SECRET}, format="json")

    assert response.status_code == 200
    assert before == "••••abcd"
    assert response.json()["api_key"] == "••••wxyz"
    assert_secret_hidden(response, SECRET, OTHER_SECRET)
    assert channel_api_key(channel=Channel.objects.get(pk=channel.pk)) == OTHER_SECRET
    assert staff_client.get(detail(channel.pk)).json()["api_key"] == "••••wxyz"


def test_patch_models_replaces_the_whole_list(staff_client: APIClient, channel: Channel) -> None:
    new_models = [
        {"model": "c", "upstream_model": "c-2025", "input_price": "0.5", "output_price": "1.5"}
    ]

    response = staff_client.patch(detail(channel.pk), {"models": new_models}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["models"] == [
        {
            "model": "c",
            "upstream_model": "c-2025",
            "input_price": "0.5",
            "output_price": "1.5",
            "cached_input_price": None,
        }
    ]
    assert list(channel.models.values_list("model", flat=True)) == ["c"]
    assert staff_client.get(detail(channel.pk)).json()["models"] == response.json()["models"]


def test_patch_models_to_empty_list(staff_client: APIClient, channel: Channel) -> None:
    response = staff_client.patch(detail(channel.pk), {"models": []}, format="json")

    assert response.status_code == 200
    assert response.json()["models"] == []
    assert not channel.models.exists()


def test_patch_can_keep_its_own_name(staff_client: APIClient, channel: Channel) -> None:
    response = staff_client.patch(detail(channel.pk), {"name": "primary"}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "primary"


PATCH_ERRORS = [
    pytest.param({"weight": -1}, ("weight",), id="negative-weight"),
    pytest.param({"base_url": "ftp//nope"}, ("base_url",), id="bad-url"),
    pytest.param({"api_type": "cohere"}, ("api_type",), id="unknown-api-type"),
    pytest.param({"provider": "Open AI!"}, ("provider",), id="bad-provider-slug"),
    pytest.param({"name": "taken"}, ("name",), id="duplicate-name"),
    pytest.param(
        {"models": [{"model": "x", "input_price": "-1"}]},
        ("models", 0, "input_price"),
        id="negative-price",
    ),
    pytest.param({"models": [{"model": "x"}, {"model": "x"}]}, ("models",), id="repeated-model"),
    pytest.param(
        {"models": [{"model": "x"}, {"input_price": "1"}]},
        ("models", 1, "model"),
        id="model-without-id",
    ),
]


@pytest.mark.parametrize(("changes", "error_path"), PATCH_ERRORS)
def test_patch_rejects_invalid_input(
    staff_client: APIClient,
    channel: Channel,
    changes: dict[str, Any],
    error_path: tuple[str | int, ...],
) -> None:
    ChannelFactory.create(name="taken")
    before = staff_client.get(detail(channel.pk)).json()

    response = staff_client.patch(detail(channel.pk), changes, format="json")

    assert response.status_code == 400, response.content
    assert dig(response.json(), error_path)
    assert staff_client.get(detail(channel.pk)).json() == before


def test_patch_unknown_channel_is_404(staff_client: APIClient) -> None:
    response = staff_client.patch(detail(999_999), {"priority": 1}, format="json")
    assert response.status_code == 404
    assert "detail" in response.json()


# ---------------------------------------------------------------- delete


def test_delete_then_404(staff_client: APIClient, channel: Channel) -> None:
    response = staff_client.delete(detail(channel.pk))

    assert response.status_code == 204
    assert response.content == b""
    assert staff_client.get(detail(channel.pk)).status_code == 404
    assert staff_client.get(LIST).json()["count"] == 0
    assert not ChannelModel.objects.exists()
    assert staff_client.delete(detail(channel.pk)).status_code == 404


def test_delete_keeps_usage_records(staff_client: APIClient, channel: Channel) -> None:
    record = UsageRecordFactory.create(channel=channel, provider="openai")

    response = staff_client.delete(detail(channel.pk))

    assert response.status_code == 204
    usage = staff_client.get("/api/admin/usage/").json()["results"]
    assert [(r["id"], r["channel"], r["provider"]) for r in usage] == [(record.pk, None, "openai")]
    assert UsageRecord.objects.get(pk=record.pk).channel is None


def test_secret_never_appears_in_any_response(staff_client: APIClient) -> None:
    created = staff_client.post(LIST, payload(), format="json")
    channel_id = created.json()["id"]
    responses = [
        created,
        staff_client.get(detail(channel_id)),
        staff_client.get(LIST),
        staff_client.patch(detail(channel_id), {"priority": 3}, format="json"),
        staff_client.patch(detail(channel_id), {"api_key": OTHER_SECRET}, format="json"),
        staff_client.get(detail(channel_id)),
        staff_client.get(LIST),
    ]

    for response in responses:
        assert response.status_code in {200, 201}
        assert_secret_hidden(response, SECRET, OTHER_SECRET)
    ciphertext = Channel.objects.get(pk=channel_id).api_key_encrypted
    assert all(ciphertext not in r.content.decode() for r in responses)


# ---------------------------------------------------------------- authentication


ENDPOINTS = [
    pytest.param("get", LIST, 200, id="list"),
    pytest.param("post", LIST, 201, id="create"),
    pytest.param("get", LIST + "{id}/", 200, id="get"),
    pytest.param("patch", LIST + "{id}/", 200, id="patch"),
    pytest.param("delete", LIST + "{id}/", 204, id="delete"),
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
        assert not Channel.objects.filter(pk=target.pk).exists()


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
