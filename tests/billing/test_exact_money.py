"""Money is exact on every backend: PostgreSQL's numeric, and SQLite's integer units of 1e-10 USD
(`core.money.MoneyField`). The same tests run under `make test` on both."""

import random
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from billing.budgets import Hold
from billing.models import Account, ApiKey, LedgerEntry, LedgerKind, Reservation, UsageRecord
from billing.pricing import Prices, usage_cost
from billing.reconcile import reconcile
from billing.reservations import reservations_expire, reserve_in_database
from billing.selectors import UsageFilters, account_ledger_sum
from billing.services import (
    account_create,
    account_credit,
    api_key_create,
    ledger_post,
    usage_records_save,
)
from channels.models import ChannelModel
from core.usage import Usage
from reports.models import DailyUsage, HourlyUsage, PendingUsage
from reports.rollup import usage_rollup_run
from reports.selectors import usage_summary
from tests.factories import ChannelModelFactory, UsageRecordFactory

ODD = Prices(input=Decimal("0.1234567891"), output=Decimal("3.3333333333"))
AMOUNTS = [
    Decimal("9.9997105"),
    Decimal("0.0000000001"),
    Decimal("12345678.9876543210"),
    Decimal("-0.0000000001"),
    Decimal("0.1") + Decimal("0.2"),  # 0.30000000000000004 in floating point
]


@pytest.fixture
def journal_dir(tmp_path, settings):
    """An empty journal folder: reconcile looks for unbilled requests there."""
    settings.GATEWAY_JOURNAL_DIR = tmp_path
    return tmp_path


@pytest.mark.parametrize("amount", AMOUNTS, ids=str)
def test_amounts_read_back_exactly_as_written(db, amount):
    account = account_create(name="exact")
    ledger_post(account=account, kind=LedgerKind.ADJUSTMENT, amount=amount)
    ledger_post(account=account, kind=LedgerKind.ADJUSTMENT, amount=amount)
    price = ChannelModelFactory(input_price=abs(amount), cached_input_price=abs(amount))
    record = UsageRecordFactory(cost=amount, output_price=amount)

    account.refresh_from_db()
    assert account.balance == 2 * amount
    assert account_ledger_sum(account=account) == 2 * amount
    assert list(LedgerEntry.objects.filter(account=account).values_list("amount", flat=True)) == [
        amount,
        amount,
    ]
    stored = ChannelModel.objects.get(pk=price.pk)
    assert (stored.input_price, stored.cached_input_price) == (abs(amount), abs(amount))
    assert UsageRecord.objects.values_list("cost", "output_price").get(pk=record.pk) == (
        amount,
        amount,
    )
    assert UsageRecord.objects.filter(cost=amount).count() == 1
    assert UsageRecord.objects.filter(cost__gt=amount).count() == 0
    assert UsageRecord.objects.filter(cost__lt=amount + Decimal("0.0000000001")).count() == 1


def _odd_records(keys: list[ApiKey], count: int) -> list[UsageRecord]:
    """Records at odd prices, with token counts drawn from a fixed seed."""
    rng = random.Random(11)
    start = timezone.now() - timedelta(hours=30)
    records = []
    for n in range(count):
        usage = Usage(prompt_tokens=rng.randint(1, 5000), completion_tokens=rng.randint(0, 900))
        key = keys[n % len(keys)]
        records.append(
            UsageRecordFactory.build(
                id=f"req_odd_{n:04d}",
                key=key,
                account=key.account,
                model=("gpt-4o-mini", "claude-3-haiku")[n % 2],
                created_at=start + timedelta(minutes=7 * n),
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                input_price=ODD.input,
                output_price=ODD.output,
                cost=usage_cost(usage, ODD),
            )
        )
    return records


