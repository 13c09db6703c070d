"""Dead letters: a usage record the database refuses is set aside, shown to operators (admin,
dashboard) and stored with its charge, once, by "retry" (issue #11, point 5)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.db import DataError
from django.test import Client
from django.urls import reverse

from billing.models import ApiKey, LedgerEntry, UsageDeadLetter, UsageRecord
from billing.selectors import usage_dead_letters_unresolved
from billing.services import (
    account_credit,
    usage_dead_letter_retry,
    usage_dead_letter_save,
    usage_records_save,
)
from channels.models import Channel
from core.usage import Usage, UsageStatus
from gateway.accounting import UsageDraft
from tests.billing.refusals import REFUSED_USER, SECRET_IN_ERROR, refuse_usage
from tests.factories import ApiKeyFactory, ChannelFactory

pytestmark = pytest.mark.django_db

COST = Decimal("0.0123456789")
STARTED = datetime(2026, 11, 20, 12, 34, 56, 789000, tzinfo=UTC)
CHANGELIST = "admin:billing_usagedeadletter_changelist"


@pytest.fixture
def key() -> ApiKey:
    key = ApiKeyFactory.create()
    account_credit(account=key.account, amount=Decimal(10))
    return key


@pytest.fixture
def admin_browser(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="root-pass"))
    return client


def draft(key: ApiKey, channel: Channel | None = None, **fields: object) -> UsageDraft:
    """A finished request's draft, as the gateway hands it to the recorder."""
    usage = UsageDraft(
        id="req_dead0000000001",
        created_at=STARTED,
        account_id=key.account_id,
        key_id=key.pk,
        model="gpt-4o-mini",
        status=UsageStatus.OK,
        http_status=200,
        served_model="gpt-4o-mini",
        provider="openai",
        channel_id=channel.pk if channel else None,
        usage=Usage(prompt_tokens=100, completion_tokens=50),
        input_price=Decimal("0.15"),
        output_price=Decimal("0.6"),
        cost=COST,
        latency_ms=420,
        user=REFUSED_USER,
    )
    for name, value in fields.items():
        setattr(usage, name, value)
    return usage


def refused(key: ApiKey, channel: Channel | None = None, **fields: object) -> UsageDeadLetter:
    """What the recorder does with a record the database refused."""
    error = DataError(f"usage refused (key {SECRET_IN_ERROR})")
    return usage_dead_letter_save(fields=draft(key, channel, **fields).record_fields(), error=error)


def charges(request_id: str) -> list[Decimal]:
    return list(LedgerEntry.objects.filter(request_id=request_id).values_list("amount", flat=True))


def test_a_refused_record_is_kept_whole_with_its_error_scrubbed(key):
    channel = ChannelFactory.create()

    fields = draft(key, channel).record_fields() | {"user": "bad\x00byte"}
    error = DataError(f"usage refused (key {SECRET_IN_ERROR})")

    letter = usage_dead_letter_save(fields=fields, error=error)

    letter.refresh_from_db()
    assert letter.request_id == "req_dead0000000001"
    assert letter.resolved_at is None
    assert letter.record["cost"] == str(COST)
    assert letter.record["channel_id"] == channel.pk
    assert letter.record["prompt_tokens"] == 100
    assert letter.record["user"] == "bad\ufffdbyte"  # PostgreSQL refuses NUL even in JSON
    assert letter.error.startswith("DataError: usage refused")
    assert SECRET_IN_ERROR not in letter.error
    assert "[REDACTED]" in letter.error
    assert list(usage_dead_letters_unresolved()) == [letter]


def test_retry_stores_the_record_with_its_charge_exactly_once(key):
    letter = refused(key)
    balance = key.account.balance

    assert usage_dead_letter_retry(letter=letter) == "stored"
    assert usage_dead_letter_retry(letter=letter) == "resolved_before"

    record = UsageRecord.objects.get(pk=letter.request_id)
    assert (record.cost, record.prompt_tokens, record.user) == (COST, 100, REFUSED_USER)
    assert record.created_at == STARTED  # reports count it in the hour it started
    assert charges(letter.request_id) == [-COST]
    key.account.refresh_from_db()
    assert key.account.balance == balance - COST
    assert not usage_dead_letters_unresolved().exists()


def test_a_record_the_database_still_refuses_stays_a_dead_letter(key):
    letter = refused(key)
    refuse_usage()  # rolled back with the test's transaction

    assert usage_dead_letter_retry(letter=letter) == "refused"

    letter.refresh_from_db()
    assert (letter.resolved_at, letter.retries) == (None, 1)
    assert "usage refused" in letter.error
    assert SECRET_IN_ERROR not in letter.error
    assert not UsageRecord.objects.exists()
    assert charges(letter.request_id) == []


def test_a_record_whose_channel_was_deleted_since_is_stored_without_it(key):
    channel = ChannelFactory.create()
    letter = refused(key, channel)
    channel.delete()  # no record refers to it yet

    assert usage_dead_letter_retry(letter=letter) == "stored"

    record = UsageRecord.objects.get(pk=letter.request_id)
    assert (record.channel_id, record.provider) == (None, "openai")
    assert charges(letter.request_id) == [-COST]


def test_a_record_stored_meanwhile_is_not_charged_again(key):
    letter = refused(key)
    usage_records_save(records=[UsageRecord(**draft(key).record_fields())])

    assert usage_dead_letter_retry(letter=letter) == "stored"

    assert charges(letter.request_id) == [-COST]
    assert UsageDeadLetter.objects.get().resolved_at is not None


def test_admin_lists_dead_letters_and_retry_stores_each_once(admin_browser, key):
    letter = refused(key)
    changelist = reverse(CHANGELIST)

    page = admin_browser.get(changelist).content.decode()
    assert letter.request_id in page
    assert "usage refused" in page
    assert SECRET_IN_ERROR not in page
    detail = admin_browser.get(reverse("admin:billing_usagedeadletter_change", args=[letter.pk]))
    assert detail.status_code == 200
    assert str(COST) in detail.content.decode()

    form = {"action": "retry", "_selected_action": [letter.pk]}
    first = admin_browser.post(changelist, form)
    second = admin_browser.post(changelist, form)

    assert first.status_code == second.status_code == 302
    assert [str(m) for m in get_messages(first.wsgi_request)] == [
        f"Stored with their charge: {letter.request_id}."
    ]
    # (messages not yet shown on a page carry over to the next response)
    assert [str(m) for m in get_messages(second.wsgi_request)][-1] == (
        f"Already resolved, left alone: {letter.request_id}."
    )
    assert charges(letter.request_id) == [-COST]
    assert UsageRecord.objects.filter(pk=letter.request_id).count() == 1


def test_dashboard_warns_while_dead_letters_are_unresolved(admin_browser, key):
    assert 'data-testid="dead-letters"' not in admin_browser.get("/dashboard/").content.decode()
    letter = refused(key)

    html = admin_browser.get("/dashboard/").content.decode()

    assert 'data-testid="dead-letters"' in html
    assert "1 usage record refused by the database is set aside" in html
    assert reverse(CHANGELIST) in html
    usage_dead_letter_retry(letter=letter)
    assert 'data-testid="dead-letters"' not in admin_browser.get("/dashboard/").content.decode()
