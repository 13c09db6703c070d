"""Deleting a channel with usage history archives it: its records, rollups and reports keep it,
routing, probes and lists leave it, and its name may be taken again (issue #11, point 5)."""

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from billing.models import UsageRecord
from channels import tasks
from channels.models import Channel, ChannelModel
from channels.selectors import served_models
from channels.services import channel_archive, channel_delete, channels_set_enabled
from reports.rollup import usage_rollup_run
from tests.channels.api_helpers import LIST, detail, payload
from tests.factories import ChannelFactory, ChannelModelFactory, UsageRecordFactory
from tests.test_admin import channel_form

pytestmark = pytest.mark.django_db

REPORT = "/api/admin/reports/usage/"
USAGE = "/api/admin/usage/"


@pytest.fixture
def used() -> Channel:
    """A live channel serving a model, with three records: two rolled up, one still queued."""
    channel = ChannelFactory.create(name="openai-used")
    ChannelModelFactory.create(channel=channel, model="gpt-4o-mini")
    UsageRecordFactory.create_batch(2, channel=channel)
    usage_rollup_run()
    UsageRecordFactory.create(channel=channel)
    return channel


def quiet(channel: Channel) -> Channel:
    """As if the channel had been disabled an hour ago: no request can be in flight on it."""
    Channel.objects.filter(pk=channel.pk).update(
        enabled=False, updated_at=timezone.now() - timedelta(hours=1)
    )
    channel.refresh_from_db()
    return channel


@pytest.fixture
def admin_browser(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="root-pass"))
    return client


def channel_rows(client: APIClient) -> list[dict[str, Any]]:
    response = client.get(REPORT, {"group_by": "channel"})
    assert response.status_code == 200, response.content
    rows: list[dict[str, Any]] = response.json()["rows"]
    return rows


# --- the management API ------------------------------------------------------------------


def test_api_delete_of_a_channel_with_history_archives_it(staff_client, used):
    response = staff_client.delete(detail(used.pk))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == used.pk
    assert body["archived_at"] is not None
    assert body["enabled"] is False
    # Its records keep it, the usage list still finds them by channel, the report shows it
    # once, by name.
    assert set(UsageRecord.objects.values_list("channel_id", flat=True)) == {used.pk}
    usage = staff_client.get(USAGE, {"channel": used.pk}).json()
    assert usage["count"] == 3
    assert {record["channel"] for record in usage["results"]} == {used.pk}
    rows = channel_rows(staff_client)
    assert [(row["group"], row["name"], row["requests"]) for row in rows] == [
        (used.pk, "openai-used (archived)", 3)
    ]
    # Out of the list, still readable by id.
    assert staff_client.get(LIST).json()["count"] == 0
    listed = staff_client.get(LIST, {"archived": "true"}).json()["results"]
    assert [(c["id"], c["archived_at"] is not None) for c in listed] == [(used.pk, True)]
    again = staff_client.get(detail(used.pk))
    assert again.status_code == 200
    assert again.json()["archived_at"] == body["archived_at"]


def test_a_new_channel_may_take_an_archived_channels_name(staff_client, used):
    staff_client.delete(detail(used.pk))

    created = staff_client.post(LIST, payload(name="openai-used"), format="json")

    assert created.status_code == 201, created.content
    assert created.json()["archived_at"] is None
    UsageRecordFactory.create(channel_id=created.json()["id"])
    names = sorted(row["name"] for row in channel_rows(staff_client))
    assert names == ["openai-used", "openai-used (archived)"]
    taken = staff_client.post(LIST, payload(name="openai-used"), format="json")
    assert taken.status_code == 400
    assert "name" in taken.json()


def test_an_archived_channel_cannot_be_changed_or_enabled_again(staff_client, used):
    staff_client.delete(detail(used.pk))

    response = staff_client.patch(detail(used.pk), {"enabled": True}, format="json")

    assert response.status_code == 409
    assert channels_set_enabled(channels=Channel.objects.filter(pk=used.pk), enabled=True) == 0
    assert Channel.objects.get(pk=used.pk).enabled is False


def test_a_channel_without_history_is_deleted_for_real(staff_client):
    channel = quiet(ChannelFactory.create(name="typo-channel"))
    ChannelModelFactory.create(channel=channel)

    response = staff_client.delete(detail(channel.pk))

    assert response.status_code == 204
    assert staff_client.get(detail(channel.pk)).status_code == 404
    assert staff_client.get(LIST, {"archived": "true"}).json()["count"] == 0
    assert not ChannelModel.objects.exists()


