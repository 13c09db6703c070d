"""A served model's answer budget and what it cannot do: `models[].max_output_tokens` and
`models[].unsupported` in the management API and the admin."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from channels.models import Channel, ChannelModel
from tests.channels.api_helpers import LIST, detail, dig, payload
from tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db

CLAUDE = {
    "model": "anthropic/claude-sonnet",
    "upstream_model": "claude-sonnet-4-5",
    "input_price": "3",
    "output_price": "15",
    "max_output_tokens": 8192,
    "unsupported": ["json_schema", "seed", "logprobs"],
}


def test_create_and_read_back_the_budget_and_the_unsupported_list(staff_client: APIClient):
    response = staff_client.post(
        LIST, payload(api_type="anthropic", models=[CLAUDE]), format="json"
    )

    assert response.status_code == 201, response.content
    [model] = response.json()["models"]
    assert model["max_output_tokens"] == 8192
    assert model["unsupported"] == ["json_schema", "logprobs", "seed"]
    stored = ChannelModel.objects.get()
    assert (stored.max_output_tokens, stored.unsupported) == (
        8192,
        ["json_schema", "logprobs", "seed"],
    )


def test_patching_the_models_replaces_the_lists(staff_client: APIClient):
    channel = ChannelFactory.create()
    changed = [{**CLAUDE, "unsupported": ["tools"], "max_output_tokens": None}]

    response = staff_client.patch(detail(channel.pk), {"models": changed}, format="json")

    assert response.status_code == 200, response.content
    [model] = response.json()["models"]
    assert (model["unsupported"], model["max_output_tokens"]) == (["tools"], None)


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"unsupported": ["telepathy"]}, "unsupported"),
        ({"unsupported": "tools"}, "unsupported"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
    ],
    ids=["unknown-name", "not-a-list", "zero-budget"],
)
def test_bad_values_are_400_naming_the_field(staff_client: APIClient, item, field):
    response = staff_client.post(LIST, payload(models=[{**CLAUDE, **item}]), format="json")

    assert response.status_code == 400
    assert dig(response.json(), ("models", 0, field))
    assert not Channel.objects.exists()


def test_the_admin_edits_the_unsupported_list(db: None):
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="root-pass"))
    form = {
        "name": "claude",
        "provider": "anthropic",
        "api_type": "anthropic",
        "base_url": "https://api.anthropic.com",
        "api_key": "",
        "priority": "0",
        "weight": "1",
        "enabled": "on",
        "probe_mode": "models",
        "models-TOTAL_FORMS": "1",
        "models-INITIAL_FORMS": "0",
        "models-0-model": "claude",
        "models-0-input_price": "3",
        "models-0-output_price": "15",
        "models-0-max_output_tokens": "1024",
        "models-0-unsupported": ["vision", "tools"],
    }

    response = client.post(reverse("admin:channels_channel_add"), form)

    assert response.status_code == 302
    model = ChannelModel.objects.get()
    assert (sorted(model.unsupported), model.max_output_tokens) == (["tools", "vision"], 1024)
    page = client.get(reverse("admin:channels_channel_change", args=[model.channel_id]))
    assert b'<option value="vision" selected>' in page.content
