"""Latency histograms: fixed bucket bounds shared by the rollups, and percentiles from counts."""

from collections.abc import Sequence

# Upper bounds (exclusive, milliseconds) of the latency buckets; the last bucket is open-ended.
LATENCY_BOUNDS_MS: tuple[int, ...] = (
    25, 50, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 4000,
    5000, 7500, 10000, 15000, 20000, 30000, 60000, 120000, 300000,
)  # fmt: skip
BUCKET_COUNT = len(LATENCY_BOUNDS_MS) + 1
BUCKET_FIELDS: tuple[str, ...] = tuple(f"lat_{index:02d}" for index in range(BUCKET_COUNT))


def bucket_range(index: int) -> tuple[int, int | None]:
    """The [low, high) milliseconds of bucket `index`; high is None for the open-ended last one."""
    low = 0 if index == 0 else LATENCY_BOUNDS_MS[index - 1]
    high = LATENCY_BOUNDS_MS[index] if index < len(LATENCY_BOUNDS_MS) else None
    return low, high


def percentile(counts: Sequence[int], fraction: float) -> float | None:
    """The `fraction` quantile of a histogram, interpolated linearly inside its bucket.

    Approximate by design: the answer lies in the right bucket, its place inside is interpolated.
    None when the histogram is empty.
    """
    total = sum(counts)
    if total == 0:
        return None
    rank = fraction * total
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            low, high = bucket_range(index)
            if high is None:
                return float(low)
            return low + (high - low) * (rank - seen) / count
        seen += count
    return float(bucket_range(BUCKET_COUNT - 1)[0])
