"""Template filters of the dashboard: money, numbers, latencies and percentages for people."""

from decimal import Decimal

from django import template

from channels.money import format_money

register = template.Library()
SHOWN_PLACES = Decimal("0.000001")


@register.filter
def usd(value: Decimal | int | None) -> str:
    """An amount in USD to six decimals at most ("$0.000123", "$12.5"), "—" for None."""
    if value is None:
        return "—"
    amount = format_money(Decimal(value).quantize(SHOWN_PLACES))
    return f"-${amount[1:]}" if amount.startswith("-") else f"${amount}"


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
