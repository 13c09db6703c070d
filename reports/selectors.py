"""Reads of usage sums: reports per group and series over time, from rollups plus raw edges.

Whole days come from the daily rollup, whole hours from the hourly one, the partial hours at
the edges of a range and the records still queued for the rollup from the raw table; all of it
in one snapshot, so the totals always equal the sums over the raw records.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from django.db import connection, transaction
from django.db.models import Count, Expression, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate, TruncDay, TruncHour

from billing.models import Account, ApiKey, UsageRecord
from billing.selectors import UsageFilters, usage_list
from channels.models import Channel
from core.usage import UsageStatus
from reports.histogram import BUCKET_FIELDS, percentile
from reports.locks import snapshot
from reports.models import (
    ALL,
    NO_CHANNEL,
    DailyDimensionUsage,
    DailyUsage,
    HourlyDimensionUsage,
    HourlyUsage,
    PendingUsage,
)
from reports.ranges import Segment, split_range
from reports.rollup import UNKNOWN_MODEL, latency_bucket_counts, report_model

GroupBy = Literal["day", "hour", "model", "provider", "channel", "key", "account", "endpoint"]
REPORT_GROUPS: tuple[GroupBy, ...] = (
    "day",
    "model",
    "provider",
    "channel",
    "key",
    "account",
    "endpoint",
)
TOKEN_FIELDS = (
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
)
BASIC_COUNTERS = ("requests", "errors", *TOKEN_FIELDS)
LATENCY_COUNTERS = ("latency_ms_sum", *BUCKET_FIELDS)
COUNTERS = BASIC_COUNTERS + LATENCY_COUNTERS
_GROUP_COLUMNS = {
    "model": "model",
    "provider": "provider",
    "channel": "channel_id",
    "key": "key_id",
    "account": "account_id",
    "endpoint": "endpoint",
}
_ROLLUPS: dict[str, type[HourlyUsage] | type[DailyUsage]] = {"hour": HourlyUsage, "day": DailyUsage}


@dataclass
class UsageSums:
    """Sums of the usage records of one group (or of all of them)."""

    group: Any = None
    subgroups: tuple[Any, ...] = ()
    """The values of the `then_by` groupings, in their order."""
    name: str = ""
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    cost: Decimal = Decimal(0)
    cache_savings: Decimal = Decimal(0)
    """What cache reads saved against the input price."""

    def add(self, row: dict[str, Any]) -> None:
        """Add a database row holding counters (all of them or the basic ones), `cost` and
        `cache_savings`."""
        for counter in COUNTERS:
            if counter in row:
                self.counts[counter] += row[counter] or 0
        self.cost += row["cost"] or Decimal(0)
        self.cache_savings += row["cache_savings"] or Decimal(0)

    def merge(self, other: "UsageSums") -> None:
        """Add another group's sums to these."""
        for counter, value in other.counts.items():
            self.counts[counter] += value
        self.cost += other.cost
        self.cache_savings += other.cache_savings

    @property
    def subgroup(self) -> Any:
        """The first `then_by` grouping's value (None without one)."""
        return self.subgroups[0] if self.subgroups else None

    @property
    def requests(self) -> int:
        """How many requests."""
        return self.counts["requests"]

    @property
    def errors(self) -> int:
        """How many requests did not end `ok`."""
        return self.counts["errors"]

    @property
    def error_rate(self) -> float:
        """Errors ÷ requests (0 without requests)."""
        return self.counts["errors"] / self.counts["requests"] if self.counts["requests"] else 0.0

    @property
    def error_percent(self) -> float:
        """Errors ÷ requests, in percent."""
        return 100 * self.error_rate

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.counts["prompt_tokens"] + self.counts["completion_tokens"]

    @property
    def cache_hit_percent(self) -> float | None:
        """Cached ÷ prompt tokens, in percent; None without prompt tokens."""
        prompt = self.counts["prompt_tokens"]
        return 100 * self.counts["cached_tokens"] / prompt if prompt else None

    def latency(self, fraction: float) -> float | None:
        """A latency quantile in ms (approximate, from the histogram); None without requests."""
        return percentile([self.counts[name] for name in BUCKET_FIELDS], fraction)


@dataclass(frozen=True)
class UsageSummary:
    """Sums per group, largest cost first (or in time order), and the total."""

    group_by: GroupBy
    then_by: tuple[GroupBy, ...]
    rows: list[UsageSums]
    total: UsageSums


def _group_expression(group_by: GroupBy, time_column: str) -> Expression | F:
    """What a queryset is grouped by."""
    if group_by == "day":
        return TruncDate(time_column) if time_column == "created_at" else TruncDay(time_column)
    if group_by == "hour":
        return TruncHour(time_column)
    if group_by == "model" and time_column == "created_at":
        return report_model()  # raw records: the model as the rollups key it
    return F(_GROUP_COLUMNS[group_by])


