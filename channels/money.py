"""Money fields and formatting: USD as `Decimal` with ten places, never float."""

from decimal import Decimal
from typing import TypedDict

from django.core.validators import MinValueValidator


class MoneyDigits(TypedDict):
    """The precision of every money column and field."""

    max_digits: int
    decimal_places: int


MONEY: MoneyDigits = {"max_digits": 20, "decimal_places": 10}
NON_NEGATIVE = [MinValueValidator(Decimal(0))]


def format_money(value: Decimal) -> str:
    """Render an amount as a plain decimal string without trailing zeros ("0.15", "100", "0")."""
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", ""} else text
