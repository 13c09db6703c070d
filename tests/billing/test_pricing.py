"""Request cost from usage and unit prices: Decimal, ten places, nothing twice."""

from decimal import Decimal, localcontext

import pytest

from billing.pricing import Prices, usage_cost, usage_cost_bound
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


# Anthropic-style prices: input 3, cached 0.3, output 15 USD per 1M tokens.
SONNET = Prices(input=Decimal("3"), output=Decimal("15"), cached_input=Decimal("0.3"))
OWN_WRITE_PRICES = Prices(
    input=Decimal("3"),
    output=Decimal("15"),
    cached_input=Decimal("0.3"),
    cache_write=Decimal("4"),
    cache_write_1h=Decimal("5"),
)


@pytest.mark.parametrize(
    ("usage", "prices", "cost"),
    [
        # Without their own prices, 5-minute writes cost 1.25 x input (3.75) and 1-hour writes
        # 2 x input (6): 100 * 3 + 200 * 0.3 + 300 * 3.75 + 400 * 6 + 10 * 15 = 4035 per million.
        (
            Usage(
                prompt_tokens=1000,
                completion_tokens=10,
                cached_tokens=200,
                cache_write_tokens=300,
                cache_write_1h_tokens=400,
            ),
            SONNET,
            "0.004035",
        ),
        # Their own prices: 100 * 3 + 200 * 0.3 + 300 * 4 + 400 * 5 + 10 * 15 = 3710 per million.
        (
            Usage(
                prompt_tokens=1000,
                completion_tokens=10,
                cached_tokens=200,
                cache_write_tokens=300,
                cache_write_1h_tokens=400,
            ),
            OWN_WRITE_PRICES,
            "0.00371",
        ),
        # A write price of 0 means free writes, not "unset": 100 * 3 = 300 per million.
        (
            Usage(prompt_tokens=200, cache_write_tokens=50, cache_write_1h_tokens=50),
            Prices(
                input=Decimal(3),
                output=Decimal(0),
                cache_write=Decimal(0),
                cache_write_1h=Decimal(0),
            ),
            "0.0003",
        ),
        # Writes without a cached price: reads at the input price, writes at 1.25 x / 2 x.
        # 500 * 2 + 100 * 2.5 + 100 * 4 = 1650 per million.
        (
            Usage(prompt_tokens=700, cache_write_tokens=100, cache_write_1h_tokens=100),
            Prices(input=Decimal(2), output=Decimal(8)),
            "0.00165",
        ),
        # Clamped: reads take the prompt first (800 of 1000), then 5-minute writes what is left
        # (200 of 500), 1-hour writes nothing: 800 * 0.3 + 200 * 3.75 = 990 per million.
        (
            Usage(
                prompt_tokens=1000,
                cached_tokens=800,
                cache_write_tokens=500,
                cache_write_1h_tokens=500,
            ),
            SONNET,
            "0.00099",
        ),
        # Writes alone above the prompt: 5-minute writes 100 of 100, nothing at the input price.
        (Usage(prompt_tokens=100, cache_write_tokens=300), SONNET, "0.000375"),
        # 1-hour writes above what 5-minute ones left: 60 * 3.75 + 40 * 6 = 465 per million.
        (
            Usage(prompt_tokens=100, cache_write_tokens=60, cache_write_1h_tokens=90),
            SONNET,
            "0.000465",
        ),
        # Negative write counts count as none.
        (
            Usage(prompt_tokens=100, cache_write_tokens=-50, cache_write_1h_tokens=-5),
            SONNET,
            "0.0003",
        ),
    ],
)
def test_cache_writes_are_billed_at_their_own_prices(usage, prices, cost):
    assert usage_cost(usage, prices) == Decimal(cost)


@pytest.mark.parametrize(
    ("prices", "write", "write_1h"),
    [
        (SONNET, "3.75", "6"),
        (OWN_WRITE_PRICES, "4", "5"),
        # A default is rounded (half up) to the ten places a record keeps of the price it used.
        (Prices(input=Decimal("0.0000000002"), output=Decimal(0)), "3E-10", "4E-10"),
        (Prices(input=Decimal("0.0000000001"), output=Decimal(0)), "1E-10", "2E-10"),
    ],
)
def test_cache_write_prices_default_to_anthropics_multipliers(prices, write, write_1h):
    assert prices.cache_write_rate() == Decimal(write)
    assert prices.cache_write_1h_rate() == Decimal(write_1h)


@pytest.mark.parametrize(
    ("prices", "bound"),
    [
        # 1000 prompt tokens all written for an hour (2 x 3) + 10 * 15 = 6150 per million.
        (SONNET, "0.00615"),
        # Own write prices below the input price: the input price is the dearest.
        (
            Prices(
                input=Decimal(3),
                output=Decimal(15),
                cache_write=Decimal(1),
                cache_write_1h=Decimal(2),
            ),
            "0.00315",
        ),
    ],
)
def test_the_cost_bound_holds_whatever_the_prompt_is_split_into(prices, bound):
    usage = Usage(prompt_tokens=1000, completion_tokens=10)
    splits = [
        usage,
        Usage(prompt_tokens=1000, completion_tokens=10, cache_write_tokens=1000),
        Usage(prompt_tokens=1000, completion_tokens=10, cache_write_1h_tokens=1000),
        Usage(prompt_tokens=1000, completion_tokens=10, cached_tokens=1000),
    ]

    assert usage_cost_bound(usage, prices) == Decimal(bound)
    assert max(usage_cost(split, prices) for split in splits) == Decimal(bound)