@pytest.fixture
def odd_books(db, journal_dir):
    """Three accounts (10 USD, 0.3 USD and odd credits and adjustments) charged 300 records at
    odd prices; returns the records and each account's expected balance."""
    expected: dict[int, Decimal] = defaultdict(Decimal)
    keys = []
    for name, credits in (
        ("a", [Decimal(10)]),
        ("b", [Decimal("0.1"), Decimal("0.2")]),
        ("c", [Decimal("7.7777777777"), Decimal("0.0000000003")]),
    ):
        account = account_create(name=name)
        for credit in credits:
            account_credit(account=account, amount=credit)
            expected[account.pk] += credit
        ledger_post(account=account, kind=LedgerKind.ADJUSTMENT, amount=Decimal("-0.0000000001"))
        expected[account.pk] -= Decimal("0.0000000001")
        keys.append(api_key_create(account=account, name=name, spend_limit=Decimal(50))[0])
    records = _odd_records(keys, 300)
    for start in range(0, len(records), 37):
        usage_records_save(records=records[start : start + 37])
    for record in records:
        expected[record.account_id] -= record.cost
    return records, expected


def test_hundreds_of_odd_charges_keep_every_balance_equal_to_its_ledger(odd_books):
    records, expected = odd_books

    for account in Account.objects.all():
        assert account.balance == expected[account.pk]
        assert account_ledger_sum(account=account) == expected[account.pk]
    for key in ApiKey.objects.all():
        spent = sum((r.cost for r in records if r.key_id == key.pk), Decimal(0))
        assert key.spend_in_period == spent
    total = sum((record.cost for record in records), Decimal(0))
    assert UsageRecord.objects.aggregate(total=Sum("cost"))["total"] == total
    result = reconcile()
    assert result.ok, result.problems
    assert result.usage_cost_total == result.charges_total == total


def test_a_one_unit_difference_is_found_by_reconcile(odd_books):
    records, _ = odd_books
    entry = LedgerEntry.objects.get(request_id=records[5].pk)
    LedgerEntry.objects.filter(pk=entry.pk).update(amount=entry.amount - Decimal("0.0000000001"))

    problems = "\n".join(reconcile().problems)

    assert (
        f"ledger entry {entry.pk} charges {records[5].cost + Decimal('0.0000000001')}" in problems
    )
    assert f"account {records[5].account_id} (" in problems


def test_rollups_and_reports_total_the_costs_exactly(odd_books):
    records, _ = odd_books
    total = sum((record.cost for record in records), Decimal(0))
    before = usage_summary(filters=UsageFilters(), group_by="day").total  # from the raw records

    usage_rollup_run()

    assert PendingUsage.objects.count() == 0
    assert before.cost == total
    for rollup in (HourlyUsage, DailyUsage):
        assert rollup.objects.aggregate(total=Sum("cost"))["total"] == total
    for group_by in ("day", "hour", "model", "key", "account"):
        assert usage_summary(filters=UsageFilters(), group_by=group_by).total.cost == total
    by_model = usage_summary(filters=UsageFilters(), group_by="model")
    for row in by_model.rows:
        assert row.cost == sum((r.cost for r in records if r.model == row.group), Decimal(0))
    key = records[0].key_id
    of_key = usage_summary(filters=UsageFilters(key=key), group_by="hour").total
    assert of_key.cost == sum((r.cost for r in records if r.key_id == key), Decimal(0))


