"""Money fields and formatting: USD as `Decimal` with ten places, never float.

Every money column is a `MoneyField`: exact `numeric(20, 10)` on PostgreSQL, and on SQLite, which
has no exact decimal type (it keeps `numeric` values as floats and sums them in floating point),
an INTEGER column of units of 1e-10 USD, which SQLite adds, compares and sums exactly.
"""

from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any, TypedDict, TypeVar

import django_stubs_ext
from django.core.validators import MinValueValidator
from django.db import DataError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import DecimalField, Value
from django.db.utils import DEFAULT_DB_ALIAS


class MoneyDigits(TypedDict):
    """The precision of every money column and field."""

    max_digits: int
    decimal_places: int


MONEY: MoneyDigits = {"max_digits": 20, "decimal_places": 10}
NON_NEGATIVE = [MinValueValidator(Decimal(0))]

UNITS_PER_USD = 10**10
"""A unit is the smallest amount a money column holds: 1e-10 USD (ten decimal places)."""
LARGEST_UNITS = 2**63 - 1
"""SQLite's integers are 64-bit: its money columns hold ±922,337,203.6854775807 USD at most."""
_EXACT = Context(prec=60, rounding=ROUND_HALF_UP)


def stores_units(connection: BaseDatabaseWrapper) -> bool:
    """Whether this database keeps money as integer units (SQLite) rather than exact decimals."""
    return connection.vendor == "sqlite"


def to_units(amount: Decimal) -> int:
    """An amount in units of 1e-10 USD, rounded half away from zero like PostgreSQL's numeric;
    DataError beyond what a 64-bit integer holds."""
    units = int(amount.scaleb(10, context=_EXACT).to_integral_value(rounding=ROUND_HALF_UP))
    if not -LARGEST_UNITS <= units <= LARGEST_UNITS:
        raise DataError(f"{amount} USD is beyond what SQLite's money columns hold (±9.2e8 USD)")
    return units


def from_units(units: int) -> Decimal:
    """The amount of so many units of 1e-10 USD, with ten places ("9.9997105000")."""
    return Decimal(units).scaleb(-10, context=_EXACT)


# The field is generic like Django's own for the type checker; subscripting them at run time
# needs django_stubs_ext's patch, which the settings also apply (repeating it is harmless).
django_stubs_ext.monkeypatch()
_ST = TypeVar("_ST", contravariant=True)
_GT = TypeVar("_GT", covariant=True)


class MoneyField(DecimalField[_ST, _GT]):
    """A USD amount with ten decimal places: `numeric(20, 10)` on PostgreSQL, integer units of
    1e-10 USD on SQLite. Python always sees `Decimal`; queries, filters, F-expressions and
    aggregates over it stay exact on both (see `MoneyValue` for an amount inside an expression)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.update(MONEY)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        """Without the fixed digits: every money field has the same."""
        name, path, args, kwargs = super().deconstruct()
        for fixed in MONEY:
            kwargs.pop(fixed, None)
        return name, path, args, kwargs

    def db_type(self, connection: BaseDatabaseWrapper) -> str | None:
        """INTEGER on SQLite, `numeric(20, 10)` elsewhere."""
        return "integer" if stores_units(connection) else super().db_type(connection)

    def get_internal_type(self) -> str:
        """On SQLite an integer to Django's query machinery (no float conversion of the units
        read back, integer arithmetic allowed); a decimal elsewhere. Switchyard uses one
        database, so the default one decides."""
        return "IntegerField" if stores_units(connections[DEFAULT_DB_ALIAS]) else "DecimalField"

    def get_db_prep_value(
        self, value: Any, connection: BaseDatabaseWrapper, prepared: bool = False
    ) -> Any:
        """Units on SQLite, the decimal elsewhere."""
        if not stores_units(connection):
            return super().get_db_prep_value(value, connection, prepared)
        if not prepared:
            value = self.get_prep_value(value)
        value = self.to_python(value)
        return None if value is None else to_units(value)

    def from_db_value(self, value: Any, expression: Any, connection: BaseDatabaseWrapper) -> Any:
        """The stored amount as `Decimal` (units converted back on SQLite)."""
        if value is None or not stores_units(connection):
            return value
        if isinstance(value, float):
            # Only a non-integral REAL can come back as a float (SQLite stores integral ones as
            # integers): something wrote dollars into a units column, or summed in floating
            # point. Refuse rather than round it away.
            raise DataError(f"a money column holds the float {value!r}, not integer units")
        return from_units(int(value))


class MoneyValue(Value):
    """An amount inside a query expression, e.g. `F("balance") + MoneyValue(amount)`: a bare
    `Decimal` there would be sent as decimal text, which SQLite would add to the units as a
    float."""

    def __init__(self, amount: Decimal) -> None:
        super().__init__(amount, output_field=MoneyField[Decimal, Decimal]())


def format_money(value: Decimal) -> str:
    """Render an amount as a plain decimal string without trailing zeros ("0.15", "100", "0")."""
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", ""} else text
