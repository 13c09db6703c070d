"""What a request costs: usage times a channel model's unit prices, in `Decimal`."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal

from core.usage import Usage

TOKENS_PER_PRICE_UNIT = Decimal(1_000_000)
STORAGE_QUANTUM = Decimal("1E-10")
"""Money columns keep ten decimal places (`core.money.MONEY`)."""
CACHE_WRITE_MULTIPLIER = Decimal("1.25")
"""A 5-minute cache write without its own price costs this times the input price (Anthropic's)."""
CACHE_WRITE_1H_MULTIPLIER = Decimal(2)
"""A 1-hour cache write without its own price costs this times the input price (Anthropic's)."""

# Wide enough that no product of a token count and a 20-digit price is ever rounded before the
# final quantization, whatever the thread's current decimal context says.
_EXACT = Context(prec=80, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Prices:
    """A channel model's unit prices in USD per 1M tokens. Unset (None): cached input costs the
    input price, a 5-minute cache write 1.25 times and a 1-hour one 2 times the input price."""

    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    cache_write_1h: Decimal | None = None

    def cached_input_rate(self) -> Decimal:
        """The price of a cache read."""
        return self.input if self.cached_input is None else self.cached_input

    def cache_write_rate(self) -> Decimal:
        """The price of a 5-minute cache write (a default is rounded to what a price column
        holds, so that the record's stored price is the one billed)."""
        if self.cache_write is not None:
            return self.cache_write
        return _storable(_EXACT.multiply(self.input, CACHE_WRITE_MULTIPLIER))

    def cache_write_1h_rate(self) -> Decimal:
        """The price of a 1-hour cache write (a default rounded like the 5-minute one's)."""
        if self.cache_write_1h is not None:
            return self.cache_write_1h
        return _storable(_EXACT.multiply(self.input, CACHE_WRITE_1H_MULTIPLIER))


def _storable(amount: Decimal) -> Decimal:
    """An amount rounded half-up to the storage precision (10 places)."""
    return amount.quantize(STORAGE_QUANTUM, rounding=ROUND_HALF_UP, context=_EXACT)


def usage_cost(usage: Usage, prices: Prices) -> Decimal:
    """USD cost of `usage` at `prices`, rounded half-up to the storage precision (10 places):
    the prompt's uncached tokens at the input price, cache reads at the cached-input price,
    5-minute and 1-hour cache writes at theirs, and the completion at the output price.

    Cache reads and writes are part of the prompt and reasoning tokens part of the completion,
    so nothing is charged twice. Counts an upstream misreports are clamped: negative ones to 0,
    reads to the prompt, then 5-minute writes to what is left of it, then 1-hour writes.
    """
    prompt = max(usage.prompt_tokens, 0)
    reads = min(max(usage.cached_tokens, 0), prompt)
    writes = min(max(usage.cache_write_tokens, 0), prompt - reads)
    writes_1h = min(max(usage.cache_write_1h_tokens, 0), prompt - reads - writes)
    completion = max(usage.completion_tokens, 0)
    ctx = _EXACT
    parts = (
        (prompt - reads - writes - writes_1h, prices.input),
        (reads, prices.cached_input_rate()),
        (writes, prices.cache_write_rate()),
        (writes_1h, prices.cache_write_1h_rate()),
        (completion, prices.output),
    )
    total = Decimal(0)
    for tokens, price in parts:
        total = ctx.add(total, ctx.multiply(Decimal(tokens), price))
    return _storable(ctx.divide(total, TOKENS_PER_PRICE_UNIT))


def cache_savings(usage: Usage, prices: Prices) -> Decimal:
    """What cache reads saved against the input price: (input - cached input price) * cached
    tokens ÷ 1M, rounded like a cost; 0 when cached input has no price of its own."""
    if prices.cached_input is None or not usage.cached_tokens:
        return Decimal(0)
    saved = _EXACT.multiply(prices.input - prices.cached_input, Decimal(usage.cached_tokens))
    return _storable(_EXACT.divide(saved, TOKENS_PER_PRICE_UNIT))


def usage_cost_bound(usage: Usage, prices: Prices) -> Decimal:
    """The most `usage`'s prompt and completion counts can cost at `prices`, however the
    upstream splits the prompt among uncached tokens, cache reads and cache writes (a 1-hour
    write costs twice the input by default): what a reservation must hold."""
    dearest = max(
        prices.input,
        prices.cached_input_rate(),
        prices.cache_write_rate(),
        prices.cache_write_1h_rate(),
    )
    return usage_cost(
        Usage(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens),
        Prices(input=dearest, output=prices.output),
    )
