"""Budgets: what an account and a key may still spend, and reservations held in the database.

A request reserves its worst-case cost before it runs; its usage record's charge replaces the
reservation when the record is written. Reservations of a crashed process expire. This module
keeps them in the database (one conditional update per budget), for installs without Redis;
`billing.budget_mirror` keeps them in Redis.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from django.db import connection, transaction
from django.db.models import Case, DecimalField, F, Model, Q, Value, When
from django.db.models.expressions import Combinable

from billing.models import Account, ApiKey, Reservation, UsageRecord
from billing.periods import period_end, period_start, stored_spend_counts
from channels.money import MONEY

Budget = Literal["account", "key"]


@dataclass(frozen=True, slots=True)
class AccountBudget:
    """An account's balance as of its `version` (bumped with every balance change)."""

    account_id: int
    balance: Decimal
    version: int


@dataclass(frozen=True, slots=True)
class KeyBudget:
    """A key's spend in the period starting at `period` (None: the key never resets), as of
    its `version` (bumped with every spend change)."""

    key_id: int
    spend: Decimal
    period: datetime | None
    version: int


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a reservation was refused: which budget, what it still had, and when it resets."""

    budget: Budget
    available: Decimal
    resets_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Hold:
    """A reservation to make: request `id` holds `amount` against an account and a key."""

    id: str
    account_id: int
    key_id: int
    amount: Decimal
    expires_at: datetime


def key_spend_expression(limit_reset: str, now: datetime) -> Combinable:
    """SQL for a key's spend in its current period (0 when the stored spend is from an older
    period)."""
    start = period_start(limit_reset, now)
    if start is None:
        return F("spend_in_period")
    return Case(
        When(period_started_at__gte=start, then=F("spend_in_period")),
        default=Value(Decimal(0)),
        output_field=DecimalField(**MONEY),
    )


def key_budget(*, key: ApiKey, now: datetime) -> KeyBudget:
    """A key's budget at `now` from its stored row."""
    counts = stored_spend_counts(
        period_started_at=key.period_started_at, limit_reset=key.limit_reset, now=now
    )
    return KeyBudget(
        key_id=key.pk,
        spend=key.spend_in_period if counts else Decimal(0),
        period=period_start(key.limit_reset, now),
        version=key.budget_version,
    )


def account_budget(*, account: Account) -> AccountBudget:
    """An account's budget from its stored row."""
    return AccountBudget(account.pk, account.balance, account.budget_version)


def reserve_in_database(*, hold: Hold, limit_reset: str, now: datetime) -> Refusal | None:
    """Reserve `hold.amount` against the account's balance and the key's remaining limit, each
    by one conditional update; None on success. Expired reservations are swept first when
    they might be what stands in the way."""
    refusal = _try_reserve(hold, limit_reset, now)
    if refusal is not None and reservations_expire(now=now, account_id=hold.account_id):
        refusal = _try_reserve(hold, limit_reset, now)
    return refusal


class _Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.budget)
        self.refusal = refusal


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _reservation_sql() -> tuple[str, str, str, str]:
    """The four statements of a reservation, in raw SQL: this is every request's hot path, and
    the ORM's compiling of them cost several times the database's own work. Decimal parameters
    are cast for SQLite, which would otherwise compare them as text."""
    account, key, reservation = _table(Account), _table(ApiKey), _table(Reservation)
    amount = "CAST(%s AS NUMERIC)"
    hold_account = (
        f"UPDATE {account} SET reserved = reserved + {amount} "  # noqa: S608 (quoted names)
        f"WHERE id = %s AND balance - reserved >= {amount}"
    )
    hold_key = (
        f"UPDATE {key} SET reserved = reserved + {amount} "  # noqa: S608 (quoted names)
        f"WHERE id = %s AND (spend_limit IS NULL OR spend_limit - {{spend}} - reserved >= {amount})"
    )
    spend_since = "(CASE WHEN period_started_at >= %s THEN spend_in_period ELSE 0 END)"
    insert = (
        f"INSERT INTO {reservation} (id, account_id, key_id, amount, expires_at) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, %s)"
    )
    return (
        hold_account,
        hold_key.format(spend="spend_in_period"),
        hold_key.format(spend=spend_since),
        insert,
    )


def _try_reserve(hold: Hold, limit_reset: str, now: datetime) -> Refusal | None:
    hold_account, hold_key_lifetime, hold_key_period, insert = _reservation_sql()
    adapt = connection.ops.adapt_datetimefield_value
    start = period_start(limit_reset, now)
    amount = str(hold.amount)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(hold_account, [amount, hold.account_id, amount])
            if cursor.rowcount != 1:
                raise _Refused(_account_refusal(hold.account_id))
            if start is None:
                cursor.execute(hold_key_lifetime, [amount, hold.key_id, amount])
            else:
                cursor.execute(hold_key_period, [amount, hold.key_id, adapt(start), amount])
            if cursor.rowcount != 1:
                raise _Refused(_key_refusal(hold.key_id, now))
            expires = adapt(hold.expires_at)
            cursor.execute(insert, (hold.id, hold.account_id, hold.key_id, amount, expires))
    except _Refused as refused:
        return refused.refusal
    return None


