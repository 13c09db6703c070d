"""The data step of the migrations that made every money column a `MoneyField`: on SQLite,
values stored the old way (decimal text that SQLite kept as a float, or as an integer when it
had no fraction) become integer units of 1e-10 USD. Nothing to do on PostgreSQL, whose numeric
columns were exact already."""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db.backends.base.schema import BaseDatabaseSchemaEditor

from core.money import LARGEST_UNITS, UNITS_PER_USD, stores_units, to_units

_BATCH = 10_000


def _stored_amount(value: float | str) -> Decimal:
    """The amount a float or text of the old column stood for: a float's shortest repr is the
    decimal that was written whenever it had at most 15 significant digits."""
    return Decimal(repr(value) if isinstance(value, float) else value.strip())


def money_to_units(
    schema_editor: BaseDatabaseSchemaEditor, table: str, columns: Sequence[str]
) -> None:
    """Convert these money columns of `table` to integer units (SQLite only), each value once:
    integers by SQL (exact), floats and text in Python (rounded half-up to ten places)."""
    connection = schema_editor.connection
    if not stores_units(connection):
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for name in columns:
            column = quote(name)
            cursor.execute(
                f"SELECT COUNT(*) FROM {quote(table)} WHERE typeof({column}) = 'integer' "  # noqa: S608
                f"AND abs({column}) > %s",
                [LARGEST_UNITS // UNITS_PER_USD],
            )
            if cursor.fetchone()[0]:
                raise ValueError(f"{table}.{name} holds amounts beyond ±9.2e8 USD")
            cursor.execute(
                f"UPDATE {quote(table)} SET {column} = {column} * {UNITS_PER_USD} "  # noqa: S608
                f"WHERE typeof({column}) = 'integer'"
            )
            last = 0
            while True:
                cursor.execute(
                    f"SELECT rowid, {column} FROM {quote(table)} "  # noqa: S608
                    f"WHERE rowid > %s AND typeof({column}) IN ('real', 'text') "
                    "ORDER BY rowid LIMIT %s",
                    [last, _BATCH],
                )
                rows: list[tuple[Any, ...]] = list(cursor.fetchall())
                if not rows:
                    break
                cursor.executemany(
                    f"UPDATE {quote(table)} SET {column} = %s WHERE rowid = %s",  # noqa: S608
                    [(to_units(_stored_amount(value)), rowid) for rowid, value in rows],
                )
                last = rows[-1][0]


def units_to_money(
    schema_editor: BaseDatabaseSchemaEditor, table: str, columns: Sequence[str]
) -> None:
    """Undo `money_to_units` (SQLite only): units back to the decimal amounts they stand for,
    as the old columns kept them."""
    connection = schema_editor.connection
    if not stores_units(connection):
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for name in columns:
            column = quote(name)
            cursor.execute(
                f"UPDATE {quote(table)} SET {column} = {column} / {UNITS_PER_USD}.0 "  # noqa: S608
                f"WHERE typeof({column}) = 'integer'"
            )
