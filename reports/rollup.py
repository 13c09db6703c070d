"""The rollup: consume queued usage records into hourly and daily sums, each record once.

One batch is one transaction: the queued records are summed per hour (and per day) by the
database itself (`INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE` adding to the stored
sums) and their queue rows deleted, all in one snapshot, so a record is counted exactly once.
"""

from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncDay, TruncHour

from billing.models import UsageRecord, UsageStatus
from reports.histogram import BUCKET_FIELDS, LATENCY_BOUNDS_MS
from reports.locks import rollup_lock, snapshot
from reports.models import DIMENSIONS, NO_CHANNEL, SUMS, DailyUsage, HourlyUsage, PendingUsage

ROLLUP_BATCH = 20_000
COUNTED = SUMS + BUCKET_FIELDS


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


def _rollup_select(records: QuerySet[UsageRecord], truncate: Any) -> QuerySet[Any]:
    """Records summed per bucket and dimension; annotations named `r_<rollup column>`."""
    dimensions = {
        "r_bucket": truncate("created_at"),
        "r_account_id": F("account_id"),
        "r_key_id": F("key_id"),
        "r_model": F("model"),
        "r_provider": F("provider"),
        "r_channel_id": Coalesce("channel_id", Value(NO_CHANNEL)),
        "r_status": F("status"),
    }
    sums: dict[str, Any] = {
        "r_requests": Count("pk"),
        "r_errors": Count("pk", filter=~Q(status=UsageStatus.OK)),
        "r_prompt_tokens": Sum("prompt_tokens"),
        "r_completion_tokens": Sum("completion_tokens"),
        "r_cached_tokens": Sum("cached_tokens"),
        "r_reasoning_tokens": Sum("reasoning_tokens"),
        "r_cost": Sum("cost"),
        "r_latency_ms_sum": Sum("latency_ms"),
    }
    sums.update({f"r_{name}": count for name, count in latency_bucket_counts().items()})
    grouped: QuerySet[Any] = (
        records.order_by().annotate(**dimensions).values(*dimensions).annotate(**sums)
    )
    return grouped


def _add_to(model: type[HourlyUsage] | type[DailyUsage], select: QuerySet[Any]) -> None:
    """INSERT the selected sums into a rollup table, adding them to rows that already exist."""
    sql, params = select.query.get_compiler(connection=connection).as_sql()
    names = list(select.query.annotation_select)
    if select.query.values_select or sorted(names) != sorted(
        f"r_{c}" for c in DIMENSIONS + COUNTED
    ):
        raise RuntimeError(f"unexpected rollup select columns: {names}")
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = [quote(name.removeprefix("r_")) for name in names]
    counted = [quote(name) for name in COUNTED]
    additions = ", ".join(f"{column} = {table}.{column} + excluded.{column}" for column in counted)
    statement = (
        f"INSERT INTO {table} ({', '.join(columns)}) {sql} "
        f"ON CONFLICT ({', '.join(quote(name) for name in DIMENSIONS)}) DO UPDATE SET {additions}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def usage_rollup_step(*, batch_size: int = ROLLUP_BATCH) -> int:
    """Roll up the oldest queued records (at most `batch_size`); return how many were consumed.

    Returns 0 when nothing is queued or another worker is rolling up right now.
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:
            snapshot()
        if not rollup_lock():
            return 0
        last = (
            PendingUsage.objects.order_by("id")
            .values_list("id", flat=True)[batch_size - 1 : batch_size]
            .first()
        )
        queued = (
            PendingUsage.objects.all()
            if last is None
            else PendingUsage.objects.filter(id__lte=last)
        )
        records = UsageRecord.objects.filter(pk__in=queued.values("record_id"))
        _add_to(HourlyUsage, _rollup_select(records, TruncHour))
        _add_to(DailyUsage, _rollup_select(records, TruncDay))
        consumed, _ = queued.delete()
    return consumed


def usage_rollup_run(*, batch_size: int = ROLLUP_BATCH) -> int:
    """Roll up everything queued so far, batch by batch; return how many records were consumed."""
    total = 0
    while consumed := usage_rollup_step(batch_size=batch_size):
        total += consumed
    return total