def _filtered_rollup(
    model: type[HourlyUsage] | type[DailyUsage], filters: UsageFilters, segment: Segment
) -> QuerySet[Any]:
    """Rollup rows of a segment that match the filters."""
    rows = model.objects.filter(**filters.exact_lookups())
    if segment.start is not None:
        rows = rows.filter(bucket__gte=segment.start)
    if segment.end is not None:
        rows = rows.filter(bucket__lt=segment.end)
    return rows


def _grouped(rows: QuerySet[Any], groups: tuple[GroupBy, ...], time_column: str) -> QuerySet[Any]:
    """Rows annotated with `group0`, `group1`… and grouped by them."""
    names = {
        f"group{index}": _group_expression(group, time_column) for index, group in enumerate(groups)
    }
    grouped: QuerySet[Any] = rows.annotate(**names).values(*names)
    return grouped


def _money_sums(*, coalesce: bool = False) -> dict[str, Any]:
    """`cost` and `cache_savings` summed (0 rather than NULL over no rows, with `coalesce`)."""
    return {
        name: Coalesce(Sum(name), Decimal(0)) if coalesce else Sum(name)
        for name in ("cost", "cache_savings")
    }


def _rollup_sums(
    rows: QuerySet[Any], groups: tuple[GroupBy, ...], latency: bool
) -> Iterable[dict[str, Any]]:
    """Rollup rows summed per group (with the latency histogram or without)."""
    sums = {counter: Sum(counter) for counter in (COUNTERS if latency else BASIC_COUNTERS)}
    summed: Iterable[dict[str, Any]] = (
        _grouped(rows, groups, "bucket").order_by().annotate(**_money_sums(), **sums)
    )
    return summed


def _raw_sums(
    records: QuerySet[UsageRecord], groups: tuple[GroupBy, ...], latency: bool
) -> Iterable[dict[str, Any]]:
    """Raw records summed per group, like rollup rows."""
    sums: dict[str, Any] = {
        "requests": Count("pk"),
        "errors": Count("pk", filter=~Q(status=UsageStatus.OK)),
    }
    sums.update({name: Sum(name) for name in TOKEN_FIELDS})
    if latency:
        sums["latency_ms_sum"] = Sum("latency_ms")
        sums.update(latency_bucket_counts())
    summed: Iterable[dict[str, Any]] = (
        _grouped(records, groups, "created_at")
        .order_by()
        .annotate(**_money_sums(coalesce=True), **sums)
    )
    return summed


def _dimension(filters: UsageFilters, groups: tuple[GroupBy, ...]) -> str | None:
    """The dimension rollup that answers an unfiltered, single grouping; None if none does."""
    if len(groups) != 1 or filters.exact_lookups():
        return None
    return ALL if groups[0] in ("day", "hour") else groups[0]


def _dimension_sums(
    segment: Segment, dimension: str, group_by: GroupBy, latency: bool
) -> Iterable[dict[str, Any]]:
    """Sums of one dimension's rollup rows over a segment, per group."""
    model = HourlyDimensionUsage if segment.source == "hour" else DailyDimensionUsage
    rows = model.objects.filter(dimension=dimension)
    if segment.start is not None:
        rows = rows.filter(bucket__gte=segment.start)
    if segment.end is not None:
        rows = rows.filter(bucket__lt=segment.end)
    group = _group_expression(group_by, "bucket") if dimension == ALL else F("value")
    sums = {counter: Sum(counter) for counter in (COUNTERS if latency else BASIC_COUNTERS)}
    summed: Iterable[dict[str, Any]] = (
        rows.annotate(group0=group).values("group0").order_by().annotate(**_money_sums(), **sums)
    )
    return summed


def _records(filters: UsageFilters, *, keyed: bool) -> QuerySet[UsageRecord]:
    """Raw records matching the filters. With `keyed`, a model filter matches the model as the
    rollups key it (UNKNOWN_MODEL finds the bucket, a bucketed record's own name finds nothing)."""
    if not keyed or filters.model is None:
        return usage_list(filters=filters)
    records = usage_list(
        filters=filters if filters.model != UNKNOWN_MODEL else replace(filters, model=None)
    )
    return records.alias(report_model=report_model()).filter(report_model=filters.model)


def _keyed_by_rollups(model: str) -> bool:
    """Whether the rollups hold rows under this model; when not (a name in the unknown bucket,
    or a model not rolled up yet), a report filtered by it reads the raw records by name."""
    rows = DailyDimensionUsage.objects.filter(dimension="model", value=model)
    return model == UNKNOWN_MODEL or rows.exists()


def _segments(filters: UsageFilters, groups: tuple[GroupBy, ...]) -> tuple[list[Segment], bool]:
    """The range's segments, and whether a model filter matches the rollups' key; False, with
    one raw segment, when the model filtered by is no rollup key."""
    segments = split_range(filters.since, filters.until, days="hour" not in groups)
    if segments and filters.model is not None and not _keyed_by_rollups(filters.model):
        return [Segment("raw", filters.since, filters.until)], False
    return segments, True


