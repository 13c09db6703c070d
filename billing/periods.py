"""Spend-limit periods: when a key's current period began (UTC calendar boundaries)."""

from datetime import UTC, datetime, timedelta

from billing.models import LimitReset


def period_start(limit_reset: str, now: datetime) -> datetime | None:
    """The start of the period containing `now` — midnight UTC, Monday 00:00 UTC or the 1st of
    the month 00:00 UTC — or None for a key whose limit never resets."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if limit_reset == LimitReset.DAILY:
        return midnight
    if limit_reset == LimitReset.WEEKLY:
        return midnight - timedelta(days=midnight.weekday())
    if limit_reset == LimitReset.MONTHLY:
        return midnight.replace(day=1)
    return None


def period_end(limit_reset: str, now: datetime) -> datetime | None:
    """When the period containing `now` ends (the next reset), or None if it never does."""
    start = period_start(limit_reset, now)
    if start is None:
        return None
    if limit_reset == LimitReset.DAILY:
        return start + timedelta(days=1)
    if limit_reset == LimitReset.WEEKLY:
        return start + timedelta(weeks=1)
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


def stored_spend_counts(
    *, period_started_at: datetime | None, limit_reset: str, now: datetime
) -> bool:
    """Whether a key's stored period spend still counts at `now`: always for a key that never
    resets, else only if it was accrued since the current period began."""
    start = period_start(limit_reset, now)
    return start is None or (period_started_at is not None and period_started_at >= start)
