"""Reads behind the dashboard pages: time series, top lists, channel figures, statements."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from django.utils import timezone

from billing.models import ApiKey, UsageRecord
from billing.selectors import UsageFilters, key_limit_remaining, key_period_spend
from channels.models import Channel
from reports.ranges import ceil_hour, floor_day, floor_hour
from reports.selectors import UsageSummary, UsageSums, usage_summary

Step = Literal["hour", "day"]


@dataclass(frozen=True)
class TimeRange:
    """A range the overview can show, and the step of its charts."""

    slug: str
    label: str
    length: timedelta
    step: Step


TIME_RANGES = (
    TimeRange("24h", "24 hours", timedelta(hours=24), "hour"),
    TimeRange("7d", "7 days", timedelta(days=7), "hour"),
    TimeRange("30d", "30 days", timedelta(days=30), "day"),
    TimeRange("90d", "90 days", timedelta(days=90), "day"),
)
DEFAULT_RANGE = TIME_RANGES[0]


def time_range(slug: str | None) -> TimeRange:
    """The range named by `slug`, or the default."""
    return next((choice for choice in TIME_RANGES if choice.slug == slug), DEFAULT_RANGE)


def range_start(choice: TimeRange, now: datetime) -> datetime:
    """The first bucket of a range ending now (whole hours or whole days)."""
    start = ceil_hour(now) - choice.length
    return floor_day(start) if choice.step == "day" else floor_hour(start)


def _buckets(start: datetime, now: datetime, step: Step) -> list[datetime]:
    """Every bucket start from `start` to the one holding `now`."""
    size = timedelta(hours=1) if step == "hour" else timedelta(days=1)
    buckets, moment = [], start
    while moment <= now:
        buckets.append(moment)
        moment += size
    return buckets


def usage_series(
    *, since: datetime, step: Step, now: datetime | None = None
) -> list[tuple[datetime, UsageSums]]:
    """Usage per hour or day from `since` (a bucket start) to now, empty buckets included."""
    now = now or timezone.now()
    summary = usage_summary(filters=UsageFilters(since=since), group_by=step, latency=True)
    found = {}
    for sums in summary.rows:
        moment = datetime.fromisoformat(sums.group)
        if step == "day":
            moment = datetime.combine(moment.date(), datetime.min.time(), tzinfo=now.tzinfo)
        found[moment] = sums
    return [(moment, found.get(moment, UsageSums())) for moment in _buckets(since, now, step)]


def chart_data(series: list[tuple[datetime, UsageSums]]) -> dict[str, list[Any]]:
    """A series as columns for the charts (times in epoch seconds; cost as a float to plot)."""
    return {
        "t": [int(moment.timestamp()) for moment, _ in series],
        "requests": [sums.requests for _, sums in series],
        "errors": [sums.errors for _, sums in series],
        "error_rate": [round(100 * sums.error_rate, 2) for _, sums in series],
        "tokens": [sums.tokens for _, sums in series],
        "cost": [float(sums.cost) for _, sums in series],
        "p50": [sums.latency(0.5) for _, sums in series],
        "p95": [sums.latency(0.95) for _, sums in series],
    }


def series_total(series: list[tuple[datetime, UsageSums]]) -> UsageSums:
    """The sums of a whole series (with its latency histogram)."""
    total = UsageSums()
    for _, sums in series:
        total.merge(sums)
    return total


@dataclass(frozen=True)
class KeyRow:
    """A key with its spend in the current limit period."""

    key: ApiKey
    spend: Decimal
    remaining: Decimal | None

    @property
    def spend_percent(self) -> float | None:
        """Spend as a share of the limit, in percent (capped at 100); None without a limit."""
        if self.key.spend_limit is None:
            return None
        if not self.key.spend_limit:
            return 100.0
        return min(100.0, float(100 * self.spend / self.key.spend_limit))


def key_rows(*, now: datetime | None = None) -> list[KeyRow]:
    """Every key, newest first, with its period spend and what its limit leaves."""
    now = now or timezone.now()
    return [
        KeyRow(
            key=key,
            spend=key_period_spend(key=key, now=now),
            remaining=key_limit_remaining(key=key, now=now),
        )
        for key in ApiKey.objects.select_related("account").order_by("revoked_at", "-created_at")
    ]


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The first moment of a month and of the next one (UTC)."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following


def statement(*, account_id: int, month: date) -> UsageSummary:
    """An account's usage in a month, by day, model and endpoint."""
    since, until = month_bounds(month)
    return usage_summary(
        filters=UsageFilters(account=account_id, since=since, until=until),
        group_by="day",
        then_by=("model", "endpoint"),
    )


def channel_names(ids: Iterable[int]) -> dict[int, str]:
    """The display names ("name (archived)" for an archived channel) of the channels with these
    ids that still exist."""
    channels = Channel.objects.filter(pk__in=set(ids)).only("name", "archived_at")
    return {channel.pk: channel.display_name for channel in channels}


def deleted_channel(channel_id: int, name: str = "") -> str:
    """A channel whose row is gone: "name (deleted)", "channel #7 (deleted)" without a name."""
    return f"{name} (deleted)" if name else f"channel #{channel_id} (deleted)"


def name_deleted_channels(summary: UsageSummary) -> UsageSummary:
    """The summary (grouped by channel) with each channel whose row is gone named
    "channel #7 (deleted)" rather than its bare id."""
    names = channel_names(sums.group for sums in summary.rows if sums.group is not None)
    for sums in summary.rows:
        if sums.group is not None and sums.group not in names:
            sums.name = deleted_channel(sums.group)
    return summary


def attempts_shown(record: UsageRecord) -> list[tuple[dict[str, Any], str]]:
    """The record's attempts, each with its channel as pages name it: the channel's display name
    now, "name (deleted)" when its row is gone, the recorded name when no id was kept, "—"."""
    attempts = [attempt for attempt in record.attempts or [] if isinstance(attempt, dict)]
    ids = [attempt.get("channel_id") for attempt in attempts]
    names = channel_names(channel_id for channel_id in ids if isinstance(channel_id, int))
    shown = []
    for attempt, channel_id in zip(attempts, ids, strict=True):
        name = str(attempt.get("channel") or "")
        if not isinstance(channel_id, int):
            shown.append((attempt, name or "—"))
        else:
            shown.append((attempt, names.get(channel_id) or deleted_channel(channel_id, name)))
    return shown