def test_a_channel_that_may_have_requests_in_flight_is_archived(staff_client):
    """No record yet, but it serves a model: a request routed to it may still be recorded."""
    channel = ChannelFactory.create()
    ChannelModelFactory.create(channel=channel)

    response = staff_client.delete(detail(channel.pk))

    assert response.status_code == 200
    assert response.json()["archived_at"] is not None
    # Once quiet, deleting the archived channel again deletes it: nothing refers to it.
    quiet(channel)
    assert staff_client.delete(detail(channel.pk)).status_code == 204
    assert not Channel.objects.filter(pk=channel.pk).exists()


def test_records_pruned_after_their_rollup_still_keep_the_channel(staff_client, used):
    usage_rollup_run()
    UsageRecord.objects.all().delete()  # as retention does, once rolled up
    quiet(used)

    assert channel_delete(channel=used) is False

    assert Channel.objects.get(pk=used.pk).archived_at is not None
    assert [row["name"] for row in channel_rows(staff_client)] == ["openai-used (archived)"]


def test_nothing_deletes_usage_history(used):
    with pytest.raises(ProtectedError), transaction.atomic():
        used.delete()
    assert UsageRecord.objects.filter(channel=used).count() == 3


def test_live_names_are_unique_in_the_database(used):
    channel_archive(channel=used)
    ChannelFactory.create(name="openai-used")

    with pytest.raises(IntegrityError), transaction.atomic():
        ChannelFactory.create(name="openai-used")


def test_the_list_refuses_a_malformed_archived_flag(staff_client):
    response = staff_client.get(LIST, {"archived": "maybe"})

    assert response.status_code == 400
    assert "archived" in response.json()


# --- routing and probes ------------------------------------------------------------------


def test_an_archived_channel_serves_nothing_and_is_never_probed(monkeypatch, used):
    other = ChannelFactory.create(name="other", next_probe_at=None)
    ChannelModelFactory.create(channel=other, model="gpt-4o-mini")
    channel_archive(channel=used)
    # Even a channel switched back on behind the services' back stays out.
    Channel.objects.filter(pk=used.pk).update(enabled=True, next_probe_at=None)
    queued: list[int] = []
    monkeypatch.setattr(tasks.probe_channel_task, "delay", queued.append)

    assert [served.channel_id for served in served_models()] == [other.pk]
    assert tasks.probe_due_channels() == 1
    assert queued == [other.pk]
    assert tasks.probe_channel_task(used.pk) is False


# --- the Django admin --------------------------------------------------------------------


def test_admin_delete_view_archives_a_channel_with_history(admin_browser, used):
    url = reverse("admin:channels_channel_delete", args=[used.pk])

    confirm = admin_browser.get(url)
    assert confirm.status_code == 200
    assert "archived, not deleted" in confirm.content.decode()
    response = admin_browser.post(url, {"post": "yes"})

    assert response.status_code == 302
    used.refresh_from_db()
    assert used.archived_at is not None
    assert UsageRecord.objects.filter(channel=used).count() == 3
    texts = [str(message) for message in get_messages(response.wsgi_request)]
    assert any("archived, not deleted" in text for text in texts), texts
    assert not any("deleted successfully" in text for text in texts), texts


def test_admin_bulk_delete_archives_those_with_history_and_deletes_the_rest(admin_browser, used):
    spare = quiet(ChannelFactory.create(name="spare"))
    changelist = reverse("admin:channels_channel_changelist")
    form = {"action": "delete_selected", "_selected_action": [used.pk, spare.pk]}

    confirm = admin_browser.post(changelist, form)
    assert confirm.status_code == 200
    assert "archived, not deleted" in confirm.content.decode()
    response = admin_browser.post(changelist, form | {"post": "yes"})

    assert response.status_code == 302
    assert list(Channel.objects.values_list("name", flat=True)) == ["openai-used"]
    assert Channel.objects.get().archived_at is not None
    texts = [str(message) for message in get_messages(response.wsgi_request)]
    assert "Deleted 1 channel(s)." in texts
    assert any(text.startswith("openai-used has usage history") for text in texts), texts


def test_admin_lets_a_new_channel_take_an_archived_name_but_not_a_live_one(admin_browser, used):
    add = reverse("admin:channels_channel_add")
    taken = admin_browser.post(add, channel_form(used))
    assert taken.status_code == 200
    assert "A live channel with this name already exists." in taken.content.decode()

    channel_archive(channel=used)
    response = admin_browser.post(add, channel_form(used))

    assert response.status_code == 302
    assert Channel.objects.filter(name="openai-used").count() == 2


# --- the dashboard -----------------------------------------------------------------------


def test_dashboard_drops_an_archived_channel_from_its_channels_page_but_names_its_usage(
    admin_browser, used
):
    channel_archive(channel=used)

    channels = admin_browser.get("/dashboard/channels/").content.decode()
    usage = admin_browser.get("/dashboard/usage/").content.decode()
    overview = admin_browser.get("/dashboard/").content.decode()

    assert "openai-used" not in channels
    assert "openai-used (archived)" in usage
    assert "openai-used (archived)" in overview