def test_database_reservations_admit_exactly_up_to_the_credit(db):
    amounts = [Decimal("0.0000000001"), Decimal("0.1234567891"), Decimal("3.3333333333")] * 40
    account = account_create(name="exact-holds")
    account_credit(account=account, amount=sum(amounts, Decimal(0)))
    key, _ = api_key_create(account=account, name="k")
    expires = timezone.now() + timedelta(minutes=5)

    def hold(n: int, amount: Decimal) -> Hold:
        return Hold(f"req_hold_{n}", account.pk, key.pk, amount, expires)

    refusals = reserve_in_database(
        holds=[hold(n, amount) for n, amount in enumerate(amounts)], now=timezone.now()
    )
    one_unit_more = reserve_in_database(
        holds=[hold(len(amounts), Decimal("0.0000000001"))], now=timezone.now()
    )

    assert refusals == [None] * len(amounts)
    assert one_unit_more[0] is not None
    assert one_unit_more[0].available == 0
    account.refresh_from_db()
    assert account.reserved == account.balance == sum(amounts, Decimal(0))
    assert Reservation.objects.aggregate(total=Sum("amount"))["total"] == account.reserved
    assert reservations_expire(now=expires) == len(amounts)
    account.refresh_from_db()
    key.refresh_from_db()
    assert (account.reserved, key.reserved) == (0, 0)


def test_the_management_api_shows_exact_balances(staff_client):
    account = account_create(name="api")
    for amount in ("0.0000000001", "12345678.987654321", "0.3333333333"):
        response = staff_client.post(
            f"/api/admin/accounts/{account.pk}/credits/", {"amount": amount}, format="json"
        )
        assert response.status_code == 201, response.content

    assert response.json()["balance"] == "12345679.3209876544"
    listed = staff_client.get(f"/api/admin/accounts/{account.pk}/").json()
    assert listed["balance"] == "12345679.3209876544"


def _sqlite_rows(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


@pytest.mark.django_db(transaction=True)
def test_the_migration_makes_float_amounts_of_an_old_sqlite_database_exact(journal_dir):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite kept money as floats; PostgreSQL's numeric was exact already")
    call_command("migrate", "billing", "0002", verbosity=0)
    try:
        with connection.cursor() as cursor:
            # What Django wrote into the old decimal columns: decimal text, kept as a float.
            cursor.execute(
                "INSERT INTO billing_account (name, balance, reserved, budget_version, created_at)"
                " VALUES ('old', %s, %s, 0, %s)",
                ["9.9997105000", "0.0000000001", "2026-01-01 00:00:00"],
            )
            cursor.execute(
                "INSERT INTO billing_ledgerentry (account_id, kind, amount, request_id, "
                "description, created_at) SELECT id, 'credit', %s, '', '', created_at "
                "FROM billing_account WHERE name = 'old'",
                ["10"],
            )
            cursor.execute(
                "INSERT INTO billing_ledgerentry (account_id, kind, amount, request_id, "
                "description, created_at) SELECT id, 'adjustment', %s, '', '', created_at "
                "FROM billing_account WHERE name = 'old'",
                ["-0.0002895000"],
            )
        assert _sqlite_rows("SELECT typeof(balance), typeof(reserved) FROM billing_account") == [
            ("real", "real")
        ]
    finally:
        call_command("migrate", verbosity=0)

    assert _sqlite_rows("SELECT balance, reserved FROM billing_account") == [(99997105000, 1)]
    account = Account.objects.get(name="old")
    assert (account.balance, account.reserved) == (Decimal("9.9997105"), Decimal("1E-10"))
    assert account_ledger_sum(account=account) == account.balance
    Account.objects.filter(pk=account.pk).update(reserved=0)
    assert reconcile().ok, reconcile().problems
    # The table remakes dropped the rollup queue's trigger; migrate put it back.
    triggers = _sqlite_rows("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    assert ("reports_queue_usage",) in triggers
    UsageRecordFactory(id="req_after_migrate")
    assert PendingUsage.objects.filter(record_id="req_after_migrate").exists()


def test_the_money_migrations_run_no_sql_on_postgresql(db, capsys):
    if connection.vendor != "postgresql":
        pytest.skip("on SQLite they rebuild the tables with integer columns")
    for app, migration in (("channels", "0004"), ("billing", "0003"), ("reports", "0003")):
        call_command("sqlmigrate", app, migration)
        statements = [
            line for line in capsys.readouterr().out.splitlines() if not line.startswith("--")
        ]
        assert statements == ["BEGIN;", "COMMIT;"]
