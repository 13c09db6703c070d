"""Pure statistics of the benchmark: percentiles and millisecond summaries."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation between ranks; None when empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ms(seconds: float | None) -> float | None:
    """Seconds as milliseconds rounded to 0.01 ms; None stays None."""
    return None if seconds is None else round(seconds * 1000, 2)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator ÷ denominator rounded to 0.01, None when either is missing or the divisor is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return round(numerator / denominator, 2)


def difference(minuend: float | None, subtrahend: float | None) -> float | None:
    """minuend - subtrahend rounded to 0.01, None when either is missing."""
    if minuend is None or subtrahend is None:
        return None
    return round(minuend - subtrahend, 2)
