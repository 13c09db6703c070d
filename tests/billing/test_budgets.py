"""Budgets in the database: limit periods, reservations, and usage writes that settle them."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.budgets import Hold, Refusal
from billing.models import Account, ApiKey, LimitReset, Reservation
from billing.periods import period_end, period_start
from billing.reservations import reservations_expire, reserve_in_database
from billing.selectors import key_limit_remaining, key_period_spend
from billing.services import account_create, account_credit, api_key_create, usage_records_save
from tests.factories import UsageRecordFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 31, 22, 30, tzinfo=UTC)  # a Thursday


@pytest.mark.parametrize(
    ("reset", "start", "end"),
    [
        (LimitReset.DAILY, datetime(2026, 12, 31, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        (LimitReset.WEEKLY, datetime(2026, 12, 28, tzinfo=UTC), datetime(2027, 1, 4, tzinfo=UTC)),
        (LimitReset.MONTHLY, datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_periods_follow_utc_calendar_boundaries(reset, start, end):
    assert period_start(reset, NOW) == start
    assert period_end(reset, NOW) == end
    assert period_start("", NOW) is None
    assert period_end("", NOW) is None


def _key(spend_limit: str | None = "1", limit_reset: str = "", credit: str = "100") -> ApiKey:
    account = account_create(name=f"acct-{Account.objects.count()}")
    account_credit(account=account, amount=Decimal(credit))
    key, _ = api_key_create(
        account=account,
        name="k",
        spend_limit=Decimal(spend_limit) if spend_limit else None,
        limit_reset=limit_reset,
    )
    return key


def _hold(key: ApiKey, request_id: str, amount: str, *, expires: datetime | None = None) -> Hold:
    return Hold(
        id=request_id,
        account_id=key.account_id,
        key_id=key.pk,
        amount=Decimal(amount),
        expires_at=expires or NOW + timedelta(minutes=10),
    )


def _reserve(hold: Hold, limit_reset: str, now: datetime) -> Refusal | None:
    """One hold; the key's own row says how its limit resets (`limit_reset` documents it)."""
    return reserve_in_database(holds=[hold], now=now)[0]


def test_many_holds_in_one_transaction_each_get_their_own_answer():
    key = _key(spend_limit="1", credit="1.5")
    holds = [_hold(key, f"r{n}", "0.4") for n in range(4)]

    outcomes = reserve_in_database(holds=holds, now=NOW)

    assert outcomes[:2] == [None, None]
    assert [(o.budget, o.available) for o in outcomes[2:]] == [
        ("key", Decimal("0.2")),
        ("key", Decimal("0.2")),
    ]
    account = Account.objects.get(pk=key.account_id)
    key.refresh_from_db()
    assert account.reserved == key.reserved == Decimal("0.8")
    assert sorted(Reservation.objects.values_list("pk", flat=True)) == ["r0", "r1"]


def test_database_reservations_stop_at_the_account_balance():
    key = _key(spend_limit=None, credit="1")

    assert _reserve(_hold(key, "r1", "0.6"), "", NOW) is None
    refusal = _reserve(_hold(key, "r2", "0.6"), "", NOW)

    assert refusal is not None
    assert refusal.budget == "account"
    assert refusal.available == Decimal("0.4")
    assert list(Reservation.objects.values_list("pk", flat=True)) == ["r1"]


def test_database_reservations_stop_at_the_key_limit_and_undo_the_account_hold():
    key = _key(spend_limit="1", limit_reset=LimitReset.DAILY)

    assert _reserve(_hold(key, "r1", "0.7"), "daily", NOW) is None
    refusal = _reserve(_hold(key, "r2", "0.7"), "daily", NOW)

    assert refusal is not None
    assert refusal.budget == "key"
    assert refusal.available == Decimal("0.3")
    assert refusal.resets_at == datetime(2027, 1, 1, tzinfo=UTC)
    assert Account.objects.get(pk=key.account_id).reserved == Decimal("0.7")


def test_expired_reservations_are_given_back_when_they_stand_in_the_way():
    key = _key(spend_limit=None, credit="1")
    stale = _hold(key, "crashed", "1", expires=NOW - timedelta(seconds=1))
    assert _reserve(stale, "", NOW - timedelta(minutes=20)) is None

    assert _reserve(_hold(key, "fresh", "1"), "", NOW) is None
    assert list(Reservation.objects.values_list("pk", flat=True)) == ["fresh"]
    assert Account.objects.get(pk=key.account_id).reserved == Decimal(1)
    assert reservations_expire(now=NOW + timedelta(hours=1)) == 1
    assert Account.objects.get(pk=key.account_id).reserved == Decimal(0)


def test_writing_the_usage_record_charges_the_cost_and_releases_the_reservation():
    key = _key(spend_limit="5")
    assert _reserve(_hold(key, "req_1", "2"), "", NOW) is None
    record = UsageRecordFactory.build(id="req_1", key=key, account=key.account, cost=Decimal("0.5"))

    written = usage_records_save(records=[record])
    usage_records_save(records=[record])  # a retried batch changes nothing

    account = Account.objects.get(pk=key.account_id)
    key.refresh_from_db()
    assert (account.balance, account.reserved) == (Decimal("99.5"), Decimal(0))
    assert (key.spend_in_period, key.reserved) == (Decimal("0.5"), Decimal(0))
    assert written.requests == [("req_1", key.account_id, key.pk)]
    assert key_limit_remaining(key=key) == Decimal("4.5")


def test_with_redis_reservations_the_written_budgets_are_reported_for_the_mirror():
    key = _key(spend_limit="5", limit_reset=LimitReset.MONTHLY)
    record = UsageRecordFactory.build(id="req_1", key=key, account=key.account, cost=Decimal("2"))
    version_before = Account.objects.get(pk=key.account_id).budget_version

    written = usage_records_save(records=[record], reservations="redis")

    key.refresh_from_db()
    [account] = written.accounts
    [spent] = written.keys
    assert (account.balance, account.version) == (Decimal(98), version_before + 1)
    assert (spent.spend, spent.version) == (Decimal(2), key.budget_version)
    assert spent.period == period_start("monthly", datetime.now(UTC))


def test_a_new_period_starts_the_key_spend_at_zero():
    key = _key(spend_limit="1", limit_reset=LimitReset.DAILY)
    old = UsageRecordFactory.build(id="req_old", key=key, account=key.account, cost=Decimal("1"))
    usage_records_save(records=[old])
    key.refresh_from_db()
    assert key_period_spend(key=key) == Decimal(1)
    assert key_limit_remaining(key=key) == Decimal(0)

    # Time travel: the spend was accrued yesterday.
    ApiKey.objects.filter(pk=key.pk).update(period_started_at=key.period_started_at - timedelta(1))
    key.refresh_from_db()
    assert key_period_spend(key=key) == Decimal(0)
    assert _reserve(_hold(key, "req_new", "0.9"), "daily", datetime.now(UTC)) is None
    new = UsageRecordFactory.build(id="req_new", key=key, account=key.account, cost=Decimal("0.25"))
    usage_records_save(records=[new])

    key.refresh_from_db()
    assert key.spend_in_period == Decimal("0.25")
    assert key.period_started_at == period_start("daily", datetime.now(UTC))
