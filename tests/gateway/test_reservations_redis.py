"""Reservations in the real Redis: one script admits against mirrored account and key budgets."""

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.budget_mirror import budget_observed
from billing.budgets import AccountBudget, Hold, KeyBudget
from gateway.bridge.reservations.redis import RedisReservations
from gateway.schemas import KeyContext

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PERIOD = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _redis(redis_url):
    """Every test here needs the suite's Redis."""


class Database:
    """Stands for the database rows the gateway would read when Redis knows no budget."""

    def __init__(self, balance: str, spend: str = "0", version: int = 1) -> None:
        self.account = AccountBudget(1, Decimal(balance), version)
        self.key = KeyBudget(7, Decimal(spend), PERIOD, version)
        self.loads: list[str] = []

    async def load(self, budget, hold, now):
        self.loads.append(budget)
        return self.account if budget == "account" else self.key


def _key(limit):
    """A daily-resetting key of account 1 (its period starts at PERIOD on NOW's day)."""
    return KeyContext(7, 1, "sk-sy-test", frozenset(), None, False, limit, "daily")


def _reserve(db, request_id, amount, *, limit=None, now=NOW, expires=None):
    hold = Hold(request_id, 1, 7, Decimal(amount), expires or now + timedelta(minutes=10))
    return asyncio.run(RedisReservations(load=db.load).reserve(hold, _key(limit), now))


def test_the_account_budget_is_read_once_then_reservations_add_up_to_the_balance():
    db = Database(balance="1")

    assert _reserve(db, "r1", "0.5") is None
    assert _reserve(db, "r2", "0.5") is None
    refusal = _reserve(db, "r3", "0.0000000001")

    assert db.loads == ["account"]
    assert refusal is not None
    assert refusal.budget == "account"
    assert refusal.available == 0


def test_the_key_limit_counts_its_period_spend_and_reservations():
    db = Database(balance="100", spend="0.75")

    assert _reserve(db, "r1", "0.2", limit=Decimal(1)) is None
    refusal = _reserve(db, "r2", "0.2", limit=Decimal(1))

    assert refusal is not None
    assert refusal.budget == "key"
    assert refusal.available == Decimal("0.05")


def test_a_written_charge_replaces_its_reservation_and_older_versions_are_ignored():
    db = Database(balance="1")
    assert _reserve(db, "r1", "1") is None
    assert _reserve(db, "r2", "0.1") is not None

    # r1 cost 0.3: the batch wrote balance 0.7 at version 2 and gives r1's hold back.
    budget_observed(
        accounts=[AccountBudget(1, Decimal("0.7"), 2)], keys=[], released=[("r1", 1, 7)]
    )
    # A slower process reports the older version 1 afterwards: it must not win.
    budget_observed(accounts=[AccountBudget(1, Decimal("1"), 1)], keys=[])

    assert _reserve(db, "r3", "0.7") is None
    assert _reserve(db, "r4", "0.0000000001") is not None
    assert db.loads == ["account"]


def test_a_new_period_reads_the_key_budget_again():
    db = Database(balance="100", spend="1")
    assert _reserve(db, "r1", "0.5", limit=Decimal(1)) is not None

    db.key = KeyBudget(7, Decimal(0), PERIOD + timedelta(days=1), 1)
    hold = Hold("r2", 1, 7, Decimal("0.5"), NOW + timedelta(days=1, minutes=10))
    refusal = asyncio.run(
        RedisReservations(load=db.load).reserve(hold, _key(Decimal(1)), NOW + timedelta(days=1))
    )

    assert refusal is None
    assert db.loads == ["account", "key", "key"]


def test_holds_of_a_crashed_process_lapse_at_their_expiry():
    db = Database(balance="1")
    assert _reserve(db, "lost", "1", expires=NOW + timedelta(seconds=30)) is None
    assert _reserve(db, "r2", "1") is not None

    assert _reserve(db, "r3", "1", now=NOW + timedelta(seconds=31)) is None
