"""Channel management API: list, create and get `/api/admin/channels/`."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from channels.models import Channel, ChannelModel
from channels.selectors import channel_api_key
from tests.channels.api_helpers import LIST, SECRET, assert_secret_hidden, detail, dig, payload
from tests.factories import ChannelFactory, ChannelModelFactory

pytestmark = pytest.mark.django_db

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
            "cache_write_price": None,
            "cache_write_1h_price": None,
            "max_output_tokens": None,
            "unsupported": [],
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
            "cache_write_price": None,
            "cache_write_1h_price": None,
            "max_output_tokens": None,
            "unsupported": [],
        },
        {
            "model": "openai/gpt-4o-mini",
            "upstream_model": "gpt-4o-mini",
            "input_price": "0.15",
            "output_price": "0.6",
            "cached_input_price": "0.075",
            "cache_write_price": "0.1875",
            "cache_write_1h_price": "0.3",
            "max_output_tokens": None,
            "unsupported": [],
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
