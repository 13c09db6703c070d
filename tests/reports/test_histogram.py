"""Latency percentiles from the rollups' histogram: in the right bucket, interpolated inside."""

import pytest

from reports.histogram import BUCKET_COUNT, BUCKET_FIELDS, LATENCY_BOUNDS_MS, percentile
from reports.models import HourlyUsage


def counts(**by_index):
    values = [0] * BUCKET_COUNT
    for index, count in by_index.items():
        values[int(index.removeprefix("b"))] = count
    return values


@pytest.mark.parametrize(
    ("histogram", "fraction", "expected"),
    [
        (counts(), 0.5, None),
        (counts(b0=10), 0.5, 12.5),  # 0-25 ms, halfway
        (counts(b0=50, b10=50), 0.95, 1000 + 500 * 0.9),  # 1000-1500 ms bucket
        (counts(b0=99, b23=1), 1.0, 300000.0),  # the open-ended bucket reports its floor
        (counts(b4=4), 0.25, 150 + 50 * 0.25),
    ],
)
def test_percentile_lands_in_the_right_bucket(histogram, fraction, expected):
    assert percentile(histogram, fraction) == expected


def test_every_latency_bucket_has_a_rollup_column():
    assert len(BUCKET_FIELDS) == len(LATENCY_BOUNDS_MS) + 1
    columns = {field.name for field in HourlyUsage._meta.fields}
    assert set(BUCKET_FIELDS) <= columns
