"""`serves_responses` (#15.4): an operator declares, in the management API and the admin form,
that an OpenAI channel's upstream serves `/v1/responses`; off by default."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from channels.models import Channel
from tests.channels.api_helpers import LIST, detail, payload
from tests.test_admin import admin_client, channel, channel_form  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


def test_the_api_creates_a_channel_serving_responses_and_turns_it_off(
    staff_client: APIClient,
) -> None:
    plain = staff_client.post(LIST, payload(name="chat-only"), format="json")
    created = staff_client.post(LIST, payload(serves_responses=True), format="json")

    assert plain.status_code == created.status_code == 201
    assert plain.json()["serves_responses"] is False
    assert created.json()["serves_responses"] is True
    channel_id = created.json()["id"]
    changed = staff_client.patch(detail(channel_id), {"serves_responses": False}, format="json")
    assert changed.status_code == 200
    assert changed.json()["serves_responses"] is False
    assert Channel.objects.get(pk=channel_id).serves_responses is False


def test_the_admin_form_sets_it(admin_client, channel):  # noqa: F811
    url = reverse("admin:channels_channel_change", args=[channel.pk])

    page = admin_client.get(url)
    response = admin_client.post(url, channel_form(channel, serves_responses="on"))

    assert b'name="serves_responses"' in page.content
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.serves_responses is True
