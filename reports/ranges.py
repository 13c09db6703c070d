"""Splitting a time range into the parts read from daily rollups, hourly rollups and raw records."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Source = Literal["raw", "hour", "day"]
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Segment:
    """[start, end) read from one source; None = unbounded on that side."""

    source: Source
    start: datetime | None
    end: datetime | None


def floor_hour(moment: datetime) -> datetime:
    """The start of the hour holding `moment`."""
    return moment.replace(minute=0, second=0, microsecond=0)


def ceil_hour(moment: datetime) -> datetime:
    """The first hour boundary at or after `moment`."""
    start = floor_hour(moment)
    return start if start == moment else start + HOUR


def floor_day(moment: datetime) -> datetime:
    """The start of the (UTC) day holding `moment`."""
    return floor_hour(moment).replace(hour=0)


def ceil_day(moment: datetime) -> datetime:
    """The first day boundary at or after `moment`."""
    start = floor_day(moment)
    return start if start == moment else start + DAY


def _before(first: datetime | None, second: datetime | None) -> bool:
    """first < second, None being -inf for first and +inf for second."""
    return first is None or second is None or first < second


def split_range(
    since: datetime | None, until: datetime | None, *, days: bool = True
) -> list[Segment]:
    """Cover [since, until) with whole days, then whole hours, then raw edges (UTC).

    With `days=False` no daily segment is used (for answers per hour).
    """
    if since is not None and until is not None:
        if since >= until:
            return []
        if ceil_hour(since) >= floor_hour(until):
            return [Segment("raw", since, until)]
    hours_start = ceil_hour(since) if since is not None else None
    hours_end = floor_hour(until) if until is not None else None
    segments = []
    if since is not None and hours_start != since:
        segments.append(Segment("raw", since, hours_start))
    days_start = ceil_day(hours_start) if hours_start is not None else None
    days_end = floor_day(hours_end) if hours_end is not None else None
    if days and _before(days_start, days_end):
        if hours_start is not None and hours_start != days_start:
            segments.append(Segment("hour", hours_start, days_start))
        segments.append(Segment("day", days_start, days_end))
        if hours_end is not None and days_end != hours_end:
            segments.append(Segment("hour", days_end, hours_end))
    else:
        segments.append(Segment("hour", hours_start, hours_end))
    if until is not None and hours_end != until:
        segments.append(Segment("raw", hours_end, until))
    return segments