def _segment_sums(
    filters: UsageFilters,
    segment: Segment,
    groups: tuple[GroupBy, ...],
    *,
    latency: bool,
    keyed: bool,
) -> Iterable[dict[str, Any]]:
    """Sums of one segment: raw records, or rollups plus the records not rolled up yet."""
    bounded = replace(filters, since=segment.start, until=segment.end)
    if segment.source == "raw":
        yield from _raw_sums(_records(bounded, keyed=keyed), groups, latency)
        return
    dimension = _dimension(filters, groups)
    if dimension is not None:
        yield from _dimension_sums(segment, dimension, groups[0], latency)
    else:
        rollups = _filtered_rollup(_ROLLUPS[segment.source], filters, segment)
        yield from _rollup_sums(rollups, groups, latency)
    queued = _records(bounded, keyed=True).filter(pk__in=PendingUsage.objects.values("record_id"))
    yield from _raw_sums(queued, groups, latency)


def _group_value(group_by: GroupBy, value: Any) -> Any:
    """The group as reported: an ISO date or hour, an id (None = no channel), or a name."""
    if group_by == "day":
        return (value.date() if isinstance(value, datetime) else value).isoformat()
    if group_by == "hour":
        return value.isoformat()
    if group_by in ("channel", "key", "account") and isinstance(value, str):
        value = int(value)  # from a dimension rollup's text column
    if group_by == "channel":
        return None if value in (None, NO_CHANNEL) else value
    return value


def _names(group_by: GroupBy, ids: Iterable[Any]) -> dict[Any, str]:
    """Display names of grouped channels, keys or accounts."""
    ids = [value for value in ids if value is not None]
    if group_by == "channel":
        channels = Channel.objects.filter(pk__in=ids).only("name", "archived_at")
        return {channel.pk: channel.display_name for channel in channels}
    if group_by == "key":
        return {key.pk: f"{key.name} ({key.prefix}…)" for key in ApiKey.objects.filter(pk__in=ids)}
    if group_by == "account":
        return dict(Account.objects.filter(pk__in=ids).values_list("pk", "name"))
    return {}


def _collect(
    filters: UsageFilters, groups: tuple[GroupBy, ...], latency: bool
) -> tuple[dict[tuple[Any, ...], UsageSums], UsageSums]:
    """Sums per combination of groups, and the total, read in one snapshot."""
    by_group: dict[tuple[Any, ...], UsageSums] = {}
    total = UsageSums()
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:
            snapshot()
        segments, keyed = _segments(filters, groups)
        for segment in segments:
            for row in _segment_sums(filters, segment, groups, latency=latency, keyed=keyed):
                values = tuple(
                    _group_value(group, row[f"group{index}"]) for index, group in enumerate(groups)
                )
                by_group.setdefault(values, UsageSums()).add(row)
                total.add(row)
    return by_group, total


def _ordered(group_by: GroupBy, rows: list[UsageSums]) -> list[UsageSums]:
    """Rows named, in time order (days, hours) or by cost then requests, largest first."""
    names = _names(group_by, [sums.group for sums in rows])
    for sums in rows:
        sums.name = names.get(sums.group, "" if sums.group is None else str(sums.group))
    if group_by in ("day", "hour"):
        return sorted(rows, key=lambda sums: (sums.group, -sums.cost, str(sums.subgroups)))
    return sorted(rows, key=lambda sums: (-sums.cost, -sums.requests, str(sums.group)))


def usage_summary(
    *,
    filters: UsageFilters,
    group_by: GroupBy,
    then_by: tuple[GroupBy, ...] = (),
    latency: bool = False,
) -> UsageSummary:
    """Usage sums per group (and per combination of the `then_by` subgroups) over the filters'
    range (`until` exclusive).

    Exact to the record: equal to the sums over the raw records matching the filters. With
    `latency`, the sums carry the latency histogram too (for percentiles).
    """
    groups: tuple[GroupBy, ...] = (group_by, *then_by)
    by_group, total = _collect(filters, groups, latency)
    for values, sums in by_group.items():
        sums.group, sums.subgroups = values[0], values[1:]
    rows = _ordered(group_by, list(by_group.values()))
    return UsageSummary(group_by=group_by, then_by=then_by, rows=rows, total=total)


def usage_breakdown(
    *, filters: UsageFilters, group_bys: tuple[GroupBy, ...], limit: int
) -> dict[GroupBy, UsageSummary]:
    """The top `limit` groups (by cost, then requests) of each grouping."""
    breakdown = {}
    for group_by in group_bys:
        summary = usage_summary(filters=filters, group_by=group_by)
        breakdown[group_by] = replace(summary, rows=summary.rows[:limit])
    return breakdown


def rollup_backlog() -> int:
    """How many usage records wait for the rollup (reports count them from the raw table)."""
    return PendingUsage.objects.count()
