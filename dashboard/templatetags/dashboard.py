"""Template filters of the dashboard: money, numbers, latencies and percentages for people."""

from decimal import Decimal

from django import template

from core.money import format_money

register = template.Library()


@register.filter
def usd(value: Decimal | int | None) -> str:
    """An amount in USD exactly as stored, with two decimals at least and no trailing zeros
    past them ("$0.0000054", "$12.50", "$3.00"), "—" for None."""
    if value is None:
        return "—"
    amount = format_money(Decimal(value))
    sign, digits = ("-", amount[1:]) if amount.startswith("-") else ("", amount)
    whole, _, places = digits.partition(".")
    return f"{sign}${whole}.{places.ljust(2, '0')}"


@register.filter
def ms(value: object) -> str:
    """A latency in milliseconds, "—" when unknown (None, or missing from an attempt)."""
    return f"{value:,.0f} ms" if isinstance(value, int | float) else "—"


@register.filter
def percent(value: float | None) -> str:
    """A percentage with one decimal, "—" for None."""
    return "—" if value is None else f"{value:.1f} %"


@register.filter
def quantile(sums: object, fraction: str) -> float | None:
    """A latency quantile of a usage sum (`{{ sums|quantile:"0.95" }}`)."""
    latency = getattr(sums, "latency", None)
    return latency(float(fraction)) if latency else None
