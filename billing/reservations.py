"""Reservations in the database, for installs without Redis: one conditional update per budget.

A reservation row holds a request's worst-case cost; the `reserved` columns of its account and
key sum what their rows hold. Writing the request's usage record takes the row back (see
`billing.services.usage_records_save`); a crashed process's rows expire.
"""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Model, Q

from billing.budget_moves import BudgetMoves
from billing.budgets import Hold, Refusal, key_budget
from billing.models import Account, ApiKey, Reservation
from billing.periods import period_end, period_start
from config.write_lock import serialized_writes


def reserve_in_database(
    *, holds: Sequence[tuple[Hold, str]], now: datetime
) -> list[Refusal | None]:
    """Reserve each hold (with its key's limit reset) against its account's balance and key's
    remaining limit, each by one conditional update, all in one transaction; per hold, None
    when it is held or why not. Expired reservations are swept first when they might be what
    stands in the way."""
    refusals = _try_reserve(holds, now)
    refused = [i for i, refusal in enumerate(refusals) if refusal is not None]
    accounts = {holds[i][0].account_id for i in refused}
    swept = sum(reservations_expire(now=now, account_id=account) for account in accounts)
    if swept:
        for i, refusal in zip(refused, _try_reserve([holds[i] for i in refused], now), strict=True):
            refusals[i] = refusal
    return refusals


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _reservation_sql() -> tuple[str, str, str, str, str]:
    """The statements of a reservation, in raw SQL: this is every request's hot path, and the
    ORM's compiling of them cost several times the database's own work. Decimal parameters
    are cast for SQLite, which would otherwise compare them as text."""
    account, key, reservation = _table(Account), _table(ApiKey), _table(Reservation)
    amount = "CAST(%s AS NUMERIC)"
    hold_account = (
        f"UPDATE {account} SET reserved = reserved + {amount} "  # noqa: S608 (quoted names)
        f"WHERE id = %s AND balance - reserved >= {amount}"
    )
    unhold_account = f"UPDATE {account} SET reserved = reserved - {amount} WHERE id = %s"  # noqa: S608
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
        unhold_account,
        hold_key.format(spend="spend_in_period"),
        hold_key.format(spend=spend_since),
        insert,
    )


def _try_reserve(holds: Sequence[tuple[Hold, str]], now: datetime) -> list[Refusal | None]:
    hold_account, unhold_account, hold_key_lifetime, hold_key_period, insert = _reservation_sql()
    adapt = connection.ops.adapt_datetimefield_value
    results: list[Refusal | None] = []
    rows = []
    with serialized_writes(), transaction.atomic(), connection.cursor() as cursor:
        for hold, limit_reset in holds:
            amount = str(hold.amount)
            cursor.execute(hold_account, [amount, hold.account_id, amount])
            if cursor.rowcount != 1:
                results.append(_account_refusal(hold.account_id))
                continue
            start = period_start(limit_reset, now)
            if start is None:
                cursor.execute(hold_key_lifetime, [amount, hold.key_id, amount])
            else:
                cursor.execute(hold_key_period, [amount, hold.key_id, adapt(start), amount])
            if cursor.rowcount != 1:
                cursor.execute(unhold_account, [amount, hold.account_id])
                results.append(_key_refusal(hold.key_id, now))
                continue
            rows.append((hold.id, hold.account_id, hold.key_id, amount, adapt(hold.expires_at)))
            results.append(None)
        if rows:
            cursor.executemany(insert, rows)
    return results


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
    moves.apply(now, report=False)
    return len(taken)
