"""`manage.py reconcile` and its API: balances against ledgers, charges against usage costs."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from billing.models import Account, LedgerEntry, UsageRecord
from billing.services import account_create, account_credit, usage_records_save
from tests.factories import ApiKeyFactory, UsageRecordFactory

pytestmark = pytest.mark.django_db


def _books() -> Account:
    account = account_create(name="acme")
    account_credit(account=account, amount=Decimal(10))
    key = ApiKeyFactory(account=account)
    usage_records_save(
        records=[
            UsageRecordFactory.build(id=f"req_{n}", key=key, account=account, cost=Decimal("0.25"))
            for n in range(3)
        ]
    )
    return account


def test_balanced_books_pass(capsys):
    _books()

    call_command("reconcile")

    out = capsys.readouterr().out
    assert "charges 0.75 USD, usage costs 0.75 USD" in out
    assert "OK" in out


def test_a_tampered_balance_is_found(capsys):
    account = _books()
    Account.objects.filter(pk=account.pk).update(balance=Decimal(1000))

    with pytest.raises(CommandError, match="do not balance"):
        call_command("reconcile")

    assert "balance 1000 but its ledger sums to 9.25" in capsys.readouterr().err


def test_a_charge_that_differs_from_its_record_and_an_uncharged_record_are_found(staff_client):
    _books()
    UsageRecord.objects.filter(pk="req_0").update(cost=Decimal("0.5"))
    LedgerEntry.objects.filter(request_id="req_1").delete()

    response = staff_client.get("/api/admin/reports/reconcile/")

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False
    problems = "\n".join(body["problems"])
    assert "request req_0, whose usage record costs 0.5" in problems
    assert "usage record req_1 has a cost but no ledger charge" in problems
    assert "account" in problems  # the deleted charge also unbalanced the account


def test_a_pruned_record_keeps_its_charge_in_the_ledger():
    account = _books()
    UsageRecord.objects.filter(pk="req_2").delete()

    call_command("reconcile")

    entry = LedgerEntry.objects.get(request_id="req_2")
    assert entry.usage_record is None
    assert entry.amount == Decimal("-0.25")
    account.refresh_from_db()
    assert account.balance == Decimal("9.25")


def test_the_reconcile_api_is_for_staff_only(client):
    assert client.get("/api/admin/reports/reconcile/").status_code in {401, 403}
