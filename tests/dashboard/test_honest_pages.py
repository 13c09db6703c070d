"""The dashboard says what is stored (#13.7): exact money, named channels, marked empty models."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import UsageRecord
from billing.services import account_credit
from channels.models import Channel
from channels.services import channel_delete
from dashboard.templatetags.dashboard import usd
from reports.models import DailyUsage
from reports.rollup import usage_rollup_run
from tests.dashboard.attempt_helpers import record_with_attempts
from tests.factories import AccountFactory, ApiKeyFactory, ChannelFactory, UsageRecordFactory


def cell(html: str, testid: str) -> str:
    """The text of the element with `data-testid=testid` (no nested tags)."""
    found = re.search(rf'data-testid="{testid}"[^>]*>([^<]*)<', html)
    assert found, f"no element with data-testid={testid}"
    return found.group(1).strip()


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (Decimal("0.0000054"), "$0.0000054"),
        (Decimal("0.0000000001"), "$0.0000000001"),
        (Decimal("12.5000000000"), "$12.50"),
        (Decimal("0.125"), "$0.125"),
        (Decimal("-3.0000001000"), "-$3.0000001"),
        (Decimal("-2"), "-$2.00"),
        (Decimal("0E-10"), "$0.00"),
        (7, "$7.00"),
        (None, "—"),
    ],
)
def test_usd_shows_the_exact_amount(amount, shown):
    assert usd(amount) == shown


def test_a_request_shows_its_exact_cost(staff_browser):
    record = UsageRecordFactory(cost=Decimal("0.0000054"), input_price=Decimal("0.0000015"))

    html = staff_browser.get(f"/dashboard/usage/{record.pk}/").content.decode()

    assert cell(html, "record-cost") == "$0.0000054"
    assert "$0.0000015" in html


def test_a_balance_keeps_two_decimals(staff_browser):
    account = AccountFactory()
    account_credit(account=account, amount=Decimal("12.5"))

    html = staff_browser.get(f"/dashboard/billing/{account.pk}/").content.decode()

    assert cell(html, "balance") == "$12.50"


def attempt(channel: Channel, outcome: str = "ok") -> dict[str, object]:
    """An attempt on `channel` as the gateway lists it on its record."""
    status = 200 if outcome == "ok" else 503
    return {
        "channel_id": channel.pk,
        "channel": channel.name,
        "provider": "openai",
        "outcome": outcome,
        "http_status": status,
        "latency_ms": 80,
    }


def test_an_archived_channel_shows_its_name_marked_archived(staff_browser):
    channel = ChannelFactory(name="old-openai")
    record = record_with_attempts(channel=channel, attempts=[attempt(channel)])
    usage_rollup_run()
    assert not channel_delete(channel=channel)  # it has history: archived

    pages = [
        "/dashboard/",
        "/dashboard/usage/",
        f"/dashboard/usage/{record.pk}/",
        f"/dashboard/channels/{channel.pk}/",
    ]
    for path in pages:
        html = staff_browser.get(path).content.decode()
        assert "old-openai (archived)" in html, path


def test_a_deleted_channel_shows_as_deleted(staff_browser):
    failed, served = ChannelFactory(name="flaky-one"), ChannelFactory(name="steady")
    record = record_with_attempts(
        channel=served, attempts=[attempt(failed, "server_error"), attempt(served)]
    )
    usage_rollup_run()
    gone = failed.pk
    assert channel_delete(channel=failed, now=timezone.now() + timedelta(hours=1))  # for real

    html = staff_browser.get(f"/dashboard/usage/{record.pk}/").content.decode()

    assert "flaky-one (deleted)" in html
    assert "steady<" in html
    assert not Channel.objects.filter(pk=gone).exists()


def test_a_channel_gone_from_under_its_rollups_shows_its_id_as_deleted(staff_browser):
    channel = ChannelFactory(name="pruned")
    record = UsageRecordFactory(channel=channel)
    usage_rollup_run()
    gone = channel.pk
    UsageRecord.objects.filter(pk=record.pk).delete()  # retention
    DailyUsage.objects.filter(channel_id=gone).delete()  # the hourly rollups still count it
    channel.delete()

    html = staff_browser.get("/dashboard/").content.decode()

    assert f"channel #{gone} (deleted)" in html
    assert f'<td class="name">{gone}</td>' not in html


def test_rows_without_a_model_or_description_say_so(staff_browser):
    account = AccountFactory()
    account_credit(account=account, amount=Decimal("5"))  # no description
    key = ApiKeyFactory(account=account)
    UsageRecordFactory(key=key, account=account, model="", status="error", http_status=400)
    UsageRecordFactory(key=key, account=account, model="gpt-4o-mini")
    usage_rollup_run()

    html = staff_browser.get(f"/dashboard/billing/{account.pk}/").content.decode()

    statement = html[html.index("<h2>Statement") :]
    assert "<td></td>" not in statement
    assert re.search(r"<td>\d{4}-\d\d-\d\d</td><td>—</td>", statement)
    assert "<td>gpt-4o-mini</td>" in statement
    ledger = html[html.index("<h2>Ledger") : html.index("<h2>Statement")]
    assert "<td></td>" not in ledger
    assert "<td>credit</td>" in ledger
    records = staff_browser.get("/dashboard/usage/", {"account": account.pk}).content.decode()
    assert "<td>—</td>" in records
    assert "<td></td>" not in records
