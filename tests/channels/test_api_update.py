"""Channel management API: patch and delete `…/channels/<id>/`, secrets hidden."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from billing.models import UsageRecord
from channels.models import Channel, ChannelModel
from channels.selectors import channel_api_key
from tests.channels.api_helpers import (
    LIST,
    OTHER_SECRET,
    SECRET,
    assert_secret_hidden,
    detail,
    dig,
    payload,
)
from tests.factories import ChannelFactory, ChannelModelFactory, UsageRecordFactory

pytestmark = pytest.mark.django_db

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
            "cache_write_price": None,
            "cache_write_1h_price": None,
            "max_output_tokens": None,
            "unsupported": [],
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


def test_delete_of_a_channel_without_history_then_404(
    staff_client: APIClient, channel: Channel
) -> None:
    # Disabled an hour ago and never used: nothing refers to it, nothing can be in flight.
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Channel.objects.filter(pk=channel.pk).update(enabled=False, updated_at=an_hour_ago)

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

    assert response.status_code == 200  # archived: its record keeps it
    assert response.json()["archived_at"] is not None
    usage = staff_client.get("/api/admin/usage/").json()["results"]
    assert [(r["id"], r["channel"], r["provider"]) for r in usage] == [
        (record.pk, channel.pk, "openai")
    ]
    assert UsageRecord.objects.get(pk=record.pk).channel == channel


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
