"""DRF fields shared by the management APIs."""

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from core.money import MONEY, format_money


class MoneyField(serializers.DecimalField):
    """USD as a decimal string in and out, never a float; non-negative unless told otherwise."""

    def __init__(self, *, signed: bool = False, **kwargs: Any) -> None:
        if not signed:
            kwargs.setdefault("min_value", Decimal(0))
        super().__init__(**MONEY, **kwargs)

    def to_representation(self, value: Any) -> str:
        """Render without trailing zeros: "0.15", not "0.1500000000"."""
        return format_money(Decimal(value))
