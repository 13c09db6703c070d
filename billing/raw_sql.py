"""Pieces of the raw SQL that billing's hot paths use instead of the ORM, for PostgreSQL and
SQLite alike."""

from decimal import Decimal

from django.db import connection
from django.db.models import Model

from billing.pricing import STORAGE_QUANTUM
from core.money import from_units, stores_units, to_units

AMOUNT = "CAST(%s AS NUMERIC)"
"""A money parameter (`money_param`): exact numeric on PostgreSQL, integer units on SQLite."""


def table(model: type[Model]) -> str:
    """The model's table name, quoted."""
    return connection.ops.quote_name(model._meta.db_table)


def money_param(amount: Decimal) -> str | int:
    """An amount as the parameter of a money column or `AMOUNT`: decimal text for PostgreSQL,
    integer units for SQLite (`core.money.MoneyField`)."""
    return to_units(amount) if stores_units(connection) else str(amount)


def money_value(raw: object) -> Decimal | None:
    """A money column, or a sum or difference of them, as raw SQL reads it: a decimal on
    PostgreSQL, integer units on SQLite; None for NULL."""
    if raw is None:
        return None
    if stores_units(connection):
        if not isinstance(raw, int | str):
            raise TypeError(f"money read as {raw!r}, not integer units")
        return from_units(int(raw))
    return Decimal(str(raw)).quantize(STORAGE_QUANTUM)
