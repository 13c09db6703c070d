"""What a batch of usage records does to its accounts and keys, in a few raw SQL statements.

Every usage batch runs this in the recorder's thread inside the gateway process, one batch per
request at low load: the ORM's compiling of per-row updates cost more than the database's work.
Amounts are passed as `money_param`s: exact decimals on PostgreSQL, integer units on SQLite.
"""

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from django.db import connection

from billing.budgets import AccountBudget, KeyBudget, key_budget
from billing.models import Account, ApiKey, UsageRecord
from billing.periods import period_start
from billing.raw_sql import AMOUNT, money_param, table

_NEW_PERIOD = "(%s IS NOT NULL AND (period_started_at IS NULL OR period_started_at < %s))"


class BudgetMoves:
    """Per account and key: what a batch charges and what reservations it gives back."""

    def __init__(self) -> None:
        self.charged: defaultdict[int, Decimal] = defaultdict(Decimal)
        self.released: defaultdict[int, Decimal] = defaultdict(Decimal)
        self.spent: defaultdict[int, Decimal] = defaultdict(Decimal)
        self.key_released: defaultdict[int, Decimal] = defaultdict(Decimal)
        self.last_use: dict[int, datetime] = {}

    def charge(self, record: UsageRecord) -> None:
        """Count a new record's cost against its account and key."""
        self.charged[record.account_id] += record.cost
        self.spent[record.key_id] += record.cost
        last = self.last_use.get(record.key_id)
        self.last_use[record.key_id] = (
            record.created_at if last is None else max(last, record.created_at)
        )

    def release(self, account_id: int, key_id: int, amount: Decimal) -> None:
        """Count a reservation given back."""
        self.released[account_id] += amount
        self.key_released[key_id] += amount

    def apply(
        self, now: datetime, *, limit_resets: Mapping[int, str] | None = None, report: bool
    ) -> tuple[list[AccountBudget], list[KeyBudget]]:
        """Move balances, period spends (a new period's starting at zero), reservations and
        last use, in id order, accounts before keys (no deadlocks between batches); with
        `report`, read back the new budgets. `limit_resets` (key id → reset) saves reading
        them."""
        account_ids = sorted(self.charged.keys() | self.released.keys())
        key_ids = sorted(self.spent.keys() | self.key_released.keys())
        if limit_resets is None or not set(key_ids) <= limit_resets.keys():
            limit_resets = dict(
                ApiKey.objects.filter(pk__in=key_ids).values_list("pk", "limit_reset")
            )
        adapt = connection.ops.adapt_datetimefield_value
        account_rows = [
            (money_param(self.charged[i]), money_param(self.released[i]), i) for i in account_ids
        ]
        key_rows = []
        for i in key_ids:
            start = adapt(period_start(limit_resets.get(i, ""), now))
            last_use = adapt(self.last_use.get(i))
            spent, released = money_param(self.spent[i]), money_param(self.key_released[i])
            key_rows.append(
                (start, start, spent, start, start, start, released, last_use, last_use, i)
            )
        with connection.cursor() as cursor:
            if account_rows:
                cursor.executemany(
                    f"UPDATE {table(Account)} SET balance = balance - {AMOUNT}, "  # noqa: S608
                    f"reserved = reserved - {AMOUNT}, budget_version = budget_version + 1 "
                    "WHERE id = %s",
                    account_rows,
                )
            if key_rows:
                cursor.executemany(
                    f"UPDATE {table(ApiKey)} SET "  # noqa: S608 (quoted names)
                    f"spend_in_period = (CASE WHEN {_NEW_PERIOD} THEN 0 ELSE spend_in_period END)"
                    f" + {AMOUNT}, "
                    f"period_started_at = CASE WHEN {_NEW_PERIOD} THEN %s "
                    "ELSE period_started_at END, "
                    f"reserved = reserved - {AMOUNT}, budget_version = budget_version + 1, "
                    "last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < %s "
                    "THEN %s ELSE last_used_at END "
                    "WHERE id = %s",
                    key_rows,
                )
        if not report:
            return [], []
        accounts = Account.objects.filter(pk__in=account_ids)
        keys = ApiKey.objects.filter(pk__in=key_ids)
        return (
            [
                AccountBudget(*row)
                for row in accounts.values_list("pk", "balance", "budget_version")
            ],
            [key_budget(key=key, now=now) for key in keys],
        )