def _account_refusal(account_id: int) -> Refusal:
    row = Account.objects.filter(pk=account_id).values("balance", "reserved").first()
    available = row["balance"] - row["reserved"] if row else Decimal(0)
    return Refusal("account", available)


def _key_refusal(key_id: int, now: datetime) -> Refusal:
    key = ApiKey.objects.filter(pk=key_id).first()
    if key is None or key.spend_limit is None:
        return Refusal("key", Decimal(0))
    spend = key_budget(key=key, now=now).spend
    return Refusal("key", key.spend_limit - spend - key.reserved, period_end(key.limit_reset, now))


def reservations_take(which: Q) -> list[tuple[int, int, Decimal]]:
    """Delete the reservations matching `which`, row-locked first so that no two transactions
    take the same one; return each one's (account id, key id, amount). Call inside a
    transaction, which then gives the amounts back to the budgets."""
    rows = list(
        Reservation.objects.select_for_update()
        .filter(which)
        .values_list("pk", "account_id", "key_id", "amount")
    )
    if rows:
        Reservation.objects.filter(pk__in=[row[0] for row in rows]).delete()
    return [(account_id, key_id, amount) for _, account_id, key_id, amount in rows]


class BudgetMoves:
    """Per account and key: what a batch charges and what reservations it gives back."""

    def __init__(self) -> None:
        self.charged: defaultdict[int, Decimal] = defaultdict(Decimal)
        self.released: defaultdict[int, Decimal] = defaultdict(Decimal)
        self.spent: defaultdict[int, Decimal] = defaultdict(Decimal)
        self.key_released: defaultdict[int, Decimal] = defaultdict(Decimal)
        self.last_use: dict[int, datetime] = {}

    def charge(self, record: UsageRecord) -> None:
        self.charged[record.account_id] += record.cost
        self.spent[record.key_id] += record.cost
        last = self.last_use.get(record.key_id)
        self.last_use[record.key_id] = (
            record.created_at if last is None else max(last, record.created_at)
        )

    def release(self, account_id: int, key_id: int, amount: Decimal) -> None:
        self.released[account_id] += amount
        self.key_released[key_id] += amount

    def apply_to_accounts(self) -> list[AccountBudget]:
        """Move balances and reservations, in id order (no deadlocks); the new budgets."""
        ids = sorted(self.charged.keys() | self.released.keys())
        for account_id in ids:
            Account.objects.filter(pk=account_id).update(
                balance=F("balance") - self.charged[account_id],
                reserved=F("reserved") - self.released[account_id],
                budget_version=F("budget_version") + 1,
            )
        return [
            AccountBudget(*row)
            for row in Account.objects.filter(pk__in=ids).values_list(
                "pk", "balance", "budget_version"
            )
        ]

    def apply_to_keys(self, now: datetime) -> list[KeyBudget]:
        """Add to each key's spend in the current period (starting a new period's at zero),
        give back reservations, note the last use, in id order; the new budgets."""
        ids = sorted(self.spent.keys() | self.key_released.keys())
        resets = dict(ApiKey.objects.filter(pk__in=ids).values_list("pk", "limit_reset"))
        for key_id in ids:
            spent = self.spent[key_id]
            changes: dict[str, Any] = {
                "spend_in_period": key_spend_expression(resets.get(key_id, ""), now) + spent,
                "reserved": F("reserved") - self.key_released[key_id],
                "budget_version": F("budget_version") + 1,
            }
            start = period_start(resets.get(key_id, ""), now)
            if start is not None:
                changes["period_started_at"] = Case(
                    When(period_started_at__gte=start, then=F("period_started_at")),
                    default=Value(start),
                )
            last_use = self.last_use.get(key_id)
            if last_use is not None:
                changes["last_used_at"] = Case(
                    When(last_used_at__gte=last_use, then=F("last_used_at")),
                    default=Value(last_use),
                )
            ApiKey.objects.filter(pk=key_id).update(**changes)
        return [key_budget(key=key, now=now) for key in ApiKey.objects.filter(pk__in=ids)]


@transaction.atomic
def reservations_expire(*, now: datetime, account_id: int | None = None) -> int:
    """Give back the reservations past their expiry (of one account, or all); return how many."""
    which = Q(expires_at__lte=now)
    if account_id is not None:
        which &= Q(account_id=account_id)
    taken = reservations_take(which)
    moves = BudgetMoves()
    for account_id_, key_id, amount in taken:
        moves.release(account_id_, key_id, amount)
    moves.apply_to_accounts()
    moves.apply_to_keys(now)
    return len(taken)
