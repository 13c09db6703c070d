"""Splitting a range into whole days, whole hours and raw edges."""

from datetime import UTC, datetime

import pytest

from reports.ranges import Segment, split_range


def t(day, hour=0, minute=0):
    return datetime(2026, 10, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("since", "until", "days", "expected"),
    [
        (None, None, True, [Segment("day", None, None)]),
        (t(1, 5, 30), t(1, 5, 50), True, [Segment("raw", t(1, 5, 30), t(1, 5, 50))]),
        (
            t(1, 22, 30),
            t(4, 2, 15),
            True,
            [
                Segment("raw", t(1, 22, 30), t(1, 23)),
                Segment("hour", t(1, 23), t(2)),
                Segment("day", t(2), t(4)),
                Segment("hour", t(4), t(4, 2)),
                Segment("raw", t(4, 2), t(4, 2, 15)),
            ],
        ),
        (t(2), t(4), True, [Segment("day", t(2), t(4))]),
        (t(2, 1), t(2, 5), True, [Segment("hour", t(2, 1), t(2, 5))]),
        (t(2), t(4), False, [Segment("hour", t(2), t(4))]),
        (None, t(3, 4), True, [Segment("day", None, t(3)), Segment("hour", t(3), t(3, 4))]),
        (
            t(3, 4, 1),
            None,
            True,
            [
                Segment("raw", t(3, 4, 1), t(3, 5)),
                Segment("hour", t(3, 5), t(4)),
                Segment("day", t(4), None),
            ],
        ),
        (t(4), t(3), True, []),
    ],
)
def test_split_range_covers_the_range_with_the_coarsest_parts(since, until, days, expected):
    assert split_range(since, until, days=days) == expected
