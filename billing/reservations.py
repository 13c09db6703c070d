"""Reservations in the database, for installs without Redis: many requests per transaction.

A reservation row holds a request's worst-case cost; the `reserved` columns of its account and
key sum what their rows hold. A batch of holds locks the accounts and keys it touches (rows on
PostgreSQL, the file on SQLite), admits each hold against what is left, and writes the new
`reserved` sums and the rows in three statements. Writing a request's usage record takes its row
back (see `billing.services.usage_records_save`); a crashed process's rows expire.
"""

from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import Model

from billing.budget_moves import BudgetMoves
from billing.budgets import Hold, Refusal
from billing.models import Account, ApiKey, LimitReset, Reservation
from billing.periods import period_end, period_start
from billing.raw_sql import AMOUNT, money_param, money_value, table
from core.write_lock import serialized_writes


def reserve_in_database(*, holds: Sequence[Hold], now: datetime) -> list[Refusal | None]:
    """Reserve each hold against its account's balance and its key's remaining limit, in one
    transaction; per hold, None when it is held or why not. A refused hold is tried once more
    after its account's expired reservations (of crashed processes) are given back."""
    refusals = _try_reserve(holds, now)
    refused = [i for i, refusal in enumerate(refusals) if refusal is not None]
    accounts = {holds[i].account_id for i in refused}
    swept = sum(reservations_expire(now=now, account_id=account) for account in accounts)
    if swept:
        for i, refusal in zip(refused, _try_reserve([holds[i] for i in refused], now), strict=True):
            refusals[i] = refusal
    return refusals


def _locked_rows(
    cursor: CursorWrapper,
    model: type[Model],
    columns: str,
    ids: Collection[int | str],
    params: Sequence[str | None],
) -> list[tuple[Any, ...]]:
    """The rows of `ids`, locked (rows on PostgreSQL; SQLite's file is already ours)."""
    placeholders = ", ".join(["%s"] * len(ids))
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    cursor.execute(
        f"SELECT id, {columns} FROM {table(model)} "  # noqa: S608 (quoted names)
        f"WHERE id IN ({placeholders}) ORDER BY id{lock}",
        [*params, *ids],
    )
    return list(cursor.fetchall())


class _Budgets:
    """What the locked accounts and keys of a batch have left, as the batch admits holds."""

    def __init__(self, cursor: CursorWrapper, holds: Sequence[Hold], now: datetime) -> None:
        self.now = now
        accounts = {hold.account_id for hold in holds}
        rows = _locked_rows(cursor, Account, "balance - reserved", accounts, [])
        self.account_left = {pk: money_value(left) or Decimal(0) for pk, left in rows}
        adapt = connection.ops.adapt_datetimefield_value
        starts = [adapt(period_start(reset, now)) for reset in LimitReset.values]
        counts = " ".join(
            f"WHEN '{reset}' THEN period_started_at >= %s" for reset in LimitReset.values
        )
        columns = (
            "spend_limit - reserved, spend_in_period, limit_reset, "
            f"CASE limit_reset {counts} ELSE TRUE END"
        )
        keys = {hold.key_id for hold in holds}
        self.key_left: dict[int, Decimal | None] = {}
        self.key_reset: dict[int, str] = {}
        for pk, limit_left, spend, reset, spend_counts in _locked_rows(
            cursor, ApiKey, columns, keys, starts
        ):
            left = money_value(limit_left)
            period_spend = (money_value(spend) or Decimal(0)) if spend_counts else Decimal(0)
            self.key_left[pk] = None if left is None else left - period_spend
            self.key_reset[pk] = reset
        self.account_held: dict[int, Decimal] = {}
        self.key_held: dict[int, Decimal] = {}

    def admit(self, hold: Hold) -> Refusal | None:
        """Hold `hold.amount` if both budgets cover it; else why not."""
        account_left = self.account_left.get(hold.account_id, Decimal(0))
        if account_left < hold.amount:
            return Refusal("account", account_left)
        key_left = self.key_left.get(hold.key_id)
        if key_left is not None and key_left < hold.amount:
            resets_at = period_end(self.key_reset[hold.key_id], self.now)
            return Refusal("key", key_left, resets_at)
        self.account_left[hold.account_id] = account_left - hold.amount
        if key_left is not None:
            self.key_left[hold.key_id] = key_left - hold.amount
        for held, owner in ((self.account_held, hold.account_id), (self.key_held, hold.key_id)):
            held[owner] = held.get(owner, Decimal(0)) + hold.amount
        return None


def _try_reserve(holds: Sequence[Hold], now: datetime) -> list[Refusal | None]:
    adapt = connection.ops.adapt_datetimefield_value
    with serialized_writes(), transaction.atomic(), connection.cursor() as cursor:
        budgets = _Budgets(cursor, holds, now)
        results = [budgets.admit(hold) for hold in holds]
        for model, held in ((Account, budgets.account_held), (ApiKey, budgets.key_held)):
            if held:
                cursor.executemany(
                    f"UPDATE {table(model)} SET reserved = reserved + {AMOUNT} "  # noqa: S608
                    "WHERE id = %s",
                    [(money_param(amount), pk) for pk, amount in sorted(held.items())],
                )
        rows = [
            (
                hold.id,
                hold.account_id,
                hold.key_id,
                money_param(hold.amount),
                adapt(hold.expires_at),
            )
            for hold, result in zip(holds, results, strict=True)
            if result is None
        ]
        if rows:
            cursor.executemany(
                f"INSERT INTO {table(Reservation)} "  # noqa: S608 (quoted names)
                "(id, account_id, key_id, amount, expires_at) VALUES (%s, %s, %s, %s, %s)",
                rows,
            )
    return results


def reservations_take(request_ids: Collection[str]) -> list[tuple[int, int, Decimal]]:
    """Delete these requests' reservations, row-locked first so that no two transactions take
    the same one; return each one's (account id, key id, amount). Call inside a transaction,
    which then gives the amounts back to the budgets. Raw SQL: every usage batch runs it."""
    if not request_ids:
        return []
    with connection.cursor() as cursor:
        columns = "account_id, key_id, amount"
        rows = _locked_rows(cursor, Reservation, columns, set(request_ids), [])
        if rows:
            placeholders = ", ".join(["%s"] * len(rows))
            cursor.execute(
                f"DELETE FROM {table(Reservation)} WHERE id IN ({placeholders})",  # noqa: S608
                [row[0] for row in rows],
            )
    return [
        (account_id, key_id, money_value(amount) or Decimal(0))
        for _, account_id, key_id, amount in rows
    ]


@transaction.atomic
def reservations_expire(*, now: datetime, account_id: int | None = None) -> int:
    """Give back the reservations past their expiry (of one account, or all); return how many."""
    expired = Reservation.objects.filter(expires_at__lte=now)
    if account_id is not None:
        expired = expired.filter(account_id=account_id)
    taken = reservations_take(list(expired.values_list("pk", flat=True)))
    moves = BudgetMoves()
    for account_id_, key_id, amount in taken:
        moves.release(account_id_, key_id, amount)
    moves.apply(now, report=False)
    return len(taken)
