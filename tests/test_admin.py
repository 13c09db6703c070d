"""The Django admin: every page renders for staff, and secrets never appear after creation."""

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from billing.models import Account, ApiKey, LedgerEntry, LedgerKind, UsageDeadLetter
from billing.selectors import account_ledger_sum
from billing.services import usage_records_save
from channels.models import Channel
from channels.selectors import channel_api_key
from tests.factories import (
    AccountFactory,
    ApiKeyFactory,
    ChannelFactory,
    ChannelModelFactory,
    UsageRecordFactory,
)

CHANNEL_SECRET = "sk-upstream-secret-0123456789-abcdef"

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="root-pass"))
    return client


@pytest.fixture
def channel() -> Channel:
    channel = ChannelFactory.create(api_key=CHANNEL_SECRET)
    ChannelModelFactory(channel=channel, model="gpt-4o-mini")
    return channel


@pytest.fixture
def key() -> ApiKey:
    return ApiKeyFactory.create()


def every_admin_page(channel: Channel, key: ApiKey) -> list[str]:
    record = UsageRecordFactory.create(key=key, channel=channel)
    letter = UsageDeadLetter.objects.create(
        request_id="req_refused", record={"id": "req_refused"}, error="DataError: refused"
    )
    pages = [reverse("admin:index")]
    objects = {
        "channels_channel": channel.pk,
        "channels_healthcheck": None,
        "billing_account": key.account.pk,
        "billing_apikey": key.pk,
        "billing_ledgerentry": None,
        "billing_reservation": None,
        "billing_usagerecord": record.pk,
        "billing_usagedeadletter": letter.pk,
    }
    for name, pk in objects.items():
        pages.append(reverse(f"admin:{name}_changelist"))
        if pk is not None:
            pages.append(reverse(f"admin:{name}_change", args=[pk]))
    pages += [
        reverse("admin:channels_channel_add"),
        reverse("admin:billing_account_add"),
        reverse("admin:billing_apikey_add"),
    ]
    return pages


def test_every_admin_page_renders_without_any_secret(admin_client, channel, key):
    for page in every_admin_page(channel, key):
        response = admin_client.get(page)

        assert response.status_code == 200, page
        body = response.content.decode()
        assert CHANNEL_SECRET not in body, page
        assert key.secret not in body, page
        assert key.key_hash not in body, page
        assert channel.api_key_encrypted not in body, page


def test_channel_page_shows_only_a_masked_hint(admin_client, channel):
    body = admin_client.get(reverse("admin:channels_channel_change", args=[channel.pk])).content

    assert "••••cdef" in body.decode()
    assert b'name="api_key"' in body
    assert b'value="sk-' not in body


def channel_form(channel: Channel, **changes: str) -> dict[str, str]:
    data = {
        "name": channel.name,
        "provider": channel.provider,
        "api_type": channel.api_type,
        "base_url": channel.base_url,
        "api_key": "",
        "priority": "0",
        "weight": "1",
        "enabled": "on",
        "first_token_timeout": "",
        "timeout": "",
        "probe_mode": "models",
        "probe_interval": "",
        "models-TOTAL_FORMS": "0",
        "models-INITIAL_FORMS": "0",
    }
    return data | changes


def test_saving_a_channel_with_an_empty_secret_keeps_the_stored_one(admin_client, channel):
    url = reverse("admin:channels_channel_change", args=[channel.pk])
    response = admin_client.post(url, channel_form(channel, priority="7"))

    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.priority == 7
    assert channel_api_key(channel=channel) == CHANNEL_SECRET


def test_adding_a_channel_encrypts_the_entered_secret(admin_client):
    form = channel_form(
        Channel(
            name="anthropic-1",
            provider="anthropic",
            api_type="anthropic",
            base_url="https://api.anthropic.com",
        ),
        api_key="ant-secret-value-987654321",
    )
    form |= {
        "models-TOTAL_FORMS": "1",
        "models-0-model": "claude-sonnet",
        "models-0-upstream_model": "claude-sonnet-4-5",
        "models-0-input_price": "3",
        "models-0-output_price": "15",
    }
    response = admin_client.post(reverse("admin:channels_channel_add"), form)

    assert response.status_code == 302
    channel = Channel.objects.get(name="anthropic-1")
    assert channel.api_key_encrypted
    assert "ant-secret-value" not in channel.api_key_encrypted
    assert channel_api_key(channel=channel) == "ant-secret-value-987654321"
    assert channel.models.get().upstream_name == "claude-sonnet-4-5"


