"""The rollup: consume queued usage records into hourly and daily sums, each record once."""

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, TruncHour

from billing.models import UsageRecord, UsageStatus
from reports.histogram import BUCKET_FIELDS, LATENCY_BOUNDS_MS
from reports.models import (
    DIMENSIONS,
    NO_CHANNEL,
    SUMS,
    DailyUsage,
    HourlyUsage,
    PendingUsage,
    UsageRollup,
)

ROLLUP_BATCH = 5000
COUNTED = SUMS + BUCKET_FIELDS

Row = dict[str, Any]


def latency_bucket_counts() -> dict[str, Count]:
    """One COUNT per latency bucket, by the bucket's [low, high) bounds."""
    counts = {}
    lows = (0, *LATENCY_BOUNDS_MS)
    for index, field in enumerate(BUCKET_FIELDS):
        condition = Q(latency_ms__gte=lows[index])
        if index < len(LATENCY_BOUNDS_MS):
            condition &= Q(latency_ms__lt=LATENCY_BOUNDS_MS[index])
        counts[field] = Count("pk", filter=condition)
    return counts


def aggregate_records(records: "Any") -> list[Row]:
    """Sums of a usage record queryset per hour and dimension, shaped like a rollup row."""
    zero = Decimal(0)
    rows = (
        records.annotate(bucket=TruncHour("created_at"))
        .values("bucket", "account_id", "key_id", "model", "provider", "channel_id", "status")
        .order_by()
        .annotate(
            requests=Count("pk"),
            errors=Count("pk", filter=~Q(status=UsageStatus.OK)),
            prompt_tokens=Sum("prompt_tokens"),
            completion_tokens=Sum("completion_tokens"),
            cached_tokens=Sum("cached_tokens"),
            reasoning_tokens=Sum("reasoning_tokens"),
            cost=Coalesce(Sum("cost"), zero),
            latency_ms_sum=Sum("latency_ms"),
            **latency_bucket_counts(),
        )
    )
    result = []
    for row in rows:
        row["channel_id"] = row["channel_id"] or NO_CHANNEL
        result.append(row)
    return result


def by_day(rows: Iterable[Row]) -> list[Row]:
    """Hourly rows merged into daily ones."""
    merged: dict[tuple[Any, ...], Row] = {}
    for row in rows:
        day = row["bucket"].replace(hour=0)
        key = (day, *(row[name] for name in DIMENSIONS[1:]))
        if key not in merged:
            merged[key] = {**row, "bucket": day}
        else:
            target = merged[key]
            for name in COUNTED:
                target[name] += row[name]
    return list(merged.values())


def _upsert(model: type[UsageRollup], rows: Sequence[Mapping[str, Any]]) -> None:
    """Add each row's sums to the stored rollup row of its bucket and dimensions (or insert it)."""
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    columns = [*DIMENSIONS, *COUNTED]
    quoted = [connection.ops.quote_name(column) for column in columns]
    additions = ", ".join(
        f"{column} = {table}.{column} + excluded.{column}" for column in quoted[len(DIMENSIONS) :]
    )
    sql = (
        f"INSERT INTO {table} ({', '.join(quoted)}) VALUES ({', '.join(['%s'] * len(columns))}) "  # noqa: S608 (names from the model)
        f"ON CONFLICT ({', '.join(quoted[: len(DIMENSIONS)])}) DO UPDATE SET {additions}"
    )
    fields = {field.attname: field for field in model._meta.concrete_fields}
    params = [
        tuple(fields[column].get_db_prep_save(row[column], connection) for column in columns)
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def usage_rollup_step(*, batch_size: int = ROLLUP_BATCH) -> int:
    """Roll up the oldest queued records (at most `batch_size`); return how many were consumed.

    The queue rows are locked and deleted in the same transaction that adds their sums, so a
    record is counted exactly once even with several workers running the rollup at a time.
    """
    with transaction.atomic():
        queued = list(
            PendingUsage.objects.select_for_update(skip_locked=True)
            .order_by("id")
            .values_list("id", "record_id")[:batch_size]
        )
        if not queued:
            return 0
        record_ids = [record_id for _, record_id in queued]
        hourly = aggregate_records(UsageRecord.objects.filter(pk__in=record_ids))
        _upsert(HourlyUsage, hourly)
        _upsert(DailyUsage, by_day(hourly))
        PendingUsage.objects.filter(id__in=[queue_id for queue_id, _ in queued]).delete()
    return len(queued)


def usage_rollup_run(*, batch_size: int = ROLLUP_BATCH) -> int:
    """Roll up everything queued so far, batch by batch; return how many records were consumed."""
    total = 0
    while consumed := usage_rollup_step(batch_size=batch_size):
        total += consumed
    return total
