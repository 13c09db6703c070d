"""What a request costs: usage times a channel model's unit prices, in `Decimal`."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal

from core.usage import Usage

TOKENS_PER_PRICE_UNIT = Decimal(1_000_000)
STORAGE_QUANTUM = Decimal("1E-10")
"""Money columns keep ten decimal places (`core.money.MONEY`)."""

# Wide enough that no product of a token count and a 20-digit price is ever rounded before the
# final quantization, whatever the thread's current decimal context says.
_EXACT = Context(prec=80, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Prices:
    """A channel model's unit prices in USD per 1M tokens; cached input defaults to input."""

    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None


def usage_cost(usage: Usage, prices: Prices) -> Decimal:
    """USD cost of `usage` at `prices`, rounded half-up to the storage precision (10 places).

    Cached tokens are part of the prompt and reasoning tokens part of the completion, so neither
    is charged twice; a cached count above the prompt count is clamped to it.
    """
    prompt = max(usage.prompt_tokens, 0)
    cached = min(max(usage.cached_tokens, 0), prompt)
    completion = max(usage.completion_tokens, 0)
    cached_price = prices.input if prices.cached_input is None else prices.cached_input
    ctx = _EXACT
    total = ctx.add(
        ctx.add(
            ctx.multiply(Decimal(prompt - cached), prices.input),
            ctx.multiply(Decimal(cached), cached_price),
        ),
        ctx.multiply(Decimal(completion), prices.output),
    )
    per_token = ctx.divide(total, TOKENS_PER_PRICE_UNIT)
    return per_token.quantize(STORAGE_QUANTUM, rounding=ROUND_HALF_UP, context=ctx)
