"""The admin's own actions and forms need the permission they use: the support group and
staff with `change_account` alone move no money, revoke no key and switch no channel."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from billing.models import Account, LedgerEntry
from channels.models import Channel
from tests.access_helpers import staff_with, support_user
from tests.factories import AccountFactory, ApiKeyFactory, ChannelFactory

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _credit(client: Client, account: Account, amount: str) -> int:
    response = client.post(
        reverse("admin:billing_account_change", args=[account.pk]),
        {"name": account.name, "credit_amount": amount, "credit_kind": "credit"},
    )
    return response.status_code


@pytest.mark.parametrize(
    ("action", "enabled"),
    [("disable_channels", True), ("enable_channels", False), ("test_channels", True)],
)
def test_the_support_group_runs_no_channel_action(action, enabled):
    channel = ChannelFactory(enabled=enabled)
    before = Channel.objects.values().get(pk=channel.pk)
    client = _client(support_user())
    client.post(
        reverse("admin:channels_channel_changelist"),
        {"action": action, "_selected_action": [channel.pk]},
    )
    assert Channel.objects.values().get(pk=channel.pk) == before


def test_the_support_group_revokes_no_key():
    key = ApiKeyFactory()
    client = _client(support_user())
    client.post(
        reverse("admin:billing_apikey_changelist"),
        {"action": "revoke_keys", "_selected_action": [key.pk]},
    )
    key.refresh_from_db()
    assert not key.revoked


def test_a_staff_user_with_change_apikey_may_revoke():
    key = ApiKeyFactory()
    client = _client(staff_with("billing.view_apikey", "billing.change_apikey"))
    client.post(
        reverse("admin:billing_apikey_changelist"),
        {"action": "revoke_keys", "_selected_action": [key.pk]},
    )
    key.refresh_from_db()
    assert key.revoked


def test_change_account_alone_credits_nothing_and_shows_no_credit_form():
    account = AccountFactory()
    client = _client(staff_with("billing.view_account", "billing.change_account"))
    page = client.get(reverse("admin:billing_account_change", args=[account.pk]))
    assert page.status_code == 200
    assert "credit_amount" not in page.content.decode()
    assert _credit(client, account, "123.45") == 302  # saved; the credit fields are not its
    account.refresh_from_db()
    assert account.balance == Decimal(0)
    assert not LedgerEntry.objects.filter(account=account).exists()


def test_change_account_alone_renames_an_account_and_adds_one():
    account = AccountFactory(name="before")
    client = _client(staff_with("billing.view_account", "billing.change_account"))
    renamed = client.post(
        reverse("admin:billing_account_change", args=[account.pk]), {"name": "after"}
    )
    added = _client(staff_with("billing.add_account")).post(
        reverse("admin:billing_account_add"), {"name": "new-one"}
    )

    assert (renamed.status_code, added.status_code) == (302, 302)
    account.refresh_from_db()
    assert account.name == "after"
    assert Account.objects.filter(name="new-one").exists()


def test_add_credit_lets_a_staff_user_credit_in_the_admin():
    account = AccountFactory()
    client = _client(
        staff_with("billing.view_account", "billing.change_account", "billing.add_credit")
    )
    assert _credit(client, account, "12.5") == 302
    account.refresh_from_db()
    assert account.balance == Decimal("12.5")
