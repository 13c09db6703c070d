"""Request cost from usage and unit prices: Decimal, ten places, nothing twice."""

from decimal import Decimal, localcontext

import pytest

from billing.pricing import Prices, usage_cost
from core.usage import Usage

GPT_4O_MINI = Prices(input=Decimal("0.15"), output=Decimal("0.6"))
WITH_CACHE_PRICE = Prices(input=Decimal("3"), output=Decimal("15"), cached_input=Decimal("0.3"))
FREE_CACHE = Prices(input=Decimal("2"), output=Decimal("8"), cached_input=Decimal("0"))


@pytest.mark.parametrize(
    ("usage", "prices", "cost"),
    [
        (Usage(), GPT_4O_MINI, "0"),
        # 1000 * 0.15 + 500 * 0.6 = 450 per million
        (Usage(prompt_tokens=1000, completion_tokens=500), GPT_4O_MINI, "0.00045"),
        # Cached tokens at the input price when the channel sets no cached price.
        (
            Usage(prompt_tokens=1000, completion_tokens=500, cached_tokens=800),
            GPT_4O_MINI,
            "0.00045",
        ),
        # 200 * 3 + 800 * 0.3 + 100 * 15 = 2340 per million
        (
            Usage(prompt_tokens=1000, completion_tokens=100, cached_tokens=800),
            WITH_CACHE_PRICE,
            "0.00234",
        ),
        # A cached price of 0 means free cache hits, not "unset".
        (Usage(prompt_tokens=1000, cached_tokens=1000), FREE_CACHE, "0"),
        # Reasoning tokens are inside completion_tokens: billed once, at the output price.
        (
            Usage(prompt_tokens=10, completion_tokens=1000, reasoning_tokens=900),
            GPT_4O_MINI,
            "0.0006015",
        ),
        # More cached than prompt tokens (a misreporting upstream) is clamped to the prompt.
        (Usage(prompt_tokens=100, cached_tokens=500), WITH_CACHE_PRICE, "0.00003"),
        (Usage(prompt_tokens=100, cached_tokens=-5), WITH_CACHE_PRICE, "0.0003"),
        # Huge counts stay exact: 1e9 * (input + output) + output / 1e6, rounded at the 10th place.
        (
            Usage(prompt_tokens=10**15, completion_tokens=10**15 + 1, cached_tokens=3 * 10**14),
            Prices(input=Decimal("1234567.1234567891"), output=Decimal("9876543.9876543219")),
            "11111111111111120.8765439877",
        ),
        # One token at a sub-nano price: 1 * 0.00001 / 1M = 1e-11 rounds to 0 ...
        (Usage(completion_tokens=1), Prices(input=Decimal(0), output=Decimal("0.00001")), "0"),
        # ... 5e-11 rounds half up to 1e-10 ...
        (Usage(completion_tokens=5), Prices(input=Decimal(0), output=Decimal("0.00001")), "1E-10"),
        # ... and 4.9e-11 rounds down.
        (Usage(prompt_tokens=49), Prices(input=Decimal("0.000001"), output=Decimal(0)), "0"),
    ],
)
def test_usage_cost(usage, prices, cost):
    result = usage_cost(usage, prices)

    assert result == Decimal(cost)
    assert isinstance(result, Decimal)
    assert result.as_tuple().exponent == -10  # the storage precision


def test_usage_cost_ignores_the_thread_decimal_context():
    usage = Usage(prompt_tokens=123_456_789, completion_tokens=987_654_321)
    prices = Prices(input=Decimal("1.2345678901"), output=Decimal("9.8765432109"))
    expected = usage_cost(usage, prices)

    with localcontext() as ctx:
        ctx.prec = 3

        assert usage_cost(usage, prices) == expected