def test_enable_and_disable_actions(admin_client):
    first, second = ChannelFactory(), ChannelFactory()
    url = reverse("admin:channels_channel_changelist")

    admin_client.post(
        url, {"action": "disable_channels", "_selected_action": [first.pk, second.pk]}
    )
    assert not Channel.objects.filter(enabled=True).exists()

    admin_client.post(url, {"action": "enable_channels", "_selected_action": [first.pk]})
    assert set(Channel.objects.filter(enabled=True)) == {first}


def test_creating_a_key_shows_its_secret_exactly_once(admin_client):
    account = AccountFactory()

    response = admin_client.post(
        reverse("admin:billing_apikey_add"),
        {"account": account.pk, "name": "from-admin", "allowed_models": "[]", "limit_reset": ""},
    )

    assert response.status_code == 200
    shown = re.search(r'id="new-key-secret"[^>]*>(sk-[^<]+)<', response.content.decode())
    assert shown, response.content.decode()[:2000]
    secret = shown.group(1)
    key = ApiKey.objects.get(name="from-admin")
    assert secret.startswith(key.prefix)
    for page in (
        reverse("admin:billing_apikey_change", args=[key.pk]),
        reverse("admin:billing_apikey_changelist"),
    ):
        assert secret not in admin_client.get(page).content.decode()


def test_revoke_action(admin_client, key):
    admin_client.post(
        reverse("admin:billing_apikey_changelist"),
        {"action": "revoke_keys", "_selected_action": [key.pk]},
    )

    key.refresh_from_db()
    assert key.revoked


def test_credit_is_posted_through_the_ledger(admin_client):
    account = AccountFactory()
    url = reverse("admin:billing_account_change", args=[account.pk])

    response = admin_client.post(
        url,
        {
            "name": account.name,
            "credit_amount": "12.5",
            "credit_kind": "credit",
            "credit_description": "wire transfer",
        },
    )

    assert response.status_code == 302
    account.refresh_from_db()
    assert account.balance == Decimal("12.5")
    entry = LedgerEntry.objects.get(account=account)
    assert (entry.kind, entry.description) == (LedgerKind.CREDIT, "wire transfer")
    assert account.balance == account_ledger_sum(account=account)


def test_a_negative_credit_is_refused_and_the_balance_field_is_not_editable(admin_client):
    account = AccountFactory()
    url = reverse("admin:billing_account_change", args=[account.pk])

    response = admin_client.post(
        url,
        {"name": account.name, "credit_amount": "-3", "credit_kind": "credit", "balance": "1000"},
    )

    assert response.status_code == 200
    assert "A credit must be greater than 0." in response.content.decode()
    assert Account.objects.get(pk=account.pk).balance == 0


def test_usage_records_are_read_only(admin_client, key):
    record = UsageRecordFactory(key=key)

    assert admin_client.get(reverse("admin:billing_usagerecord_add")).status_code == 403
    page = admin_client.get(reverse("admin:billing_usagerecord_change", args=[record.pk]))
    assert b'type="submit"' not in page.content.split(b'id="content-main"')[1]
    found = admin_client.get(reverse("admin:billing_usagerecord_changelist"), {"q": record.pk})
    assert record.pk in found.content.decode()


def test_key_pages_show_spend_this_period_and_what_is_left(admin_client):
    key = ApiKeyFactory.create(spend_limit=Decimal(5))
    usage_records_save(records=[UsageRecordFactory.build(key=key, cost=Decimal("1.5"))])

    listing = admin_client.get(reverse("admin:billing_apikey_changelist")).content.decode()
    page = admin_client.get(reverse("admin:billing_apikey_change", args=[key.pk])).content.decode()

    for body in (listing, page):
        assert "1.5000000000" in body
        assert "3.5000000000" in body
